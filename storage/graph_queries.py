"""Read queries behind the service dependency graph (SQL in queries/graph/)."""

from __future__ import annotations

from typing import cast

import duckdb

from storage.named_queries import run_query
from storage.rows import CallHistogramRow, OperationEdgeRow, ServiceEdgeRow, ServiceNodeRow
from storage.window import END_OF_TIME_NS, SpanWindow

__all__ = [
    "call_histogram_rows",
    "operation_edge_rows",
    "resolve_window",
    "service_edge_rows",
    "service_edge_samples",
    "service_node_rows",
]

_SERVICE_KEYS = "client, server, server_kind, connection_type"
_OPERATION_KEYS = "client, client_op, server, server_op, server_kind, connection_type"


def resolve_window(con: duckdb.DuckDBPyConnection, since_ns: int | None, until_ns: int | None) -> SpanWindow:
    """Fill an open bound from the data: the first span's start, or just after the last span's start."""
    if since_ns is not None and until_ns is not None:
        return SpanWindow(since_ns, until_ns)
    bounds = run_query(con, "window_bounds")[0]
    first, last = bounds["first_ns"], bounds["last_ns"]
    since = since_ns if since_ns is not None else (first if first is not None else 0)
    until = until_ns if until_ns is not None else (last + 1 if last is not None else since + 1)
    return SpanWindow(since, min(max(until, since), END_OF_TIME_NS))


def service_edge_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> list[ServiceEdgeRow]:
    """One row per (client, server, connection_type): calls, errors, latency quantiles (ns)."""
    rows = run_query(
        con, "graph/service_calls", "graph/call_statistics", params=window.params, parts={"keys": _SERVICE_KEYS}
    )
    return cast(list[ServiceEdgeRow], rows)


def operation_edge_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> list[OperationEdgeRow]:
    """As service_edge_rows, one row per (client, client_op, server, server_op, connection_type)."""
    rows = run_query(
        con, "graph/service_calls", "graph/call_statistics", params=window.params, parts={"keys": _OPERATION_KEYS}
    )
    return cast(list[OperationEdgeRow], rows)


def service_node_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> list[ServiceNodeRow]:
    """One row per service: span count, requests, request errors, server latency quantiles, platform."""
    return cast(list[ServiceNodeRow], run_query(con, "graph/service_nodes", params=window.params))


def service_edge_samples(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, *, per_edge: int = 500
) -> dict[tuple[str, str], list[int]]:
    """Per (client, server): up to ``per_edge`` call durations (client side, else server side), in ns."""
    rows = run_query(con, "graph/service_calls", "graph/edge_samples", params={**window.params, "per_edge": per_edge})
    return {(row["client"], row["server"]): [int(v) for v in row["durations_ns"] if v is not None] for row in rows}


def call_histogram_rows(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, bounds_ns: list[int]
) -> list[CallHistogramRow]:
    """The calls of :func:`service_edge_rows` (the same pairing) per (client, server,
    connection type, failed), with client- and server-side duration buckets over
    ``bounds_ns`` (``client_buckets``/``server_buckets``: bucket index -> count)."""
    params = {**window.params, "bounds_ns": bounds_ns}
    return cast(list[CallHistogramRow], run_query(con, "graph/service_calls", "graph/call_histograms", params=params))
