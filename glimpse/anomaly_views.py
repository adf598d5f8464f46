"""Anomalies, incidents and correlations of a window, computed from a database connection."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np

from analyzer.anomaly import (
    Anomaly,
    detect_anomalies,
    histogram_series,
    pick_bucket_ns,
    red_series,
    resource_series,
)
from analyzer.correlate import Incident, correlation_matrix, group_incidents, lagged_correlations
from analyzer.platforms import entity_metric_series
from storage.graph_queries import SpanWindow, resolve_window
from storage.rca_queries import histogram_point_rows, instance_host_rows, red_series_rows
from storage.resource_queries import resource_metric_rows

__all__ = ["anomalies", "latest_incident"]

# gauges, and sums as rates (resource_metrics.sql normalises both per platform)
RESOURCE_SIGNALS = ("cpu_utilization", "memory_utilization", "network_in_bytes_per_s", "network_out_bytes_per_s")
MIN_INCIDENT_SCORE = 0.25  # every detector reports at least ~0.29 at its threshold
MIN_INCIDENT_ANOMALIES = 2  # a lone anomalous series is not yet an incident


def _detect(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, bucket_ns: int
) -> tuple[list[Anomaly], list[Incident], dict[str, np.ndarray], list[tuple[str, str]]]:
    # whole buckets only: a last, partial bucket has too few requests to judge
    buckets = max(1, (window.until_ns - window.since_ns) // bucket_ns)
    rows = red_series_rows(con, window, bucket_ns=bucket_ns)
    series = red_series(rows, buckets)
    series += resource_series(_resource_points(con, window, bucket_ns), buckets)
    series += histogram_series(
        histogram_point_rows(con, window), since_ns=window.since_ns, bucket_ns=bucket_ns, buckets=buckets
    )
    found = detect_anomalies(series, since_ns=window.since_ns, bucket_ns=bucket_ns)
    edges = sorted({tuple(r["entity"].split(" -> ", 1)) for r in rows if r["level"] == "edge"})
    placements = instance_host_rows(con, window)
    incidents = group_incidents(
        found,
        edges=[(a, b) for a, b in edges],
        host_of={r["instance"]: r["host"] for r in placements},
        placements={(r["service"], r["host"]) for r in placements},
        tolerance_ns=2 * bucket_ns,
    )
    # medians: quiet services have too few requests per bucket for a p95 series
    latency = {s.entity: s.values for s in series if s.level == "service" and s.signal == "latency_p50_ms"}
    return found, incidents, latency, [(a, b) for a, b in edges]


def _resource_points(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, bucket_ns: int
) -> list[tuple[str, str | None, str, int, float]]:
    rows = resource_metric_rows(con, window, bucket_ns=bucket_ns)
    points: list[tuple[str, str | None, str, int, float]] = []
    for entry in entity_metric_series(rows, since_ns=window.since_ns, bucket_ns=bucket_ns):
        if not entry["instance"]:
            continue
        bucket = (entry["bucket_start_ns"] - window.since_ns) // bucket_ns
        for signal in RESOURCE_SIGNALS:
            if signal in entry["signals"]:
                points.append((entry["instance"], None, signal, bucket, entry["signals"][signal]))
    return points


def anomalies(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    service: str | None = None,
    with_series: bool = True,
    limit: int = 200,
) -> dict[str, Any]:
    """Every anomaly in the window, the incidents they form, and the services' correlations."""
    window = resolve_window(con, since_ns, until_ns)
    bucket_ns = pick_bucket_ns(window.until_ns - window.since_ns)
    found, incidents, latency, edges = _detect(con, window, bucket_ns)
    if service is not None:
        found = [a for a in found if a.service == service or a.entity == service]
        incidents = [i for i in incidents if service in i.services]
    return {
        "window": {"since": window.since_ns, "until": window.until_ns, "bucket_ns": bucket_ns},
        "anomalies": [a.as_dict(with_series) for a in found[:limit]],
        "incidents": [i.as_dict() for i in incidents],
        "correlation": correlation_matrix(latency),
        "lagged_correlation": lagged_correlations(latency, edges),
    }


def latest_incident(con: duckdb.DuckDBPyConnection, *, service: str | None = None) -> dict[str, Any] | None:
    """The most recent incident (two or more anomalies) in all the data, or None."""
    window = resolve_window(con, None, None)
    bucket_ns = pick_bucket_ns(window.until_ns - window.since_ns)
    _, incidents, _, _ = _detect(con, window, bucket_ns)
    for incident in incidents:
        if len(incident.anomalies) < MIN_INCIDENT_ANOMALIES or incident.score < MIN_INCIDENT_SCORE:
            continue
        if service is None or service in incident.services:
            return {
                "start_ns": incident.start_ns,
                "end_ns": window.until_ns,
                "detected": True,
                "score": round(incident.score, 4),
                "services": incident.services,
                "anomalies": len(incident.anomalies),
            }
    return None
