"""Soak: half the measured capacity for a long time; RSS, open files, threads and export p99 stay flat.

Starts ``glimpse serve``, measures its capacity with SDK exporters at full speed for
``--capacity-s`` (or takes ``--rate``), then drives it at ``--fraction`` (half) of it with
paced exporters (gRPC and HTTP, the realistic pre-encoded requests of bench.sdk_load) for
``--minutes``, sampling the server's RSS, open file descriptors and threads every
``--sample-s`` and every export's latency. With ``--max-db-bytes`` the server keeps its
store within that size (retention deletes the oldest spans throughout). Over the second
half of the run it fits a line (least squares) to each series and calls it flat when the
trend over the whole run's length stays under a stated bound: RSS 5 % of its mean (at
least 32 MiB), 2 descriptors, 2 threads; export p99 is stable when the last quarter's p99
is within 1.5 x (+50 ms) of the second quarter's. At the end the server is stopped and every acknowledged span counted:
each must be stored once, or (with ``--max-db-bytes``) be among the spans the server says
retention deleted.

Run: ``python -m bench.soak [--minutes 30] [--fraction 0.5] [--max-db-bytes 1GiB] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.common import MIB, ProcessSampler, ServeProcess, log, mib, percentile, verdict
from bench.sdk_load import LoadPlan, SdkLoad, StoreCheck, check_store
from glimpse.settings import MAX_DB_BYTES


@dataclass(frozen=True)
class Trend:
    """A series' least-squares slope over the run's second half, as change over the whole run."""

    name: str
    mean: float
    change_over_run: float
    bound: float

    @property
    def flat(self) -> bool:
        return self.change_over_run < self.bound


@dataclass
class SoakResult:
    rate_spans_s: float = 0.0
    seconds: float = 0.0
    acked_per_s: float = 0.0
    trends: list[Trend] = field(default_factory=list)
    p99_second_quarter_ms: float = 0.0
    p99_last_quarter_ms: float = 0.0
    peak_rss: int = 0
    start_fds: int = 0
    end_fds: int = 0
    start_threads: int = 0
    end_threads: int = 0
    failed_exports: int = 0
    max_db_bytes: str | None = None
    retention_dropped_spans: int = 0  # what the server's retention deleted, by its own count
    final: StoreCheck | None = None
    exit_code: int | None = None

    @property
    def p99_stable(self) -> bool:
        return self.p99_last_quarter_ms <= 1.5 * self.p99_second_quarter_ms + 50

    @property
    def every_span_accounted_for(self) -> bool:
        """Every acknowledged span stored once, or (with retention) deleted by it: no more are
        missing than retention says it deleted."""
        final = self.final
        if final is None or final.duplicated:
            return False
        return final.missing <= (self.retention_dropped_spans if self.max_db_bytes else 0)

    @property
    def passed(self) -> bool:
        flat = all(t.flat for t in self.trends) and self.p99_stable
        return flat and self.every_span_accounted_for and self.exit_code == 0


def trend(name: str, times_s: list[float], values: list[float], run_s: float, bound: float) -> Trend:
    """The slope of ``values`` over the second half of the run, times the run's length."""
    import numpy as np

    half = [(t, v) for t, v in zip(times_s, values, strict=True) if t >= times_s[-1] / 2]
    xs, ys = np.array([t for t, _ in half]), np.array([v for _, v in half])
    slope = float(np.polyfit(xs, ys, 1)[0]) if len(half) >= 3 else 0.0
    return Trend(name, float(ys.mean()) if len(ys) else 0.0, slope * run_s, bound)


def run(
    workdir: Path,
    *,
    minutes: float,
    fraction: float,
    capacity_s: float,
    rate: float | None,
    sample_s: float,
    seed: int,
    max_db_bytes: str | None = None,
) -> SoakResult:
    result = SoakResult(max_db_bytes=max_db_bytes)
    ack_dir = workdir / "acks"
    env = {MAX_DB_BYTES.env: max_db_bytes} if max_db_bytes else {}
    server = ServeProcess(workdir / "soak.duckdb", workdir / "server.log", extra_env=env)
    server.start()
    try:
        result.rate_spans_s = rate or fraction * _capacity(server, ack_dir, capacity_s, seed)
        log(f"soaking at {result.rate_spans_s:,.0f} spans/s for {minutes:g} min")
        plan = LoadPlan(
            server.grpc_endpoint, server.http_url, str(ack_dir), processes=2, threads=2,
            rate_spans_s=result.rate_spans_s, timeout_s=30.0, seed=seed + 1, pre_encoded=True,
        )  # fmt: skip
        load = SdkLoad(plan).start()
        sampler = ProcessSampler(server.pid, interval_s=sample_s).start()
        time.sleep(minutes * 60)
        samples = sampler.stop()
        report = load.stop()
        result.seconds = minutes * 60
        result.acked_per_s = report.spans_acked / result.seconds
        result.failed_exports = report.failed
        _analyse(result, samples, report.latencies)
        result.retention_dropped_spans = _dropped_spans(server)
    finally:
        result.exit_code = server.terminate()
    result.final = check_store(server.db, ack_dir)
    return result


