"""Alert rule evaluation: measurements in, alert states and transitions out (pure).

The states are Prometheus's: an alert is ``inactive`` until its condition holds, then
``pending`` until it has held for the rule's ``for`` (at once ``firing`` when ``for`` is 0),
then ``firing`` until the condition stops holding, then ``resolved`` (until it holds again:
``pending`` anew). Values come from :func:`signal_value` over the RED rows of
``storage/queries/incidents/red_series.sql`` (one bucket spanning the rule's window).

References: Prometheus, "Alerting rules" (``for`` and the pending state); Beyer et al., *The
Site Reliability Workbook*, ch. 5 "Alerting on SLOs" (multiwindow, multi-burn-rate alerts).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from analyzer.alert_rules import Rule

__all__ = [
    "INACTIVE",
    "STATES",
    "AlertState",
    "Measurement",
    "ScopeCounts",
    "Transition",
    "advance",
    "burn_rate",
    "measure_capacity",
    "measure_rule",
    "render_annotations",
    "scope_counts",
]

INACTIVE, PENDING, FIRING, RESOLVED = "inactive", "pending", "firing", "resolved"
STATES = (INACTIVE, PENDING, FIRING, RESOLVED)
_S = 1e9


@dataclass(frozen=True)
class ScopeCounts:
    """One scope over one window: requests, errors, latency percentiles (ms; NaN without requests)."""

    requests: int = 0
    errors: int = 0
    p50_ms: float = math.nan
    p95_ms: float = math.nan
    p99_ms: float = math.nan


@dataclass(frozen=True)
class Measurement:
    """A rule's value at one evaluation, whether it breaches, and the numbers behind it."""

    value: float | None
    breached: bool
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertState:
    alert: str
    state: str = INACTIVE
    value: float | None = None
    active_since_ns: int | None = None  # when the condition began to hold (pending or firing)
    fired_at_ns: int | None = None
    resolved_at_ns: int | None = None
    evaluated_at_ns: int | None = None
    root_causes: tuple[Mapping[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "alert": self.alert,
            "state": self.state,
            "value": self.value,
            "active_since": self.active_since_ns,
            "fired_at": self.fired_at_ns,
            "resolved_at": self.resolved_at_ns,
            "evaluated_at": self.evaluated_at_ns,
            "root_causes": list(self.root_causes),
        }


@dataclass(frozen=True)
class Transition:
    alert: str
    at_ns: int
    from_state: str
    to_state: str
    value: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "alert": self.alert,
            "at": self.at_ns,
            "from": self.from_state,
            "to": self.to_state,
            "value": self.value,
        }


def scope_counts(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], ScopeCounts]:
    """(level, entity) -> counts, from red-series rows of a single bucket."""
    found: dict[tuple[str, str], ScopeCounts] = {}
    for row in rows:
        p50, p95, p99 = (float(v) for v in row["latency_ms"])
        found[(row["level"], row["entity"])] = ScopeCounts(int(row["requests"]), int(row["errors"]), p50, p95, p99)
    return found


def scope_key(rule: Rule) -> tuple[str, str]:
    """The (level, entity) of red_series.sql that a rule's scope is."""
    if rule.operation is not None:
        return ("operation", f"{rule.service} {rule.operation}")
    if rule.edge is not None:
        return ("edge", f"{rule.edge[0]} -> {rule.edge[1]}")
    if rule.pod is not None:
        return ("instance", rule.pod)
    return ("service", rule.service)


def burn_rate(counts: ScopeCounts, objective: float) -> float:
    """How many times faster than the objective allows the error budget burns (0 without
    requests); ``errors`` are the bad events (failed, or too slow for a latency objective).

    >>> round(burn_rate(ScopeCounts(requests=1000, errors=15), 0.999), 6)
    15.0
    """
    if counts.requests == 0:
        return 0.0
    return (counts.errors / counts.requests) / (1.0 - objective)


def measure_capacity(capacity: Mapping[str, Any] | None, forecast_rps: float | None) -> Measurement:
    """A ``forecast_capacity`` rule from the insights of its service: the forecast throughput as
    a share of the load at which latency degraded before (breaching when insights call it near).

    >>> measure_capacity({"degraded_above_rps": 4.0, "approaching": True}, 3.6).value
    0.9
    """
    if capacity is None or forecast_rps is None:
        return Measurement(None, False, {"capacity": capacity})
    share = forecast_rps / float(capacity["degraded_above_rps"])
    return Measurement(round(share, 6), bool(capacity["approaching"]), {"capacity": dict(capacity)})


Counts = Mapping[int, Mapping[tuple[str, str], ScopeCounts]]  # window ns -> scope -> counts


