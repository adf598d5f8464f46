"""The console's alerts page shows what GET /api/alerts answers (in Chromium, as the other
console pages are tested)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import serving
from tests.test_alerts import RULES, tiny_store_spans
from tests.test_console import CHROMIUM, SCREENSHOTS, _browser_missing
from tests.trace_builder import send


def test_the_alerts_page_lists_states_history_and_links_to_root_causes(tmp_path: Path) -> None:
    reason = _browser_missing()
    if reason:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)
    from playwright.sync_api import sync_playwright

    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(RULES)
    now_ns = time.time_ns()
    with serving(tmp_path / "glimpse.duckdb", rules_file=str(rules_file), rule_interval_s=3600.0) as running:
        assert running.server is not None and running.server.rules is not None
        send(running.grpc_endpoint, tiny_store_spans(now_ns))
        running.server.rules.evaluate(at_ns=now_ns)
        data = httpx.get(f"{running.api_url}/api/alerts", params={"history": "true"}).json()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(f"{running.info.console_url}/#/alerts")
                page.wait_for_selector("#page[data-ready=true] #alerts")
                rows = page.locator("#alerts tbody tr")
                assert rows.count() == len(data["alerts"]) == 4
                shown = [(r.get_attribute("data-alert"), r.locator(".alert-state").inner_text()) for r in rows.all()]
                assert shown == [(a["alert"], a["state"]) for a in data["alerts"]]
                assert page.locator("#alert-history tbody tr").count() == len(data["history"]) == 3
                assert "front fails 0.2 of its requests" in rows.nth(1).inner_text()
                link = rows.first.locator("a", has_text="root causes").get_attribute("href")
                assert link is not None and link.startswith("#/rca?") and "service=front" in link
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOTS / "alerts.png"))
                assert not errors, errors
            finally:
                browser.close()
