"""Every entity (pod, container, process, function instance) with its services, health and resources."""

from __future__ import annotations

from typing import Any

import duckdb

from analyzer.errors import InvalidQueryError
from analyzer.platforms import entity_health, entity_metric_series, entity_resource_metrics
from analyzer.query_service.services import quantile_sample
from storage.graph_queries import resolve_window
from storage.resource_queries import resource_metric_rows, resource_red_rows
from storage.window import END_OF_TIME_NS, SpanWindow

__all__ = ["METRIC_BUCKET_NS", "platform_metric_series", "platforms"]

METRIC_BUCKET_NS = 60 * 1_000_000_000


def platforms(
    con: duckdb.DuckDBPyConnection, *, since_ns: int | None = None, until_ns: int | None = None
) -> dict[str, Any]:
    """Every entity (pod, container, process, function instance) with its services and RED
    (the p95 of a sample of whole traces past ``services.QUANTILE_SPANS`` spans, as the Services
    page's: ``quantile_sampled_fraction``)."""
    window = resolve_window(con, since_ns, until_ns)
    metrics_window = SpanWindow(since_ns or 0, until_ns or END_OF_TIME_NS)  # buckets aligned on the epoch
    metric_rows = resource_metric_rows(con, metrics_window, bucket_ns=METRIC_BUCKET_NS)
    sample = quantile_sample(con, window)
    entities = entity_health(
        resource_red_rows(con, window, sample=sample),
        window_s=window.seconds,
        metrics=entity_resource_metrics(metric_rows),
    )
    return {"window": window.as_dict(), "quantile_sampled_fraction": round(1 / sample, 6), "entities": entities}


def platform_metric_series(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    bucket_s: float = 60.0,
) -> dict[str, Any]:
    """The normalised resource metrics of every entity, per time bucket."""
    if bucket_s <= 0:
        raise InvalidQueryError("the bucket must be a positive number of seconds")
    window = SpanWindow(since_ns or 0, until_ns or END_OF_TIME_NS)
    bucket_ns = int(bucket_s * 1e9)
    rows = resource_metric_rows(con, window, bucket_ns=bucket_ns)
    return {"bucket_s": bucket_s, "series": entity_metric_series(rows, since_ns=window.since_ns, bucket_ns=bucket_ns)}
