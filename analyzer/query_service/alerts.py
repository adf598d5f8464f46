"""Alert rules over the store: one evaluation, a backtest over a past window, and the kept state.

Each evaluation at span time ``at`` reads the RED rows of every distinct window the rules
need (one query per window, ``incidents/red_series.sql`` with a single bucket), runs
glimpse's anomaly detector once when an ``anomaly`` rule asks, and advances each alert's
state (:mod:`analyzer.alerting`). When an alert starts firing, the root-cause ranking of
:func:`analyzer.query_service.incidents.root_causes` runs on the alert's window against the
default baseline before it, and its top three are attached.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb

from analyzer.alert_rules import Rule
from analyzer.alerting import (
    FIRING,
    AlertState,
    Measurement,
    ScopeCounts,
    Transition,
    advance,
    measure_capacity,
    measure_rule,
    render_annotations,
    scope_counts,
    scope_key,
)
from analyzer.errors import InvalidQueryError, NotFoundError
from analyzer.insights import NEAR as NEAR_CAPACITY
from analyzer.query_service.alert_cells import ScopeCells
from analyzer.query_service.incidents import anomaly_list, root_causes
from analyzer.query_service.insights import insights
from analyzer.query_service.services import quantile_sample
from storage.alert_queries import (
    alert_history_rows,
    alert_state_rows,
    remediation_audit_rows,
    slow_request_rows,
)
from storage.graph_queries import resolve_window
from storage.incident_queries import red_series_rows
from storage.window import SpanWindow

__all__ = [
    "ANOMALY_LOOKBACK_NS",
    "DEFAULT_STEP_NS",
    "ROOT_CAUSES",
    "alerts",
    "backtest",
    "evaluate_rules",
    "state_record",
]

_S = 1_000_000_000
ANOMALY_LOOKBACK_NS = 3600 * _S  # the detector judges the hour before each evaluation
ROOT_CAUSES = 3
DEFAULT_STEP_NS = 30 * _S
MAX_BACKTEST_STEPS = 20_000


def _slow_windows(rules: Sequence[Rule]) -> set[tuple[int, float]]:
    """(window, latency ms) pairs of the latency objectives."""
    return {
        (w, rule.latency_ms)
        for rule in rules
        if rule.signal == "slo_burn" and rule.latency_ms is not None
        for pair in rule.burn_windows
        for w in (pair.long_ns, pair.short_ns)
    }


def _windows(rules: Sequence[Rule]) -> set[int]:
    found: set[int] = set()
    for rule in rules:
        if rule.signal == "slo_burn" and rule.latency_ms is not None:
            continue
        if rule.signal == "slo_burn":
            found.update(w for pair in rule.burn_windows for w in (pair.long_ns, pair.short_ns))
        elif rule.signal not in ("anomaly", "forecast_capacity"):
            found.add(rule.window_ns)
    return found


def measure(
    con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], at_ns: int, cells: ScopeCells | None = None
) -> dict[str, Measurement]:
    """Each rule's measurement at span time ``at_ns`` (windows end there). ``cells``: what an
    evaluator keeps between evaluations of long windows (see :mod:`.alert_cells`)."""
    scopes = frozenset(scope_key(rule) for rule in rules)
    counts: dict[int, dict[tuple[str, str], ScopeCounts]] = {
        window: _scope_counts(con, SpanWindow(at_ns - window, at_ns), cells, scopes)
        for window in sorted(_windows(rules))
    }
    if cells is not None:
        cells.keep_only(counts)
    slow = {
        (window, ms): _slow_counts(con, SpanWindow(at_ns - window, at_ns), ms)
        for window, ms in sorted(_slow_windows(rules))
    }
    watching = [r for r in rules if r.signal == "anomaly"]
    found = _anomalies(con, watching, at_ns) if watching else []
    return {
        rule.alert: _capacity(con, rule, at_ns)
        if rule.signal == "forecast_capacity"
        else measure_rule(rule, counts, _anomaly_score(rule, found, at_ns), slow)
        for rule in rules
    }


def _scope_counts(
    con: duckdb.DuckDBPyConnection,
    window: SpanWindow,
    cells: ScopeCells | None = None,
    scopes: frozenset[tuple[str, str]] = frozenset(),
) -> dict[tuple[str, str], ScopeCounts]:
    """The window's counts per scope, exact, and its latency quantiles, of the Services page's
    sample of whole traces past 2 million spans (a week's window fits DuckDB's share); with
    ``cells``, a window past 2 million spans comes from its kept cells and those read now."""
    sample = quantile_sample(con, window)
    if cells is not None and sample > 1:
        return cells.counts(con, window, scopes)
    return scope_counts(red_series_rows(con, window, bucket_ns=window.until_ns - window.since_ns, sample=sample))


def _slow_counts(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, slow_ms: float
) -> dict[tuple[str, str], ScopeCounts]:
    rows = slow_request_rows(con, window, slow_ms=slow_ms)
    return {(r["level"], r["entity"]): ScopeCounts(int(r["requests"]), int(r["slow"])) for r in rows}


def _capacity(con: duckdb.DuckDBPyConnection, rule: Rule, at_ns: int) -> Measurement:
    """The insights of the rule's service over its window, forecast ``horizon`` ahead."""
    result = insights(
        con, since_ns=at_ns - rule.window_ns, until_ns=at_ns, service=rule.service, horizon_s=rule.horizon_ns / 1e9
    )
    if not result["services"]:
        return measure_capacity(None, None)
    found = result["services"][0]
    forecast = found["forecast"]["throughput_rps"]
    return measure_capacity(found["capacity"], forecast["value"] if forecast else None)


