"""Alert rules: the YAML format, every mistake named, and the state machine on hand-made cases."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyzer.alert_rules import DEFAULT_BURN_WINDOWS, BurnWindow, RulesError, parse_rules
from analyzer.alerting import AlertState, Measurement, ScopeCounts, advance, measure_rule, render_annotations
from analyzer.query_service.alerts import _anomaly_score
from glimpse.cli import app

S = 1_000_000_000

GOOD = """
rules:
  - alert: FrontErrors
    signal: error_rate
    service: frontend
    above: 0.05
    window: 1m
    for: 1m
    labels: {severity: page}
    annotations:
      summary: "{scope} error rate is {value}; probably {root_causes}"
  - alert: CartSlow
    signal: latency_p95_ms
    service: frontend
    edge: frontend->cart
    above: 300
  - alert: FrontDrop
    signal: throughput_rps
    service: frontend
    operation: GET /
    below: 2
    window: 2m
  - alert: PodOdd
    signal: anomaly
    service: cart
    pod: cart-7f9c
  - alert: FrontBudget
    signal: slo_burn
    service: frontend
    objective: 0.999
"""

BAD = """
rules:
  - alert: FrontErrors
    signal: error_rates
    service: frontend
    above: 5
    window: 1 minute
  - alert: FrontErrors
    signal: error_rate
    service: frontend
    above: 0.1
  - signal: latency_p99_ms
    above: 200
    below: 100
    colour: red
  - alert: Budget
    signal: slo_burn
    service: frontend
    above: 1
    burn_windows: [{long: 5m, short: 1h, factor: -2}]
  - alert: Edgy
    signal: error_rate
    service: frontend
    edge: cart
    pod: cart-1
    below: 0.5
    labels: {team: [a, b]}
