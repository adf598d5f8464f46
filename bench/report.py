"""The benchmark report: every figure of the performance targets, each beside its baseline in the same run.

``python -m bench report`` (``make bench``) runs the benchmarks of bench/ at sizes that fit
a 2-core, 24 GiB machine in about half an hour, and writes the figures between the marker
lines of ``docs/performance.md`` (the prose around them is kept), the growth plot
``docs/performance-growth.png`` and every raw figure as JSON (``bench/results/report.json``).

- Ingest (``bench.ingest``): spans durably stored per second, beside the bare parse-only
  server of the same run; peak server RSS; bytes a span on disk; then, paced, RSS at a steady
  10,000 spans a second and the export latency at half the measured capacity.
- Logs (``bench.logs_ingest``): log records with trace context stored per second.
- Graph (``bench.graph``): the service graph of a million spans, beside a bare parent/child
  self-join of the same spans; bottlenecks (``bench.bottlenecks``): the critical paths of
  1.5 million spans aggregated.
- Root causes: ``glimpse rca`` of the last 5 minutes of a 15-minute store of about 1.4
  million spans and a million log records (``bench.generate``), the window given.
- Growth: stores of 1, 5, 20 and 50 million spans at one rate (``bench.generate``: 50
  million over 21 days; the smaller ones are the newest hours of it, the same traces): on
  each, the same 15-minute graph, bottlenecks and rca, ingest into a copy, and the console's
  API calls (extent, services, graph, trace search, trace detail) through ``glimpse serve``
  over its last 15 minutes. The 1-million-span store is the baseline of the others.

Generated stores are kept under ``bench/results/stores``; ``--reuse`` takes them again
(the report says which were).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil

from bench.common import MIB, PeakRss, ServeProcess, log, median, percentile

__all__ = ["FULL", "TINY", "ReportConfig", "render_block", "run_report", "splice", "summary_rows"]

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
PLOT = ROOT / "docs" / "performance-growth.png"
RESULTS = ROOT / "bench" / "results"
BEGIN = "<!-- bench report: begin. `python -m bench report` writes what is between these two lines -->"
END = "<!-- bench report: end -->"
SECTIONS = ("ingest", "steady", "logs", "graph", "bottlenecks", "rca", "growth")
NS = 1_000_000_000
RCA_STORE_MINUTES = 15
RCA_INCIDENT_MINUTES = 5  # the last 5 of the 15 minutes, as bench.rca --scale's fault window


@dataclass(frozen=True, kw_only=True)
class ReportConfig:
    """The sizes the report runs at; :data:`FULL` fits a 2-core, 24 GiB machine in about 30 minutes."""

    runs: int = 5  # repetitions of every figure
    ingest_seconds: float = 15.0  # each phase of each ingest run
    ingest_pool: int | None = None  # bench.ingest's requests (None: its default, built once and kept)
    steady_seconds: float = 15.0
    steady_rate: float = 10_000.0  # spans a second
    logs_seconds: float = 10.0
    graph_traces: int = 73_600  # about 1,000,000 spans
    bottleneck_traces: int = 110_000  # about 1,500,000 spans
    rca_spans: int = 1_430_000  # with about a million log records
    sizes: tuple[int, ...] = (1_000_000, 5_000_000, 20_000_000, 50_000_000)
    largest_days: float = 21.0  # the largest store covers this many days; the rest are its newest hours
    growth_ingest_seconds: float = 15.0
    api_calls: int = 20  # of each console call, per store
    pool_seconds: int = 90  # the simulator's pool (bench.generate)
    pool_rate: float = 20.0
    stores: Path = RESULTS / "stores"
    pools: Path = RESULTS / "generate-pools"
    reuse: bool = False
    sections: tuple[str, ...] = SECTIONS


FULL = ReportConfig()
TINY = ReportConfig(
    runs=1,
    ingest_seconds=2.0,
    ingest_pool=16,
    steady_seconds=2.0,
    steady_rate=2_000.0,
    logs_seconds=2.0,
    graph_traces=2_000,
    bottleneck_traces=2_000,
    rca_spans=20_000,
    sizes=(30_000, 60_000),
    largest_days=1.0,
    growth_ingest_seconds=2.0,
    api_calls=3,
    pool_seconds=8,
    pool_rate=6.0,
)

# --------------------------------------------------------------------------- the benchmarks as processes


def run_bench(module: str, *args: str) -> dict[str, Any]:
    """``python -m bench.<module> ARGS --json`` in a process of its own: its figures."""
    command = [sys.executable, "-m", f"bench.{module}", *args, "--json"]
    log(f"$ {shlex.join(command[1:])}")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def command_text(module: str, *args: str) -> str:
    """How the docs show a benchmark command."""
    return shlex.join([".venv/bin/python", "-m", f"bench.{module}", *args])


def ingest_args(config: ReportConfig) -> list[str]:
    return ["--seconds", f"{config.ingest_seconds:g}", *pool_args(config)]


def pool_args(config: ReportConfig) -> list[str]:
    return ["--pool", str(config.ingest_pool)] if config.ingest_pool is not None else []


def measure_ingest(config: ReportConfig) -> dict[str, Any]:
    """Full-load runs of bench.ingest, each glimpse then the bare parse-only server."""
    runs = [run_bench("ingest", *ingest_args(config)) for _ in range(config.runs)]
    return {
        "runs": len(runs),
        "command": command_text("ingest", *ingest_args(config)),
        "spans_per_s": [run["glimpse"]["spans_per_s"] for run in runs],
        "bare_spans_per_s": [run["bare"]["spans_per_s"] for run in runs],
        "ratio": [run["ratio_glimpse_bare"] for run in runs],
        "peak_rss_mib": [run["glimpse"]["phase"]["peak_rss_bytes"] / MIB for run in runs],
        "bytes_per_span": [run["glimpse"]["bytes_per_span_disk"] for run in runs],
        "p99_ms": [run["glimpse"]["phase"]["latency_p99_ms"] for run in runs],
    }


def paced_args(config: ReportConfig, rate: float) -> list[str]:
    return ["--seconds", f"{config.steady_seconds:g}", "--skip-bare", "--rate", f"{rate:.0f}", *pool_args(config)]


def measure_paced(config: ReportConfig, rate: float) -> dict[str, Any]:
    """glimpse alone at ``rate`` spans a second: its memory and export latency."""
    runs = [run_bench("ingest", *paced_args(config, rate)) for _ in range(config.runs)]
    return {
        "runs": len(runs),
        "rate": round(rate),
        "command": command_text("ingest", *paced_args(config, rate)),
        "spans_per_s": [run["glimpse"]["spans_per_s"] for run in runs],
        "peak_rss_mib": [run["glimpse"]["phase"]["peak_rss_bytes"] / MIB for run in runs],
        "p99_ms": [run["glimpse"]["phase"]["latency_p99_ms"] for run in runs],
    }


def measure_logs(config: ReportConfig) -> dict[str, Any]:
    args = ["--runs", str(config.runs), "--seconds", f"{config.logs_seconds:g}", "--skip-spans"]
    figures = run_bench("logs_ingest", *args)
    return {
        "runs": len(figures["runs"]),
        "command": command_text("logs_ingest", *args),
        "records_per_s": [run["logs"]["records_per_s"] for run in figures["runs"]],
    }


def measure_graph(config: ReportConfig) -> dict[str, Any]:
    args = ["--traces", str(config.graph_traces), "--repeat", str(config.runs)]
    figures = run_bench("graph", *args)
    return {
        "runs": len(figures["graph_s_all"]),
        "command": command_text("graph", *args),
        "spans": figures["spans"],
        "graph_s": figures["graph_s_all"],
        "self_join_s": figures["self_join_s_all"],
        "peak_rss_mib": figures["peak_rss_mib"],
    }


def measure_bottlenecks(config: ReportConfig) -> dict[str, Any]:
    args = ["--traces", str(config.bottleneck_traces), "--repeat", str(config.runs)]
    figures = run_bench("bottlenecks", *args)
    return {
        "runs": len(figures["aggregate_s_all"]),
        "command": command_text("bottlenecks", *args),
        "spans": figures["spans_analysed"],
        "traces": figures["traces_analysed"],
        "seconds": figures["aggregate_s_all"],
        "peak_rss_mib": figures["peak_rss_mib"],
    }


# --------------------------------------------------------------------------- generated stores


def pool_for(config: ReportConfig) -> Path:
    from bench.generate import pool_store

    return pool_store(seconds=config.pool_seconds, rate_per_s=config.pool_rate, folder=config.pools)


def store_for(config: ReportConfig, spans: int, spans_per_day: float, name: str) -> tuple[Path, dict[str, Any]]:
    """A generated store (taken again with ``reuse`` when its spec is the same) and its figures."""
    from bench.generate import StoreSpec, reuse_or_generate

    path = config.stores.resolve() / f"{name}.duckdb"  # absolute: the benchmarks run from the repository
    spec = StoreSpec(spans=spans, spans_per_day=spans_per_day)
    log(f"store {path.name}: {spans:,} spans at {spans_per_day:,.0f} a day ...")
    figures = reuse_or_generate(spec, path, pool_for(config), reuse=config.reuse)
    log(f"  {'reused' if figures['reused'] else 'generated in ' + str(figures['seconds']) + ' s'}")
    return path, figures


def timed_runs(call: Callable[[], object], runs: int) -> list[float]:
    """Seconds of ``runs`` calls after one untimed call (which loads the store's metadata)."""
    call()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def measure_rca(config: ReportConfig) -> dict[str, Any]:
    """``glimpse rca`` of the last 5 minutes of a 15-minute store, the window given."""
    from analyzer.query_service.incidents import root_causes
    from storage.store import open_read_only

    per_day = config.rca_spans * 24 * 60 / RCA_STORE_MINUTES
    path, store = store_for(config, config.rca_spans, per_day, f"rca-{config.rca_spans}")
    until = store["last_ns"] + 1
    since = until - RCA_INCIDENT_MINUTES * 60 * NS
    con = open_read_only(path)
    try:
        with PeakRss() as peak:
            seconds = timed_runs(lambda: root_causes(con, since_ns=since, until_ns=until), config.runs)
    finally:
        con.close()
    return {
        "runs": len(seconds),
        "spans": store["spans"],
        "logs": store["logs"],
        "reused": store["reused"],
        "seconds": seconds,
        "peak_rss_mib": peak.peak / MIB,
    }


PROBES = ("graph_s", "bottlenecks_s", "rca_s")


def probe_queries(paths: Sequence[Path], runs: int) -> list[dict[str, list[float]]]:
    """The 15-minute probe window's graph, bottlenecks and rca, as the CLI runs them, in each
    store: each store in a process of its own, as a CLI call opens one store (the analyses of
    several DuckDB instances in one process slowed each other's by up to 1.4x); the stores
    take turns, run after run, so that a slower spell of the machine weighs on every store
    alike rather than on the ratio between them."""
    spawn = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    workers = []
    try:
        for path in paths:  # one at a time: each worker's untimed first calls load its store
            ours, theirs = spawn.Pipe()
            worker = spawn.Process(target=_probe_worker, args=(path, theirs), daemon=True)
            worker.start()
            theirs.close()  # so that a worker that dies ends our recv() with EOFError
            workers.append(worker)
            pipes.append(ours)
            ours.recv()  # ready
        seconds: list[dict[str, list[float]]] = [{probe: [] for probe in PROBES} for _ in paths]
        for _ in range(runs):
            for pipe, timings in zip(pipes, seconds, strict=True):
                pipe.send("run")
                for probe, elapsed in pipe.recv().items():
                    timings[probe].append(elapsed)
        return seconds
    finally:
        for pipe in pipes:
            with suppress(OSError):  # a worker that failed has closed its end
                pipe.send("stop")
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():  # stuck in a query: the report goes on without it
                worker.terminate()
        for pipe in pipes:
            pipe.close()


def _probe_worker(path: Path, pipe: Connection) -> None:
    """One store's probes, one round each time the parent sends ``run``, until ``stop``."""
    from analyzer.query_service.bottlenecks import bottlenecks
    from analyzer.query_service.graphs import service_graph
    from analyzer.query_service.incidents import root_causes
    from bench.generate import probe_window
    from storage.store import open_read_only

    since, until = probe_window()
    calls: dict[str, Callable[[Any], object]] = {
        "graph_s": lambda con: service_graph(con, since_ns=since, until_ns=until),
        "bottlenecks_s": lambda con: bottlenecks(con, since_ns=since, until_ns=until),
        "rca_s": lambda con: root_causes(con, since_ns=since, until_ns=until),
    }
    con = open_read_only(path)
    try:
        for call in calls.values():  # untimed: loads the store's metadata
            call(con)
        pipe.send("ready")
        while pipe.recv() == "run":
            timings = {}
            for probe in PROBES:
                started = time.perf_counter()
                calls[probe](con)
                timings[probe] = time.perf_counter() - started
            pipe.send(timings)
    finally:
        con.close()


CONSOLE_CALLS = ("extent", "services", "graph", "search", "trace")


def console_calls(path: Path, calls: int) -> dict[str, list[float]]:
    """Milliseconds of the console's API calls through ``glimpse serve`` on the store, over its
    last 15 minutes (the console's 15m window): extent, services, graph, trace search (by
    each service in turn), trace detail (of traces the searches found)."""
    import httpx

    with tempfile.TemporaryDirectory(prefix="glimpse-report-") as folder:
        server = ServeProcess(path, Path(folder) / "serve.log")
        server.start(timeout_s=300)
        try:
            with httpx.Client(base_url=server.api_url, timeout=120) as client:
                return _console_timings(client, calls)
        finally:
            server.terminate()


def _console_timings(client: Any, calls: int) -> dict[str, list[float]]:
    def get(url: str, **params: str) -> tuple[Any, float]:
        started = time.perf_counter()
        response = client.get(url, params=params)
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        return response.json(), elapsed_ms

    extent, _ = get("/api/extent")  # untimed: the first call loads the store's metadata
    until = int(extent["last_ns"]) + 1
    window = {"since": str(until - 15 * 60 * NS), "until": str(until)}
    services = [row["service"] for row in get("/api/services", **window)[0]["services"]]
    timings: dict[str, list[float]] = {name: [] for name in CONSOLE_CALLS}
    trace_ids: list[str] = []
    for call in range(calls):
        timings["extent"].append(get("/api/extent")[1])
        timings["services"].append(get("/api/services", **window)[1])
        timings["graph"].append(get("/api/graph", format="cytoscape", **window)[1])
        service = services[call % len(services)]
        found, elapsed_ms = get("/api/traces", service=service, limit="50", **window)
        timings["search"].append(elapsed_ms)
        trace_ids.extend(trace["trace_id"] for trace in found["traces"][:2])
    for trace_id in trace_ids[:calls]:
        timings["trace"].append(get(f"/api/traces/{trace_id}")[1])
    return timings


def growth_points(config: ReportConfig) -> list[dict[str, Any]]:
    """Each store size: the store, its probe queries (the stores in turn), the console's
    calls, ingest into a copy."""
    per_day = max(config.sizes) / config.largest_days
    stores = [store_for(config, spans, per_day, f"spans-{spans}") for spans in sorted(config.sizes)]
    os.sync()  # a store just generated is still being written back
    probes = probe_queries([path for path, _ in stores], config.runs)
    points = []
    for (path, store), timings in zip(stores, probes, strict=True):
        point: dict[str, Any] = {key: store[key] for key in ("spans", "logs", "traces", "days", "db_bytes", "reused")}
        point["generated_s"] = store["seconds"]
        point["generated_spans_per_s"] = store["spans_per_s"]
        point.update(timings)
        point["api_ms"] = console_calls(path, config.api_calls)
        ingest = run_bench(
            "ingest",
            "--seconds",
            f"{config.growth_ingest_seconds:g}",
            "--skip-bare",
            "--store",
            str(path),
            *pool_args(config),
        )
        point["ingest_spans_per_s"] = ingest["glimpse"]["spans_per_s"]
        point["ingest_peak_rss_mib"] = ingest["glimpse"]["phase"]["peak_rss_bytes"] / MIB
        os.sync()  # the copy's gigabytes, written and deleted, would weigh on the next store's calls
        points.append(point)
    return points


# --------------------------------------------------------------------------- the machine


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import duckdb

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "commit": _git_commit(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"


# --------------------------------------------------------------------------- the run


def run_report(
    config: ReportConfig, command: str, *, progress: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Every section of ``config.sections``: the figures (raw runs; :func:`render_block` sums
    them up). ``progress`` gets the figures so far after each section."""
    started = time.perf_counter()
    figures: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "machine": machine(),
        "config": {key: str(value) if isinstance(value, Path) else value for key, value in asdict(config).items()},
    }
    for section in (name for name in SECTIONS if name in config.sections):  # ingest before steady
        _SECTIONS[section](config, figures)
        figures["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        figures["wall_s"] = round(time.perf_counter() - started, 1)
        if progress is not None:
            progress(figures)
    return figures


def _half_capacity(config: ReportConfig, figures: dict[str, Any]) -> float:
    """Half the full-load rate of this run (the steady rate without the ingest section)."""
    return median(figures["ingest"]["spans_per_s"]) / 2 if "ingest" in figures else config.steady_rate


def _steady(config: ReportConfig, figures: dict[str, Any]) -> None:
    figures["steady"] = measure_paced(config, config.steady_rate)
    figures["half"] = measure_paced(config, _half_capacity(config, figures))


_SECTIONS: dict[str, Callable[[ReportConfig, dict[str, Any]], None]] = {
    "ingest": lambda config, figures: figures.update(ingest=measure_ingest(config)),
    "steady": _steady,
    "logs": lambda config, figures: figures.update(logs=measure_logs(config)),
    "graph": lambda config, figures: figures.update(graph=measure_graph(config)),
    "bottlenecks": lambda config, figures: figures.update(bottlenecks=measure_bottlenecks(config)),
    "rca": lambda config, figures: figures.update(rca=measure_rca(config)),
    "growth": lambda config, figures: figures.update(growth=growth_points(config)),
}


# --------------------------------------------------------------------------- rendering (pure)


@dataclass(frozen=True)
class Row:
    """One line of the targets table."""

    what: str
    value: str
    baseline: str
    ratio: str
    target: str
    met: bool | None  # None: nothing to meet
    runs: str
    command: str = ""


def _int(value: float) -> str:
    return f"{value:,.0f}"


def _s(value: float) -> str:
    return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _mib(value: float) -> str:
    return f"{value:,.0f} MiB"


def _size(spans: int) -> str:
    """A store's size as the docs say it: "50 million", or the count below a million."""
    return f"{spans / 1e6:,.0f} million" if spans >= 1_000_000 else _int(spans)


def _ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}" if baseline else "—"


def _runs(values: Sequence[float]) -> str:
    return f"median of {len(values)}"


def summary_rows(figures: dict[str, Any]) -> list[Row]:
    """The targets table's rows for the sections ``figures`` holds, in the issue's order."""
    rows: list[Row] = []
    for section in (_ingest_rows, _logs_rows, _graph_rows, _rca_rows, _growth_rows):
        rows.extend(section(figures))
    return rows


def _ingest_rows(figures: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    if "ingest" in figures:
        ingest = figures["ingest"]
        spans, bare, ratio = median(ingest["spans_per_s"]), median(ingest["bare_spans_per_s"]), median(ingest["ratio"])
        rss, disk = median(ingest["peak_rss_mib"]), median(ingest["bytes_per_span"])
        runs, command = _runs(ingest["spans_per_s"]), f"`{ingest['command']}`"
        rows += [
            Row(
                "spans durably stored per second (heavy workload, 4 clients)",
                _int(spans),
                f"{_int(bare)} (bare parse-only server)",
                f"{ratio:.2f}",
                "≥ 100,000 and ≥ 0.55 of the bare server",
                spans >= 100_000 and ratio >= 0.55,
                runs,
                command,
            ),
            Row("peak server RSS at full load", _mib(rss), "—", "—", "< 400 MiB", rss < 400, runs, command),
            Row(
                "bytes per span on disk",
                f"{disk:.1f}",
                "—",
                "—",
                "≤ 45 (Jaeger on ClickHouse: 76)",
                disk <= 45,
                runs,
                command,
            ),
        ]
    if "steady" in figures:
        steady = figures["steady"]
        rss = median(steady["peak_rss_mib"])
        what = f"peak server RSS at a steady {_int(steady['rate'])} spans a second"
        rows.append(
            Row(
                what,
                _mib(rss),
                "—",
                "—",
                "< 150 MiB",
                rss < 150,
                _runs(steady["peak_rss_mib"]),
                f"`{steady['command']}`",
            )
        )
    if "half" in figures:
        half = figures["half"]
        p99 = median(half["p99_ms"])
        what = f"export latency p99 at half of capacity ({_int(half['rate'])} spans a second)"
        rows.append(Row(what, _ms(p99), "—", "—", "< 100 ms", p99 < 100, _runs(half["p99_ms"]), f"`{half['command']}`"))
    return rows


def _logs_rows(figures: dict[str, Any]) -> list[Row]:
    if "logs" not in figures:
        return []
    logs = figures["logs"]
    rate = median(logs["records_per_s"])
    what = "log records stored per second (OTLP logs with trace context)"
    return [
        Row(
            what,
            _int(rate),
            "—",
            "—",
            "≥ 100,000",
            rate >= 100_000,
            _runs(logs["records_per_s"]),
            f"`{logs['command']}`",
        )
    ]


def _graph_rows(figures: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    if "graph" in figures:
        graph = figures["graph"]
        value, baseline = median(graph["graph_s"]), median(graph["self_join_s"])
        what = f"service graph of {_int(graph['spans'])} spans (peak RSS {_mib(graph['peak_rss_mib'])})"
        rows.append(
            Row(what, _s(value), f"{_s(baseline)} (bare parent/child self-join)", _ratio(value, baseline), "< 0.3 s",
                value < 0.3, _runs(graph["graph_s"]), f"`{graph['command']}`")
        )  # fmt: skip
    if "bottlenecks" in figures:
        found = figures["bottlenecks"]
        value, rss = median(found["seconds"]), found["peak_rss_mib"]
        what = f"critical paths of {_int(found['spans'])} spans aggregated (`glimpse bottlenecks`)"
        rows.append(
            Row(what, f"{_s(value)}, {_mib(rss)}", "—", "—", "< 3 s, < 1 GiB", value < 3 and rss < 1024,
                _runs(found["seconds"]), f"`{found['command']}`")
        )  # fmt: skip
    return rows


def _rca_rows(figures: dict[str, Any]) -> list[Row]:
    if "rca" not in figures:
        return []
    rca = figures["rca"]
    value = median(rca["seconds"])
    what = (
        f"`glimpse rca` of a 15-minute store: {_int(rca['spans'])} spans, {_int(rca['logs'])} log records "
        f"(the last {RCA_INCIDENT_MINUTES} minutes given)"
    )
    command = "`.venv/bin/python -m bench report` (section rca)"
    return [Row(what, _s(value), "—", "—", "< 3 s with logs", value < 3, _runs(rca["seconds"]), command)]


def _growth_rows(figures: dict[str, Any]) -> list[Row]:
    points = figures.get("growth") or []
    if len(points) < 2:
        return []
    small, large = points[0], points[-1]
    size = f"{_size(large['spans'])} spans ({large['days']:g} days)"
    base = _size(small["spans"])
    command = "`.venv/bin/python -m bench report` (section growth)"
    rows = []
    for key, name in (("graph_s", "graph"), ("bottlenecks_s", "bottlenecks"), ("rca_s", "rca")):
        value, baseline = median(large[key]), median(small[key])
        rows.append(
            Row(f"15-minute {name} on {size}", _s(value), f"{_s(baseline)} ({base}-span store)",
                _ratio(value, baseline), "within 1.3x of the smaller store", value <= 1.3 * baseline,
                _runs(large[key]), command)
        )  # fmt: skip
    for call in CONSOLE_CALLS:
        value, baseline = percentile(large["api_ms"][call], 95), percentile(small["api_ms"][call], 95)
        rows.append(
            Row(f"console API p95, {_CALL_NAMES[call]}, on {size}", _ms(value), f"{_ms(baseline)} ({base})",
                _ratio(value, baseline), "< 300 ms" if call != "extent" else "(not a target)",
                value < 300 if call != "extent" else None, f"p95 of {len(large['api_ms'][call])}", command)
        )  # fmt: skip
    return rows


_CALL_NAMES = {
    "extent": "`/api/extent`",
    "services": "`/api/services`",
    "graph": "`/api/graph`",
    "search": "`/api/traces` search",
    "trace": "`/api/traces/{id}`",
}


def _met(met: bool | None) -> str:
    return "—" if met is None else ("yes" if met else "**no**")


def render_block(figures: dict[str, Any], *, plot_name: str = PLOT.name) -> str:
    """The Markdown between the markers of docs/performance.md: the targets table, the growth
    table and plot, the machine and the run. Pure: the same figures give the same text."""
    lines = [
        f"Measured {figures['date']} by `{figures['command']}` in {figures['wall_s'] / 60:.1f} minutes "
        "(every figure below comes from that run; a baseline is measured in the same run).",
        "",
        "| what | figure | baseline (same run) | ratio | target | met | runs | command |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in summary_rows(figures):
        cells = (row.what, row.value, row.baseline, row.ratio, row.target, _met(row.met), row.runs, row.command)
        lines.append("| " + " | ".join(cells) + " |")
    lines += _growth_lines(figures.get("growth") or [], plot_name)
    lines += _machine_lines(figures)
    return "\n".join(lines) + "\n"


def _growth_lines(points: list[dict[str, Any]], plot_name: str) -> list[str]:
    if not points:
        return []
    lines = [
        "",
        "### How cost grows with the store",
        "",
        "The same 15-minute window (12:00 to 12:15 UTC on the last day; rca against the hour before) "
        "in stores of one rate: the smaller stores are the newest hours of the largest. Each store "
        "is queried by a process of its own, as a CLI call opens one store; the stores take turns, "
        "run after run, for the graph, bottlenecks and rca (the median of each). Ingest: "
        "`bench.ingest` into a copy of the store (one run); API: the console's calls over the store's "
        "last 15 minutes (p95).",
        "",
        "| spans | log records | days | store (bytes a span with its logs) | made by bench.generate | ingest spans/s "
        "| peak server RSS | graph | bottlenecks | rca | API p95: services / graph / search / trace |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for point in points:
        made = f"{point['generated_s']:.0f} s ({_int(point['generated_spans_per_s'])} spans/s)"
        made = f"reused (made in {made})" if point["reused"] else made
        api = " / ".join(
            _ms(percentile(point["api_ms"][call], 95)) for call in ("services", "graph", "search", "trace")
        )
        cells = (
            _int(point["spans"]), _int(point["logs"]), f"{point['days']:g}",
            f"{point['db_bytes'] / 2**30:.2f} GiB ({point['db_bytes'] / point['spans']:.0f})", made,
            _int(point["ingest_spans_per_s"]), _mib(point["ingest_peak_rss_mib"]),
            _s(median(point["graph_s"])), _s(median(point["bottlenecks_s"])), _s(median(point["rca_s"])), api,
        )  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"![Ingest rate, server RSS and 15-minute query times against store size]({plot_name})"]
    return lines


def _machine_lines(figures: dict[str, Any]) -> list[str]:
    m = figures["machine"]
    load = f"{m['load_average_at_start']} at the start, {m.get('load_average_at_end', '?')} at the end"
    return [
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; {m['os']}; Python {m['python']}, "
        f"DuckDB {m['duckdb']}; glimpse at commit {m['commit']}; load average {load} (1, 5, 15 minutes).",
    ]


def splice(document: str, block: str) -> str:
    """``document`` with what is between the report's markers replaced by ``block``."""
    head, begin, rest = document.partition(BEGIN)
    _replaced, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"the document has no report markers ({BEGIN!r} ... {END!r})")
    return f"{head}{BEGIN}\n{block}{END}{tail}"


# --------------------------------------------------------------------------- the plot


def plot_growth(points: list[dict[str, Any]], path: Path) -> None:
    """Ingest rate, peak server RSS and the 15-minute query times against store size (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [point["spans"] / 1e6 for point in points]
    figure, (ingest, memory, queries) = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    ingest.plot(sizes, [point["ingest_spans_per_s"] for point in points], marker="o")
    ingest.set(title="ingest into the store", ylabel="spans durably stored a second")
    memory.plot(sizes, [point["ingest_peak_rss_mib"] for point in points], marker="o", color="tab:red")
    memory.set(title="server while ingesting", ylabel="peak RSS (MiB)")
    for key, name in (("graph_s", "graph"), ("bottlenecks_s", "bottlenecks"), ("rca_s", "rca")):
        queries.plot(sizes, [median(point[key]) for point in points], marker="o", label=name)
    queries.set(title="15-minute window", ylabel="seconds (median)")
    queries.legend()
    for axes in (ingest, memory, queries):
        axes.set_xscale("log")
        axes.set_xticks(sizes, [f"{size:.2g}" for size in sizes])
        axes.minorticks_off()
        axes.set_xlabel("spans in the store (millions)")
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
    figure.savefig(path, dpi=100)
    plt.close(figure)


# --------------------------------------------------------------------------- command line


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench report", description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="take the generated stores kept from an earlier run")
    parser.add_argument("--runs", type=int, help=f"repetitions of each figure (default {FULL.runs})")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes and one run each: a smoke test, not figures")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="only these sections")
    parser.add_argument("--stores", type=Path, help="where generated stores are kept (default bench/results/stores)")
    parser.add_argument("--doc", type=Path, default=DOC, help="the Markdown file to write the figures into")
    parser.add_argument("--plot", type=Path, default=PLOT, help="the growth plot to write (PNG)")
    parser.add_argument("--json", type=Path, default=RESULTS / "report.json", help="every raw figure, as JSON")
    parser.add_argument(
        "--render", type=Path, metavar="JSON", help="measure nothing: write the doc and plot from a saved report"
    )
    args = parser.parse_args(argv)
    config = TINY if args.tiny else FULL
    changes: dict[str, Any] = {"reuse": args.reuse}
    if args.runs:
        changes["runs"] = args.runs
    if args.only:
        changes["sections"] = tuple(args.only)
    if args.stores:
        changes["stores"] = args.stores
        changes["pools"] = args.stores / "pools"
    config = replace(config, **changes)
    if args.render:
        figures = json.loads(args.render.read_text(encoding="utf-8"))
    else:
        command = shlex.join(["python", "-m", "bench", "report", *argv])
        args.json.parent.mkdir(parents=True, exist_ok=True)
        save = lambda so_far: args.json.write_text(json.dumps(so_far, indent=1) + "\n", encoding="utf-8")  # noqa: E731
        figures = run_report(config, command, progress=save)
    if figures.get("growth"):
        plot_growth(figures["growth"], args.plot)
    args.doc.write_text(splice(args.doc.read_text(encoding="utf-8"), render_block(figures, plot_name=args.plot.name)))
    saved = "" if args.render else f" and {args.json}"
    log(f"wrote {args.doc}, {args.plot}{saved}; the run took {figures['wall_s'] / 60:.1f} minutes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
