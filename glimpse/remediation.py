"""Remediation hooks, guarded (docs/alerting.md#remediation-hooks).

A rule's ``action`` names a webhook of the user's automation (a runbook runner, a Kubernetes
operator). When the rule's alert starts firing, the hook is asked to act on the top root
cause: the body carries the alert, the target (the root cause's kind, name and service), its
suggested remediation and the evidence. The guards:

* off unless a rule names an action; ``dry_run`` unless the rule sets ``dry_run: false``
  (a dry run is recorded, not sent);
* at most one action per target (kind and name) per the rule's ``cooldown``, dry runs
  included, counted in span time from the audit table (so a restart keeps the cooldown);
* every action asked for, sent or not, is a row of ``glimpse_remediation_audit`` with the
  evidence that triggered it;
* glimpse never runs a command: an action is an HTTP POST (signed as the alert webhook is,
  with ``GLIMPSE_ALERT_WEBHOOK_SECRET``), through a bounded queue that never blocks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analyzer.alert_rules import Rule
from analyzer.alerting import FIRING, AlertState, Transition
from glimpse.notify import SIGNATURE_HEADER, Destination, sign
from glimpse.timeparse import format_ns

__all__ = ["OUTCOMES", "ActionRecord", "Remediator", "plan_actions"]

COUNTED = frozenset({"dry_run", "queued"})  # outcomes that start a target's cooldown
OUTCOMES = ("queued", "dry_run", "cooldown", "no_root_cause", "queue_full")


@dataclass(frozen=True)
class ActionRecord:
    """One action asked for: a row of glimpse_remediation_audit, and the body when it is to be sent."""

    requested_at_ns: int
    alert: str
    target_kind: str | None
    target_name: str | None
    action_url: str
    outcome: str
    remediation: str
    evidence: Mapping[str, Any]
    body: dict[str, Any] | None = field(default=None, compare=False)

    def as_row(self) -> dict[str, Any]:
        return {
            "requested_at": self.requested_at_ns,
            "alert": self.alert,
            "target_kind": self.target_kind,
            "target_name": self.target_name,
            "action_url": self.action_url,
            "outcome": self.outcome,
            "remediation": self.remediation,
            "evidence": dict(self.evidence),
        }


def plan_actions(
    rules: Mapping[str, Rule],
    states: Mapping[str, AlertState],
    changes: Sequence[Transition],
    last_action_ns: Mapping[tuple[str, str], int],
    at_ns: int,
) -> list[ActionRecord]:
    """The actions of the alerts that started firing at ``at_ns``, each with its outcome
    (``queued``, ``dry_run``, ``cooldown`` or ``no_root_cause``), in the order of ``changes``."""
    records = []
    last = dict(last_action_ns)
    for change in changes:
        rule = rules.get(change.alert)
        if change.to_state != FIRING or rule is None or rule.action is None:
            continue
        state = states[change.alert]
        evidence = {"value": state.value, "scope": rule.scope, "root_causes": list(state.root_causes)}
        if not state.root_causes:
            records.append(
                ActionRecord(at_ns, rule.alert, None, None, rule.action.webhook, "no_root_cause", "", evidence)
            )
            continue
        top = state.root_causes[0]
        target = (str(top["kind"]), str(top["name"]))
        outcome = _outcome(rule, last.get(target), at_ns)
        if outcome in COUNTED:
            last[target] = at_ns
        body = _body(rule, state, top, at_ns) if outcome == "queued" else None
        records.append(
            ActionRecord(
                at_ns, rule.alert, *target, rule.action.webhook, outcome, str(top["remediation"]), evidence, body
            )
        )
    return records


def _outcome(rule: Rule, last_ns: int | None, at_ns: int) -> str:
    assert rule.action is not None
    if last_ns is not None and at_ns - last_ns < rule.action.cooldown_ns:
        return "cooldown"
    return "dry_run" if rule.action.dry_run else "queued"


def _body(rule: Rule, state: AlertState, top: Mapping[str, Any], at_ns: int) -> dict[str, Any]:
    return {
        "version": "1",
        "alert": rule.alert,
        "scope": rule.scope,
        "signal": rule.signal,
        "value": state.value,
        "firedAt": format_ns(at_ns),
        "target": {"kind": top["kind"], "name": top["name"], "service": top["service"]},
        "remediation": top["remediation"],
        "evidence": top["evidence"],
        "root_causes": list(state.root_causes),
    }


class Remediator:
    """Plans the actions of each evaluation and queues those to send, one queue per hook URL."""

    def __init__(self, *, secret: str | None = None, last_action_ns: Mapping[tuple[str, str], int] | None = None):
        self._secret = (secret or "").encode()
        self._last: dict[tuple[str, str], int] = dict(last_action_ns or {})
        self._hooks: dict[str, Destination] = {}
        self._outcomes = dict.fromkeys(OUTCOMES, 0)

    def act(
        self, rules: Sequence[Rule], states: Mapping[str, AlertState], changes: Sequence[Transition], at_ns: int
    ) -> list[ActionRecord]:
        """This evaluation's actions, the ones to send queued (never blocking)."""
        records = plan_actions({r.alert: r for r in rules}, states, changes, self._last, at_ns)
        done = []
        for record in records:
            if record.outcome in COUNTED and record.target_kind is not None and record.target_name is not None:
                self._last[(record.target_kind, record.target_name)] = at_ns
            if record.body is not None and not self._hook(record.action_url).offer(json.dumps(record.body).encode()):
                record = ActionRecord(**{**record.__dict__, "outcome": "queue_full"})
            self._outcomes[record.outcome] += 1
            done.append(record)
        return done

    def _hook(self, url: str) -> Destination:
        if url not in self._hooks:
            self._hooks[url] = Destination("remediation", url, headers=self._signature)
        return self._hooks[url]

    def _signature(self, body: bytes) -> dict[str, str]:
        return {SIGNATURE_HEADER: sign(self._secret, body, int(time.time()))} if self._secret else {}

    def close(self, timeout_s: float = 10.0) -> None:
        for hook in self._hooks.values():
            hook.close(timeout_s)

    def stats(self) -> dict[str, Any]:
        return {url: hook.stats.__dict__ for url, hook in sorted(self._hooks.items())}

    def outcome_counts(self) -> dict[str, int]:
        """Actions asked for since the start, per outcome (every outcome, zero included)."""
        return dict(self._outcomes)
