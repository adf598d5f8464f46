"""Read queries for root-cause analysis: per-entity evidence in a baseline and an incident window."""

from __future__ import annotations

from typing import Any

import duckdb

from storage.graph_queries import SpanWindow
from storage.sql_files import fetch_dicts, load_query

__all__ = [
    "histogram_point_rows",
    "instance_host_rows",
    "rca_evidence_rows",
    "red_series_rows",
    "spectrum_rows",
    "version_rows",
]

_VERSIONS = """
SELECT service_name AS service, service_version AS version,
       count(*) AS spans,
       epoch_ns(min(timestamp)) AS first_seen_ns
FROM otel_traces
WHERE ((timestamp >= make_timestamp_ns($b_since) AND timestamp < make_timestamp_ns($b_until))
    OR (timestamp >= make_timestamp_ns($i_since) AND timestamp < make_timestamp_ns($i_until)))
  AND span_kind IN ('Server', 'Consumer')
GROUP BY ALL
"""


def _params(baseline: SpanWindow, incident: SpanWindow) -> dict[str, int]:
    return {
        "b_since": baseline.since_ns,
        "b_until": baseline.until_ns,
        "i_since": incident.since_ns,
        "i_until": incident.until_ns,
    }


def rca_evidence_rows(
    con: duckdb.DuckDBPyConnection, baseline: SpanWindow, incident: SpanWindow, service: str | None = None
) -> list[dict[str, Any]]:
    """Per (signal, entity kind, entity, window): counts, exceedances, originating errors (queries/rca_evidence.sql)."""
    params: dict[str, Any] = {**_params(baseline, incident), "service": service}
    return fetch_dicts(con.execute(load_query("rca_evidence"), params))


def version_rows(con: duckdb.DuckDBPyConnection, baseline: SpanWindow, incident: SpanWindow) -> list[dict[str, Any]]:
    """Per (service, service.version) in either window: server spans and when the version was first seen."""
    return fetch_dicts(con.execute(_VERSIONS, _params(baseline, incident)))


def red_series_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow, *, bucket_ns: int) -> list[dict[str, Any]]:
    """Per (level, entity, bucket): requests, errors, latency p50/p95/p99 in ms (queries/red_series.sql)."""
    params = {"since": window.since_ns, "until": window.until_ns, "bucket": bucket_ns}
    return fetch_dicts(con.execute(load_query("red_series"), params))


_INSTANCE_HOSTS = """
SELECT DISTINCT service_name AS service, coalesce(k8s_pod_name, service_instance_id) AS instance,
       coalesce(k8s_node_name, host_name) AS host
FROM otel_traces
WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
  AND coalesce(k8s_pod_name, service_instance_id) IS NOT NULL AND coalesce(k8s_node_name, host_name) IS NOT NULL
"""


def instance_host_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> list[dict[str, Any]]:
    """Which host each service instance ran on in the window."""
    return fetch_dicts(con.execute(_INSTANCE_HOSTS, {"since": window.since_ns, "until": window.until_ns}))


def spectrum_rows(con: duckdb.DuckDBPyConnection, baseline: SpanWindow, incident: SpanWindow) -> list[dict[str, Any]]:
    """Per (kind, entity): anomalous and normal incident traces through it (queries/rca_spectrum.sql)."""
    return fetch_dicts(con.execute(load_query("rca_spectrum"), _params(baseline, incident)))


_HISTOGRAM_POINTS = """
SELECT coalesce(resource_attributes->>'$."k8s.pod.name"', resource_attributes->>'$."service.instance.id"',
                service_name) AS instance,
       service_name AS service, metric_name, metric_unit, attributes::VARCHAR AS series,
       epoch_ns(time_unix) AS time_ns, aggregation_temporality AS temporality, bucket_counts, explicit_bounds
FROM otel_metrics_histogram
WHERE time_unix >= make_timestamp_ns($since) AND time_unix < make_timestamp_ns($until)
ORDER BY instance, metric_name, series, time_unix
"""


def histogram_point_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> list[dict[str, Any]]:
    """Every explicit-bucket histogram point in the window, per resource instance and series, in time order."""
    return fetch_dicts(con.execute(_HISTOGRAM_POINTS, {"since": window.since_ns, "until": window.until_ns}))
