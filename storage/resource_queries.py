"""Read queries about resources: which resources served what, in a window."""

from __future__ import annotations

from typing import Any

import duckdb

from storage.graph_queries import SpanWindow
from storage.sql_files import fetch_dicts, load_query

__all__ = ["resource_metric_rows", "resource_red_rows"]

_RESOURCE_RED = """
SELECT service_name AS service, resource_attributes::VARCHAR AS resource,
       count(*) AS spans,
       count(*) FILTER (WHERE span_kind IN ('Server', 'Consumer')) AS requests,
       count(*) FILTER (WHERE span_kind IN ('Server', 'Consumer') AND status_code = 'Error') AS errors,
       quantile_cont(duration, 0.95) FILTER (WHERE span_kind IN ('Server', 'Consumer')) AS p95_ns,
       epoch_ns(max(timestamp)) AS last_seen_ns
FROM otel_traces
WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
GROUP BY ALL
ORDER BY service, resource
"""


def resource_red_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> list[dict[str, Any]]:
    """Per (service, resource): spans, requests (server/consumer spans), errors, p95 (ns)."""
    return fetch_dicts(con.execute(_RESOURCE_RED, {"since": window.since_ns, "until": window.until_ns}))


def resource_metric_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow, *, bucket_ns: int) -> list[dict[str, Any]]:
    """Per (resource, normalised signal, time bucket): the value (see queries/resource_metrics.sql)."""
    params = {"since": window.since_ns, "until": window.until_ns, "bucket_ns": bucket_ns}
    return fetch_dicts(con.execute(load_query("resource_metrics"), params))
