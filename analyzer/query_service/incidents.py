"""Anomalies, the incidents they form, and ranked root causes of an incident."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from analyzer.anomaly import (
    Anomaly,
    Series,
    detect_anomalies,
    histogram_series,
    log_series,
    pick_bucket_ns,
    red_series,
    resource_series,
)
from analyzer.bottlenecks import BottleneckReport, aggregate_critical_paths
from analyzer.correlate import Incident, correlation_matrix, group_incidents, lagged_correlations
from analyzer.errors import NotFoundError
from analyzer.log_evidence import log_evidence, row_templates
from analyzer.platforms import entity_metric_series, entity_resource_metrics
from analyzer.query_service.services import quantile_sample
from analyzer.rca import rank_root_causes
from storage.graph_queries import resolve_window
from storage.incident_queries import (
    diagnosis_span_count,
    evidence_rows,
    histogram_point_rows,
    instance_host_rows,
    log_series_rows,
    red_series_rows,
    span_counts,
    spectrum_rows,
    transition_rows,
    version_rows,
)
from storage.resource_queries import resource_metric_rows
from storage.rows import RedSeriesRow
from storage.trace_queries import sampled_window_spans
from storage.window import SpanWindow

__all__ = [
    "NoIncidentError",
    "anomalies",
    "anomaly_list",
    "critical_path_shift",
    "default_baseline",
    "latest_incident",
    "root_causes",
    "sampled_critical_paths",
]

# gauges, and sums as rates (resource_metrics.sql normalises both per platform)
RESOURCE_SIGNALS = ("cpu_utilization", "memory_utilization", "network_in_bytes_per_s", "network_out_bytes_per_s")
MIN_INCIDENT_SCORE = 0.25  # every detector reports at least ~0.29 at its threshold
MIN_INCIDENT_ANOMALIES = 2  # a lone anomalous series is not yet an incident ...
MIN_LONE_SCORE = 0.6  # ... unless it is strong,
MIN_LONE_LOG_SCORE = (
    0.28  # ... or any change in a service's own logs the detectors report (a code fault may show nowhere else)
)
LOG_SIGNALS = frozenset({"log_error_rate", "log_records_per_request"})
LOG_EVIDENCE_INCIDENTS = 3  # incidents whose log changes `anomalies` describes (one query each)


@dataclass
class _Detection:
    anomalies: list[Anomaly]
    incidents: list[Incident]
    latency: dict[str, np.ndarray]  # service -> median latency series
    edges: list[tuple[str, str]]
    co_located: list[dict[str, Any]]  # lagged correlation of anomalous pods with their node's other pods


def _find(
    con: duckdb.DuckDBPyConnection,
    window: SpanWindow,
    bucket_ns: int,
    *,
    scopes: frozenset[str] | None = None,
    resources: bool = True,
    strict: bool = False,
) -> tuple[list[RedSeriesRow], list[Series], list[Anomaly]]:
    """The RED rows, the series (of ``scopes``' services and entities only, when given; the
    pods' resource metrics unless ``resources`` is false; latency quantiles judged on
    ``strict`` counts, see :func:`analyzer.anomaly.least_requests`) and the anomalies found in them."""
    # whole buckets only: a last, partial bucket has too few requests to judge
    buckets = max(1, (window.until_ns - window.since_ns) // bucket_ns)
    # the latency of a long window is a sample's, as /api/services gives it
    rows = red_series_rows(con, window, bucket_ns=bucket_ns, sample=quantile_sample(con, window))
    series = red_series(rows, buckets, strict=strict)
    if resources:
        series += resource_series(_resource_points(con, window, bucket_ns), buckets)
    points = histogram_point_rows(con, window)
    if scopes is not None:  # a histogram's series is its points' (instance, service, metric): keep only those in scope
        points = [p for p in points if p["service"] in scopes or p["instance"] in scopes]
    series += histogram_series(points, since_ns=window.since_ns, bucket_ns=bucket_ns, buckets=buckets)
    series += log_series(log_series_rows(con, window, bucket_ns=bucket_ns), buckets)
    if scopes is not None:
        series = [s for s in series if s.service in scopes or s.entity in scopes]
    return rows, series, detect_anomalies(series, since_ns=window.since_ns, bucket_ns=bucket_ns)


def _detect(con: duckdb.DuckDBPyConnection, window: SpanWindow, bucket_ns: int) -> _Detection:
    rows, series, found = _find(con, window, bucket_ns)
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
    described = [i.as_dict() for i in incidents]
    for entry, incident in zip(described[:LOG_EVIDENCE_INCIDENTS], incidents, strict=False):
        entry["logs"] = _log_changes(con, window, incident)
    return {
        "window": {"since": window.since_ns, "until": window.until_ns, "bucket_ns": bucket_ns},
        "anomalies": [a.as_dict(with_series) for a in found[:limit]],
        "incidents": described,
        "correlation": correlation_matrix(detection.latency),
        "lagged_correlation": lagged_correlations(detection.latency, detection.edges),
        "co_located_correlation": detection.co_located,
    }


def anomaly_list(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int,
    until_ns: int,
    scopes: frozenset[str] | None = None,
    resources: bool = True,
    strict: bool = False,
) -> list[dict[str, Any]]:
    """The anomalies of :func:`anomalies` over the same window (without series), and nothing
    else: no incidents, log changes or correlations (what alert rules need). ``scopes``: only
    those of series whose service or entity is one of them; ``resources=False`` leaves out
    the pods' resource metrics (series of no service). Each series is judged on its own, so
    the anomalies kept are the same as without either. ``strict``: a bucket's latency median
    and p95 are judged only on 5 and 20 requests (:func:`analyzer.anomaly.least_requests`)."""
    window = resolve_window(con, since_ns, until_ns)
    bucket_ns = pick_bucket_ns(window.until_ns - window.since_ns)
    _, _, found = _find(con, window, bucket_ns, scopes=scopes, resources=resources, strict=strict)
    return [a.as_dict(with_series=False) for a in found]


def _log_changes(con: duckdb.DuckDBPyConnection, window: SpanWindow, incident: Incident) -> list[dict[str, Any]]:
    """What changed in each service's own logs from before the incident to during it, strongest first."""
    during = SpanWindow(incident.start_ns, max(incident.end_ns, incident.start_ns + 1))
    before = default_baseline(window, during)
    if before.until_ns <= before.since_ns:
        return []
    sample = trace_sample(diagnosis_span_count(con, before, during))
    found = log_evidence(transition_rows(con, before, during, sample=sample))
    changed = sorted((e for e in found.values() if e.strength > 0), key=lambda e: (-e.strength, e.service))
    return [
        {
            "service": e.service,
            "strength": round(e.strength, 4),
            "changes": [change.as_dict() for change in e.changes],
        }
        for e in changed
    ]