def _anomalies(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], at_ns: int) -> list[dict[str, Any]]:
    """The detector's anomalies of the hour before ``at_ns``, judging only the series the
    anomaly ``rules`` can look at (their services and pods; pods' resource metrics only when
    a rule watches a pod): most of an evaluation's cost otherwise. A bucket's latency median
    and p95 count only on 5 and 20 requests (``strict``): a page must not rest on one or
    two slow requests."""
    scopes = frozenset(s for rule in rules for s in (rule.service, rule.pod) if s is not None)
    pods = any(rule.pod is not None for rule in rules)
    since_ns = at_ns - ANOMALY_LOOKBACK_NS
    return anomaly_list(con, since_ns=since_ns, until_ns=at_ns, scopes=scopes, resources=pods, strict=True)


def _anomaly_score(rule: Rule, found: list[dict[str, Any]], at_ns: int) -> float | None:
    """The strongest anomaly of the rule's scope that lasts into its window before ``at_ns``
    (ends after the window's start: one that ended at it lies wholly before), or None."""
    if rule.signal != "anomaly":
        return None
    scores = [a["score"] for a in found if a["end"] > at_ns - rule.window_ns and _in_scope(rule, a)]
    return max(scores) if scores else None


def _in_scope(rule: Rule, anomaly: Mapping[str, Any]) -> bool:
    kind, entity = str(anomaly["entity_kind"]), str(anomaly["entity"])
    if rule.operation is not None:
        return kind == "operation" and entity == f"{rule.service} {rule.operation}"
    if rule.edge is not None:
        return kind == "edge" and entity == f"{rule.edge[0]} -> {rule.edge[1]}"
    if rule.pod is not None:
        return kind == "instance" and entity == rule.pod
    return bool(anomaly["service"] == rule.service or (kind == "service" and entity == rule.service))


def evaluate_rules(
    con: duckdb.DuckDBPyConnection,
    rules: Sequence[Rule],
    states: Mapping[str, AlertState],
    at_ns: int,
    *,
    with_root_causes: bool = True,
    cells: ScopeCells | None = None,
) -> tuple[dict[str, AlertState], list[Transition]]:
    """Every rule's state after an evaluation at ``at_ns``, and the changes; a rule new to
    ``states`` starts inactive. An alert that starts firing gets its root causes. ``cells``:
    what the caller keeps between its evaluations (long windows read only what is new)."""
    measured = measure(con, rules, at_ns, cells)
    after: dict[str, AlertState] = {}
    changes: list[Transition] = []
    ranked: dict[tuple[str, int], list[dict[str, Any]]] = {}  # alerts firing together on one window rank once
    for rule in rules:
        state, change = advance(states.get(rule.alert, AlertState(rule.alert)), rule, measured[rule.alert], at_ns)
        if change is not None and change.to_state == FIRING and with_root_causes:
            if rule.signal == "forecast_capacity":
                causes = capacity_cause(con, rule, measured[rule.alert], at_ns)
            else:
                key = (rule.service, (state.active_since_ns or at_ns) - rule.window_ns)
                if key not in ranked:
                    ranked[key] = top_root_causes(con, rule, state, at_ns)
                causes = ranked[key]
            state = AlertState(**{**state.__dict__, "root_causes": tuple(causes)})
        after[rule.alert] = state
        if change is not None:
            changes.append(change)
    return after, changes


