"""Read queries behind the service dependency graph (SQL in queries/*.sql)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from storage.sql_files import fetch_dicts, load_query

__all__ = [
    "SpanWindow",
    "operation_edge_rows",
    "resolve_window",
    "service_edge_rows",
    "service_edge_samples",
    "service_node_rows",
]

END_OF_TIME_NS = 2**62  # year 2116: within TIMESTAMP_NS
_OVER_CALLS = frozenset({"service_edge_samples"})  # queries that end the service_calls.sql chain
_SERVICE_KEYS = "client, server, server_kind, connection_type"
_OPERATION_KEYS = "client, client_op, server, server_op, server_kind, connection_type"


@dataclass(frozen=True)
class SpanWindow:
    """A half-open span-time window [since_ns, until_ns) in unix nanoseconds."""

    since_ns: int
    until_ns: int

    @property
    def seconds(self) -> float:
        return max(self.until_ns - self.since_ns, 1) / 1e9


def resolve_window(con: duckdb.DuckDBPyConnection, since_ns: int | None, until_ns: int | None) -> SpanWindow:
    """Fill an open bound from the data: the first span's start, or just after the last span's start."""
    if since_ns is not None and until_ns is not None:
        return SpanWindow(since_ns, until_ns)
    row = con.execute("SELECT epoch_ns(min(timestamp)), epoch_ns(max(timestamp)) FROM otel_spans").fetchone()
    first, last = row or (None, None)
    since = since_ns if since_ns is not None else (first if first is not None else 0)
    until = until_ns if until_ns is not None else (last + 1 if last is not None else since + 1)
    return SpanWindow(since, min(max(until, since), END_OF_TIME_NS))


def _rows(con: duckdb.DuckDBPyConnection, name: str, window: SpanWindow, **params: Any) -> list[dict[str, Any]]:
    sql = load_query(name)
    if name in _OVER_CALLS:
        sql = load_query("service_calls") + sql
    return _execute(con, sql, window, **params)


def _call_statistics(con: duckdb.DuckDBPyConnection, window: SpanWindow, keys: str) -> list[dict[str, Any]]:
    return _execute(con, load_query("service_calls") + load_query("call_statistics").format(keys=keys), window)


def _execute(con: duckdb.DuckDBPyConnection, sql: str, window: SpanWindow, **params: Any) -> list[dict[str, Any]]:
    return fetch_dicts(con.execute(sql, {"since": window.since_ns, "until": window.until_ns, **params}))


def service_edge_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> list[dict[str, Any]]:
    """One row per (client, server, connection_type): calls, errors, latency quantiles (ns)."""
    return _call_statistics(con, window, _SERVICE_KEYS)


def operation_edge_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> list[dict[str, Any]]:
    """As service_edge_rows, one row per (client, client_op, server, server_op, connection_type)."""
    return _call_statistics(con, window, _OPERATION_KEYS)


def service_node_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> list[dict[str, Any]]:
    """One row per service: span count, requests, request errors, server latency quantiles, platform."""
    return _rows(con, "service_nodes", window)


def service_edge_samples(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, *, per_edge: int = 500
) -> dict[tuple[str, str], list[int]]:
    """Per (client, server): up to ``per_edge`` call durations (client side, else server side), in ns."""
    rows = _rows(con, "service_edge_samples", window, per_edge=per_edge)
    return {(row["client"], row["server"]): [int(v) for v in row["durations_ns"] if v is not None] for row in rows}
