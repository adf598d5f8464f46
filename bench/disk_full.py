"""Disk full: the file system of the database and its journal fills up under load.

Mounts a small tmpfs (needs root), puts a ``glimpse serve`` database (so its journal,
``<db>.journal``) on it and drives it with SDK exporters (gRPC and HTTP) at a modest rate.
Then fills the file system with a filler file, and for ``--full-s`` seconds probes the
server with raw exports over both transports: each must be refused as retryable
(``UNAVAILABLE`` with ``RetryInfo``, 503 with ``Retry-After``) unless it really was
journaled. Then deletes the filler and measures how long until exports are acknowledged
again and the store commits them, without a restart. At the end the server is stopped and
the store opened read-only: every span any export got acknowledged, before, during and
after, must be there exactly once.

Run (as root): ``python -m bench.disk_full [--size-mib 64] [--full-s 15] [--recover-s 10]``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import ServeProcess, log, verdict
from bench.sdk_load import LoadPlan, ProbeAnswer, SdkLoad, StoreCheck, check_store, probe_export, read_acknowledged

MIB = 1 << 20


class MountError(RuntimeError):
    """The tmpfs could not be mounted (the reason is the message)."""


@contextlib.contextmanager
def small_tmpfs(size_mib: int) -> Iterator[Path]:
    """A fresh tmpfs of ``size_mib`` MiB mounted on a temporary folder, unmounted after."""
    if os.geteuid() != 0:
        raise PermissionError("mounting a tmpfs needs root")
    folder = Path(tempfile.mkdtemp(prefix="glimpse-disk-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        folder.rmdir()
        raise MountError(f"mount -t tmpfs failed: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        with contextlib.suppress(OSError):
            folder.rmdir()


def fill(folder: Path) -> Path:
    """Write a filler file until the file system has no byte left; its path."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle:
        for chunk in (MIB, 4096, 1):
            block = bytes(chunk)
            try:
                while True:
                    handle.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return filler


@dataclass
class DiskFullResult:
    acked_before: int = 0
    full_answers: list[ProbeAnswer] = field(default_factory=list)
    resume_s: float | None = None  # from freeing the space to an acknowledged export on each transport
    committed_after_s: float | None = None  # ... to the store having every acknowledged span (a read syncs)
    final: StoreCheck | None = None
    exit_code: int | None = None
    exporter_failed_spans: int = 0
    log_problems: list[str] = field(default_factory=list)

    @property
    def refused(self) -> list[ProbeAnswer]:
        return [answer for answer in self.full_answers if not answer.ok]

    @property
    def passed(self) -> bool:
        transports = {answer.transport for answer in self.refused}
        return (
            transports == {"grpc", "http"}
            and all(answer.retryable_refusal for answer in self.refused)
            and self.resume_s is not None
            and self.committed_after_s is not None
            and self.final is not None
            and self.final.ok
            and self.exit_code == 0
        )


def run(workdir: Path, *, size_mib: int, warm_s: float, full_s: float, recover_s: float, rate: float) -> DiskFullResult:
    result = DiskFullResult()
    ack_dir = workdir / "acks"
    with small_tmpfs(size_mib) as disk:
        db = disk / "glimpse.duckdb"
        server = ServeProcess(db, workdir / "server.log")
        server.start()
        plan = LoadPlan(
            server.grpc_endpoint, server.http_url, str(ack_dir), processes=1, threads=2, batch_spans=100,
            rate_spans_s=rate, timeout_s=5.0,
        )  # fmt: skip
        load = SdkLoad(plan).start()
        try:
            time.sleep(warm_s)
            result.acked_before = len(read_acknowledged(ack_dir))
            filler = fill(disk)
            log(f"filled {disk} ({filler.stat().st_size / MIB:.1f} MiB filler); probing for {full_s:.0f} s")
            result.full_answers = _probe_for(server, ack_dir, full_s)
            filler.unlink()
            freed = time.monotonic()
            result.resume_s = _until_acknowledged(server, ack_dir, freed, timeout_s=60.0)
            result.committed_after_s = _until_committed(server, ack_dir, freed, timeout_s=120.0)
            time.sleep(recover_s)  # the load goes on: what it gets acknowledged is counted at the end
        finally:
            report = load.stop()
            result.exporter_failed_spans = report.spans_failed
            result.exit_code = server.terminate()
        result.final = check_store(db, ack_dir)
        result.log_problems = server.log_problems()
    return result