def capacity_cause(
    con: duckdb.DuckDBPyConnection, rule: Rule, measured: Measurement, at_ns: int
) -> list[dict[str, Any]]:
    """What a capacity alert suggests: the service itself, scaled so that the forecast load is
    at most 80% of what its instances carried before latency degraded (capacity taken to grow
    with the instances, the ones seen in the rule's window)."""
    capacity = measured.detail.get("capacity")
    if not capacity or measured.value is None:
        return []
    window = SpanWindow(at_ns - rule.window_ns, at_ns)
    rows = red_series_rows(con, window, bucket_ns=rule.window_ns)
    instances = sum(1 for r in rows if r["level"] == "instance" and r["service"] == rule.service) or 1
    wanted = max(instances + 1, math.ceil(instances * measured.value / NEAR_CAPACITY))
    return [
        {
            "rank": 1,
            "kind": "service",
            "name": rule.service,
            "service": rule.service,
            "score": measured.value,
            "evidence": capacity["message"],
            "remediation": f"Scale {rule.service} from {instances} to {wanted} instances before the forecast load",
        }
    ]


def top_root_causes(con: duckdb.DuckDBPyConnection, rule: Rule, state: AlertState, at_ns: int) -> list[dict[str, Any]]:
    """The top three root causes of the alert's window (from the first breaching window's
    start to ``at_ns``) against the default baseline before it; [] when nothing can be compared."""
    since = (state.active_since_ns or at_ns) - rule.window_ns
    try:
        result = root_causes(con, since_ns=since, until_ns=at_ns, service=rule.service, limit=ROOT_CAUSES)
    except NotFoundError:
        return []
    return [
        {
            "rank": c["rank"],
            "kind": c["kind"],
            "name": c["name"],
            "service": c["service"],
            "score": c["score"],
            "evidence": c["evidence"][0]["detail"] if c["evidence"] else "",
            "remediation": c["remediation"],
        }
        for c in result["candidates"][:ROOT_CAUSES]
    ]


def state_record(rule: Rule, state: AlertState) -> dict[str, Any]:
    """The row of glimpse_alert_state for ``state`` (see storage.alert_queries.record_alerts)."""
    return {
        **{k: v for k, v in state.as_dict().items() if k not in ("active_since", "fired_at", "resolved_at")},
        "active_since": state.active_since_ns,
        "fired_at": state.fired_at_ns,
        "resolved_at": state.resolved_at_ns,
        "evaluated_at": state.evaluated_at_ns,
        "scope": rule.scope,
        "signal": rule.signal,
        "labels": dict(rule.labels),
        "annotations": render_annotations(rule, state),
    }


def backtest(
    con: duckdb.DuckDBPyConnection,
    rules: Sequence[Rule],
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    step_ns: int = DEFAULT_STEP_NS,
    with_root_causes: bool = True,
) -> dict[str, Any]:
    """Replay ``rules`` every ``step_ns`` over a stored window (default: all data): every state
    change, with root causes where an alert fired, and per rule how often it fired."""
    window = resolve_window(con, since_ns, until_ns)
    if step_ns <= 0:
        raise InvalidQueryError("the step must be longer than 0")
    steps = (window.until_ns - window.since_ns) // step_ns
    if steps > MAX_BACKTEST_STEPS:
        raise InvalidQueryError(f"{steps} evaluations: more than {MAX_BACKTEST_STEPS}; give a longer --step")
    states: dict[str, AlertState] = {}
    events: list[dict[str, Any]] = []
    for index in range(1, steps + 1):
        at_ns = window.since_ns + index * step_ns
        states, changes = evaluate_rules(con, rules, states, at_ns, with_root_causes=with_root_causes)
        events += [_event(change, states[change.alert]) for change in changes]
    return {
        "window": {"since": window.since_ns, "until": window.until_ns, "step_ns": step_ns},
        "rules": [_summary(rule, events, states.get(rule.alert)) for rule in rules],
        "events": events,
    }


def _event(change: Transition, state: AlertState) -> dict[str, Any]:
    event = change.as_dict()
    if change.to_state == FIRING:
        event["root_causes"] = list(state.root_causes)
    return event


def _summary(rule: Rule, events: list[dict[str, Any]], state: AlertState | None) -> dict[str, Any]:
    fired = [e["at"] for e in events if e["alert"] == rule.alert and e["to"] == FIRING]
    return {
        "alert": rule.alert,
        "signal": rule.signal,
        "scope": rule.scope,
        "fired": len(fired),
        "first_fired": fired[0] if fired else None,
        "state_at_end": state.state if state else "inactive",
    }


def alerts(con: duckdb.DuckDBPyConnection, *, history: bool = False, limit: int = 500) -> dict[str, Any]:
    """The alerts the server's evaluator keeps (firing and pending first), and with ``history``
    the latest ``limit`` state changes and remediation actions."""
    try:
        result: dict[str, Any] = {"alerts": alert_state_rows(con)}
        if history:
            result["history"] = alert_history_rows(con, limit=limit)
            result["actions"] = remediation_audit_rows(con, limit=limit)
    except duckdb.CatalogException:
        raise NotFoundError("this store has no alert tables yet: open it once with a newer `glimpse serve`") from None
    return result
