"""Alert notifications: Prometheus Alertmanager (API v2) and a signed webhook (docs/alerting.md).

Each receiver has a bounded queue drained by one thread of its own: :meth:`Destination.offer`
never blocks (when the queue is full the body is dropped, counted and logged), so a slow or
dead receiver never holds up ingest or the rule evaluation. A delivery is tried
``retries + 1`` times with a timeout each and an exponential back-off between tries; a
receiver's answer of 2xx counts as delivered, 4xx (but 408 and 429) as refused for good.

To Alertmanager, every evaluation sends every firing alert (so it keeps them active: ``endsAt``
lies a few intervals ahead, as Prometheus does) and each alert resolved by it (``endsAt`` the
time it resolved). To the webhook, each change to ``firing`` or ``resolved`` is one JSON body,
signed with HMAC-SHA256: the header ``X-Glimpse-Signature: t=<unix seconds>,sha256=<hex>`` where
the hex is the HMAC of ``"<t>." + body`` under the shared secret (the time lets a receiver
refuse a replay).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from analyzer.alert_rules import Rule
from analyzer.alerting import FIRING, RESOLVED, AlertState, Transition, render_annotations
from glimpse.timeparse import format_ns

__all__ = [
    "SIGNATURE_HEADER",
    "Destination",
    "DestinationStats",
    "Notifier",
    "alertmanager_alert",
    "sign",
    "webhook_event",
]

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Glimpse-Signature"
DEFAULT_MAX_QUEUED = 1000  # bodies per receiver
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF_S = 0.5  # doubled after each failed try
MIN_ENDS_AFTER_S = 180.0  # how far ahead a firing alert's endsAt lies, at least (Prometheus: 4 intervals)


def sign(secret: bytes, body: bytes, at_s: int) -> str:
    """The signature header's value for ``body`` sent at unix second ``at_s``.

    >>> sign(b"secret", b"{}", 1_700_000_000)[:30]
    't=1700000000,sha256=b8569b7879'
    """
    digest = hmac.new(secret, f"{at_s}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at_s},sha256={digest}"


@dataclass
class DestinationStats:
    sent: int = 0  # bodies delivered
    failed: int = 0  # bodies given up after every try
    dropped: int = 0  # bodies refused because the queue was full


class Destination:
    """One receiver URL: a bounded queue of JSON bodies and the thread that delivers them."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        headers: Callable[[bytes], Mapping[str, str]] = lambda _: {},
        max_queued: int = DEFAULT_MAX_QUEUED,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
    ) -> None:
        if max_queued < 1 or timeout_s <= 0 or retries < 0 or backoff_s < 0:
            raise ValueError("a destination needs room for one body, a positive timeout and no negative retries")
        self.name, self.url = name, url
        self._headers = headers
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=max_queued)
        self._timeout_s, self._retries, self._backoff_s = timeout_s, retries, backoff_s
        self.stats = DestinationStats()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"glimpse-notify-{name}", daemon=True)
        self._thread.start()

    def offer(self, body: bytes) -> bool:
        """Queue ``body``; False (counted and logged) when the queue is full. Never blocks."""
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            self.stats.dropped += 1
            logger.error("%s: the notification queue is full; a notification was dropped", self.name)
            return False
        return True

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is queued within ``timeout_s`` (what is left is not), then stop."""
        deadline = time.monotonic() + timeout_s
        while self._queue.qsize() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stopping.set()
        with contextlib.suppress(queue.Full):  # the thread sees the stop at its next body
            self._queue.put_nowait(None)
        self._thread.join(max(0.1, deadline - time.monotonic()))

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout_s) as client:
            while True:
                body = self._queue.get()
                if body is None or self._stopping.is_set():
                    return
                if self._deliver(client, body):
                    self.stats.sent += 1
                else:
                    self.stats.failed += 1

    def _deliver(self, client: httpx.Client, body: bytes) -> bool:
        delay = self._backoff_s
        for attempt in range(self._retries + 1):
            headers = {"Content-Type": "application/json", **self._headers(body)}
            try:
                response = client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return True
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code < 500 and response.status_code not in (408, 429):
                    logger.error("%s refused a notification (%s); not retried", self.name, problem)
                    return False
            logger.warning("%s: delivery %d of %d failed: %s", self.name, attempt + 1, self._retries + 1, problem)
            if attempt < self._retries and self._stopping.wait(delay):
                break
            delay *= 2
        logger.error("%s: a notification could not be delivered", self.name)
        return False


def _labels(rule: Rule) -> dict[str, str]:
    return {"alertname": rule.alert, "service": rule.service, "scope": rule.scope, "signal": rule.signal, **rule.labels}


def _causes_line(state: AlertState) -> str:
    return "; ".join(f"{c['rank']}. {c['kind']} {c['name']}: {c['evidence']}" for c in state.root_causes)


def generator_url(console_url: str, rule: Rule, state: AlertState) -> str:
    """The console's root-cause page for the alert's window and service."""
    since = (state.active_since_ns or state.fired_at_ns or state.evaluated_at_ns or 0) - rule.window_ns
    until = state.resolved_at_ns or state.evaluated_at_ns or since + rule.window_ns
    return f"{console_url}/#/rca?{urlencode({'since': since, 'until': until, 'service': rule.service})}"


def alertmanager_alert(
    rule: Rule, state: AlertState, *, console_url: str, ends_at_ns: int, starts_at_ns: int | None = None
) -> dict[str, Any]:
    """One alert in Alertmanager's API v2 shape (``POST /api/v2/alerts`` takes a list of them)."""
    annotations = {
        **render_annotations(rule, state),
        "value": "" if state.value is None else f"{state.value:.6g}",
        "root_causes": _causes_line(state),
    }
    return {
        "labels": _labels(rule),
        "annotations": {k: v for k, v in annotations.items() if v},
        "startsAt": format_ns(starts_at_ns or state.fired_at_ns or state.evaluated_at_ns),
        "endsAt": format_ns(ends_at_ns),
        "generatorURL": generator_url(console_url, rule, state),
    }


