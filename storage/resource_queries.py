"""Read queries about resources: which resources served what, and their metrics (SQL in queries/resources/)."""

from __future__ import annotations

from typing import cast

import duckdb

from storage.named_queries import run_query
from storage.rows import ResourceMetricRow, ResourceRedRow
from storage.window import SpanWindow

__all__ = ["resource_metric_rows", "resource_red_rows"]


def resource_red_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow, *, sample: int = 1) -> list[ResourceRedRow]:
    """Per (service, resource): spans, requests, request errors, request p95 (ns; of one
    trace in ``sample``, by trace-id hash)."""
    params = {**window.params, "sample": sample}
    return cast(list[ResourceRedRow], run_query(con, "resources/red", params=params))


def resource_metric_rows(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, *, bucket_ns: int
) -> list[ResourceMetricRow]:
    """Per (resource, normalised signal, time bucket): the value (see queries/resources/metrics.sql)."""
    params = {**window.params, "bucket_ns": bucket_ns}
    return cast(list[ResourceMetricRow], run_query(con, "resources/metrics", params=params))
