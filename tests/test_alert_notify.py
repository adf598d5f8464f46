"""Notifications: a real Prometheus Alertmanager receives glimpse's alerts (read back from its
API v2), a real HTTP receiver checks the webhook's bodies and HMAC signatures, and a slow or
failing receiver never blocks the sender."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from glimpse.metrics import ACTION_OUTCOMES
from glimpse.notify import SIGNATURE_HEADER, Destination
from glimpse.remediation import OUTCOMES
from glimpse.settings import ServerSettings, SettingsError
from tests.conftest import ServerProcess, serving
from tests.test_alerts import RULES, tiny_store_spans
from tests.test_self_metrics import Scrape, scrape
from tests.trace_builder import send

SECRET = "a-webhook-secret-of-some-length"
S = 1_000_000_000


class Receiver:
    """A small HTTP server that records each POST (headers and body) and answers ``status()``."""

    def __init__(self, status: Callable[[int], int] = lambda _: 200, delay_s: float = 0.0) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((dict(self.headers.items()), body))
                time.sleep(delay_s)
                self.send_response(status(len(received)))
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout_s: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return [json.loads(body) for _, body in self.requests]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """A real Alertmanager on a loopback port, with a receiver that sends nothing."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.skip("the prometheus-alertmanager binary is not installed")
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route:\n  receiver: quiet\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
        "receivers:\n  - name: quiet\n"
    )
    port = _free_port()
    log = (tmp_path / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "alertmanager exited"
        try:
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("alertmanager did not become ready")


def _alerts_until(url: str, check: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    alerts: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        alerts = httpx.get(f"{url}/api/v2/alerts", timeout=5).json()
        if check(alerts):
            return alerts
        time.sleep(0.2)
    raise AssertionError(f"alertmanager never showed the expected alerts: {alerts}")


def _verify(headers: dict[str, str], body: bytes) -> None:
    """The signature as a receiver checks it, by hand: t=<s>,sha256=HMAC(secret, "<t>." + body)."""
    stamp, digest = headers[SIGNATURE_HEADER].split(",")
    t = stamp.removeprefix("t=")
    expected = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(digest.removeprefix("sha256="), expected)
    assert abs(int(t) - time.time()) < 60


def test_alertmanager_and_the_webhook_receive_firing_then_resolved(alertmanager: str, tmp_path: Path) -> None:
    hook = Receiver()
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(RULES)
    now_ns = time.time_ns()
    settings = {
        "rules_file": str(rules_file),
        "rule_interval_s": 3600.0,  # the test evaluates itself
        "alertmanager_url": alertmanager,
        "alert_webhook_url": hook.url,
        "alert_webhook_secret": SECRET,
    }
    try:
        with serving(tmp_path / "glimpse.duckdb", **settings) as running:
            assert running.server is not None and running.server.rules is not None
            send(running.grpc_endpoint, tiny_store_spans(now_ns))
            running.server.rules.evaluate(at_ns=now_ns)
            firing = _alerts_until(alertmanager, lambda alerts: len(alerts) == 3)
            by_name = {a["labels"]["alertname"]: a for a in firing}
            assert sorted(by_name) == ["FrontBudget", "FrontErrors", "FrontQuiet"]
            errors = by_name["FrontErrors"]
            assert errors["status"]["state"] == "active"
            assert errors["labels"] == {
                "alertname": "FrontErrors",
                "service": "front",
                "scope": "front",
                "signal": "error_rate",
                "severity": "page",
            }
            assert errors["annotations"]["summary"] == "front fails 0.2 of its requests"
            assert errors["annotations"]["value"] == "0.2"
            assert errors["generatorURL"].startswith(f"{running.info.console_url}/#/rca?since=")
            assert abs(_rfc3339_ns(errors["startsAt"]) - now_ns) < 1_000_000  # fired at the evaluation
            events = hook.wait_for(3)
            assert sorted((e["alert"], e["status"]) for e in events) == [
                ("FrontBudget", "firing"),
                ("FrontErrors", "firing"),
                ("FrontQuiet", "firing"),
            ]
            for headers, body in hook.requests:
                _verify(headers, body)
            budget = next(e for e in events if e["alert"] == "FrontBudget")
            assert budget["value"] == pytest.approx(15.0) and budget["labels"]["signal"] == "slo_burn"
            # a higher threshold, reloaded: FrontErrors resolves, and Alertmanager lets it go
            rules_file.write_text(RULES.replace("above: 0.1\n", "above: 0.5\n"))
            assert httpx.post(f"{running.api_url}/api/rules/reload").json() == {"rules": 4}
            running.server.rules.evaluate(at_ns=time.time_ns())
            _alerts_until(
                alertmanager,
                lambda alerts: (
                    sorted(a["labels"]["alertname"] for a in alerts)
                    == [
                        "FrontBudget",
                        "FrontQuiet",
                    ]
                ),
            )
            resolved = hook.wait_for(4)[3]
            assert (resolved["alert"], resolved["status"]) == ("FrontErrors", "resolved")
            assert resolved["endsAt"] is not None
            _verify(*hook.requests[3])
            # still firing alerts are sent again, but the webhook hears only changes
            running.server.rules.evaluate(at_ns=time.time_ns())
            assert len(hook.wait_for(5, timeout_s=1)) == 4
            stats = httpx.get(f"{running.api_url}/api/stats").json()["alerts"]["notifications"]
            assert stats["alertmanager"]["sent"] == 3 and stats["webhook"]["sent"] == 4
            assert stats["alertmanager"]["failed"] == stats["webhook"]["dropped"] == 0
    finally:
        hook.close()


def _rfc3339_ns(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1e9)


def test_a_slow_receiver_never_blocks_the_sender_and_what_overflows_is_counted() -> None:
    slow = Receiver(delay_s=0.5)
    destination = Destination("slow", slow.url, max_queued=5, timeout_s=5, retries=0)
    try:
        started = time.perf_counter()
        accepted = [destination.offer(b"{}") for _ in range(50)]
        assert time.perf_counter() - started < 0.2  # fifty offers, no waiting
        assert accepted.count(False) == destination.stats.dropped >= 40
    finally:
        destination.close(timeout_s=0.1)
        slow.close()


def test_failures_are_retried_with_backoff_and_given_up_after_the_last_try() -> None:
    flaky = Receiver(status=lambda n: 503 if n <= 2 else 200)
    dead = Destination("dead", f"http://127.0.0.1:{_free_port()}/none", timeout_s=1, retries=2, backoff_s=0.05)
    refused = Receiver(status=lambda _: 400)
    try:
        retried = Destination("flaky", flaky.url, timeout_s=2, retries=3, backoff_s=0.05)
        refusing = Destination("refusing", refused.url, timeout_s=2, retries=3, backoff_s=0.05)
        for destination in (retried, dead, refusing):
            destination.offer(b'{"n": 1}')
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (retried.stats.sent + dead.stats.failed + refusing.stats.failed) < 3:
            time.sleep(0.05)
        assert (retried.stats.sent, len(flaky.requests)) == (1, 3)  # 503, 503, then 200
        assert (dead.stats.sent, dead.stats.failed) == (0, 1)
        assert (refusing.stats.failed, len(refused.requests)) == (1, 1)  # a 400 is not retried
        for destination in (retried, dead, refusing):
            destination.close(timeout_s=1)
    finally:
        flaky.close()
        refused.close()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"alertmanager_url": "http://127.0.0.1:9093"}, "--alertmanager needs --rules"),
        ({"alert_webhook_url": "http://127.0.0.1:1/hook"}, "--alert-webhook needs --rules"),
        ({"rules_file": "r.yaml", "alert_webhook_url": "ftp://x"}, "--alert-webhook must be an http:// or https://"),
        ({"rules_file": "r.yaml", "rule_interval_s": 0.5}, "the rule interval must be 1 to 86,400 seconds"),
    ],
)
def test_notification_settings_are_checked(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        ServerSettings(**settings)


def test_glimpse_serve_evaluates_on_its_timer_notifies_and_reloads_on_sighup(tmp_path: Path) -> None:
    hook = Receiver()
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(RULES)
    process = ServerProcess(
        tmp_path / "glimpse.duckdb",
        *("--rules", str(rules_file), "--rule-interval", "1", "--alert-webhook", hook.url),
        env={"GLIMPSE_ALERT_WEBHOOK_SECRET": SECRET},
    )
    try:
        send(process.running().grpc_endpoint, tiny_store_spans(time.time_ns()))
        events = hook.wait_for(3)  # the loop's own evaluation, at the clock's time
        assert sorted(e["alert"] for e in events) == ["FrontBudget", "FrontErrors", "FrontQuiet"]
        for headers, body in hook.requests:
            _verify(headers, body)
        rules_file.write_text(RULES.split("  - alert: FrontSlow")[0])
        process.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while len(httpx.get(f"{process.info.api_url}/api/alerts").json()["alerts"]) != 3:
            assert time.monotonic() < deadline, "the rules were not reloaded"
            time.sleep(0.1)
        code, output = process.terminate()
    finally:
        process.kill()
        hook.close()
    assert code == 0, output
    assert "alerts     4 rules from" in output and "reloaded 3 alert rules" in output


def test_a_notify_block_in_the_rules_file_names_the_receivers_and_a_reload_changes_them(tmp_path: Path) -> None:
    first, second = Receiver(), Receiver()
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(f"notify:\n  webhook: {first.url}\n{RULES}")
    now_ns = time.time_ns()
    try:
        with serving(tmp_path / "glimpse.duckdb", rules_file=str(rules_file), rule_interval_s=3600.0) as running:
            assert running.server is not None and running.server.rules is not None
            send(running.grpc_endpoint, tiny_store_spans(now_ns))
            running.server.rules.evaluate(at_ns=now_ns)
            assert len(first.wait_for(3)) == 3 and "sha256" not in str(first.requests[0][0])  # no secret: unsigned
            changed = RULES.replace("above: 0.1\n", "above: 0.5\n")
            rules_file.write_text(f"notify:\n  webhook: {second.url}\n{changed}")
            assert httpx.post(f"{running.api_url}/api/rules/reload").json() == {"rules": 4}
            running.server.rules.evaluate(at_ns=now_ns + 1)
            assert [(e["alert"], e["status"]) for e in second.wait_for(1)] == [("FrontErrors", "resolved")]
            assert len(first.requests) == 3
    finally:
        first.close()
        second.close()


def _scrape_until(url: str, check: Callable[[Scrape], bool], timeout_s: float = 20.0) -> Scrape:
    deadline = time.monotonic() + timeout_s
    while True:
        metrics = scrape(url)
        if check(metrics) or time.monotonic() > deadline:
            return metrics
        time.sleep(0.1)


def test_the_rule_loop_counts_itself_on_metrics_across_a_reload(alertmanager: str, tmp_path: Path) -> None:
    """Evaluations and their time, rules, alerts per state, deliveries per receiver (what a
    refusing receiver could not take is counted failed, and a reload that replaces it keeps
    the count), remediation actions per outcome as the audit table has them."""
    refusing, accepting = Receiver(status=lambda _: 400), Receiver()
    rules_file = tmp_path / "rules.yaml"
    with_action = RULES.replace("    labels: {severity: page}\n", "    action: {webhook: 'http://127.0.0.1:9/x'}\n")
    rules_file.write_text(f"notify:\n  webhook: {refusing.url}\n{with_action}")
    now_ns = time.time_ns()
    settings = {"rules_file": str(rules_file), "rule_interval_s": 3600.0, "alertmanager_url": alertmanager}
    try:
        with serving(tmp_path / "glimpse.duckdb", **settings) as running:
            assert running.server is not None and running.server.rules is not None
            before = scrape(running.api_url)
            assert before.value("glimpse_rules_loaded") == 4
            assert before.value("glimpse_rule_evaluations_total") == 0
            assert before.value("glimpse_alerts", state="inactive") == 4
            for receiver in ("alertmanager", "webhook", "remediation"):
                for key in ("sent", "failed", "dropped"):
                    assert before.value(f"glimpse_alert_notifications_{key}_total", receiver=receiver) == 0
            send(running.grpc_endpoint, tiny_store_spans(now_ns))
            running.server.rules.evaluate(at_ns=now_ns)
            assert len(refusing.wait_for(3)) == 3  # three alerts fired: three bodies, each refused (400)
            first = _scrape_until(
                running.api_url,
                lambda m: (
                    m.value("glimpse_alert_notifications_failed_total", receiver="webhook") == 3
                    and m.value("glimpse_alert_notifications_sent_total", receiver="alertmanager") == 1
                ),
            )
            assert first.value("glimpse_alert_notifications_failed_total", receiver="webhook") == 3
            assert first.value("glimpse_alert_notifications_sent_total", receiver="alertmanager") == 1
            assert first.value("glimpse_alert_notifications_sent_total", receiver="webhook") == 0
            assert first.value("glimpse_rule_evaluations_total") == 1
            assert first.value("glimpse_rule_evaluation_failures_total") == 0
            assert first.value("glimpse_rule_evaluation_duration_seconds_count") == 1
            assert first.value("glimpse_rule_evaluation_duration_seconds_sum") > 0
            assert first.value("glimpse_alerts", state="firing") == 3
            assert first.value("glimpse_alerts", state="inactive") == 1
            audit = httpx.get(f"{running.api_url}/api/alerts", params={"history": "true"}).json()["actions"]
            assert [a["alert"] for a in audit] == ["FrontErrors"]  # a dry run, or no root cause to act on
            assert first.value("glimpse_remediation_actions_total", outcome=audit[0]["outcome"]) == 1
            assert first.total("glimpse_remediation_actions_total") == 1
            # a reload that replaces the webhook and raises a threshold: FrontErrors resolves
            changed = with_action.replace("above: 0.1\n", "above: 0.5\n")
            rules_file.write_text(f"notify:\n  webhook: {accepting.url}\n{changed}")
            assert httpx.post(f"{running.api_url}/api/rules/reload").json() == {"rules": 4}
            running.server.rules.evaluate(at_ns=time.time_ns())
            assert [e["status"] for e in accepting.wait_for(1)] == ["resolved"]
            second = _scrape_until(
                running.api_url,
                lambda m: (
                    m.value("glimpse_alert_notifications_sent_total", receiver="webhook") == 1
                    and m.value("glimpse_alert_notifications_sent_total", receiver="alertmanager") == 2
                ),
            )
            assert second.value("glimpse_alert_notifications_sent_total", receiver="webhook") == 1
            assert second.value("glimpse_alert_notifications_failed_total", receiver="webhook") == 3  # kept
            assert second.value("glimpse_alert_notifications_sent_total", receiver="alertmanager") == 2
            assert second.value("glimpse_rule_evaluations_total") == 2
            assert second.value("glimpse_alerts", state="firing") == 2
            assert second.value("glimpse_alerts", state="resolved") == 1
            assert second.value("glimpse_alert_notifications_queued", receiver="webhook") == 0
    finally:
        refusing.close()
        accepting.close()


def test_a_failed_evaluation_is_counted_and_timed(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(RULES)
    with serving(tmp_path / "glimpse.duckdb", rules_file=str(rules_file), rule_interval_s=3600.0) as running:
        assert running.server is not None and running.server.rules is not None
        with pytest.raises(duckdb.Error):  # a time no DuckDB timestamp can hold: the window's query fails
            running.server.rules.evaluate(at_ns=-(2**63) + 1)
        metrics = scrape(running.api_url)
        assert metrics.value("glimpse_rule_evaluation_failures_total") == 1
        assert metrics.value("glimpse_rule_evaluations_total") == 1
        assert metrics.value("glimpse_rule_evaluation_duration_seconds_count") == 1


def test_the_metrics_know_every_remediation_outcome() -> None:
    assert ACTION_OUTCOMES == OUTCOMES


def test_a_restart_neither_notifies_again_nor_forgets_a_firing_alert(alertmanager: str, tmp_path: Path) -> None:
    hook = Receiver()
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(RULES)
    db_path = tmp_path / "glimpse.duckdb"
    settings = {
        "rules_file": str(rules_file),
        "rule_interval_s": 3600.0,
        "alertmanager_url": alertmanager,
        "alert_webhook_url": hook.url,
        "alert_webhook_secret": SECRET,
    }
    now_ns = time.time_ns()
    try:
        with serving(db_path, **settings) as running:
            assert running.server is not None and running.server.rules is not None
            send(running.grpc_endpoint, tiny_store_spans(now_ns))
            running.server.rules.evaluate(at_ns=now_ns)
            assert len(hook.wait_for(3)) == 3
            before = {a["labels"]["alertname"]: a for a in _alerts_until(alertmanager, lambda a: len(a) == 3)}
        with serving(db_path, **settings) as running:
            assert running.server is not None and running.server.rules is not None
            assert running.server.rules.evaluate(at_ns=now_ns + 30 * S) == []  # still firing: no change
            deadline = time.monotonic() + 20
            while (
                httpx.get(f"{running.api_url}/api/stats").json()["alerts"]["notifications"]["alertmanager"]["sent"] < 1
            ):
                assert time.monotonic() < deadline, "the firing alerts were not sent to Alertmanager again"
                time.sleep(0.1)
            kept = httpx.get(f"{running.api_url}/api/alerts").json()["alerts"]
            firing = {a["alert"]: a for a in kept if a["state"] == "firing"}
            assert sorted(firing) == ["FrontBudget", "FrontErrors", "FrontQuiet"]
            assert {a["fired_at"] for a in firing.values()} == {now_ns}  # not fired anew at the restart
        assert len(hook.wait_for(4, timeout_s=2)) == 3  # the webhook heard nothing more
        after = {a["labels"]["alertname"]: a for a in httpx.get(f"{alertmanager}/api/v2/alerts").json()}
        assert sorted(after) == sorted(before)
        for name, alert in after.items():  # the same alerts, started when they first fired
            assert _rfc3339_ns(alert["startsAt"]) == _rfc3339_ns(before[name]["startsAt"])
            assert alert["annotations"].get("root_causes") == before[name]["annotations"].get("root_causes")
            assert alert["status"]["state"] == "active"
    finally:
        hook.close()


def test_a_firing_alert_whose_rule_is_taken_out_is_resolved_everywhere(alertmanager: str, tmp_path: Path) -> None:
    hook = Receiver()
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(RULES)
    settings = {
        "rules_file": str(rules_file),
        "rule_interval_s": 3600.0,
        "alertmanager_url": alertmanager,
        "alert_webhook_url": hook.url,
    }
    now_ns = time.time_ns()
    try:
        with serving(tmp_path / "glimpse.duckdb", **settings) as running:
            assert running.server is not None and running.server.rules is not None
            send(running.grpc_endpoint, tiny_store_spans(now_ns))
            running.server.rules.evaluate(at_ns=now_ns)
            _alerts_until(alertmanager, lambda alerts: len(alerts) == 3)
            assert len(hook.wait_for(3)) == 3
            rules_file.write_text(
                RULES.replace("  - alert: FrontErrors", "  - alert: Gone").split("  - alert: Gone")[0]
            )
            assert httpx.post(f"{running.api_url}/api/rules/reload").json() == {"rules": 1}  # FrontBudget only
            at = time.time_ns()  # Alertmanager resolves an alert whose endsAt has passed
            changes = running.server.rules.evaluate(at_ns=at)
            assert sorted((c.alert, c.to_state) for c in changes) == [
                ("FrontErrors", "resolved"),
                ("FrontQuiet", "resolved"),
            ]
            events = hook.wait_for(5)[3:]
            assert sorted((e["alert"], e["status"]) for e in events) == [
                ("FrontErrors", "resolved"),
                ("FrontQuiet", "resolved"),
            ]
            assert all(e["endsAt"] is not None and e["labels"]["alertname"] == e["alert"] for e in events)
            left = _alerts_until(alertmanager, lambda alerts: len(alerts) == 1)
            assert left[0]["labels"]["alertname"] == "FrontBudget"
            history = running.sql("SELECT alert, to_state FROM glimpse_alert_history ORDER BY changed_at, alert")
            assert [(r["alert"], r["to_state"]) for r in history][3:] == [
                ("FrontErrors", "resolved"),
                ("FrontQuiet", "resolved"),
            ]
            assert [a["alert"] for a in httpx.get(f"{running.api_url}/api/alerts").json()["alerts"]] == ["FrontBudget"]
            assert running.server.rules.evaluate(at_ns=at + 30 * S) == []  # resolved once
    finally:
        hook.close()
