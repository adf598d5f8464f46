"""What changed between two windows of the service graph, with the statistics that say so.

* Nodes and edges present in only one window are new or vanished.
* An edge's error rate changed when Fisher's exact test on the 2x2 table (errors,
  successes) x (baseline, current) gives p < ``alpha``: exact, so low traffic raises
  no false alarm.
* An edge's latency changed when the two-sided Mann-Whitney U test on sampled call
  durations gives p < ``alpha`` and the median moved by at least ``min_latency_change``
  (relative): a significant but negligible shift on a busy edge is not reported.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import networkx as nx

__all__ = ["EdgeChange", "GraphDiff", "diff_graphs"]

DEFAULT_ALPHA = 0.01
DEFAULT_MIN_LATENCY_CHANGE = 0.2
_MIN_SAMPLES = 5


@dataclass(frozen=True)
class EdgeChange:
    """One significant change of one edge, with the numbers before and after."""

    client: str
    server: str
    signal: str  # error_rate | latency
    baseline: float
    current: float
    baseline_n: int
    current_n: int
    test: str
    p_value: float


@dataclass(frozen=True)
class GraphDiff:
    new_nodes: list[str] = field(default_factory=list)
    vanished_nodes: list[str] = field(default_factory=list)
    new_edges: list[tuple[str, str]] = field(default_factory=list)
    vanished_edges: list[tuple[str, str]] = field(default_factory=list)
    changed_edges: list[EdgeChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "new_nodes": self.new_nodes,
            "vanished_nodes": self.vanished_nodes,
            "new_edges": [{"client": a, "server": b} for a, b in self.new_edges],
            "vanished_edges": [{"client": a, "server": b} for a, b in self.vanished_edges],
            "changed_edges": [asdict(change) for change in self.changed_edges],
        }


def diff_graphs(
    baseline: nx.DiGraph,
    current: nx.DiGraph,
    *,
    baseline_samples: Mapping[tuple[str, str], Sequence[float]] | None = None,
    current_samples: Mapping[tuple[str, str], Sequence[float]] | None = None,
    alpha: float = DEFAULT_ALPHA,
    min_latency_change: float = DEFAULT_MIN_LATENCY_CHANGE,
) -> GraphDiff:
    """Compare two service graphs (and, for latency, per-edge duration samples in ns).

    Examples
    --------
    >>> before, after = nx.DiGraph(), nx.DiGraph()
    >>> before.add_edge("a", "b", calls=1000, errors=1)
    >>> after.add_edge("a", "b", calls=1000, errors=80)
    >>> after.add_edge("a", "c", calls=5, errors=0)
    >>> d = diff_graphs(before, after)
    >>> d.new_nodes, d.new_edges, d.changed_edges[0].signal, d.changed_edges[0].test
    (['c'], [('a', 'c')], 'error_rate', 'fisher_exact')
    """
    changed: list[EdgeChange] = []
    common = sorted(set(baseline.edges) & set(current.edges))
    for edge in common:
        change = _error_rate_change(edge, baseline.edges[edge], current.edges[edge], alpha)
        if change:
            changed.append(change)
        latency = _latency_change(
            edge,
            (baseline_samples or {}).get(edge, ()),
            (current_samples or {}).get(edge, ()),
            alpha,
            min_latency_change,
        )
        if latency:
            changed.append(latency)
    return GraphDiff(
        new_nodes=sorted(set(current.nodes) - set(baseline.nodes)),
        vanished_nodes=sorted(set(baseline.nodes) - set(current.nodes)),
        new_edges=sorted(set(current.edges) - set(baseline.edges)),
        vanished_edges=sorted(set(baseline.edges) - set(current.edges)),
        changed_edges=changed,
    )


def _error_rate_change(
    edge: tuple[str, str], before: Mapping[str, Any], after: Mapping[str, Any], alpha: float
) -> EdgeChange | None:
    calls_b, errors_b = int(before.get("calls", 0)), int(before.get("errors", 0))
    calls_a, errors_a = int(after.get("calls", 0)), int(after.get("errors", 0))
    if not calls_b or not calls_a or (errors_b == 0 and errors_a == 0):
        return None
    table = [[errors_b, calls_b - errors_b], [errors_a, calls_a - errors_a]]
    from scipy import stats  # lazily: see analyzer/__init__.py

    p_value = float(stats.fisher_exact(table).pvalue)
    if p_value >= alpha:
        return None
    return EdgeChange(
        edge[0],
        edge[1],
        "error_rate",
        round(errors_b / calls_b, 6),
        round(errors_a / calls_a, 6),
        calls_b,
        calls_a,
        "fisher_exact",
        p_value,
    )


def _latency_change(
    edge: tuple[str, str],
    before: Sequence[float],
    after: Sequence[float],
    alpha: float,
    min_change: float,
) -> EdgeChange | None:
    if len(before) < _MIN_SAMPLES or len(after) < _MIN_SAMPLES:
        return None
    median_b, median_a = statistics.median(before), statistics.median(after)
    if median_b > 0 and abs(median_a - median_b) / median_b < min_change:
        return None
    from scipy import stats  # lazily: see analyzer/__init__.py

    p_value = float(stats.mannwhitneyu(before, after, alternative="two-sided").pvalue)
    if p_value >= alpha:
        return None
    return EdgeChange(
        edge[0],
        edge[1],
        "latency",
        round(median_b / 1e6, 3),
        round(median_a / 1e6, 3),
        len(before),
        len(after),
        "mann_whitney_u (median ms)",
        p_value,
    )
