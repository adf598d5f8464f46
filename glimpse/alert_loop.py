"""The loop that evaluates alert rules inside ``glimpse serve`` (docs/alerting.md).

Every ``interval_s`` it evaluates the rules at the current time (span time is the clock's
time for live data) on a cursor of the server's database, and records the states and the
changes in ``glimpse_alert_state`` / ``glimpse_alert_history`` in one transaction. It runs
in a thread of its own, off the ingest path: the writer never waits for it. On start it
reads back the states the store kept, so that a restart neither forgets a firing alert nor
starts it anew. :meth:`RuleLoop.reload` re-reads the rules file (SIGHUP, ``POST
/api/rules/reload``): a file with mistakes is refused and the rules loaded before stay.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from analyzer.alert_rules import NotifyTargets, Rule, read_rules_document
from analyzer.alerting import AlertState, Transition
from analyzer.query_service.alerts import evaluate_rules, state_record
from glimpse.notify import Notifier
from glimpse.remediation import Remediator
from storage.alert_queries import alert_state_rows, last_action_times, record_alerts

__all__ = ["RuleLoop"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Loaded:
    rules: tuple[Rule, ...]
    notify: NotifyTargets
    loaded_at_ns: int


NotifierFactory = Callable[[NotifyTargets], "Notifier | None"]


class RuleLoop:
    """Evaluates the rules of ``path`` every ``interval_s`` over the store ``connect`` opens."""

    def __init__(
        self,
        path: str,
        *,
        connect: Callable[[], duckdb.DuckDBPyConnection],
        interval_s: float,
        notifier_for: NotifierFactory | None = None,
        action_secret: str | None = None,
    ) -> None:
        """``notifier_for`` makes the notifier for the rules file's ``notify:`` block (again
        when a reload changes it): where each evaluation's alerts go, after they are recorded;
        ``action_secret`` signs the remediation hooks' bodies."""
        self.path = path
        self._notifier_for = notifier_for
        self._action_secret = action_secret
        self.console_url = ""
        self.remediator = Remediator(secret=action_secret)
        self.interval_s = interval_s
        self._connect = connect
        document = read_rules_document(path)  # a bad file stops the start
        self._loaded = _Loaded(document.rules, document.notify, time.time_ns())
        self.notifier = self._make_notifier(document.notify)
        self._states: dict[str, AlertState] = {}
        self._lock = threading.Lock()  # one evaluation at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.evaluations = 0
        self.failures = 0

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._loaded.rules

    def start(self) -> None:
        """Read back the kept states, then evaluate every interval in a daemon thread."""
        self._states, last_actions = self._kept_states()
        self.remediator = Remediator(secret=self._action_secret, last_action_ns=last_actions)
        self._thread = threading.Thread(target=self._run, name="glimpse-rules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval_s + 30)
        if self.notifier is not None:
            self.notifier.close()
        self.remediator.close()

    def set_console_url(self, url: str) -> None:
        """Where the alerts' links point (known once the server listens)."""
        self.console_url = url
        if self.notifier is not None:
            self.notifier.console_url = url

    def _make_notifier(self, targets: NotifyTargets) -> Notifier | None:
        notifier = self._notifier_for(targets) if self._notifier_for is not None else None
        if notifier is not None:
            notifier.console_url = self.console_url
        return notifier

    def reload(self) -> int:
        """Re-read the rules file; the number of rules now loaded (RulesError: the old ones stay).
        A changed ``notify:`` block replaces the notifier (what the old one still queued is
        given a second to go)."""
        document = read_rules_document(self.path)
        with self._lock:
            old = None
            if document.notify != self._loaded.notify:
                old, self.notifier = self.notifier, self._make_notifier(document.notify)
            self._loaded = _Loaded(document.rules, document.notify, time.time_ns())
        if old is not None:
            old.close(1.0)
        logger.info("loaded %d alert rules from %s", len(document.rules), self.path)
        return len(document.rules)

    def evaluate(self, at_ns: int | None = None) -> list[Transition]:
        """One evaluation at ``at_ns`` (default: now), recorded in the store; the state changes."""
        at = at_ns if at_ns is not None else time.time_ns()
        with self._lock:
            rules = self._loaded.rules
            con = self._connect()
            try:
                states, changes = evaluate_rules(con, rules, self._states, at)
                actions = self.remediator.act(rules, states, changes, at)
                by_name = {rule.alert: rule for rule in rules}
                record_alerts(
                    con,
                    [state_record(by_name[name], state) for name, state in states.items()],
                    [_change_row(change, states[change.alert]) for change in changes],
                    [action.as_row() for action in actions],
                )
            finally:
                con.close()
            self._states = states
            self.evaluations += 1
            if self.notifier is not None:
                self.notifier.notify(rules, states, changes)
        for change in changes:
            logger.warning(
                "alert %s: %s -> %s (value %s)", change.alert, change.from_state, change.to_state, change.value
            )
        return changes

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.evaluate()
            except Exception:  # a failed evaluation is logged, and the next one tries again
                self.failures += 1
                logger.exception("evaluating the alert rules failed")

    def _kept_states(self) -> tuple[dict[str, AlertState], dict[tuple[str, str], int]]:
        """The alerts' states and the remediation targets' last actions, as the store kept them."""
        con = self._connect()
        try:
            rows, last_actions = alert_state_rows(con), last_action_times(con)
        finally:
            con.close()
        return {row["alert"]: _state_of(row) for row in rows}, last_actions

    def stats(self) -> dict[str, Any]:
        return {
            "rules": len(self._loaded.rules),
            "loaded_at": self._loaded.loaded_at_ns,
            "evaluations": self.evaluations,
            "failures": self.failures,
            "notifications": self.notifier.stats() if self.notifier is not None else {},
            "remediation": self.remediator.stats(),
        }


def _state_of(row: dict[str, Any]) -> AlertState:
    return AlertState(
        alert=row["alert"],
        state=row["state"],
        value=row["value"],
        active_since_ns=row["active_since"],
        fired_at_ns=row["fired_at"],
        resolved_at_ns=row["resolved_at"],
        evaluated_at_ns=row["evaluated_at"],
        root_causes=tuple(row["root_causes"]),
    )


def _change_row(change: Transition, state: AlertState) -> dict[str, Any]:
    return {
        "alert": change.alert,
        "at": change.at_ns,
        "from_state": change.from_state,
        "to_state": change.to_state,
        "value": change.value,
        "root_causes": list(state.root_causes) if change.to_state == "firing" else [],
    }
