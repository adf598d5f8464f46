"""Graph benchmark: build the service dependency graph over a window of ~1,000,000 stored spans.

The spans are generated inside DuckDB (this measures the graph, not ingest): 73,600
traces of 15 spans over an hour, a gateway root span and 7 calls each, along chains
through 30 services; one call in five goes to an uninstrumented database (a client span
alone). Then the whole window is analysed as `glimpse graph` does, and the figures printed.

Run: ``python bench/graph.py [--traces 66667] [--repeat 3] [--json]``.
Targets (issue 3): under 1 s and under 1 GiB for 1,000,000 spans on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from glimpse.views import service_graph
from storage.columns import RESOURCE_SCHEMA
from storage.store import open_read_only, open_writable

GENERATE = """
WITH calls AS (
    SELECT t, c,
           hash(t * 7 + c) % 30 AS callee,
           hash(t * 11 + c * 3) % 5 = 0 AS to_database
    FROM range($traces) AS tr(t), range(7) AS cr(c)
),
chained AS (
    SELECT *, coalesce(lag(callee) OVER (PARTITION BY t ORDER BY c), t % 3) AS caller
    FROM calls
),
spans AS (
    SELECT t, 0 AS slot, '' AS parent_slot, 'gateway-' || (t % 3) AS service, 'Server' AS kind,
           0 AS start_ms, 200 AS length_ms, NULL AS db
    FROM range($traces) AS tr(t)
    UNION ALL
    SELECT t, 1 + 2 * c, CASE WHEN c = 0 THEN '0' ELSE (2 * c)::VARCHAR END,
           CASE WHEN c = 0 THEN 'gateway-' || (t % 3) ELSE 'svc-' || caller END, 'Client',
           5 + c * 20, 15 + hash(t + c) % 10, CASE WHEN to_database THEN 'db-' || (callee % 3) END
    FROM chained
    UNION ALL
    SELECT t, 2 + 2 * c, (1 + 2 * c)::VARCHAR, 'svc-' || callee, 'Server',
           6 + c * 20, 12 + hash(t * 3 + c) % 8, NULL
    FROM chained WHERE NOT to_database
)
SELECT
    make_timestamp_ns(1700000000000000000 + t * 54000000 + start_ms * 1000000) AS timestamp,
    printf('%032x', t + 1) AS trace_id,
    printf('%016x', t * 16 + slot + 1) AS span_id,
    CASE WHEN parent_slot = '' THEN '' ELSE printf('%016x', t * 16 + parent_slot::BIGINT + 1) END AS parent_span_id,
    '' AS trace_state, 0 AS flags, service || ' op' AS span_name, kind AS span_kind, service AS service_name,
    '{}' AS resource_attributes, '' AS resource_schema_url, 0 AS resource_dropped_attributes_count,
    '' AS scope_name, '' AS scope_version, '{}' AS scope_attributes, '' AS scope_schema_url,
    '{}' AS span_attributes, length_ms * 1000000 AS duration,
    CASE WHEN hash(t * 13 + slot) % 100 = 0 THEN 'Error' ELSE 'Unset' END AS status_code, '' AS status_message,
    [] AS events, [] AS links, 0 AS dropped_attributes_count, 0 AS dropped_events_count, 0 AS dropped_links_count,
    'GET' AS http_request_method, db AS db_system_name, db AS server_address,
    'pod-' || service || '-' || (t % 4) AS k8s_pod_name, 'node-' || (t % 5) AS k8s_node_name
FROM spans
"""


def store_generated(con: duckdb.DuckDBPyConnection, select_sql: str, params: dict[str, Any]) -> None:
    """Store rows shaped like ``otel_traces`` (from ``select_sql``) in otel_spans and otel_resources."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE generated AS {select_sql}", params)
    columns = {row[0] for row in con.execute("SELECT column_name FROM (DESCRIBE generated)").fetchall()}
    shared = [name for name in RESOURCE_SCHEMA.names if name in columns]
    key = f"hash({', '.join(shared)})"
    con.execute(
        f"INSERT INTO otel_resources BY NAME SELECT DISTINCT ON (resource_key) {key} AS resource_key, "
        f"{', '.join(shared)} FROM generated"
    )
    resource_only = ", ".join(name for name in shared if name != "service_name")
    spans = f"SELECT * EXCLUDE ({resource_only}), {key} AS resource_key FROM generated"
    con.execute(f"INSERT INTO otel_spans BY NAME {spans}")
    con.execute("DROP TABLE generated")


class PeakRss:
    """Samples this process's RSS every 10 ms while the block runs."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss)
            self._stop.wait(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=73_600, help="traces to generate (15 spans or fewer each)")
    parser.add_argument("--repeat", type=int, default=3, help="timed graph builds (the median is reported)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="glimpse-graph-bench-") as folder:
        path = Path(folder) / "graph.duckdb"
        started = time.perf_counter()
        con = open_writable(path)
        store_generated(con, GENERATE, {"traces": args.traces})
        con.execute("CHECKPOINT")
        con.close()
        generated_s = time.perf_counter() - started
        con = open_read_only(path)
        spans = con.execute("SELECT count(*) FROM otel_traces").fetchone()[0]  # type: ignore[index]
        rss_before = psutil.Process().memory_info().rss
        timings = []
        with PeakRss() as peak:
            for _ in range(args.repeat):
                started = time.perf_counter()
                graph = service_graph(con)
                timings.append(time.perf_counter() - started)
        con.close()
    figures = {
        "spans": spans,
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "calls": sum(data["calls"] for _, _, data in graph.edges(data=True)),
        "generate_s": round(generated_s, 2),
        "graph_s_median": round(statistics.median(timings), 3),
        "graph_s_all": [round(t, 3) for t in timings],
        "peak_rss_mib": round(peak.peak / 2**20, 1),
        "rss_growth_mib": round((peak.peak - rss_before) / 2**20, 1),
        "max_rss_mib_lifetime": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    print(
        f"{figures['spans']:,} spans -> {figures['nodes']} nodes, {figures['edges']} edges, "
        f"{figures['calls']:,} calls (generated in {figures['generate_s']} s)"
    )
    print(
        f"graph build: median {figures['graph_s_median']} s over {args.repeat} runs {figures['graph_s_all']}"
        f"   target < 1 s: {'PASS' if figures['graph_s_median'] < 1 else 'FAIL'}"
    )
    print(
        f"peak RSS {figures['peak_rss_mib']} MiB (growth during the builds {figures['rss_growth_mib']} MiB)"
        f"   target < 1 GiB: {'PASS' if figures['peak_rss_mib'] < 1024 else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
