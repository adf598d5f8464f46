"""Read queries about services' requests: rate, errors and duration (SQL in queries/services/).

Each returns plain rows; nothing matching gives an empty list (or zero counts).
"""

from __future__ import annotations

from typing import cast

import duckdb

from storage.named_queries import run_query
from storage.rows import DataExtent, OperationRedRow, ServiceRedRow, SpanHistogramRow
from storage.window import SpanWindow

__all__ = [
    "data_extent",
    "operation_red_rows",
    "service_red_rows",
    "span_histogram_rows",
    "window_span_count",
]


def data_extent(con: duckdb.DuckDBPyConnection) -> DataExtent:
    """First and last span start (unix ns, None when empty), span count, service names (sorted)."""
    row = run_query(con, "services/extent")[0]
    return {
        "first_ns": row["first_ns"],
        "last_ns": row["last_ns"],
        "spans": int(row["spans"]),
        "service_names": list(row["service_names"] or []),
    }


def window_span_count(con: duckdb.DuckDBPyConnection, window: SpanWindow, service: str | None = None) -> int:
    """Spans of the window (of ``service`` only, unless None)."""
    rows = run_query(con, "services/span_count", params={**window.params, "service": service})
    return int(rows[0]["spans"])


def service_red_rows(
    con: duckdb.DuckDBPyConnection,
    window: SpanWindow,
    *,
    bucket_ns: int,
    service: str | None = None,
    sample: int = 1,
) -> list[ServiceRedRow]:
    """Per service (``bucket`` None) and per service and bucket: span_count, requests, errors,
    ns_quantiles (p50, p95, p99 of request durations, None without requests; of one trace
    in ``sample``, by trace-id hash)."""
    params = {**window.params, "bucket": bucket_ns, "service": service, "sample": sample}
    return cast(list[ServiceRedRow], run_query(con, "services/red", params=params))


def operation_red_rows(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, service: str, *, sample: int = 1
) -> list[OperationRedRow]:
    """Per (operation, span kind) of one service: spans, errors, ns_quantiles (of one trace
    in ``sample``)."""
    params = {**window.params, "service": service, "sample": sample}
    return cast(list[OperationRedRow], run_query(con, "services/operation_red", params=params))


def span_histogram_rows(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, bounds_ns: list[int]
) -> list[SpanHistogramRow]:
    """Per (service, span name, kind, status) of the window's spans: the count, duration
    buckets over ``bounds_ns`` (``buckets``: bucket index -> count) and the durations' sum."""
    params = {**window.params, "bounds_ns": bounds_ns}
    return cast(list[SpanHistogramRow], run_query(con, "services/span_histograms", params=params))
