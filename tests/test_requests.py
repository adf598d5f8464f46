"""One definition of a request (storage/queries/requests.sql), the same in every query that
counts requests: the Services page, the graph's nodes, anomaly series, platforms, versions.

Hand-built trace, all spans of service "a" unless named otherwise:

    root        kind-less, no parent           -> a request of a (a root)
    ├── same    kind-less, parent in a         -> not a request (work inside a)
    │   └── far kind-less, service b, parent a -> a request of b (crosses services)
    ├── call    CLIENT                         -> not a request
    │   └── srv SERVER, service b, error       -> a request of b
    ├── job     INTERNAL                       -> not a request
    └── orphan  kind-less, service c, its parent never arrives -> a request of c
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb

from analyzer.query_service.services import service_red
from storage.graph_queries import resolve_window, service_node_rows
from storage.incident_queries import red_series_rows
from storage.resource_queries import resource_red_rows
from tests.conftest import Running
from tests.trace_builder import TraceBuilder, send

EXPECTED = {"a": (1, 0), "b": (2, 1), "c": (1, 0)}  # service -> (requests, request errors)


def _store_trace(running: Running) -> None:
    t = TraceBuilder(seed=5)
    root = t.span("a", "root", kind="unspecified", start_ms=0, end_ms=100)
    same = t.span("a", "same", kind="unspecified", parent=root, start_ms=5, end_ms=50)
    t.span("b", "far", kind="unspecified", parent=same, start_ms=10, end_ms=40)
    call = t.span("a", "call", kind="client", parent=root, start_ms=55, end_ms=90)
    t.span("b", "srv", kind="server", parent=call, start_ms=60, end_ms=85, error=True)
    t.span("a", "job", kind="internal", parent=root, start_ms=91, end_ms=95)
    lost = t.span("c", "lost parent", kind="server", start_ms=1, end_ms=2)
    t.span("c", "orphan", kind="unspecified", parent=lost, start_ms=96, end_ms=99)
    send(running.grpc_endpoint, [span for span in t.spans if span is not lost])
    assert running.scalar("SELECT count(*) FROM otel_traces") == 7


def _counts(rows: Sequence[Mapping[str, Any]], requests: str, errors: str) -> dict[str, tuple[int, int]]:
    return {row["service"]: (row[requests], row[errors]) for row in rows}


def test_every_query_counts_the_same_requests(running: Running) -> None:
    _store_trace(running)
    assert running.server is not None
    con: duckdb.DuckDBPyConnection = running.server.read_cursor()
    try:
        window = resolve_window(con, None, None)
        services = service_red(con)["services"]
        assert {s["service"]: (s["requests"], s["errors"]) for s in services} == EXPECTED
        assert _counts(service_node_rows(con, window), "requests", "request_errors") == EXPECTED
        series = [row for row in red_series_rows(con, window, bucket_ns=10**12) if row["level"] == "service"]
        assert {row["entity"]: (row["requests"], row["errors"]) for row in series} == EXPECTED
        assert _counts(resource_red_rows(con, window), "requests", "errors") == EXPECTED
    finally:
        con.close()
