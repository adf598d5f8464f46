"""Trace lookup benchmark: one trace by id, and trace search, on a store of 10 million spans.

What it does, in one run:

1. Writes a store of ``--parts`` x ``--traces`` traces of ``bench.workload.CHAINED_TRACES_SQL``
   (about 13.6 spans a trace: 82 x 9,000 traces are 10 million spans), part after part in
   time order, each about one row group as the writer commits them (122,880 spans), with
   random-looking trace ids, about one log record a trace, and the trace indexes the writer
   keeps.
2. **Baseline, the full scan**: the queries glimpse ran before the trace index (the spans and
   the span details of one trace by ``trace_id`` alone; the search that summarised every
   matching trace from the spans), on a read-only connection.
3. Starts a glimpse server on the store and asks it over HTTP, as the console and the CLI do:
   ``GET /api/traces/{id}`` (the waterfall: critical path, details, log records),
   ``GET /api/traces/{id}/critical-path`` (what ``glimpse critical-path ID`` asks a running
   server), and ``GET /api/traces?service=...&min_duration=...`` over the whole store. Also
   ``glimpse critical-path ID`` as a new process (Python's start-up included).
4. Ingest in the same run: ``python -m bench.ingest`` for ``--ingest-seconds`` (durable spans
   a second, and its ratio to the parse-only server of that run), and what the trace index
   adds to committing one row group of spans (122,880) on this store.

Run: ``python -m bench.trace_lookup [--parts 82] [--traces 9000] [--lookups 200] [--json]``.
Targets (issue 17): trace by id < 50 ms median, < 100 ms p99; search < 500 ms; ingest unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np

from bench.common import log, median, mib, running_server, temporary_db, verdict
from bench.workload import store_chained_parts
from storage.store import open_writable
from storage.trace_queries import index_traces_sql

TARGET_LOOKUP_MEDIAN_MS = 50.0
TARGET_LOOKUP_P99_MS = 100.0
TARGET_SEARCH_MS = 500.0
ROW_GROUP_SPANS = 122_880

# The queries of one trace and of a search as glimpse ran them before the trace index:
# the spans, then the details, by trace id alone (every row group read), and a search that
# summarised every matching trace from all the spans.
FULL_SCAN_SPANS = """
SELECT span_id, parent_span_id, service_name, span_name, span_kind, epoch_ns(timestamp), duration, status_code
FROM otel_spans WHERE trace_id = $trace_id ORDER BY timestamp, span_id
"""
FULL_SCAN_DETAILS = """
SELECT span_id, scope_name, resource_attributes, span_attributes, status_message, events, links
FROM otel_traces WHERE trace_id = $trace_id
"""
FULL_SCAN_SEARCH = """
WITH matched AS (
    SELECT trace_id FROM otel_traces
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
      AND service_name = $service
    GROUP BY trace_id
),
traces AS (
    SELECT t.trace_id,
           arg_min(t.service_name, (t.parent_span_id <> '', t.timestamp)) AS root_service,
           epoch_ns(min(t.timestamp)) AS start_ns,
           max(epoch_ns(t.timestamp) + t.duration) - min(epoch_ns(t.timestamp)) AS duration_ns,
           count(*) AS span_count,
           list(DISTINCT t.service_name ORDER BY t.service_name) AS services
    FROM otel_spans t SEMI JOIN matched m ON t.trace_id = m.trace_id
    GROUP BY t.trace_id
)
SELECT * FROM traces WHERE duration_ns >= $min_ns ORDER BY start_ns DESC, trace_id LIMIT 21
"""


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(median(values) * 1000, 1),
        "p99_ms": round(float(np.percentile(values, 99)) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
        "runs": len(values),
    }


def _timed_each(call: Any, items: list[Any]) -> list[float]:
    timings = []
    for item in items:
        started = time.perf_counter()
        call(item)
        timings.append(time.perf_counter() - started)
    return timings


def build_store(path: Path, parts: int, traces: int) -> dict[str, Any]:
    started = time.perf_counter()
    con = open_writable(path)
    try:
        store_chained_parts(con, range(parts), traces, logs=True)
        spans, logs, indexed = con.execute(
            "SELECT (SELECT count(*) FROM otel_spans), (SELECT count(*) FROM otel_logs),"
            " (SELECT count(*) FROM otel_trace_index)"
        ).fetchone()  # type: ignore[misc]
    finally:
        con.close()
    return {
        "spans": spans,
        "log_records": logs,
        "trace_index_rows": indexed,
        "store_mib": mib(os.path.getsize(path)),
        "build_s": round(time.perf_counter() - started, 1),
    }


def sample_trace_ids(path: Path, count: int, seed: int) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT DISTINCT trace_id FROM otel_spans USING SAMPLE 5000 ROWS").fetchall()
    finally:
        con.close()
    ids = sorted(row[0] for row in rows)
    random.Random(seed).shuffle(ids)
    return ids[:count]


def full_scan_figures(path: Path, ids: list[str], services: list[str], min_ns: int) -> dict[str, Any]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        lookup = _timed_each(
            lambda trace_id: (
                con.execute(FULL_SCAN_SPANS, {"trace_id": trace_id}).fetchall(),
                con.execute(FULL_SCAN_DETAILS, {"trace_id": trace_id}).fetchall(),
            ),
            ids,
        )
        params = {"since": 0, "until": 2**62, "min_ns": min_ns}
        search = _timed_each(
            lambda service: con.execute(FULL_SCAN_SEARCH, {**params, "service": service}).fetchall(), services
        )
    finally:
        con.close()
    return {"trace_by_id": _ms(lookup), "search": _ms(search)}


def api_figures(path: Path, ids: list[str], services: list[str], min_duration: str) -> dict[str, Any]:
    with running_server(path, console_port=0) as info, httpx.Client(base_url=info.api_url, timeout=60) as client:

        def get(url: str, **params: str) -> Any:
            response = client.get(url, params=params)
            response.raise_for_status()
            return response.json()

        get(f"/api/traces/{ids[0]}")  # warm: the first query loads the store's metadata
        detail = _timed_each(lambda trace_id: get(f"/api/traces/{trace_id}"), ids)
        critical = _timed_each(lambda trace_id: get(f"/api/traces/{trace_id}/critical-path"), ids)
        found: list[int] = []
        search = _timed_each(
            lambda service: found.append(len(get("/api/traces", service=service, min_duration=min_duration)["traces"])),
            services,
        )
        spans = [len(get(f"/api/traces/{trace_id}")["spans"]) for trace_id in ids[:20]]
        cli = _timed_each(lambda trace_id: _cli_critical_path(path, trace_id), ids[:5])
    return {
        "trace_by_id": _ms(detail),
        "critical_path": _ms(critical),
        "search": {**_ms(search), "traces_found_median": median(found)},
        "spans_per_trace_median": median(spans),
        "cli_critical_path_process": _ms(cli),
    }


def _cli_critical_path(path: Path, trace_id: str) -> None:
    command = [sys.executable, "-m", "glimpse", "critical-path", trace_id, "--db", str(path), "--json"]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def index_cost(path: Path, chunks: int = 5) -> dict[str, Any]:
    """The time to commit a row group of spans, and what indexing its traces adds, on a copy
    of the store's last spans written again with new ids (the store as it grows)."""
    con = open_writable(path)
    insert_s, index_s = [], []
    try:
        for chunk in range(chunks):
            con.execute(
                "CREATE OR REPLACE TEMP TABLE glimpse_chunk AS SELECT * REPLACE (md5(trace_id || $salt) AS trace_id)"
                " FROM otel_spans LIMIT $rows",
                {"salt": f"chunk-{chunk}", "rows": ROW_GROUP_SPANS},
            )
            con.execute("BEGIN TRANSACTION")
            started = time.perf_counter()
            con.execute("INSERT INTO otel_spans SELECT * FROM glimpse_chunk")
            inserted = time.perf_counter()
            con.execute(index_traces_sql("glimpse_chunk"))
            insert_s.append(inserted - started)
            index_s.append(time.perf_counter() - inserted)
            con.execute("ROLLBACK")
    finally:
        con.close()
    return {
        "row_group_insert_ms": round(median(insert_s) * 1000, 1),
        "trace_index_ms": round(median(index_s) * 1000, 1),
        "index_share_of_insert": round(median(index_s) / median(insert_s), 3),
    }