def _dropped_spans(server: ServeProcess) -> int:
    """The spans the server's retention has deleted so far (GET /api/stats)."""
    import httpx

    stats = httpx.get(f"{server.api_url}/api/stats", timeout=30).json()
    return int(stats["retention"]["dropped_rows"].get("otel_spans", 0))


def _capacity(server: ServeProcess, ack_dir: Path, seconds: float, seed: int) -> float:
    plan = LoadPlan(
        server.grpc_endpoint, server.http_url, str(ack_dir), processes=2, threads=2, seed=seed, pre_encoded=True
    )
    load = SdkLoad(plan).start()
    time.sleep(seconds)
    capacity = load.stop().spans_acked / seconds
    log(f"capacity {capacity:,.0f} spans/s")
    return capacity


def _analyse(
    result: SoakResult, samples: list[tuple[float, int, int, int]], latencies: list[tuple[float, float]]
) -> None:
    times = [s[0] for s in samples]
    rss, fds, threads = [float(s[1]) for s in samples], [float(s[2]) for s in samples], [float(s[3]) for s in samples]
    run_s = times[-1] - times[0] if len(times) > 1 else 1.0
    rss_bound = max(0.05 * sum(rss) / len(rss), 32 * MIB)
    result.trends = [
        trend("RSS (bytes)", times, rss, run_s, rss_bound),
        trend("open files", times, fds, run_s, 2.0),
        trend("threads", times, threads, run_s, 2.0),
    ]
    result.peak_rss = int(max(rss))
    result.start_fds, result.end_fds = samples[min(2, len(samples) - 1)][2], samples[-1][2]
    result.start_threads, result.end_threads = samples[min(2, len(samples) - 1)][3], samples[-1][3]
    end = max((t for t, _ in latencies), default=0.0)
    second = [ms for t, ms in latencies if end / 4 <= t < end / 2]
    last = [ms for t, ms in latencies if t >= 3 * end / 4]
    result.p99_second_quarter_ms = percentile(second, 99)
    result.p99_last_quarter_ms = percentile(last, 99)


def print_report(result: SoakResult) -> None:
    minutes, rate, acked = result.seconds / 60, result.rate_spans_s, result.acked_per_s
    print(f"soak: {minutes:g} min at {rate:,.0f} spans/s offered ({acked:,.0f} acknowledged)")
    for t in result.trends:
        scale, unit = (MIB, "MiB") if t.name.startswith("RSS") else (1, "")
        change = f"trend over the run {t.change_over_run / scale:+,.2f} {unit}"
        state = "flat" if t.flat else "RISING"
        print(
            f"  {t.name:<12} mean {t.mean / scale:,.1f} {unit:<3} {change} (flat below {t.bound / scale:,.1f}): {state}"
        )
    files = f"open files {result.start_fds} -> {result.end_fds}"
    print(
        f"  peak RSS {mib(result.peak_rss):,.0f} MiB; {files}; threads {result.start_threads} -> {result.end_threads}"
    )
    p99 = f"second quarter {result.p99_second_quarter_ms:,.0f} ms, last quarter {result.p99_last_quarter_ms:,.0f} ms"
    state = "stable" if result.p99_stable else "GROWING"
    print(f"  export p99: {p99}: {state}; failed exports {result.failed_exports}")
    if result.final is not None:
        f = result.final
        counts = f"acknowledged {f.acknowledged:,}, missing {f.missing:,}, twice {f.duplicated}"
        if result.max_db_bytes:
            counts += f"; retention deleted {result.retention_dropped_spans:,} (bound {result.max_db_bytes})"
        print(f"  after SIGTERM (exit {result.exit_code}): {counts}")
    stored = "every acknowledged span stored" + (" or deleted by retention" if result.max_db_bytes else "")
    print(f"  flat RSS, files and threads, stable p99, {stored}: {verdict(result.passed)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--fraction", type=float, default=0.5, help="of the measured capacity")
    parser.add_argument("--capacity-s", type=float, default=20.0, help="length of the capacity measurement")
    parser.add_argument("--rate", type=float, help="spans a second to offer (skips the capacity measurement)")
    parser.add_argument("--sample-s", type=float, default=5.0, help="seconds between samples of the server")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-db-bytes", help="serve with this store size bound (retention on), e.g. 1GiB")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="glimpse-soak-") as folder:
        result = run(
            Path(folder),
            minutes=args.minutes,
            fraction=args.fraction,
            capacity_s=args.capacity_s,
            rate=args.rate,
            sample_s=args.sample_s,
            seed=args.seed,
            max_db_bytes=args.max_db_bytes,
        )
    if args.json:
        print(json.dumps({**asdict(result), "passed": result.passed}, indent=2, default=str))
    else:
        print_report(result)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
