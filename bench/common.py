"""Helpers the benchmarks share: memory sampling, timing, verdicts, temporary stores, servers, RCA scores.

Light on purpose: only the standard library and psutil are imported here at module level,
so that importing it does not add to the RSS a benchmark measures in its own process. The
glimpse server and the simulator are imported by the helpers that start them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import psutil

if TYPE_CHECKING:
    from glimpse.discovery import ServerInfo
    from tracing.simulator.faults import Fault
    from tracing.simulator.runner import SimulationResult

T = TypeVar("T")

MIB = 1 << 20
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
GRPC_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]

# --------------------------------------------------------------------------- measuring


class PeakRss:
    """Samples a process's RSS every ``interval`` seconds on a thread and keeps the peak (bytes).

    ``with PeakRss() as rss: ...`` watches this process every 10 ms (``rss.peak`` after).
    ``PeakRss(pid, interval=0.2, children=True).start()`` ... ``.stop()`` watches another
    process and the ones it started (a server's decode workers), adding their RSS, and keeps
    their CPU time for :meth:`cpu_s`.
    """

    def __init__(self, pid: int | None = None, interval: float = 0.01, *, children: bool = False) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.children = children
        self.peak = 0
        self._child_cpu_s: dict[int, float] = {}  # live children by pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> PeakRss:
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak

    def __enter__(self) -> PeakRss:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.process.memory_info().rss
                if self.children:
                    for child in self.process.children(recursive=True):
                        with contextlib.suppress(psutil.NoSuchProcess):
                            rss += child.memory_info().rss
                            times = child.cpu_times()
                            self._child_cpu_s[child.pid] = times.user + times.system
            except psutil.NoSuchProcess:
                return
            self.peak = max(self.peak, rss)
            self._stop.wait(self.interval)

    def cpu_s(self) -> float:
        """CPU seconds of the process so far, with those of the children seen while sampling."""
        try:
            t = self.process.cpu_times()
        except psutil.NoSuchProcess:
            return float("nan")
        return float(t.user + t.system) + sum(self._child_cpu_s.values())


def rss_now() -> int:
    """This process's RSS in bytes."""
    return int(psutil.Process().memory_info().rss)


def mib(n: float, digits: int = 1) -> float:
    """Bytes as MiB, rounded for the figures."""
    return round(n / MIB, digits)


def timed(run: Callable[[], T], times: int) -> tuple[T, list[float]]:
    """Call ``run`` ``times`` times: the last result and the seconds of every call."""
    if times < 1:
        raise ValueError("times must be at least 1")
    timings = []
    for _ in range(times):
        started = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - started)
    return result, timings


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def log(message: str) -> None:
    """Progress on stderr, so that stdout holds only the figures (or the JSON)."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- stores and servers


@contextlib.contextmanager
def temporary_db(prefix: str, name: str) -> Iterator[Path]:
    """The path of a DuckDB file ``name`` in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield Path(folder) / name


@contextlib.contextmanager
def running_server(db_path: str | Path, **settings: Any) -> Iterator[ServerInfo]:
    """A glimpse server in this process on ``db_path``, every port chosen by the system.

    Without a memory bound unless ``settings`` give one: the process also holds the
    benchmark's own data (the replayed files, the simulator), which the bound would count
    as the server's and answer with retries that change how the data is chunked."""
    from glimpse.server import GlimpseServer
    from glimpse.settings import ServerSettings

    settings.setdefault("memory_limit_bytes", None)
    server = GlimpseServer(ServerSettings(db_path=str(db_path), grpc_port=0, http_port=0, api_port=0, **settings))
    info = server.start()
    try:
        yield info
    finally:
        server.stop()


def simulate_history(
    folder: Path,
    topology: str,
    *,
    start_ns: int,
    duration_s: int,
    seed: int,
    faults: list[Fault],
    rate_per_s: float | None,
    logs: bool = True,
) -> tuple[SimulationResult, float]:
    """Simulated traffic in accelerated time into a fresh ``folder/glimpse.duckdb``, labels in ``labels.json``.

    The simulator exports through the OpenTelemetry SDK into a glimpse server started here
    (one decode worker), spans, metrics and (unless ``logs`` is false) log records. Returns
    the result and the seconds from the server's start to the labels.
    """
    from tracing.simulator.runner import run_history, write_labels

    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "glimpse.duckdb"
    for stale in folder.glob("glimpse.duckdb*"):  # the file, its WAL and its journal folder
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()
    with running_server(db_path, console_port=0, decode_workers=1) as info:
        started = time.perf_counter()
        result = run_history(
            topology,
            f"127.0.0.1:{info.grpc_port}",
            start_ns=start_ns,
            duration_s=duration_s,
            seed=seed,
            faults=faults,
            rate_per_s=rate_per_s,
            logs=logs,
        )
    write_labels(result, folder / "labels.json")
    return result, time.perf_counter() - started