"""


def test_a_good_file_gives_every_rule_with_its_scope_and_defaults() -> None:
    rules = {rule.alert: rule for rule in parse_rules(GOOD)}
    assert list(rules) == ["FrontErrors", "CartSlow", "FrontDrop", "PodOdd", "FrontBudget"]
    front = rules["FrontErrors"]
    assert (front.above, front.below, front.window_ns, front.for_ns) == (0.05, None, 60 * S, 60 * S)
    assert rules["CartSlow"].edge == ("frontend", "cart") and rules["CartSlow"].scope == "frontend -> cart"
    assert rules["CartSlow"].window_ns == 300 * S and rules["CartSlow"].for_ns == 0
    assert rules["FrontDrop"].scope == "frontend GET /" and rules["FrontDrop"].below == 2
    assert rules["PodOdd"].scope == "cart pod cart-7f9c"
    # the SRE workbook's paging pairs
    assert (
        rules["FrontBudget"].burn_windows
        == (
            BurnWindow(3600 * S, 300 * S, 14.4),
            BurnWindow(6 * 3600 * S, 1800 * S, 6.0),
        )
        == DEFAULT_BURN_WINDOWS
    )


def test_every_mistake_is_reported_with_its_rule_and_field() -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(BAD)
    assert caught.value.problems == [
        "rule FrontErrors: signal: must be one of error_rate, latency_p50_ms, latency_p95_ms, latency_p99_ms, "
        "throughput_rps, anomaly, slo_burn, forecast_capacity (got 'error_rates')",
        "rule FrontErrors: window: not a duration (like 30s, 5m, 1h): '1 minute'",
        "rule FrontErrors: alert: the name is used by an earlier rule",
        "rule #3: colour: unknown field",
        "rule #3: alert: required: a name of letters, digits, '_', ':', '.', '-'",
        "rule #3: service: required: the service the rule watches",
        "rule #3: above: give exactly one of 'above' or 'below'",
        "rule Budget: above: slo_burn takes no threshold: it fires on its burn-rate pairs",
        "rule Budget: objective: required: an objective between 0 and 1, like 0.999 (got None)",
        "rule Budget: burn_windows[0].factor: must be a positive number (got -2)",
        "rule Budget: burn_windows[0]: the short window must be shorter than the long one, and both longer than 0",
        "rule Edgy: pod: give at most one of operation, edge, pod (got edge, pod)",
        "rule Edgy: edge: must be 'caller->callee' (got 'cart')",
        "rule Edgy: labels.team: must be text",
    ]


def one(fields: str) -> str:
    return f"rules:\n  - {{alert: A, service: s, {fields}}}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rules: [", "not valid YAML"),
        ("alerts: []", "the file must be a mapping with a 'rules:' list"),
        ("rules: []\nnotfy: {}", "unknown top-level field 'notfy'"),
        ("rules: []\nnotify: {webhook: 'ftp://x'}", "notify: webhook: must be an http:// or https:// URL"),
        ("rules: []\nnotify: {pager: 'http://x'}", "notify: pager: unknown field"),
        (one("signal: error_rate, above: 1.5"), "rule A: above: an error rate"),
        (one("signal: anomaly, below: 1"), "rule A: below: anomaly takes only"),
        (one("signal: error_rate, above: x"), "rule A: above: must be a number"),
        (one("signal: error_rate, above: 0.1, window: 0s"), "rule A: window: must be longer than 0"),
        (one("signal: error_rate, above: 0.1, objective: 0.9"), "rule A: objective: only slo_burn rules take it"),
        (one("signal: error_rate, above: 0.1, for: soon"), "rule A: for: not a duration"),
        (one("signal: latency_p95_ms, above: 9, confidence: 0.99"), "rule A: confidence: only error_rate"),
        (one("signal: error_rate, above: 0.1, confidence: 1"), "rule A: confidence: must be a number from 0.5"),
    ],
)
def test_each_kind_of_mistake_is_named(text: str, problem: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(text)
    assert any(problem in found for found in caught.value.problems), caught.value.problems


def test_alerts_check_exits_1_and_prints_every_mistake(tmp_path: Path) -> None:
    bad, good = tmp_path / "bad.yaml", tmp_path / "good.yaml"
    bad.write_text(BAD)
    good.write_text(GOOD)
    runner = CliRunner()
    failed = runner.invoke(app, ["alerts", "check", str(bad)])
    assert failed.exit_code == 1
    assert failed.stderr.count("error:") == 14 and "rule Edgy: labels.team: must be text" in failed.stderr
    passed = runner.invoke(app, ["alerts", "check", str(good)])
    assert passed.exit_code == 0 and "5 rules found, all valid" in passed.stdout
    missing = runner.invoke(app, ["alerts", "check", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 1 and "cannot read" in missing.stderr


def test_pending_lasts_for_then_fires_then_resolves_and_pends_again() -> None:
    (front,) = parse_rules("rules:\n  - {alert: A, signal: error_rate, service: front, above: 0.1, for: 60s}")
    bad, good = Measurement(0.2, True), Measurement(0.0, False)
    state = AlertState("A")
    steps = [(0, bad), (30, bad), (60, bad), (90, bad), (120, good), (150, good), (180, bad), (210, good)]
    seen = []
    for at_s, measured in steps:
        state, change = advance(state, front, measured, at_s * S)
        seen.append((at_s, state.state, change.to_state if change else None))
    assert seen == [
        (0, "pending", "pending"),
        (30, "pending", None),
        (60, "firing", "firing"),
        (90, "firing", None),
        (120, "resolved", "resolved"),
        (150, "resolved", None),
        (180, "pending", "pending"),
        (210, "inactive", "inactive"),
    ]


def test_without_for_an_alert_fires_at_once() -> None:
    (front,) = parse_rules("rules:\n  - {alert: A, signal: latency_p95_ms, service: front, above: 300}")
    state, change = advance(AlertState("A"), front, Measurement(301.0, True), 10 * S)
    assert state.state == "firing" and state.fired_at_ns == 10 * S and change is not None


def test_an_anomaly_counts_while_it_lasts_into_the_window_so_for_needs_it_to_persist() -> None:
    (rule,) = parse_rules("rules:\n  - {alert: X, signal: anomaly, service: front, above: 0.6, window: 1m, for: 1m}")

    def found(start_s: int, end_s: int) -> list[dict[str, object]]:
        return [{"entity_kind": "operation", "entity": "front GET /", "service": "front", "score": 0.7,
                 "start": start_s * S, "end": end_s * S}]  # fmt: skip

    # window [at - 60 s, at): an anomaly ending at 120 s lasts into it at 150 s, not at 180 s (it ended at the start)
    assert _anomaly_score(rule, found(90, 120), 150 * S) == 0.7
    assert _anomaly_score(rule, found(90, 120), 180 * S) is None
    assert _anomaly_score(rule, [{**found(90, 120)[0], "service": "cart"}], 150 * S) is None

    def fired(seen: dict[int, list[dict[str, object]]]) -> list[int]:
        state, at = AlertState("X"), []
        for at_s in range(120, 300, 30):  # every 30 s, as the server evaluates
            measured = measure_rule(rule, {}, _anomaly_score(rule, seen.get(at_s, []), at_s * S))
            state, change = advance(state, rule, measured, at_s * S)
            at += [at_s] if change is not None and change.to_state == "firing" else []
        return at

    # one flagged 30 s bucket [90, 120): seen at 120, 150 (still in the window) and 180 (ended at its start):
    # it breaches at 120 and 150 only, 30 s, not the minute of `for`
    lone = {at_s: found(90, 120) for at_s in (120, 150, 180)}
    assert fired(lone) == []
    # two buckets [90, 150): breaches at 120 (the first), 150 and 180: 60 s after the first, it fires
    lasting = {120: found(90, 120), 150: found(90, 150), 180: found(90, 150), 210: found(90, 150)}
    assert fired(lasting) == [180]


def test_values_of_each_plain_signal_from_hand_made_counts() -> None:
    counts = {60 * S: {("service", "front"): ScopeCounts(requests=120, errors=9, p50_ms=20, p95_ms=250, p99_ms=900)}}
    expected = {"error_rate": 9 / 120, "latency_p50_ms": 20, "latency_p95_ms": 250, "latency_p99_ms": 900}
    expected["throughput_rps"] = 2.0  # 120 requests in 60 s
    for signal, value in expected.items():
        (one,) = parse_rules(f"rules:\n  - {{alert: A, signal: {signal}, service: front, above: 1, window: 1m}}")
        assert measure_rule(one, counts).value == pytest.approx(value)
    (quiet,) = parse_rules("rules:\n  - {alert: A, signal: error_rate, service: gone, above: 0.1, window: 1m}")
    assert measure_rule(quiet, counts) == Measurement(None, False, {"requests": 0, "errors": 0})
    (drop,) = parse_rules("rules:\n  - {alert: A, signal: throughput_rps, service: gone, below: 0.5, window: 1m}")
    assert measure_rule(drop, counts).breached  # no requests at all is a drop to 0


def test_an_error_rate_with_confidence_breaches_only_on_a_significant_count() -> None:
    (rule,) = parse_rules(
        "rules:\n  - {alert: E, signal: error_rate, service: front, above: 0.03, window: 1m, confidence: 0.99}"
    )

    def breached(errors: int, requests: int) -> bool:
        counts = {60 * S: {("service", "front"): ScopeCounts(requests=requests, errors=errors)}}
        return measure_rule(rule, counts).breached

    # by hand, at p = 0.03 and n = 15: P(X >= 1) = 1 - 0.97^15 = 0.367; P(X >= 2) = 0.073;
    # P(X >= 3) = 1 - 0.97^15 - 15 * 0.03 * 0.97^14 - 105 * 0.03^2 * 0.97^13 = 0.0093 < 0.01
    assert not breached(1, 15) and not breached(2, 15)  # 6.7 % and 13 %, above 0.03 all the same
    assert breached(3, 15)
    # at n = 240, 0.03 expects 7.2 errors: 13 (5.4 %) is not yet significant, 15 (6.2 %) is
    assert not breached(13, 240) and breached(15, 240)
    (plain,) = parse_rules("rules:\n  - {alert: E, signal: error_rate, service: front, above: 0.03, window: 1m}")
    assert measure_rule(plain, {60 * S: {("service", "front"): ScopeCounts(requests=15, errors=1)}}).breached


def test_burn_rate_pairs_fire_only_when_both_windows_burn() -> None:
    (budget,) = parse_rules("rules:\n  - {alert: B, signal: slo_burn, service: front, objective: 0.99}")
    key = ("service", "front")

    def counts(long_1h: tuple[int, int], short_5m: tuple[int, int]) -> dict[int, dict[tuple[str, str], ScopeCounts]]:
        return {
            3600 * S: {key: ScopeCounts(*long_1h)},
            300 * S: {key: ScopeCounts(*short_5m)},
            6 * 3600 * S: {key: ScopeCounts(6000, 30)},  # burn 0.5
            1800 * S: {key: ScopeCounts(500, 25)},  # burn 5
        }

    # budget 1%: 1h with 180 errors of 1200 requests burns 15x; 5m with 20 of 100 burns 20x
    firing = measure_rule(budget, counts((1200, 180), (100, 20)))
    assert firing.breached and firing.value == pytest.approx(15.0)
    # 5m burns 20x but 1h only 2.5x: the long window says it is a blip
    blip = measure_rule(budget, counts((1200, 30), (100, 20)))
    assert not blip.breached and blip.value == pytest.approx(2.5)
    # 1h burns 15x but the last 5m only 1x: it has stopped, reset quickly
    over = measure_rule(budget, counts((1200, 180), (100, 1)))
    assert not over.breached
    assert [p["long"] for p in over.detail["pairs"]] == pytest.approx([15.0, 0.5])


def test_annotations_are_filled_with_value_scope_and_root_causes() -> None:
    (front,) = parse_rules(GOOD)[:1]
    state = AlertState(
        "FrontErrors",
        value=0.1234,
        root_causes=({"rank": 1, "kind": "service", "name": "payment", "evidence": "errors 2% -> 40%"},),
    )
    assert render_annotations(front, state) == {
        "summary": "frontend error rate is 0.1234; probably 1. service payment: errors 2% -> 40%"
    }


DOCS = Path(__file__).resolve().parents[1] / "docs" / "alerting.md"


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), re.S)


def test_every_rule_example_of_the_docs_is_valid() -> None:
    checked = 0
    for block in _yaml_blocks():
        if block.startswith("rules:"):
            text = block
        elif block.startswith("  - alert:"):
            text = "rules:\n" + block
        elif block.startswith("    burn_windows:"):
            text = "rules:\n  - alert: A\n    signal: slo_burn\n    service: s\n    objective: 0.999\n" + block
        elif block.startswith("notify:"):
            text = block.replace("  - ...", "  - {alert: A, signal: error_rate, service: s, above: 0.1}")
        else:
            continue
        parse_rules(text)
        checked += 1
    assert checked == 7  # two rule sets, three rules, burn windows, notify (not Alertmanager's config)


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool (prometheus-alertmanager) is not installed")
def test_the_documented_alertmanager_configuration_is_valid(tmp_path: Path) -> None:
    (config,) = [block for block in _yaml_blocks() if block.startswith("route:")]
    (tmp_path / "alertmanager.yml").write_text(config)
    done = subprocess.run(
        ["amtool", "check-config", "alertmanager.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
