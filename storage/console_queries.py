"""Read queries behind the web console's pages (SQL in queries/console_*.sql).

Each returns plain rows (dicts); nothing matching gives an empty list (or zero counts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from storage.graph_queries import SpanWindow
from storage.sql_files import fetch_dicts, load_query
from storage.trace_queries import normalise_trace_id

__all__ = [
    "TraceQuery",
    "data_extent",
    "operation_red_rows",
    "search_trace_rows",
    "service_red_rows",
    "trace_detail_rows",
]


def data_extent(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """First and last span start (unix ns, None when empty), span count, service names (sorted)."""
    row = con.execute(
        "SELECT epoch_ns(min(timestamp)), epoch_ns(max(timestamp)), count(*), "
        "list(DISTINCT service_name ORDER BY service_name) FROM otel_spans"
    ).fetchone()
    first, last, spans, services = row or (None, None, 0, [])
    return {"first_ns": first, "last_ns": last, "spans": int(spans), "service_names": list(services or [])}


def service_red_rows(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, *, bucket_ns: int, service: str | None = None
) -> list[dict[str, Any]]:
    """Per service (``bucket`` None) and per service and bucket: span_count, requests, errors,
    ns_quantiles (p50, p95, p99 of request durations, None without requests)."""
    params = {"since": window.since_ns, "until": window.until_ns, "bucket": bucket_ns, "service": service}
    return fetch_dicts(con.execute(load_query("console_service_red"), params))


def operation_red_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow, service: str) -> list[dict[str, Any]]:
    """Per (operation, span kind) of one service: requests, errors, ns_quantiles."""
    params = {"since": window.since_ns, "until": window.until_ns, "service": service}
    return fetch_dicts(con.execute(load_query("console_operation_red"), params))


@dataclass(frozen=True, kw_only=True)
class TraceQuery:
    """A trace search, as Jaeger's: one span must match service, operation and every
    attribute (span or resource attribute, compared as text); duration (first start to
    last end) and errors are properties of the whole trace."""

    since_ns: int
    until_ns: int
    service: str | None = None
    operation: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    errors: bool | None = None  # True: with an error span; False: without
    limit: int = 20


def search_trace_rows(con: duckdb.DuckDBPyConnection, query: TraceQuery) -> list[dict[str, Any]]:
    """Summaries of the matching traces (trace_id, root_service, root_operation, start_ns,
    duration_ns, span_count, error_count, services), the most recent first."""
    conditions: list[str] = []
    params: dict[str, Any] = {
        "since": query.since_ns,
        "until": query.until_ns,
        "min_ns": query.min_duration_ns,
        "max_ns": query.max_duration_ns,
        "errors": query.errors,
        "limit": query.limit,
    }
    if query.service is not None:
        conditions.append("AND service_name = $service")
        params["service"] = query.service
    if query.operation is not None:
        conditions.append("AND span_name = $operation")
        params["operation"] = query.operation
    for number, (key, value) in enumerate(query.attributes.items()):
        path = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
        conditions.append(
            f"AND (json_extract_string(span_attributes, $path{number}) = $value{number}"
            f" OR json_extract_string(resource_attributes, $path{number}) = $value{number})"
        )
        params[f"path{number}"] = path
        params[f"value{number}"] = value
    trace_filters = (query.min_duration_ns, query.max_duration_ns, query.errors)
    matched_limit = "" if any(f is not None for f in trace_filters) else "ORDER BY first_match DESC LIMIT $limit"
    sql = load_query("console_trace_search").format(conditions="\n      ".join(conditions), matched_limit=matched_limit)
    return fetch_dicts(con.execute(sql, params))


def trace_detail_rows(con: duckdb.DuckDBPyConnection, trace_id: str) -> list[dict[str, Any]]:
    """Attributes (typed JSON text), resource, scope, status message, events and links of
    every span of one trace (empty when unknown)."""
    return fetch_dicts(con.execute(load_query("console_trace_details"), {"trace_id": normalise_trace_id(trace_id)}))
