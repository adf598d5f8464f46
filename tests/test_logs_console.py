"""The console's Logs page and the logs of a span in the trace view, in headless Chromium
(Playwright, as tests/test_console.py) against a real server holding tests/test_logs.py's
hand-written spans and log records."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from analyzer.log_templates import template_id
from tests.conftest import Running, start_server
from tests.test_console import CHROMIUM, _browser_missing, open_page, screenshot
from tests.test_logs import SHOP, USER_TEMPLATE, api, send_logs
from tests.trace_builder import send


@pytest.fixture(scope="module")
def logs_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    reason = _browser_missing()
    if reason:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)
    server = start_server(tmp_path_factory.mktemp("logs-console") / "glimpse.duckdb")
    assert server.info is not None
    try:
        running = Running(server, server.info, str(server.settings.db_path))
        send(running.grpc_endpoint, SHOP.spans)
        send_logs(running, SHOP)
        yield running
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any, logs_console: Running) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, errors


def test_logs_page_lists_records_and_opens_their_trace(page: Any, logs_console: Running) -> None:
    open_page(page, logs_console, "logs")
    rows = page.locator("#log-table tbody tr.log-row")
    records = api(logs_console, "/api/logs")["records"]
    assert rows.count() == len(records) == 10
    assert [row["trace_id"] for row in records] == page.eval_on_selector_all(
        "#log-table tr.log-row", "els => els.map(e => e.dataset.traceId)"
    )
    alice = page.locator("tr.log-row", has_text="User alice logged in")
    assert "INFO" in alice.inner_text() and template_id(USER_TEMPLATE) in alice.inner_text()
    screenshot(page, "logs")
    # one click from a record to its trace, its span's details open with the span's logs
    alice.locator("a.trace-link").click()
    page.wait_for_selector("#page[data-ready=true] #waterfall")
    assert page.url.endswith(f"#/trace/{SHOP.trace_a}?span={SHOP.a_auth.span_hex}")
    opened = page.eval_on_selector_all(".wf-row.open", "els => els.map(e => e.dataset.spanId)")
    assert opened == [SHOP.a_auth.span_hex]
    entries = page.locator(".wf-detail .span-logs .log-entry")
    assert entries.count() == 2
    assert "User alice logged in" in entries.nth(0).inner_text() and "+10 ms" in entries.nth(0).inner_text()
    assert "Password check took 12 ms" in entries.nth(1).inner_text() and "DEBUG" in entries.nth(1).inner_text()
    assert "user.name" in entries.nth(0).inner_text() and "auth/login.py" in entries.nth(0).inner_text()
    assert "Session cache refreshed" in page.inner_text("#unattached-logs")
    screenshot(page, "trace-logs", full_page=True)


def test_span_details_show_logs_and_link_their_template(page: Any, logs_console: Running) -> None:
    open_page(page, logs_console, f"trace/{SHOP.trace_a}")
    counts = page.eval_on_selector_all(".wf-row", "els => els.map(e => [e.dataset.spanId, e.innerText])")
    assert {span_id: "log" in text for span_id, text in counts} == {
        SHOP.a_root.span_hex: True,  # 1 log
        SHOP.a_auth.span_hex: True,  # 2 logs
    }
    page.locator(".wf-row", has_text="frontend").first.click()
    detail = page.locator(".wf-detail").inner_text()
    assert "Logs (1)" in detail or "LOGS (1)" in detail
    assert "Request GET /login served" in detail
    page.locator(".wf-row", has_text="frontend").first.click()  # closes it
    page.locator(f'.wf-row[data-span-id="{SHOP.a_auth.span_hex}"]').click()
    page.locator(".wf-detail .log-entry", has_text="alice").locator("a.template-link").click()
    page.wait_for_selector("#page[data-ready=true] #log-table")
    assert "template=" + template_id(USER_TEMPLATE) in page.url and "range=custom" in page.url
    shown = page.eval_on_selector_all("#log-table tr.log-row td.log-message", "els => els.map(e => e.innerText)")
    assert [text.splitlines()[0] for text in shown] == ["User bob logged in", "User alice logged in"]


def test_templates_view_and_search_form(page: Any, logs_console: Running) -> None:
    open_page(page, logs_console, "logs?view=templates")
    rows = page.locator("#template-table tbody tr.template-row")
    assert rows.count() == len(api(logs_console, "/api/logs/templates")["templates"]) == 9
    first = rows.first.inner_text()
    assert USER_TEMPLATE in first and "User alice logged in" in first and "2" in first
    screenshot(page, "logs-templates")
    rows.first.locator("a.template-link").click()
    page.wait_for_selector("#page[data-ready=true] #log-table")
    assert page.locator("#log-table tr.log-row").count() == 2
    open_page(page, logs_console, "logs")
    page.select_option("#log-search select[name=severity]", "WARN")
    page.evaluate("document.getElementById('page').dataset.ready = 'stale'")
    page.click("#log-search button[type=submit]")
    page.wait_for_selector("#page[data-ready=true] #log-table")
    assert "severity=WARN" in page.url
    assert page.locator("#log-table tr.log-row").count() == 3
    bad = "logs?trace_id=xyz"
    open_page(page, logs_console, bad)
    assert "not a trace id" in page.inner_text("#log-results .error-box")
