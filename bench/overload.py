"""Overload: three times the measured capacity from SDK exporters with their retry on.

Starts ``glimpse serve`` and, in one run:

1. measures its capacity: SDK span exporters (gRPC and HTTP, bench.sdk_load) at full speed
   for ``--capacity-s``; the capacity is the acknowledged spans a second;
2. offers ``--factor`` (3) times that, paced, from ``--factor`` times as many exporters,
   for ``--overload-s``, while sampling the server's RSS and probing it with raw exports
   that show what a refusal carries (``RetryInfo`` in the gRPC status details and trailer,
   ``Retry-After`` on HTTP 503);
3. stops the load, stops the server (SIGTERM) and counts: every span an exporter got
   acknowledged, retried or not, must be stored exactly once; the spans an exporter gave
   up on (its retries ran out of time) are counted apart.

The exporters send the ingest benchmark's realistic 512-span requests (bench.workload,
fresh ids each time) through their own send-and-retry code, skipping only the SDK's
per-span encoding (31 us a span in Python): encoding spans, the exporters could not offer
more than the server takes on 2 cores. They share the CPUs with the server all the same,
so the offered load is what they achieved, printed beside the target.

Run: ``python -m bench.overload [--capacity-s 20] [--overload-s 60] [--factor 3]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import ProcessSampler, ServeProcess, log, mib, verdict
from bench.sdk_load import (
    LoadPlan,
    LoadReport,
    ProbeAnswer,
    SdkLoad,
    StoreCheck,
    check_store,
    probe_export,
)
from glimpse.settings import parse_memory_limit

RSS_LIMIT_BYTES = 1 << 30
OVERLOAD_THREADS = 16  # exporters per load process in the overload phase
OVERLOAD_REQUESTS_PER_EXPORT = 8  # 4,096 spans an export
PROBE_SPANS = 4096  # a raw export as large as the exporters', so that it meets the same refusals


@dataclass
class OverloadResult:
    capacity: LoadReport | None = None
    overload: LoadReport | None = None
    target_spans_s: float = 0.0
    peak_rss: int = 0
    refused_by_server: int = 0  # the writer's count of "queue full" answers
    refused_for_memory: int = 0  # answers "retry later" past 85 % of --memory-limit
    memory_limit: int = RSS_LIMIT_BYTES
    probes: list[ProbeAnswer] = field(default_factory=list)
    final: StoreCheck | None = None
    exit_code: int | None = None

    @property
    def refusals(self) -> list[ProbeAnswer]:
        return [probe for probe in self.probes if not probe.ok]

    @property
    def passed(self) -> bool:
        overloaded = self.overload is not None and self.overload.retries > 0
        retryable = bool(self.refusals) and all(probe.retryable_refusal for probe in self.refusals)
        stored = self.final is not None and self.final.ok
        return overloaded and retryable and stored and self.peak_rss < self.memory_limit and self.exit_code == 0


def run(
    workdir: Path,
    *,
    capacity_s: float,
    overload_s: float,
    factor: float,
    processes: int,
    threads: int,
    seed: int,
    max_queued_rows: int | None = None,
    memory_limit: str | None = None,
) -> OverloadResult:
    result = OverloadResult()
    ack_dir = workdir / "acks"
    env = {"GLIMPSE_MAX_QUEUED_ROWS": str(max_queued_rows)} if max_queued_rows else {}
    if memory_limit:
        env["GLIMPSE_MEMORY_LIMIT"] = memory_limit
        result.memory_limit = parse_memory_limit(memory_limit) or RSS_LIMIT_BYTES  # off: the 1 GiB
    server = ServeProcess(workdir / "overload.duckdb", workdir / "server.log", extra_env=env)
    server.start()
    sampler = ProcessSampler(server.pid, interval_s=0.25).start()
    try:
        plan = LoadPlan(
            server.grpc_endpoint, server.http_url, str(ack_dir), processes=processes, threads=threads, seed=seed,
            pre_encoded=True,
        )  # fmt: skip
        result.capacity = _drive(SdkLoad(plan), capacity_s)
        result.target_spans_s = factor * result.capacity.acked_per_s
        log(f"capacity {result.capacity.acked_per_s:,.0f} spans/s; offering {result.target_spans_s:,.0f} spans/s")
        # closed-loop exporters offer at most what they hold in flight: enough of them, with
        # big exports, to hold more than the server's queue and row-group buffer take
        heavy = LoadPlan(
            server.grpc_endpoint, server.http_url, str(ack_dir), processes=max(1, round(processes * factor)),
            threads=OVERLOAD_THREADS, rate_spans_s=result.target_spans_s, timeout_s=60.0, seed=seed + 1,
            pre_encoded=True, requests_per_export=OVERLOAD_REQUESTS_PER_EXPORT,
        )  # fmt: skip
        load = SdkLoad(heavy).start()
        result.probes = _probe_while(server, ack_dir, overload_s)
        result.overload = load.stop()
        result.overload.duration_s = overload_s
        stats = server.stats()
        result.refused_by_server = int(stats.get("rejected_full", 0))
        result.refused_for_memory = int(stats.get("rejected_memory", 0))
    finally:
        result.exit_code = server.terminate()
        sampler.stop()
        result.peak_rss = sampler.peak_rss
    result.final = check_store(server.db, ack_dir)
    return result


def _drive(load: SdkLoad, seconds: float) -> LoadReport:
    load.start()
    time.sleep(seconds)
    report = load.stop()
    report.duration_s = seconds  # acknowledged within the phase (exports in flight at the end are few)
    return report


def _probe_while(server: ServeProcess, ack_dir: Path, seconds: float) -> list[ProbeAnswer]:
    """Raw exports every half second over both transports while the load runs."""
    answers: list[ProbeAnswer] = []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        for transport in ("grpc", "http"):
            answers.append(probe_export(server.grpc_endpoint, server.http_url, transport, ack_dir, spans=PROBE_SPANS))
        threading.Event().wait(0.5)
    return answers


def print_report(result: OverloadResult) -> None:
    cap, over = result.capacity, result.overload
    assert cap is not None and over is not None
    print(f"overload: {result.target_spans_s / max(cap.acked_per_s, 1):.1f} x capacity from SDK exporters, retry on")
    print(f"  capacity (exporters at full speed): {cap.acked_per_s:,.0f} spans/s acknowledged")
    offered = (over.spans_acked + over.spans_failed) / over.duration_s
    print(
        f"  overload: target {result.target_spans_s:,.0f} spans/s, exporters achieved {offered:,.0f} spans/s offered,"
        f" {over.acked_per_s:,.0f} spans/s acknowledged"
    )
    print(
        f"  refused by the server: {result.refused_by_server:,} requests (queue full),"
        f" {result.refused_for_memory:,} (memory limit);"
        f" SDK retries {over.retries:,}; exports acknowledged {over.succeeded:,}, given up {over.failed:,}"
        f" ({over.spans_failed:,} spans)"
    )
    kinds: dict[str, int] = {}
    for probe in result.refusals:
        kinds[f"{probe.transport} {probe.code} retry after {probe.retry_after_s:g} s"] = (
            kinds.get(f"{probe.transport} {probe.code} retry after {probe.retry_after_s:g} s", 0) + 1
        )
    print(f"  raw probes: {len(result.probes)}, refused {len(result.refusals)}: {kinds}")
    print(f"  peak server RSS {mib(result.peak_rss):,.0f} MiB (limit {mib(result.memory_limit):,.0f})")
    if result.final is not None:
        f = result.final
        print(
            f"  after SIGTERM (exit {result.exit_code}): acknowledged {f.acknowledged:,}, stored {f.stored:,},"
            f" missing {f.missing}, twice {f.duplicated}"
        )
    print(f"  refusals retryable, RSS bounded, every acknowledged span stored: {verdict(result.passed)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overload", description=__doc__.splitlines()[0])
    parser.add_argument("--capacity-s", type=float, default=20.0, help="length of the capacity measurement")
    parser.add_argument("--overload-s", type=float, default=60.0, help="length of the overload")
    parser.add_argument("--factor", type=float, default=3.0, help="offered load as a multiple of the capacity")
    parser.add_argument("--processes", type=int, default=2, help="load processes for the capacity phase")
    parser.add_argument("--threads", type=int, default=2, help="exporter threads per load process")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-queued-rows", type=int, help="the server's GLIMPSE_MAX_QUEUED_ROWS (default: its own)")
    parser.add_argument(
        "--memory-limit", help="GLIMPSE_MEMORY_LIMIT, which the peak RSS must stay under (default 1 GiB)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="glimpse-overload-") as folder:
        result = run(
            Path(folder),
            capacity_s=args.capacity_s,
            overload_s=args.overload_s,
            factor=args.factor,
            processes=args.processes,
            threads=args.threads,
            seed=args.seed,
            max_queued_rows=args.max_queued_rows,
            memory_limit=args.memory_limit,
        )
    print_report(result)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
