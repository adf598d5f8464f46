"""Bottleneck benchmark: critical paths aggregated over ~100,000 traces, and one 10,000-span trace.

1. Generates 110,000 traces (about 1.5 million spans: a gateway root and 7 calls through
   30 services each, one call in five to an uninstrumented database) inside DuckDB with
   bench.graph's SQL (bench.workload), and times `glimpse bottlenecks` over the whole
   window (loading the spans, every trace's critical path, the aggregation), with peak RSS.
2. Stores one trace of 10,000 spans (a fan-out tree, 10 children a span) and times
   `glimpse critical-path` on it: the read from the store, assembly, critical path and
   self times.

Run: ``python -m bench.bottlenecks [--traces 110000] [--repeat 3] [--json]``.
Targets: (1) under 3 s and under 1 GiB (issue 22; issue 4 asked for 10 s and 2 GiB); (2) under 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import time

from analyzer.critical_path import critical_path, self_times
from analyzer.query_service.bottlenecks import bottlenecks
from analyzer.query_service.traces import trace_critical_path
from bench.common import PeakRss, median, mib, rss_now, temporary_db, timed, verdict
from bench.workload import BIG_TRACE, BIG_TRACE_SQL, CHAINED_TRACES_SQL, generate_store
from storage.store import open_read_only
from storage.trace_queries import trace_span_rows
from tracing.trace import Span, assemble_trace


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bottlenecks", description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=110_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed aggregations (the median is reported)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with temporary_db("glimpse-bottleneck-bench-", "bench.duckdb") as path:
        generate_store(path, (CHAINED_TRACES_SQL, {"traces": args.traces}), (BIG_TRACE_SQL, {"trace_id": BIG_TRACE}))
        con = open_read_only(path)
        spans = con.execute("SELECT count(*) FROM otel_traces").fetchone()[0]  # type: ignore[index]
        with PeakRss() as peak:
            report, runs = timed(
                lambda: bottlenecks(con, max_traces=10**9, max_spans=10**12, patterns=False), args.repeat
            )
        aggregate_s = median(runs)
        started = time.perf_counter()
        with_patterns = bottlenecks(con, max_traces=10**9, max_spans=10**12)
        patterns_s = time.perf_counter() - started
        timings, compute = [], []
        for _ in range(5):
            started = time.perf_counter()
            single = trace_critical_path(con, BIG_TRACE)
            timings.append(time.perf_counter() - started)
            rows = trace_span_rows(con, BIG_TRACE)
            started = time.perf_counter()
            trace = assemble_trace(BIG_TRACE, (Span(**row) for row in rows))
            critical_path(trace)
            self_times(trace)
            compute.append(time.perf_counter() - started)
        con.close()
    figures = {
        "spans_in_store": spans,
        "traces_analysed": report["traces"],
        "spans_analysed": report["spans"],
        "aggregate_s": round(aggregate_s, 2),
        "aggregate_s_all": [round(run, 2) for run in runs],
        "with_patterns_s": round(patterns_s, 2),
        "pattern_traces": with_patterns["patterns"]["traces_scanned"],
        "peak_rss_mib": mib(peak.peak),
        "top_operation": f"{report['ranking'][0]['service']} {report['ranking'][0]['operation']}",
        "big_trace_spans": len(single["spans"]),
        "big_trace_sections": len(single["critical_path"]),
        "big_trace_s_median": round(median(timings), 3),
        "big_trace_compute_s_median": round(median(compute), 3),
        "rss_now_mib": mib(rss_now()),
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    print(
        f"{figures['traces_analysed']:,} traces, {figures['spans_analysed']:,} spans: bottlenecks in "
        f"{figures['aggregate_s']} s, median of {figures['aggregate_s_all']} "
        f"(target < 3 s: {verdict(figures['aggregate_s'] < 3)}), "
        f"peak RSS {figures['peak_rss_mib']} MiB (target < 1 GiB: "
        f"{verdict(figures['peak_rss_mib'] < 1024)}); top: {figures['top_operation']}; "
        f"with pattern detection in {figures['pattern_traces']:,} traces: {figures['with_patterns_s']} s"
    )
    print(
        f"one {figures['big_trace_spans']:,}-span trace: critical path ({figures['big_trace_sections']} sections) "
        f"computed in {figures['big_trace_compute_s_median']} s (target < 0.2 s: "
        f"{verdict(figures['big_trace_compute_s_median'] < 0.2)}); "
        f"{figures['big_trace_s_median']} s with the read from the store and the waterfall (medians of 5)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
