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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import duckdb

from analyzer.alert_rules import NotifyTargets, Rule, read_rules_document
from analyzer.alerting import FIRING, RESOLVED, STATES, AlertState, Transition
from analyzer.query_service.alert_cells import ScopeCells
from analyzer.query_service.alerts import evaluate_rules, state_record
from glimpse.notify import Notifier
from glimpse.remediation import Remediator
from storage.alert_queries import alert_state_rows, last_action_times, record_alerts

__all__ = ["RuleLoop", "RuleObserver"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Loaded:
    rules: tuple[Rule, ...]
    notify: NotifyTargets
    loaded_at_ns: int


NotifierFactory = Callable[[NotifyTargets], "Notifier | None"]
DELIVERY_COUNTS = ("sent", "failed", "dropped")


class RuleObserver(Protocol):
    """Told of every evaluation (the server's self-metrics)."""

    def rule_evaluation(self, seconds: float, *, failed: bool) -> None: ...


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
        observer: RuleObserver | None = None,
    ) -> None:
        """``notifier_for`` makes the notifier for the rules file's ``notify:`` block (again
        when a reload changes it): where each evaluation's alerts go, after they are recorded;
        ``action_secret`` signs the remediation hooks' bodies; ``observer`` times each evaluation."""
        self.path = path
        self._observer = observer
        self._notifier_for = notifier_for
        self._action_secret = action_secret
        self.console_url = ""
        self.remediator = Remediator(secret=action_secret)
        self.interval_s = interval_s
        self._connect = connect
        document = read_rules_document(path)  # a bad file stops the start
        self._loaded = _Loaded(document.rules, document.notify, time.time_ns())
        self._known = {rule.alert: rule for rule in document.rules}  # every rule loaded, for the alerts it leaves
        self.notifier = self._make_notifier(document.notify)
        self._states: dict[str, AlertState] = {}
        self._cells = ScopeCells()  # long windows' settled cells, read once (evaluated under _lock)
        self._lock = threading.Lock()  # one evaluation at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.evaluations = 0
        self.failures = 0
        # what replaced notifiers delivered, so that the counts never go down on a reload
        self._retired: dict[str, dict[str, int]] = {}

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
            self._known.update({rule.alert: rule for rule in document.rules})
        if old is not None:
            old.close(1.0)
            self._retire(old.stats())
        logger.info("loaded %d alert rules from %s", len(document.rules), self.path)
        return len(document.rules)

    def _retire(self, stats: Mapping[str, Mapping[str, int]]) -> None:
        for name, counts in stats.items():
            kept = self._retired.setdefault(name, dict.fromkeys(DELIVERY_COUNTS, 0))
            for key in DELIVERY_COUNTS:
                kept[key] += counts[key]

    def evaluate(self, at_ns: int | None = None) -> list[Transition]:
        """One evaluation at ``at_ns`` (default: now), recorded in the store; the state changes.
        A failure is counted (and raised)."""
        started = time.perf_counter()
        failed = True
        try:
            changes = self._evaluate(at_ns if at_ns is not None else time.time_ns())
            failed = False
        finally:
            self.failures += int(failed)
            if self._observer is not None:
                self._observer.rule_evaluation(time.perf_counter() - started, failed=failed)
        return changes

    def _evaluate(self, at: int) -> list[Transition]:
        with self._lock:
            rules = self._loaded.rules
            con = self._connect()
            try:
                states, changes = evaluate_rules(con, rules, self._states, at, cells=self._cells)
                actions = self.remediator.act(rules, states, changes, at)
                gone, ended = self._left_firing(rules, at)
                by_name = {rule.alert: rule for rule in rules}
                record_alerts(
                    con,
                    [state_record(by_name[name], state) for name, state in states.items()],
                    [_change_row(change, {**states, **gone}[change.alert]) for change in [*changes, *ended]],
                    [action.as_row() for action in actions],
                )
            finally:
                con.close()
            self._states = states
            self.evaluations += 1
            if self.notifier is not None:
                left = [self._known[name] for name in gone if name in self._known]
                self.notifier.notify([*rules, *left], {**states, **gone}, [*changes, *ended])
            changes = [*changes, *ended]
        for change in changes:
            logger.warning(
                "alert %s: %s -> %s (value %s)", change.alert, change.from_state, change.to_state, change.value
            )
        return changes

    def _left_firing(self, rules: tuple[Rule, ...], at: int) -> tuple[dict[str, AlertState], list[Transition]]:
        """The alerts still firing whose rule is no longer loaded (a reload, or a restart with
        another file), resolved at ``at``: recorded, and sent resolved, so that no receiver
        keeps them firing for ever."""
        loaded = {rule.alert for rule in rules}
        gone = {
            name: replace(state, state=RESOLVED, resolved_at_ns=at, active_since_ns=None, evaluated_at_ns=at)
            for name, state in self._states.items()
            if name not in loaded and state.state == FIRING
        }
        return gone, [Transition(name, at, FIRING, RESOLVED, state.value) for name, state in gone.items()]

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.evaluate()
            except Exception:  # a failed evaluation is counted and logged; the next one tries again
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
        """The counts of ``/api/stats`` and ``/metrics``: rules, evaluations, alerts per state,
        notifications per receiver (those of notifiers a reload replaced included), remediation."""
        names = {rule.alert for rule in self._loaded.rules}
        states = dict.fromkeys(STATES, 0)
        for name, state in self._states.items():
            if name in names:
                states[state.state] += 1
        states["inactive"] += len(names - set(self._states))
        return {
            "rules": len(self._loaded.rules),
            "loaded_at": self._loaded.loaded_at_ns,
            "evaluations": self.evaluations,
            "failures": self.failures,
            "states": states,
            "notifications": self._notification_stats(),
            "remediation": self.remediator.stats(),
            "actions": self.remediator.outcome_counts(),
        }

    def _notification_stats(self) -> dict[str, dict[str, int]]:
        found = {name: {**counts, "queued": 0} for name, counts in self._retired.items()}
        for name, counts in (self.notifier.stats() if self.notifier is not None else {}).items():
            kept = found.setdefault(name, {**dict.fromkeys(DELIVERY_COUNTS, 0), "queued": 0})
            for key in DELIVERY_COUNTS:
                kept[key] += counts[key]
            kept["queued"] = counts["queued"]
        return found


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