# Automatic detection reads the latest hours of data, not weeks of it (a diagnosis's DuckDB
# share could not hold their RED series, nor do their buckets show a 5-minute incident) ...
DETECTION_HORIZON_NS = 6 * 3600 * 1_000_000_000
# ... and within those, no more spans than that share holds (at 128 MiB, anomaly detection
# over a day of 2.4 million spans took 3.1 s), but at least the last half hour
DETECTION_SPANS = 2_000_000
MIN_DETECTION_NS = 30 * 60 * 1_000_000_000
DETECTION_STEP_NS = 60 * 1_000_000_000


def detection_window(con: duckdb.DuckDBPyConnection) -> SpanWindow:
    """Where automatic detection looks: the data's last DETECTION_HORIZON_NS, cut at a whole
    minute so that it holds at most DETECTION_SPANS spans, but never under MIN_DETECTION_NS."""
    data = resolve_window(con, None, None)
    horizon = SpanWindow(max(data.since_ns, data.until_ns - DETECTION_HORIZON_NS), data.until_ns)
    counts = span_counts(con, horizon, bucket_ns=DETECTION_STEP_NS)
    first = -(-(horizon.until_ns - horizon.since_ns) // DETECTION_STEP_NS)  # the bucket after the last
    spans = 0
    while first > 0 and spans + counts.get(first - 1, 0) <= DETECTION_SPANS:  # newest first
        first -= 1
        spans += counts.get(first, 0)
    since_ns = min(horizon.since_ns + first * DETECTION_STEP_NS, data.until_ns - MIN_DETECTION_NS)
    return SpanWindow(max(horizon.since_ns, since_ns), data.until_ns)


def latest_incident(con: duckdb.DuckDBPyConnection, *, service: str | None = None) -> dict[str, Any] | None:
    """The most recent incident (two or more anomalies) in the latest data (see
    :func:`detection_window`), or None."""
    window = detection_window(con)
    bucket_ns = pick_bucket_ns(window.until_ns - window.since_ns)
    for incident in _detect(con, window, bucket_ns).incidents:
        if incident.score < _least_score(incident):
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


def _least_score(incident: Incident) -> float:
    """The score an incident needs to count: more for one anomaly alone than for several, less
    for a change in one service's logs (their line counts per request hardly vary in normal
    times) than for a lone latency or resource series."""
    if len(incident.anomalies) >= MIN_INCIDENT_ANOMALIES:
        return MIN_INCIDENT_SCORE
    if all(a.signal in LOG_SIGNALS for a in incident.anomalies):
        return MIN_LONE_LOG_SCORE
    return MIN_LONE_SCORE


MIN_BASELINE_NS = 30 * 60 * 1_000_000_000
BASELINE_LENGTHS = 4  # a default baseline is four incident-lengths long (at least 30 minutes)


class NoIncidentError(NotFoundError):
    """Nothing anomalous to explain."""


SAMPLED_SPANS = 400_000  # above this many spans in the two windows, a diagnosis reads a sample of traces


def trace_sample(spans: int) -> int:
    """1 in how many traces a diagnosis reads: all up to SAMPLED_SPANS spans, then enough to stay near it.

    Shares and rates hold on a sample of whole traces (by trace-id hash, so the same every
    time); the cost of a diagnosis then stops growing with the traffic.

    >>> trace_sample(380_000), trace_sample(1_500_000)
    (1, 4)
    """
    return max(1, math.ceil(spans / SAMPLED_SPANS))


def default_baseline(data: SpanWindow, incident: SpanWindow) -> SpanWindow:
    """The time before the incident: four incident-lengths, at least 30 minutes, within the data."""
    length = max(BASELINE_LENGTHS * (incident.until_ns - incident.since_ns), MIN_BASELINE_NS)
    return SpanWindow(max(data.since_ns, incident.since_ns - length), incident.since_ns)


CRITICAL_PATH_TRACES = 2_000  # per window: a deterministic sample beyond it

CriticalPaths = Callable[[duckdb.DuckDBPyConnection, SpanWindow], BottleneckReport]


def sampled_critical_paths(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> BottleneckReport:
    """The critical paths of the window's traces (a deterministic sample past CRITICAL_PATH_TRACES)."""
    spans, _ = sampled_window_spans(con, window.since_ns, window.until_ns, CRITICAL_PATH_TRACES)
    return aggregate_critical_paths(spans)


def critical_path_shift(
    con: duckdb.DuckDBPyConnection,
    baseline: SpanWindow,
    incident: SpanWindow,
    *,
    critical_paths: CriticalPaths = sampled_critical_paths,
) -> dict[str, tuple[float, float]]:
    """service -> (share of all critical-path time in the baseline, in the incident);
    ``critical_paths`` computes a window's critical paths (on Spark, on the executors)."""
    before = _critical_path_shares(critical_paths(con, baseline))
    after = _critical_path_shares(critical_paths(con, incident))
    return {service: (before.get(service, 0.0), share) for service, share in after.items()}


def _critical_path_shares(report: BottleneckReport) -> dict[str, float]:
    if not report.critical_ns:
        return {}
    by_service: dict[str, int] = {}
    for cost in report.ranking:
        by_service[cost.service] = by_service.get(cost.service, 0) + cost.total_ns
    return {service: nanos / report.critical_ns for service, nanos in by_service.items()}


def root_causes(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    baseline_since_ns: int | None = None,
    baseline_until_ns: int | None = None,
    service: str | None = None,
    limit: int = 10,
    critical_paths: CriticalPaths = sampled_critical_paths,
) -> dict[str, Any]:
    """Ranked probable root causes of the incident in [since, until) against a baseline window.

    Without ``since`` the most recent incident is found first (see :func:`detected_incident`).
    ``critical_paths``: how a window's critical paths are computed (see :func:`critical_path_shift`).
    """
    data = resolve_window(con, None, None)
    detected: dict[str, Any] | None = None
    if since_ns is None:
        detected = latest_incident(con, service=service)
        if detected is None:
            raise NoIncidentError("no incident found in the data; give --since/--until to analyse a window")
        since_ns, until_ns = detected["start_ns"], detected["end_ns"]
    incident = SpanWindow(since_ns, until_ns if until_ns is not None else data.until_ns)
    if baseline_since_ns is not None or baseline_until_ns is not None:
        baseline = SpanWindow(
            baseline_since_ns if baseline_since_ns is not None else data.since_ns,
            baseline_until_ns if baseline_until_ns is not None else incident.since_ns,
        )
    else:
        baseline = default_baseline(data, incident)
    if baseline.until_ns <= baseline.since_ns:
        raise NoIncidentError("the baseline window is empty: there is no data before the incident to compare with")
    sample = trace_sample(diagnosis_span_count(con, baseline, incident))
    rows = evidence_rows(con, baseline, incident, service, sample=sample)
    transitions = transition_rows(con, baseline, incident, service, sample=sample)
    templates = row_templates(transitions)  # mined once for the service and the instance level
    candidates = rank_root_causes(
        rows,
        versions=version_rows(con, baseline, incident),
        baseline_since_ns=baseline.since_ns,
        incident_since_ns=incident.since_ns,
        resources=_resource_shifts(con, baseline, incident),
        spectrum=spectrum_rows(con, baseline, incident, sample=sample),
        critical_path=critical_path_shift(con, baseline, incident, critical_paths=critical_paths),
        logs=log_evidence(transitions, templates=templates),
        instance_logs=log_evidence(transitions, by="instance", templates=templates),
        limit=limit,
    )
    return {
        "incident": {"start_ns": incident.since_ns, "end_ns": incident.until_ns, **(detected or {})},
        "baseline": {"start_ns": baseline.since_ns, "end_ns": baseline.until_ns},
        "service": service,
        "candidates": candidates,
    }


def _resource_shifts(
    con: duckdb.DuckDBPyConnection, baseline: SpanWindow, incident: SpanWindow
) -> dict[str, dict[str, tuple[float, float]]]:
    """instance -> {signal: (baseline mean, incident mean)} for CPU and memory utilisation."""
    before = _window_means(con, baseline)
    after = _window_means(con, incident)
    shifts: dict[str, dict[str, tuple[float, float]]] = {}
    for instance, values in after.items():
        for signal in ("cpu_utilization", "memory_utilization"):
            if signal in values and signal in before.get(instance, {}):
                shifts.setdefault(instance, {})[signal] = (before[instance][signal], values[signal])
    return shifts


def _window_means(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> dict[str, dict[str, float]]:
    rows = resource_metric_rows(con, window, bucket_ns=max(window.until_ns - window.since_ns, 1))
    return {entity.instance: values for entity, values in entity_resource_metrics(rows).items() if entity.instance}