def measure_rule(
    rule: Rule,
    counts: Counts,
    anomaly_score: float | None = None,
    slow: Mapping[tuple[int, float], Mapping[tuple[str, str], ScopeCounts]] | None = None,
) -> Measurement:
    """The rule's value from ``counts`` or, for ``anomaly``, the score (``forecast_capacity``
    rules are measured by :func:`measure_capacity`). ``slow``: (window ns, latency ms) ->
    scope -> counts whose ``errors`` are the requests slower than that, for latency objectives."""
    if rule.signal == "anomaly":
        score = anomaly_score or 0.0
        return Measurement(score, anomaly_score is not None and rule.breached(score))
    if rule.signal == "slo_burn":
        if rule.latency_ms is not None:
            latency = rule.latency_ms
            counts = {w: found for (w, ms), found in (slow or {}).items() if ms == latency}
        return _measure_burn(rule, counts)
    scope = counts.get(rule.window_ns, {}).get(scope_key(rule), ScopeCounts())
    value = _plain_value(rule.signal, scope, rule.window_ns)
    detail = {"requests": scope.requests, "errors": scope.errors}
    if value is None:
        return Measurement(None, False, detail)
    return Measurement(value, rule.breached(value) and _significant(rule, scope), detail)


def _significant(rule: Rule, scope: ScopeCounts) -> bool:
    """For an error_rate rule with a ``confidence``: whether so many (or, ``below``, so few)
    errors among the window's requests are that unlikely at the threshold's own rate."""
    if rule.confidence is None:
        return True
    from scipy.stats import binom  # only here: the server's import must stay light (tests/test_layout.py)

    alpha = 1.0 - rule.confidence
    if rule.below is not None:
        return float(binom.cdf(scope.errors, scope.requests, rule.below)) < alpha
    threshold = rule.above if rule.above is not None else 0.0
    return float(binom.sf(scope.errors - 1, scope.requests, threshold)) < alpha


def _plain_value(signal: str, scope: ScopeCounts, window_ns: int) -> float | None:
    if signal == "throughput_rps":
        return scope.requests / (window_ns / _S)
    if scope.requests == 0:
        return None  # no rate or latency of nothing
    if signal == "error_rate":
        return scope.errors / scope.requests
    value = {"latency_p50_ms": scope.p50_ms, "latency_p95_ms": scope.p95_ms, "latency_p99_ms": scope.p99_ms}[signal]
    return None if math.isnan(value) else value


def _measure_burn(rule: Rule, counts: Counts) -> Measurement:
    """Breaches when, for some pair, both windows burn faster than its factor; the value is the
    long window's burn rate of the first such pair (else of the first pair)."""
    assert rule.objective is not None
    key = scope_key(rule)
    pairs = []
    for pair in rule.burn_windows:
        long_burn = burn_rate(counts.get(pair.long_ns, {}).get(key, ScopeCounts()), rule.objective)
        short_burn = burn_rate(counts.get(pair.short_ns, {}).get(key, ScopeCounts()), rule.objective)
        pairs.append((pair, long_burn, short_burn, long_burn > pair.factor and short_burn > pair.factor))
    burning = [p for p in pairs if p[3]]
    chosen = (burning or pairs)[0]
    detail = {
        "pairs": [
            {"long_s": p.long_ns / _S, "short_s": p.short_ns / _S, "factor": p.factor, "long": lb, "short": sb}
            for p, lb, sb, _ in pairs
        ]
    }
    return Measurement(round(chosen[1], 6), bool(burning), detail)


def advance(state: AlertState, rule: Rule, measured: Measurement, at_ns: int) -> tuple[AlertState, Transition | None]:
    """The alert's state after one evaluation at ``at_ns``, and the transition if it changed."""
    now = replace(state, value=measured.value, evaluated_at_ns=at_ns)
    if measured.breached:
        since = state.active_since_ns if state.state in (PENDING, FIRING) else at_ns
        assert since is not None
        to = FIRING if at_ns - since >= rule.for_ns else PENDING
        now = replace(now, active_since_ns=since)
        if to == FIRING and state.state != FIRING:
            now = replace(now, fired_at_ns=at_ns, resolved_at_ns=None, root_causes=())
    elif state.state == FIRING:
        to = RESOLVED
        now = replace(now, resolved_at_ns=at_ns, active_since_ns=None)
    elif state.state == RESOLVED:
        to = RESOLVED
    else:
        to = INACTIVE
        now = replace(now, active_since_ns=None)
    now = replace(now, state=to)
    if to == state.state:
        return now, None
    return now, Transition(rule.alert, at_ns, state.state, to, measured.value)


def render_annotations(rule: Rule, state: AlertState) -> dict[str, str]:
    """The rule's annotations with ``{alert}``, ``{value}``, ``{scope}``, ``{root_causes}`` filled in."""
    causes = "; ".join(f"{c['rank']}. {c['kind']} {c['name']}: {c['evidence']}" for c in state.root_causes)
    values = {
        "alert": rule.alert,
        "value": "n/a" if state.value is None else f"{state.value:.4g}",
        "scope": rule.scope,
        "root_causes": causes or "none found",
    }
    rendered = {}
    for key, text in rule.annotations.items():
        for name, value in values.items():
            text = text.replace("{" + name + "}", value)
        rendered[key] = text
    return rendered
