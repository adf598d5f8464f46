"""Cross-service correlation: anomalies grouped into incidents, lagged correlation, a matrix.

- **Incidents**: anomalies join when their times overlap (within a tolerance) and their
  entities are related: the same service, services that call each other, or instances on
  the same host. Each connected group is one incident.
- **Lagged cross-correlation** of two services' series along each dependency edge: the lag
  (in buckets) at which the caller's series best follows the callee's, which shows the
  direction of propagation.
- **Correlation matrix** of the services' latency series, for a heatmap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from analyzer.anomaly import Anomaly

__all__ = ["Incident", "correlation_matrix", "group_incidents", "lagged_correlations"]

MAX_LAG = 3


@dataclass
class Incident:
    id: int
    start_ns: int
    end_ns: int
    score: float
    anomalies: list[Anomaly]

    @property
    def services(self) -> list[str]:
        return sorted({a.service for a in self.anomalies if a.service})

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "start": self.start_ns,
            "end": self.end_ns,
            "score": round(self.score, 4),
            "services": self.services,
            "entities": sorted({f"{a.level}:{a.entity}" for a in self.anomalies}),
            "anomalies": len(self.anomalies),
        }


def _anchor(anomaly: Anomaly, host_of: Mapping[str, str]) -> set[str]:
    """The graph nodes an anomaly belongs to: its service(s), and its host for an instance."""
    nodes = {f"svc:{anomaly.service}"} if anomaly.service else set()
    if anomaly.level == "host":
        nodes.add(f"host:{anomaly.entity}")
    if anomaly.level == "instance" and anomaly.entity in host_of:
        nodes.add(f"host:{host_of[anomaly.entity]}")
    if anomaly.level == "edge" and " -> " in anomaly.entity:
        nodes.add(f"svc:{anomaly.entity.split(' -> ', 1)[1]}")
    return nodes


def group_incidents(
    anomalies: list[Anomaly],
    *,
    edges: Iterable[tuple[str, str]],
    host_of: Mapping[str, str],
    placements: Iterable[tuple[str, str]] = (),
    tolerance_ns: int,
) -> list[Incident]:
    """Incidents, most recent first: connected groups of overlapping, related anomalies.

    Related: the same service, a call between two services (``edges``), or a service with
    an instance on the host (``placements``: (service, host) pairs).
    """
    related = nx.Graph()
    related.add_edges_from((f"svc:{a}", f"svc:{b}") for a, b in edges)
    related.add_edges_from((f"svc:{service}", f"host:{host}") for service, host in placements)
    groups = nx.Graph()
    groups.add_nodes_from(range(len(anomalies)))
    anchors = [_anchor(a, host_of) for a in anomalies]
    for i, a in enumerate(anomalies):
        for j in range(i + 1, len(anomalies)):
            b = anomalies[j]
            if a.start_ns > b.end_ns + tolerance_ns or b.start_ns > a.end_ns + tolerance_ns:
                continue
            if anchors[i] & anchors[j] or any(related.has_edge(x, y) for x in anchors[i] for y in anchors[j]):
                groups.add_edge(i, j)
    incidents = []
    for members in nx.connected_components(groups):
        group = [anomalies[i] for i in sorted(members)]
        incidents.append(
            Incident(
                0,
                min(a.start_ns for a in group),
                max(a.end_ns for a in group),
                max(a.score for a in group),
                group,
            )
        )
    incidents.sort(key=lambda inc: (-inc.start_ns, -inc.score))
    for number, incident in enumerate(incidents, start=1):
        incident.id = number
    return incidents


def _standardise(values: np.ndarray) -> np.ndarray:
    filled = np.where(np.isnan(values), np.nanmedian(values) if np.any(~np.isnan(values)) else 0.0, values)
    spread = filled.std()
    return (filled - filled.mean()) / spread if spread > 0 else np.zeros_like(filled)


def correlation_matrix(series: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Pearson correlation of every pair of series (NaN gaps filled with the median)."""
    names = sorted(series)
    if not names:
        return {"entities": [], "matrix": []}
    stacked = np.vstack([_standardise(series[n]) for n in names])
    matrix = stacked @ stacked.T / stacked.shape[1]
    return {"entities": names, "matrix": [[round(float(v), 3) for v in row] for row in np.clip(matrix, -1, 1)]}


def lagged_correlations(series: Mapping[str, np.ndarray], edges: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Per caller -> callee edge: the lag (buckets, callee leading if positive) of best correlation."""
    result = []
    for caller, callee in edges:
        if caller not in series or callee not in series:
            continue
        a, b = _standardise(series[caller]), _standardise(series[callee])
        best_lag, best = 0, -2.0
        for lag in range(-MAX_LAG, MAX_LAG + 1):
            x, y = (a[lag:], b[: len(b) - lag]) if lag >= 0 else (a[:lag], b[-lag:])
            if len(x) < 3:
                continue
            value = float(np.mean(x * y))
            if value > best:
                best_lag, best = lag, value
        result.append({"caller": caller, "callee": callee, "lag_buckets": best_lag, "correlation": round(best, 3)})
    return sorted(result, key=lambda r: -r["correlation"])