# --------------------------------------------------------------------------- glimpse serve as a child process


def glimpse_executable() -> list[str]:
    """The command that runs ``glimpse``: the venv's script, else the one on PATH, else ``-m``."""
    local = Path(sys.executable).with_name("glimpse")
    if local.exists():
        return [str(local)]
    found = shutil.which("glimpse")
    return [found] if found else [sys.executable, "-m", "glimpse"]


def wait_ready(proc: subprocess.Popen[bytes], db: Path, log_path: Path, timeout_s: float = 90.0) -> dict[str, Any]:
    """The server's discovery file once its API answers; raises if it exits or takes too long."""
    info_path = Path(f"{db}.server.json")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"glimpse serve exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
            if info.get("pid") == proc.pid:
                url = f"http://127.0.0.1:{info['api_port']}/api/health"
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return dict(info)
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"glimpse serve was not ready within {timeout_s:.0f} s")


def server_stats(api_port: int) -> dict[str, Any]:
    """The server's ``/api/stats`` (the writer's counters), or ``{"error": ...}``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/stats", timeout=5) as response:
            return dict(json.loads(response.read()))
    except (OSError, ValueError) as exc:
        return {"error": str(exc)}


def free_port() -> int:
    """A loopback port nobody listens on now (a server restarted on it keeps its clients' address)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServeProcess:
    """``glimpse serve`` on ``db`` as a child process, on fixed ports so that it can be
    killed and started again behind the same exporters. Its output goes to ``log_path``."""

    def __init__(self, db: Path, log_path: Path, *, extra_env: dict[str, str] | None = None) -> None:
        self.db = db
        self.log_path = log_path
        self.grpc_port, self.http_port, self.api_port = free_port(), free_port(), free_port()
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout_s: float = 90.0) -> float:
        """Start it and wait until its API answers; the seconds that took."""
        started = time.monotonic()
        ports = ["--grpc-port", str(self.grpc_port), "--http-port", str(self.http_port), "--console-port", "0"]
        command = [*glimpse_executable(), "serve", "--db", str(self.db), *ports, "--api-port", str(self.api_port)]
        with self.log_path.open("ab") as log_file:
            self.proc = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=self.env)
        self.info = wait_ready(self.proc, self.db, self.log_path, timeout_s)
        return time.monotonic() - started

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no drain, no commit, no checkpoint."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def terminate(self, timeout_s: float = 120.0) -> int:
        """SIGTERM (drain, commit, exit): the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def stats(self) -> dict[str, Any]:
        return server_stats(self.api_port)

    def log_problems(self) -> list[str]:
        """The lines of its log that report an error (tracebacks included)."""
        words = ("ERROR", "Traceback", "CRITICAL", "Fatal", "FATAL")
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if any(word in line for word in words)]


class ProcessSampler:
    """Samples a process's RSS, open files and threads every ``interval_s`` (for trends)."""

    def __init__(self, pid: int, interval_s: float = 1.0) -> None:
        self.process = psutil.Process(pid)
        self.interval_s = interval_s
        self.samples: list[tuple[float, int, int, int]] = []  # (seconds, rss bytes, fds, threads)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.monotonic()

    def start(self) -> ProcessSampler:
        self._thread.start()
        return self

    def stop(self) -> list[tuple[float, int, int, int]]:
        self._stop.set()
        self._thread.join()
        return self.samples

    @property
    def peak_rss(self) -> int:
        return max((sample[1] for sample in self.samples), default=0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self.process.oneshot():
                    sample = (
                        time.monotonic() - self._t0,
                        self.process.memory_info().rss,
                        self.process.num_fds(),
                        self.process.num_threads(),
                    )
            except psutil.NoSuchProcess:
                return
            self.samples.append(sample)
            self._stop.wait(self.interval_s)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, nearest rank; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))])


# --------------------------------------------------------------------------- root-cause scores

TOP_K = 5
SCORES = ("AC@1", "AC@3", "Avg@5")


def first_rank(ranking: Sequence[T], is_truth: Callable[[T], bool]) -> int | None:
    """1-based position of the first candidate that is the truth, or None."""
    return next((position for position, candidate in enumerate(ranking, start=1) if is_truth(candidate)), None)


def ac_scores(ac: Sequence[float]) -> dict[str, float]:
    """RCAEval's AC@1, AC@3 and Avg@5 (the mean of AC@1..AC@5) from AC@1..AC@5."""
    return {"AC@1": ac[0], "AC@3": ac[2], "Avg@5": sum(ac) / TOP_K}


def rank_scores(ranks: Sequence[int | None]) -> dict[str, float]:
    """:func:`ac_scores` of first-hit ranks (None: missed); empty for no ranks."""
    if not ranks:
        return {}
    return ac_scores([sum(1 for r in ranks if r is not None and r <= k) / len(ranks) for k in range(1, TOP_K + 1)])