def webhook_event(rule: Rule, state: AlertState, change: Transition, *, console_url: str) -> dict[str, Any]:
    """The webhook's body for one change to firing or resolved."""
    return {
        "version": "1",
        "status": change.to_state,
        "alert": rule.alert,
        "labels": _labels(rule),
        "annotations": render_annotations(rule, state),
        "scope": rule.scope,
        "signal": rule.signal,
        "value": state.value,
        "startsAt": format_ns(state.fired_at_ns),
        "endsAt": format_ns(state.resolved_at_ns) if change.to_state == RESOLVED else None,
        "root_causes": list(state.root_causes),
        "generatorURL": generator_url(console_url, rule, state),
    }


class Notifier:
    """Sends each evaluation's alerts to Alertmanager and its changes to the webhook."""

    def __init__(
        self,
        *,
        alertmanager_url: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        interval_s: float = 30.0,
        console_url: str = "",
        **options: Any,
    ) -> None:
        self.console_url = console_url
        self._ends_after_ns = int(max(4 * interval_s, MIN_ENDS_AFTER_S) * 1e9)
        self.alertmanager = (
            Destination("alertmanager", alertmanager_url.rstrip("/") + "/api/v2/alerts", **options)
            if alertmanager_url
            else None
        )
        secret = (webhook_secret or "").encode()
        self.webhook = (
            Destination(
                "webhook",
                webhook_url,
                headers=(lambda body: {SIGNATURE_HEADER: sign(secret, body, int(time.time()))}) if secret else _none,
                **options,
            )
            if webhook_url
            else None
        )

    def notify(self, rules: Sequence[Rule], states: Mapping[str, AlertState], changes: Sequence[Transition]) -> None:
        """Queue this evaluation's notifications (never blocks)."""
        by_name = {rule.alert: rule for rule in rules}
        if self.alertmanager is not None:
            alerts = self._alertmanager_alerts(by_name, states, changes)
            if alerts:
                self.alertmanager.offer(json.dumps(alerts).encode())
        if self.webhook is not None:
            for change in changes:
                if change.to_state in (FIRING, RESOLVED) and change.alert in by_name:
                    event = webhook_event(
                        by_name[change.alert], states[change.alert], change, console_url=self.console_url
                    )
                    self.webhook.offer(json.dumps(event).encode())

    def _alertmanager_alerts(
        self, rules: Mapping[str, Rule], states: Mapping[str, AlertState], changes: Sequence[Transition]
    ) -> list[dict[str, Any]]:
        resolved = {c.alert for c in changes if c.to_state == RESOLVED}
        alerts = []
        for name, state in sorted(states.items()):
            rule = rules.get(name)
            if rule is None:
                continue
            if state.state == FIRING:
                ends = time.time_ns() + self._ends_after_ns
                alerts.append(alertmanager_alert(rule, state, console_url=self.console_url, ends_at_ns=ends))
            elif name in resolved and state.resolved_at_ns is not None:
                alerts.append(
                    alertmanager_alert(rule, state, console_url=self.console_url, ends_at_ns=state.resolved_at_ns)
                )
        return alerts

    def close(self, timeout_s: float = 10.0) -> None:
        for destination in (self.alertmanager, self.webhook):
            if destination is not None:
                destination.close(timeout_s)

    def stats(self) -> dict[str, Any]:
        return {
            d.name: {**d.stats.__dict__, "queued": d.queued} for d in (self.alertmanager, self.webhook) if d is not None
        }


def _none(_: bytes) -> Mapping[str, str]:
    return {}
