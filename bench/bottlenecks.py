"""Bottleneck benchmark: critical paths aggregated over ~100,000 traces, and one 10,000-span trace.

1. Generates 110,000 traces (about 1.5 million spans: a gateway root and 7 calls through
   30 services each, one call in five to an uninstrumented database) inside DuckDB, as
   bench/graph.py does, and times `glimpse bottlenecks` over the whole window (loading
   the spans, every trace's critical path, the aggregation), with peak RSS.
2. Stores one trace of 10,000 spans (a fan-out tree, 10 children a span) and times
   `glimpse critical-path` on it: the read from the store, assembly, critical path and
   self times.

Run: ``python bench/bottlenecks.py [--traces 110000] [--json]``.
Targets (issue 4): (1) under 10 s and under 2 GiB; (2) under 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from graph import GENERATE, PeakRss, store_generated

from analyzer.critical_path import critical_path, self_times
from glimpse.views import bottlenecks, trace_critical_path
from storage.store import open_read_only, open_writable
from storage.trace_queries import trace_span_rows
from tracing.trace import Span, assemble_trace

BIG_TRACE = "0" * 31 + "f"
BIG_TRACE_SQL = """
SELECT make_timestamp_ns(1800000000000000000 + i * 1000) AS timestamp, $trace_id AS trace_id,
       printf('%016x', i + 1) AS span_id,
       CASE WHEN i = 0 THEN '' ELSE printf('%016x', (i - 1) // 10 + 1) END AS parent_span_id,
       '' AS trace_state, 0 AS flags, 'op-' || (i % 50) AS span_name,
       CASE WHEN i % 2 = 0 THEN 'Server' ELSE 'Client' END AS span_kind, 'svc-' || (i % 40) AS service_name,
       '{}' AS resource_attributes, '' AS resource_schema_url, 0 AS resource_dropped_attributes_count,
       '' AS scope_name, '' AS scope_version, '{}' AS scope_attributes, '' AS scope_schema_url,
       '{}' AS span_attributes, 10000000 - i * 900 AS duration, 'Unset' AS status_code, '' AS status_message,
       [] AS events, [] AS links, 0 AS dropped_attributes_count, 0 AS dropped_events_count,
       0 AS dropped_links_count
FROM range(10000) AS r(i)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=110_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="glimpse-bottleneck-bench-") as folder:
        path = Path(folder) / "bench.duckdb"
        con = open_writable(path)
        store_generated(con, GENERATE, {"traces": args.traces})
        store_generated(con, BIG_TRACE_SQL, {"trace_id": BIG_TRACE})
        con.execute("CHECKPOINT")
        con.close()
        con = open_read_only(path)
        spans = con.execute("SELECT count(*) FROM otel_traces").fetchone()[0]  # type: ignore[index]
        runs = []
        with PeakRss() as peak:
            for _ in range(3):
                started = time.perf_counter()
                report = bottlenecks(con, max_traces=10**9, patterns=False)
                runs.append(time.perf_counter() - started)
        aggregate_s = sorted(runs)[1]
        started = time.perf_counter()
        with_patterns = bottlenecks(con, max_traces=10**9)
        patterns_s = time.perf_counter() - started
        timings, compute = [], []
        for _ in range(5):
            started = time.perf_counter()
            single = trace_critical_path(con, BIG_TRACE)
            timings.append(time.perf_counter() - started)
            rows = trace_span_rows(con, BIG_TRACE)
            started = time.perf_counter()
            trace = assemble_trace(BIG_TRACE, (Span.from_row(row) for row in rows))
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
        "peak_rss_mib": round(peak.peak / 2**20, 1),
        "top_operation": f"{report['ranking'][0]['service']} {report['ranking'][0]['operation']}",
        "big_trace_spans": len(single["spans"]),
        "big_trace_sections": len(single["critical_path"]),
        "big_trace_s_median": round(sorted(timings)[len(timings) // 2], 3),
        "big_trace_compute_s_median": round(sorted(compute)[len(compute) // 2], 3),
        "rss_now_mib": round(psutil.Process().memory_info().rss / 2**20, 1),
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    print(
        f"{figures['traces_analysed']:,} traces, {figures['spans_analysed']:,} spans: bottlenecks in "
        f"{figures['aggregate_s']} s, median of {figures['aggregate_s_all']} "
        f"(target < 10 s: {'PASS' if figures['aggregate_s'] < 10 else 'FAIL'}), "
        f"peak RSS {figures['peak_rss_mib']} MiB (target < 2 GiB: "
        f"{'PASS' if figures['peak_rss_mib'] < 2048 else 'FAIL'}); top: {figures['top_operation']}; "
        f"with pattern detection in {figures['pattern_traces']:,} traces: {figures['with_patterns_s']} s"
    )
    print(
        f"one {figures['big_trace_spans']:,}-span trace: critical path ({figures['big_trace_sections']} sections) "
        f"computed in {figures['big_trace_compute_s_median']} s (target < 0.2 s: "
        f"{'PASS' if figures['big_trace_compute_s_median'] < 0.2 else 'FAIL'}); "
        f"{figures['big_trace_s_median']} s with the read from the store and the waterfall (medians of 5)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