def _probe_for(server: ServeProcess, ack_dir: Path, seconds: float) -> list[ProbeAnswer]:
    answers = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for transport in ("grpc", "http"):
            answers.append(probe_export(server.grpc_endpoint, server.http_url, transport, ack_dir))
        time.sleep(0.2)
    return answers


def _until_acknowledged(server: ServeProcess, ack_dir: Path, since: float, timeout_s: float) -> float | None:
    """Seconds from ``since`` until a probe on each transport was acknowledged."""
    waiting = {"grpc", "http"}
    while waiting and time.monotonic() - since < timeout_s:
        for transport in sorted(waiting):
            if probe_export(server.grpc_endpoint, server.http_url, transport, ack_dir).ok:
                waiting.discard(transport)
        time.sleep(0.05)
    return None if waiting else time.monotonic() - since


def _until_committed(server: ServeProcess, ack_dir: Path, since: float, timeout_s: float) -> float | None:
    """Seconds from ``since`` until a query through the server (which first commits what is
    journaled) sees at least every span acknowledged before it was asked."""
    import httpx

    while time.monotonic() - since < timeout_s:
        acknowledged = len(set(read_acknowledged(ack_dir)))
        sql = {"sql": "SELECT count(*) FROM otel_traces", "timeout_s": 30}
        with contextlib.suppress(httpx.HTTPError, KeyError, IndexError):
            stored = httpx.post(f"{server.api_url}/api/sql", json=sql, timeout=90).json()["rows"][0][0]
            if stored >= acknowledged:
                return time.monotonic() - since
        time.sleep(0.5)
    return None


def print_report(result: DiskFullResult, size_mib: int) -> None:
    refused = result.refused
    by_code: dict[str, int] = {}
    for answer in refused:
        key = f"{answer.transport} {answer.code} (retry after {answer.retry_after_s:g} s)"
        by_code[key] = by_code.get(key, 0) + 1
    print(f"disk full: the database's {size_mib} MiB tmpfs filled under load from SDK exporters")
    print(f"  acknowledged before the disk filled: {result.acked_before:,} spans")
    accepted = len(result.full_answers) - len(refused)
    print(f"  probes while full: {len(result.full_answers)}, refused {len(refused)}, acknowledged {accepted}")
    for key, count in sorted(by_code.items()):
        print(f"    {count:>4} x {key}")
    resume = f"{result.resume_s:.2f} s" if result.resume_s is not None else "never"
    committed = f"{result.committed_after_s:.2f} s" if result.committed_after_s is not None else "never"
    print(f"  after the space returned: exports acknowledged again in {resume}, in the store in {committed}")
    if result.final is not None:
        f = result.final
        print(
            f"  after SIGTERM (exit {result.exit_code}): acknowledged {f.acknowledged:,}, stored {f.stored:,},"
            f" missing {f.missing}, twice {f.duplicated}; exporters gave up on {result.exporter_failed_spans:,} spans"
        )
    print(f"  server log: {len(result.log_problems)} error lines (expected while the disk is full)")
    print(f"  refused as retryable, nothing unsaved acknowledged, resumed by itself: {verdict(result.passed)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.disk_full", description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=64, help="size of the tmpfs")
    parser.add_argument("--warm-s", type=float, default=5.0, help="load before the disk fills")
    parser.add_argument("--full-s", type=float, default=15.0, help="how long the disk stays full")
    parser.add_argument("--recover-s", type=float, default=10.0, help="load after the space returns")
    parser.add_argument("--rate", type=float, default=4000.0, help="spans a second from the exporters")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="glimpse-diskfull-") as folder:
        result = run(
            Path(folder),
            size_mib=args.size_mib,
            warm_s=args.warm_s,
            full_s=args.full_s,
            recover_s=args.recover_s,
            rate=args.rate,
        )
    print_report(result, args.size_mib)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
