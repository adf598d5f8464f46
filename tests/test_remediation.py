"""Remediation hooks: dry run by default, a cooldown per target, every action audited, and a
real HTTP receiver that gets the signed request for the top root cause of a simulated fault."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from analyzer.alert_rules import RulesError, parse_rules
from analyzer.alerting import AlertState, Transition
from glimpse.remediation import plan_actions
from tests.conftest import serving
from tests.test_alert_notify import SECRET, Receiver, _verify
from tracing.simulator.faults import Fault
from tracing.simulator.runner import run_history

S = 1_000_000_000
CAUSE = {"rank": 1, "kind": "service", "name": "payment", "service": "payment", "score": 0.9,
         "evidence": "errors 0% -> 35%", "remediation": "Roll back payment"}  # fmt: skip


def rules(*actions: str) -> dict[str, Any]:
    text = "rules:\n" + "".join(
        f"  - {{alert: R{i}, signal: error_rate, service: front, above: 0.1, action: {a}}}\n"
        for i, a in enumerate(actions)
    )
    return {rule.alert: rule for rule in parse_rules(text)}


def fired(name: str, at_ns: int, causes: tuple[dict[str, Any], ...] = (CAUSE,)) -> tuple[AlertState, Transition]:
    return AlertState(name, "firing", 0.3, at_ns, at_ns, root_causes=causes), Transition(
        name, at_ns, "pending", "firing", 0.3
    )


def test_actions_are_dry_runs_unless_told_and_once_per_target_per_cooldown() -> None:
    found = rules("{webhook: 'http://hook/a'}", "{webhook: 'http://hook/b', dry_run: false, cooldown: 10m}")
    assert found["R0"].action is not None and found["R0"].action.dry_run and found["R0"].action.cooldown_ns == 1800 * S
    s0, c0 = fired("R0", 100 * S)
    s1, c1 = fired("R1", 100 * S)
    # R0's dry run starts the target's cooldown: R1, on the same target, waits
    first = plan_actions(found, {"R0": s0, "R1": s1}, [c0, c1], {}, 100 * S)
    assert [(a.alert, a.outcome, a.target_name, a.body is None) for a in first] == [
        ("R0", "dry_run", "payment", True),
        ("R1", "cooldown", "payment", True),
    ]
    # ten minutes after the last action on it (R0's cooldown is 30 minutes, R1's is 10)
    later = 100 * S + 600 * S
    s1, c1 = fired("R1", later)
    (again,) = plan_actions(found, {"R1": s1}, [c1], {("service", "payment"): 100 * S}, later)
    assert again.outcome == "queued" and again.body is not None
    assert again.body["target"] == {"kind": "service", "name": "payment", "service": "payment"}
    assert again.body["remediation"] == "Roll back payment" and again.remediation == "Roll back payment"
    # no root cause: nothing to act on, and said so
    s0, c0 = fired("R0", later, causes=())
    (none,) = plan_actions(found, {"R0": s0}, [c0], {}, later)
    assert (none.outcome, none.target_kind, none.evidence["root_causes"]) == ("no_root_cause", None, [])


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        ("{webhook: 'rm -rf /'}", "rule R0: action.webhook: required: an http:// or https:// URL"),
        ("{webhook: 'http://h', command: 'kubectl'}", "rule R0: action.command: unknown field (glimpse never runs"),
        ("{webhook: 'http://h', dry_run: 'no'}", "rule R0: action.dry_run: must be true or false"),
        ("{webhook: 'http://h', cooldown: soon}", "rule R0: action.cooldown: not a duration"),
        ("restart", "rule R0: action: must be a mapping"),
    ],
)
def test_a_bad_action_is_named(action: str, problem: str) -> None:
    with pytest.raises(RulesError) as caught:
        rules(action)
    assert any(found.startswith(problem) for found in caught.value.problems), caught.value.problems


RUN_S, FAULT_S = 360, 150
START_NS = 1_700_000_000_000_000_000


def test_a_fault_asks_the_hook_once_to_act_on_the_culprit_and_every_action_is_audited(tmp_path: Path) -> None:
    hook = Receiver()
    rules_file = tmp_path / "rules.yaml"

    def write(threshold: float) -> None:
        rules_file.write_text(
            "rules:\n"
            f"  - {{alert: Act, signal: error_rate, service: frontend, above: {threshold}, window: 1m,\n"
            f"     action: {{webhook: '{hook.url}', dry_run: false, cooldown: 1h}}}}\n"
            f"  - {{alert: Rehearse, signal: error_rate, service: frontend, above: {threshold}, window: 1m,\n"
            f"     action: {{webhook: '{hook.url}', cooldown: 0s}}}}\n"
        )

    write(0.05)
    db_path = tmp_path / "glimpse.duckdb"
    settings = {"rules_file": str(rules_file), "rule_interval_s": 3600.0, "alert_webhook_secret": SECRET}
    try:
        with serving(db_path, **settings) as running:
            assert running.server is not None and running.server.rules is not None
            loop = running.server.rules
            run_history(
                "shop",
                running.grpc_endpoint,
                start_ns=START_NS,
                duration_s=RUN_S,
                seed=8,
                faults=[Fault("errors", "product-catalog", FAULT_S, RUN_S)],
                rate_per_s=4,
                logs=False,
            )
            at = START_NS + 300 * S
            assert {c.to_state for c in loop.evaluate(at_ns=at)} == {"firing"}
            (body,) = hook.wait_for(1)
            _verify(*hook.requests[0])
            assert body["alert"] == "Act" and body["target"]["name"] == "product-catalog"
            assert body["remediation"] and body["root_causes"][0]["name"] == "product-catalog"
            # resolve, then fire again within the hour: the target is in its cooldown
            write(0.9)
            loop.reload()
            loop.evaluate(at_ns=at + 30 * S)
            write(0.05)
            loop.reload()
            loop.evaluate(at_ns=at + 60 * S)
            assert len(hook.wait_for(2, timeout_s=1)) == 1
        # the audit survives the server, as SQL
        shown = subprocess.run(
            [sys.executable, "-m", "glimpse", "alerts", "--db", str(db_path), "--history", "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert shown.returncode == 0, shown.stderr
        actions = json.loads(shown.stdout)["actions"]
        assert [(a["alert"], a["outcome"], a["target_name"]) for a in actions] == [  # latest first
            ("Act", "cooldown", "product-catalog"),
            ("Rehearse", "dry_run", "product-catalog"),
            ("Act", "queued", "product-catalog"),
            ("Rehearse", "dry_run", "product-catalog"),
        ]
        assert actions[-1]["evidence"]["root_causes"][0]["name"] == "product-catalog"
    finally:
        hook.close()