def ingest_figures(seconds: float) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.ingest", "--seconds", str(seconds), "--json"]
    done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=600 + 4 * seconds)
    figures, _ = json.JSONDecoder().raw_decode(done.stdout[done.stdout.index("{") :])
    return {
        "spans_per_s": round(figures["glimpse"]["spans_per_s"]),
        "bare_spans_per_s": round(figures["bare"]["spans_per_s"]),
        "ratio_to_bare": round(figures["ratio_glimpse_bare"], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.trace_lookup", description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=82, help="parts written one after the other")
    parser.add_argument("--traces", type=int, default=9_000, help="traces a part (about 13.6 spans each)")
    parser.add_argument("--lookups", type=int, default=200, help="traces looked up by id")
    parser.add_argument("--searches", type=int, default=20, help="searches by service and minimum duration")
    parser.add_argument("--min-duration", default="200ms", help="the searches' minimum trace duration")
    parser.add_argument("--ingest-seconds", type=float, default=15.0, help="bench.ingest's load (0: skip)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    min_ns = int(args.min_duration.removesuffix("ms")) * 1_000_000
    services = [f"svc-{(n * 7) % 30}" for n in range(args.searches)]
    with temporary_db("glimpse-lookup-bench-", "lookup.duckdb") as path:
        log(f"writing {args.parts} x {args.traces:,} traces ...")
        store = build_store(path, args.parts, args.traces)
        log(f"store: {store}")
        ids = sample_trace_ids(path, args.lookups, args.seed)
        baseline = full_scan_figures(path, ids[: max(20, args.lookups // 5)], services, min_ns)
        log(f"full scan: {baseline}")
        indexed = api_figures(path, ids, services, args.min_duration)
        log(f"indexed, through the API: {indexed}")
        cost = index_cost(path)
    ingest = ingest_figures(args.ingest_seconds) if args.ingest_seconds > 0 else None
    figures = {
        "store": store,
        "full_scan": baseline,
        "indexed_api": indexed,
        "ratio_trace_by_id": round(
            indexed["trace_by_id"]["median_ms"] / max(baseline["trace_by_id"]["median_ms"], 0.1), 3
        ),
        "ratio_search": round(indexed["search"]["median_ms"] / max(baseline["search"]["median_ms"], 0.1), 3),
        "index_cost": cost,
        "ingest": ingest,
        "cpus": os.cpu_count(),
        "passed": {
            "trace_by_id_median": indexed["trace_by_id"]["median_ms"] < TARGET_LOOKUP_MEDIAN_MS,
            "trace_by_id_p99": indexed["trace_by_id"]["p99_ms"] < TARGET_LOOKUP_P99_MS,
            "critical_path_median": indexed["critical_path"]["median_ms"] < TARGET_LOOKUP_MEDIAN_MS,
            "critical_path_p99": indexed["critical_path"]["p99_ms"] < TARGET_LOOKUP_P99_MS,
            "search": indexed["search"]["median_ms"] < TARGET_SEARCH_MS,
        },
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print_report(figures)
    return 0


def print_report(figures: dict[str, Any]) -> None:
    store, base, api, passed = figures["store"], figures["full_scan"], figures["indexed_api"], figures["passed"]
    print(
        f"store: {store['spans']:,} spans, {store['log_records']:,} log records, "
        f"{store['trace_index_rows']:,} trace index rows, {store['store_mib']} MiB (written in {store['build_s']} s)"
    )
    rows = [
        ("trace by id, full scan (spans + details)", base["trace_by_id"], None),
        ("GET /api/traces/{id}", api["trace_by_id"], passed["trace_by_id_median"] and passed["trace_by_id_p99"]),
        (
            "GET /api/traces/{id}/critical-path",
            api["critical_path"],
            passed["critical_path_median"] and passed["critical_path_p99"],
        ),
        ("search service + min duration, full scan", base["search"], None),
        ("GET /api/traces?service=&min_duration=", api["search"], passed["search"]),
        ("glimpse critical-path ID (new process)", api["cli_critical_path_process"], None),
    ]
    for name, figures_of, ok in rows:
        mark = "" if ok is None else f"  {verdict(ok)}"
        print(f"  {name:<45} median {figures_of['median_ms']:>8.1f} ms  p99 {figures_of['p99_ms']:>8.1f} ms{mark}")
    print(f"  ratio indexed/full scan: trace by id {figures['ratio_trace_by_id']}, search {figures['ratio_search']}")
    cost = figures["index_cost"]
    print(
        f"  committing a row group of spans: {cost['row_group_insert_ms']} ms; "
        f"indexing its traces adds {cost['trace_index_ms']} ms ({cost['index_share_of_insert']:.1%})"
    )
    if figures["ingest"]:
        ingest = figures["ingest"]
        print(
            f"  ingest (bench.ingest, same run): {ingest['spans_per_s']:,} spans/s durable, "
            f"{ingest['ratio_to_bare']} of the parse-only server ({ingest['bare_spans_per_s']:,})"
        )


if __name__ == "__main__":
    raise SystemExit(main())
