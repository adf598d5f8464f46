"""Anomalies, incidents and correlations of a window, computed from a database connection."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class _Detection:
    anomalies: list[Anomaly]
    incidents: list[Incident]
    latency: dict[str, np.ndarray]  # service -> median latency series
    edges: list[tuple[str, str]]
    co_located: list[dict[str, Any]]  # lagged correlation of anomalous pods with their node's other pods


def _detect(con: duckdb.DuckDBPyConnection, window: SpanWindow, bucket_ns: int) -> _Detection:
    # whole buckets only: a last, partial bucket has too few requests to judge
    buckets = max(1, (window.until_ns - window.since_ns) // bucket_ns)
    rows = red_series_rows(con, window, bucket_ns=bucket_ns)
    series = red_series(rows, buckets)
    series += resource_series(_resource_points(con, window, bucket_ns), buckets)
    series += histogram_series(
        histogram_point_rows(con, window), since_ns=window.since_ns, bucket_ns=bucket_ns, buckets=buckets
    )
    found = detect_anomalies(series, since_ns=window.since_ns, bucket_ns=bucket_ns)
    edges = sorted({(a, b) for a, _, b in (r["entity"].partition(" -> ") for r in rows if r["level"] == "edge")})
    placements = instance_host_rows(con, window)
    host_of = {r["instance"]: r["host"] for r in placements}
    incidents = group_incidents(
        found,
        edges=edges,
        host_of=host_of,
        placements={(r["service"], r["host"]) for r in placements},
        tolerance_ns=2 * bucket_ns,
    )
    # medians: quiet services have too few requests per bucket for a p95 series
    latency = {s.entity: s.values for s in series if s.level == "service" and s.signal == "latency_p50_ms"}
    pods = {s.entity: s.values for s in series if s.level == "instance" and s.signal == "latency_p50_ms"}
    anomalous_pods = {a.entity for a in found if a.level == "instance"}
    return _Detection(found, incidents, latency, edges, _co_located(pods, host_of, anomalous_pods))


def _co_located(pods: dict[str, np.ndarray], host_of: dict[str, str], anomalous: set[str]) -> list[dict[str, Any]]:
    """Lagged correlation of each anomalous pod's latency with every other pod on its node."""
    pairs = [
        (pod, other)
        for pod in sorted(anomalous & set(pods))
        for other in sorted(pods)
        if other != pod and host_of.get(other) is not None and host_of.get(other) == host_of.get(pod)
    ]
    return [
        {
            "host": host_of[r["caller"]],
            "instance": r["caller"],
            "neighbour": r["callee"],
            "lag_buckets": r["lag_buckets"],
            "correlation": r["correlation"],
        }
        for r in lagged_correlations(pods, pairs)
    ]


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
    detection = _detect(con, window, bucket_ns)
    found, incidents = detection.anomalies, detection.incidents
    if service is not None:
        found = [a for a in found if a.service == service or a.entity == service]
        incidents = [i for i in incidents if service in i.services]
    return {
        "window": {"since": window.since_ns, "until": window.until_ns, "bucket_ns": bucket_ns},
        "anomalies": [a.as_dict(with_series) for a in found[:limit]],
        "incidents": [i.as_dict() for i in incidents],
        "correlation": correlation_matrix(detection.latency),
        "lagged_correlation": lagged_correlations(detection.latency, detection.edges),
        "co_located_correlation": detection.co_located,
    }


def latest_incident(con: duckdb.DuckDBPyConnection, *, service: str | None = None) -> dict[str, Any] | None:
    """The most recent incident (two or more anomalies) in all the data, or None."""
    window = resolve_window(con, None, None)
    bucket_ns = pick_bucket_ns(window.until_ns - window.since_ns)
    for incident in _detect(con, window, bucket_ns).incidents:
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
