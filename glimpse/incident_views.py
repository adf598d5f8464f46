"""Anomalies, incidents and root causes, computed from a database connection (CLI and API share these)."""

from __future__ import annotations

from typing import Any

import duckdb

from analyzer.bottlenecks import aggregate_critical_paths
from analyzer.platforms import entity_resource_metrics
from analyzer.rca import rank_root_causes
from storage.graph_queries import SpanWindow, resolve_window
from storage.rca_queries import rca_evidence_rows, spectrum_rows, version_rows
from storage.resource_queries import resource_metric_rows
from storage.trace_queries import sampled_window_spans
from tracing.errors import GlimpseError

__all__ = ["critical_path_shift", "default_baseline", "root_causes"]

MIN_BASELINE_NS = 30 * 60 * 1_000_000_000
BASELINE_LENGTHS = 4  # a default baseline is four incident-lengths long (at least 30 minutes)


class NoIncidentError(GlimpseError, LookupError):
    """Nothing anomalous to explain."""


def default_baseline(data: SpanWindow, incident: SpanWindow) -> SpanWindow:
    """The time before the incident: four incident-lengths, at least 30 minutes, within the data."""
    length = max(BASELINE_LENGTHS * (incident.until_ns - incident.since_ns), MIN_BASELINE_NS)
    return SpanWindow(max(data.since_ns, incident.since_ns - length), incident.since_ns)


def root_causes(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    baseline_since_ns: int | None = None,
    baseline_until_ns: int | None = None,
    service: str | None = None,
    limit: int = 10,
) -> dict[str, Any]:
    """Ranked probable root causes of the incident in [since, until) against a baseline window.

    Without ``since`` the most recent incident is found first (see :func:`detected_incident`).
    """
    data = resolve_window(con, None, None)
    detected: dict[str, Any] | None = None
    if since_ns is None:
        from glimpse.anomaly_views import latest_incident

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
    rows = rca_evidence_rows(con, baseline, incident, service)
    candidates = rank_root_causes(
        rows,
        versions=version_rows(con, baseline, incident),
        baseline_since_ns=baseline.since_ns,
        incident_since_ns=incident.since_ns,
        resources=_resource_shifts(con, baseline, incident),
        spectrum=spectrum_rows(con, baseline, incident),
        critical_path=critical_path_shift(con, baseline, incident),
        limit=limit,
    )
    return {
        "incident": {"start_ns": incident.since_ns, "end_ns": incident.until_ns, **(detected or {})},
        "baseline": {"start_ns": baseline.since_ns, "end_ns": baseline.until_ns},
        "service": service,
        "candidates": candidates,
    }


CRITICAL_PATH_TRACES = 2_000  # per window: a deterministic sample beyond it


def critical_path_shift(
    con: duckdb.DuckDBPyConnection, baseline: SpanWindow, incident: SpanWindow
) -> dict[str, tuple[float, float]]:
    """service -> (share of all critical-path time in the baseline, in the incident)."""
    before, after = _critical_path_shares(con, baseline), _critical_path_shares(con, incident)
    return {service: (before.get(service, 0.0), share) for service, share in after.items()}


def _critical_path_shares(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> dict[str, float]:
    spans, _ = sampled_window_spans(con, window.since_ns, window.until_ns, CRITICAL_PATH_TRACES)
    report = aggregate_critical_paths(spans)
    if not report.critical_ns:
        return {}
    by_service: dict[str, int] = {}
    for cost in report.ranking:
        by_service[cost.service] = by_service.get(cost.service, 0) + cost.total_ns
    return {service: nanos / report.critical_ns for service, nanos in by_service.items()}


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
