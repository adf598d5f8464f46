"""The web console in headless Chromium (Debian's, driven by Playwright) against a real server.

One server is filled once for the module (through OTLP/gRPC), one browser opens every page
and checks what it shows against the API and the CLI. Every page's screenshot is written to
docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2
from typer.testing import CliRunner

from glimpse.cli import app
from glimpse.console_app import missing_vendor_files
from tests.conftest import Running, start_server
from tests.trace_builder import BASE_NS, TRACE_EXPORT, SpanSpec, TraceBuilder, request_for

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("GLIMPSE_CHROMIUM", "/usr/bin/chromium")

TRACES = 240
TRACE_GAP_MS = 7_500  # 30 minutes of span time
INCIDENT_FROM = 160  # from this trace on, payments fails often and its provider is slow
SKEWED_TRACE = 7  # a trace whose cart server span is 80 ms late (clock skew)


# ---- data -----------------------------------------------------------------------------


def _resource(service: str, number: int) -> dict[str, Any]:
    return {
        "service.version": "1.4.2" if service != "payments" else "2.0.1",
        "service.namespace": "shop",
        "k8s.namespace.name": "shop",
        "k8s.pod.name": f"{service}-7d9f6-{'abc'[number % 3]}x{number % 2}",
        "k8s.node.name": f"node-{number % 2 + 1}",
        "cloud.availability_zone": f"eu-west-1{'ab'[number % 2]}",
    }


def build_workload(seed: int = 7) -> tuple[list[SpanSpec], dict[bytes, list[dict[str, Any]]]]:
    """A small shop: frontend, checkout, cart, payments, inventory, shipping (via Kafka),
    two databases, Redis and an external payment provider. Returns the spans and, per
    span id, the events to attach (exceptions on failed payments)."""
    rng = random.Random(seed)
    builder = TraceBuilder(seed=seed)
    events: dict[bytes, list[dict[str, Any]]] = {}
    for number in range(TRACES):
        builder.new_trace()
        t0 = number * TRACE_GAP_MS + rng.uniform(0, 3_000)
        incident = number >= INCIDENT_FROM

        def span(
            service: str, name: str, start: float, end: float, t0: float = t0, number: int = number, **kw: Any
        ) -> SpanSpec:
            resource = _resource(service, number)
            return builder.span(service, name, start_ms=t0 + start, end_ms=t0 + end, resource=resource, **kw)

        def jitter(ms: float) -> float:
            return ms * rng.uniform(0.8, 1.3)

        if number % 3 == 2:  # browse products
            total = jitter(60)
            root = span(
                "frontend",
                "GET /products",
                0,
                total,
                kind="server",
                attributes={"http.request.method": "GET", "http.route": "/products", "http.response.status_code": 200},
            )
            call = span(
                "frontend",
                "GET inventory",
                4,
                total - 4,
                kind="client",
                parent=root,
                attributes={"http.request.method": "GET", "server.address": "inventory"},
            )
            served = span(
                "inventory",
                "GET /items",
                6,
                total - 6,
                kind="server",
                parent=call,
                attributes={"http.request.method": "GET", "http.route": "/items"},
            )
            span(
                "inventory",
                "SELECT items",
                9,
                total - 12,
                kind="client",
                parent=served,
                attributes={
                    "db.system.name": "postgresql",
                    "server.address": "inventory-db",
                    "db.query.text": "SELECT * FROM items WHERE visible",
                },
            )
            continue
        fail = incident and rng.random() < 0.35
        stripe_ms = jitter(140 if incident else 35)
        user_id = f"u{number % 17}"
        root = span(
            "frontend",
            "GET /checkout",
            0,
            0,
            kind="server",
            error=fail,
            attributes={
                "http.request.method": "GET",
                "http.route": "/checkout",
                "user.id": user_id,
                "http.response.status_code": 500 if fail else 200,
            },
        )
        call = span(
            "frontend",
            "POST checkout",
            3,
            0,
            kind="client",
            parent=root,
            error=fail,
            attributes={"http.request.method": "POST", "server.address": "checkout"},
        )
        served = span(
            "checkout",
            "POST /checkout",
            5,
            0,
            kind="server",
            parent=call,
            error=fail,
            attributes={"http.request.method": "POST", "http.route": "/checkout", "user.id": user_id},
        )
        skew = 80 if number == SKEWED_TRACE else 0
        c = span(
            "checkout",
            "GET cart",
            7,
            25,
            kind="client",
            parent=served,
            attributes={"http.request.method": "GET", "server.address": "cart"},
        )
        cs = span(
            "cart",
            "GET /cart",
            8 + skew,
            24 + skew,
            kind="server",
            parent=c,
            attributes={"http.request.method": "GET", "http.route": "/cart"},
        )
        span(
            "cart",
            "redis GET",
            10 + skew,
            13 + skew,
            kind="client",
            parent=cs,
            attributes={"db.system.name": "redis", "server.address": "redis", "db.operation.name": "GET"},
        )
        at = 26.0
        for item in range(6):  # one query per cart item: an N+1
            query_ms = jitter(4)
            span(
                "checkout",
                "SELECT order_items",
                at,
                at + query_ms,
                kind="client",
                parent=served,
                attributes={
                    "db.system.name": "postgresql",
                    "server.address": "orders-db",
                    "db.query.text": f"SELECT * FROM order_items WHERE id = {item}",
                },
            )
            at += query_ms + 0.5
        charge_start = at + 1
        charge = span(
            "checkout",
            "POST charge",
            charge_start,
            0,
            kind="client",
            parent=served,
            error=fail,
            attributes={"http.request.method": "POST", "server.address": "payments"},
        )
        pay = span(
            "payments",
            "POST /charge",
            charge_start + 2,
            0,
            kind="server",
            parent=charge,
            error=fail,
            attributes={"http.request.method": "POST", "http.route": "/charge"},
        )
        provider = span(
            "payments",
            "POST api.stripe.com",
            charge_start + 4,
            charge_start + 4 + stripe_ms,
            kind="client",
            parent=pay,
            error=fail,
            attributes={
                "http.request.method": "POST",
                "url.full": "https://api.stripe.com/v1/charges",
                "http.response.status_code": 502 if fail else 200,
            },
        )
        pay_end = provider.end_ns + 2_000_000
        pay.end_ns = pay_end
        charge.end_ns = pay_end + 1_500_000
        if fail:
            events[provider.span_id] = [
                {
                    "name": "exception",
                    "offset_ms": stripe_ms - 1,
                    "attributes": {
                        "exception.type": "UpstreamError",
                        "exception.message": "502 Bad Gateway from provider",
                    },
                }
            ]
        after = (charge.end_ns - builder.base_ns) / 1e6 - t0
        publish = span(
            "checkout",
            "orders publish",
            after + 1,
            after + 3,
            kind="producer",
            parent=served,
            attributes={"messaging.system": "kafka", "messaging.destination.name": "orders"},
        )
        consume = span(
            "shipping",
            "orders process",
            after + 15,
            after + 15 + jitter(20),
            kind="consumer",
            parent=publish,
            attributes={"messaging.system": "kafka", "messaging.destination.name": "orders"},
        )
        span("shipping", "plan shipment", after + 17, after + 30, parent=consume)
        end = after + 6
        served.end_ns = builder.base_ns + int((t0 + end) * 1e6)
        call.end_ns = served.end_ns + 1_000_000
        root.end_ns = call.end_ns + 2_000_000
    return builder.spans, events


def send_workload(grpc_endpoint: str, spans: list[SpanSpec], events: dict[bytes, list[dict[str, Any]]]) -> None:
    """Export through OTLP/gRPC in requests of about 40 traces, with events and status messages."""
    by_trace: dict[bytes, list[SpanSpec]] = {}
    for spec in spans:
        by_trace.setdefault(spec.trace_id, []).append(spec)
    groups = list(by_trace.values())
    with grpc.insecure_channel(grpc_endpoint) as channel:
        export = channel.unary_unary(TRACE_EXPORT)
        for start in range(0, len(groups), 40):
            batch = [spec for group in groups[start : start + 40] for spec in group]
            request = request_for(batch)
            starts = {spec.span_id: spec.start_ns for spec in batch}
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    scope_spans.scope.name = "shop-instrumentation"
                    scope_spans.scope.version = "0.9.0"
                    for span_pb in scope_spans.spans:
                        if span_pb.status.code == TRACE_PB2.Status.STATUS_CODE_ERROR:
                            span_pb.status.message = "upstream failed"
                        for event in events.get(span_pb.span_id, []):
                            event_pb = span_pb.events.add()
                            event_pb.name = event["name"]
                            event_pb.time_unix_nano = starts[span_pb.span_id] + int(event["offset_ms"] * 1e6)
                            for key, value in event["attributes"].items():
                                attribute = event_pb.attributes.add()
                                attribute.key = key
                                attribute.value.string_value = value
            export(request.SerializeToString(), timeout=30)


def incident_start_ns() -> int:
    return BASE_NS + INCIDENT_FROM * TRACE_GAP_MS * 1_000_000


# ---- fixtures ---------------------------------------------------------------------------


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    missing = missing_vendor_files()
    if missing:
        return f"console libraries missing ({', '.join(missing)}): npm ci --prefix glimpse/console"
    return None


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server on port 0 filled with the shop workload."""
    reason = _browser_missing()
    if reason:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)
    server = start_server(tmp_path_factory.mktemp("console") / "glimpse.duckdb")
    assert server.info is not None
    try:
        running = Running(server, server.info, str(server.settings.db_path))
        spans, events = build_workload()
        send_workload(running.grpc_endpoint, spans, events)
        yield running
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, console: Running) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, errors


def api(console: Running, path: str, **params: Any) -> Any:
    response = httpx.get(f"{console.api_url}{path}", params=params, timeout=30)
    response.raise_for_status()
    return response.json()


def open_page(page: Any, console: Running, path: str) -> None:
    """Load the console at ``#/path`` and wait until the page has rendered."""
    page.goto(f"{console.info.console_url}/#/{path}")
    page.wait_for_selector("#page[data-ready=true]")


def screenshot(page: Any, name: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(150)  # charts draw on the next animation frame
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def cli_json(console: Running, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--server", console.api_url, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def error_trace_id(console: Running) -> str:
    found = api(console, "/api/traces", service="payments", status="error", limit=1)
    return str(found["traces"][0]["trace_id"])


# ---- the server side ------------------------------------------------------------------


def test_console_port_follows_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from glimpse.settings import DEFAULT_CONSOLE_PORT, ENV_CONSOLE_PORT, ServerSettings

    monkeypatch.delenv(ENV_CONSOLE_PORT, raising=False)
    assert ServerSettings.from_env().console_bind_port == DEFAULT_CONSOLE_PORT == 4321
    assert ServerSettings.from_env(api_port=0).console_bind_port == 0  # tests: a free port
    assert ServerSettings.from_env(api_port=0, console_port=5000).console_bind_port == 5000
    monkeypatch.setenv(ENV_CONSOLE_PORT, "0")
    assert ServerSettings.from_env().console_bind_port == 0
    assert ServerSettings.from_env(console_port=4400).console_bind_port == 4400  # the flag beats the variable
    with pytest.raises(ValueError, match="console port"):
        ServerSettings(console_port=70000)


def test_console_serves_pages_libraries_and_the_api(console: Running) -> None:
    base = console.info.console_url
    assert console.info.console_port not in (0, console.info.api_port)
    index = httpx.get(f"{base}/", timeout=10)
    assert index.status_code == 200 and "importmap" in index.text
    for path in ("/vendor/cytoscape/cytoscape.esm.min.mjs", "/vendor/uplot/uPlot.esm.js", "/js/app.js"):
        response = httpx.get(base + path, timeout=10)
        assert response.status_code == 200, path
        assert "javascript" in response.headers["content-type"], path
    # the same API on the console's origin as on the API port
    assert httpx.get(f"{base}/api/health", timeout=10).json()["status"] == "ok"
    assert httpx.get(f"{base}/api/services", timeout=10).json() == api(console, "/api/services")


def test_services_api_counts_requests_and_buckets(console: Running) -> None:
    data = api(console, "/api/services")
    services = {row["service"]: row for row in data["services"]}
    assert set(services) == {"frontend", "checkout", "cart", "payments", "inventory", "shipping"}
    frontend = services["frontend"]
    assert frontend["requests"] == TRACES  # one root server span per trace
    assert sum(frontend["series"]["requests"]) == TRACES
    assert len(frontend["series"]["t"]) <= 60 and data["bucket_s"] == 30
    assert services["payments"]["errors"] > 0 and services["cart"]["errors"] == 0
    detail = api(console, "/api/services", service="payments")
    assert {op["operation"] for op in detail["operations"]} == {"POST /charge", "POST api.stripe.com"}


def test_trace_search_filters(console: Running) -> None:
    errors = api(console, "/api/traces", status="error", limit=500)["traces"]
    assert errors and all(trace["error_count"] > 0 for trace in errors)
    clean = api(console, "/api/traces", status="ok", service="payments", limit=500)["traces"]
    assert clean and all(trace["error_count"] == 0 for trace in clean)
    slow = api(console, "/api/traces", min_duration="150ms", limit=500)["traces"]
    assert slow and all(trace["duration_ns"] >= 150_000_000 for trace in slow)
    fast = api(console, "/api/traces", max_duration="0.1s", limit=500)["traces"]
    assert fast and all(trace["duration_ns"] <= 100_000_000 for trace in fast)
    by_attribute = api(console, "/api/traces", attr=["user.id=u3", "k8s.node.name=node-2"], limit=500)["traces"]
    assert by_attribute and all(trace["root_operation"] == "GET /checkout" for trace in by_attribute)
    by_operation = api(console, "/api/traces", service="inventory", operation="SELECT items", limit=3)
    assert len(by_operation["traces"]) == 3 and by_operation["truncated"]
    since = incident_start_ns()
    recent = api(console, "/api/traces", since=str(since), limit=500)["traces"]
    assert recent and all(trace["start_ns"] >= since - 5_000_000_000 for trace in recent)
    bad = httpx.get(f"{console.api_url}/api/traces", params={"min_duration": "soon"}, timeout=10)
    assert bad.status_code == 400 and "duration" in bad.json()["error"]


def test_trace_detail_carries_what_the_waterfall_shows(console: Running) -> None:
    trace_id = error_trace_id(console)
    detail = api(console, f"/api/traces/{trace_id}")
    path = cli_json(console, "critical-path", trace_id)
    assert [{k: v for k, v in s.items() if k != "offset_ns"} for s in detail["critical_path"]] == path["critical_path"]
    spans = {span["operation"]: span for span in detail["spans"]}
    provider = spans["POST api.stripe.com"]
    assert provider["attributes"]["url.full"] == "https://api.stripe.com/v1/charges"
    assert provider["resource"]["service.name"] == "payments"
    assert provider["events"][0]["name"] == "exception"
    assert provider["status_message"] == "upstream failed" and provider["critical"]
    missing = httpx.get(f"{console.api_url}/api/traces/{'0' * 31}1", timeout=10)
    assert missing.status_code == 404


# ---- the pages --------------------------------------------------------------------------


def test_services_page(page: Any, console: Running) -> None:
    open_page(page, console, "services")
    rows = page.locator("#services-table tbody tr")
    assert rows.count() == len(api(console, "/api/services")["services"])
    payments = page.locator("#services-table tbody tr", has_text="payments")
    assert "%" in payments.inner_text() and payments.locator("svg.spark").count() == 3
    screenshot(page, "services")
    payments.click()
    page.wait_for_selector(".detail-row .uplot")
    page.wait_for_selector(".detail-row table >> text=POST api.stripe.com")
    assert page.locator(".detail-row .uplot").count() == 3
    page.fill("input[type=search]", "inv")
    assert page.locator("#services-table tbody tr").count() == 1


def test_map_matches_the_graph_api(page: Any, console: Running) -> None:
    open_page(page, console, "map")
    graph = api(console, "/api/graph", format="json")
    counts = page.evaluate("[window.glimpseMap.nodes().length, window.glimpseMap.edges().length]")
    assert counts == [len(graph["nodes"]), len(graph["edges"])]
    kinds = page.evaluate("Object.fromEntries(window.glimpseMap.nodes().map(n => [n.id(), n.data('kind')]))")
    assert kinds["orders-db"] == "database" and kinds["api.stripe.com"] == "external" and kinds["user"] == "user"
    screenshot(page, "map")
    page.evaluate("window.glimpseMap.getElementById('payments').emit('tap') && null")
    side = page.locator("#map-side")
    side.locator("text=Called by (1)").wait_for()
    assert "checkout" in side.inner_text() and "api.stripe.com" in side.inner_text()
    page.evaluate("window.glimpseMap.getElementById('checkout->payments').emit('tap') && null")
    side.locator("h2", has_text="checkout → payments").wait_for()
    assert "calls" in side.inner_text()


def test_map_diff_between_two_windows(page: Any, console: Running) -> None:
    open_page(page, console, "map?diff=halves")
    side = page.locator("#map-side")
    side.locator("h2", has_text="Changes").wait_for()
    text = side.inner_text()
    assert "checkout → payments" in text and "errors" in text  # the failures start in the second half
    assert page.evaluate("window.glimpseMap.edges('.changed').length") >= 1
    screenshot(page, "map-diff")


def test_trace_search_page_opens_a_trace(page: Any, console: Running) -> None:
    open_page(page, console, "traces?service=payments&status=error&limit=20")
    rows = page.locator("#trace-results tr.trace-row")
    expected = api(console, "/api/traces", service="payments", status="error", limit=20)["traces"]
    assert rows.count() == len(expected)
    assert page.locator("svg.scatter circle").count() == len(expected)
    screenshot(page, "traces")
    rows.first.click()
    page.wait_for_url(f"**/#/trace/{expected[0]['trace_id']}*")
    page.wait_for_selector("#page[data-ready=true] #waterfall")
    assert page.locator(".wf-row").count() == expected[0]["span_count"]


def test_trace_view_highlights_the_clis_critical_path(page: Any, console: Running) -> None:
    trace_id = error_trace_id(console)
    open_page(page, console, f"trace/{trace_id}")
    shown = page.eval_on_selector_all(
        ".cp-seg", "els => els.map(e => [e.dataset.spanId, e.dataset.offsetNs, e.dataset.durationNs])"
    )
    shown = [[span_id, int(offset), int(duration)] for span_id, offset, duration in shown]
    path = cli_json(console, "critical-path", trace_id)
    cli = path["critical_path"]
    exact = [[s["span_id"], s["start_ns"] - path["start_ns"], s["end_ns"] - s["start_ns"]] for s in cli]
    assert sorted(shown) == sorted(exact)
    critical_rows = page.eval_on_selector_all(".wf-row[data-critical=true]", "els => els.map(e => e.dataset.spanId)")
    assert set(critical_rows) == {section["span_id"] for section in cli}
    page.locator(".wf-row", has_text="POST api.stripe.com").click()
    detail = page.locator(".wf-detail")
    for text in (
        "exception",
        "502 Bad Gateway from provider",
        "url.full",
        "k8s.pod.name",
        "upstream failed",
        "self time",
    ):
        assert text in detail.inner_text(), text
    screenshot(page, "trace", full_page=True)


def test_trace_view_marks_skew_adjustments(page: Any, console: Running) -> None:
    rows = console.sql(
        "SELECT s.trace_id FROM otel_traces s "
        "JOIN otel_traces c ON c.trace_id = s.trace_id AND c.span_id = s.parent_span_id "
        "WHERE s.span_name = 'GET /cart' AND epoch_ns(s.timestamp) + s.duration > epoch_ns(c.timestamp) + c.duration"
    )
    skewed = [row["trace_id"] for row in rows]
    assert len(skewed) == 1 and api(console, f"/api/traces/{skewed[0]}")["skew_detected"] == 2
    open_page(page, console, f"trace/{skewed[0]}")
    assert page.locator(".skew").count() == 0 and "skewed" in page.inner_text(".page")
    page.check("#adjust-skew")
    page.wait_for_selector(".wf-row .skew")
    assert page.locator(".wf-row .skew").count() == 2  # the cart server span and its child
    shown = page.eval_on_selector_all(".cp-seg", "els => els.map(e => e.dataset.spanId)")
    cli = cli_json(console, "critical-path", skewed[0], "--adjust-skew")["critical_path"]
    assert sorted(shown) == sorted(section["span_id"] for section in cli)


def test_bottlenecks_page(page: Any, console: Running) -> None:
    open_page(page, console, "bottlenecks")
    data = api(console, "/api/bottlenecks", limit=25)
    first = page.locator("#bottleneck-ranking tbody tr").first.inner_text()
    assert data["ranking"][0]["operation"] in first and data["ranking"][0]["service"] in first
    assert page.locator("#bottleneck-ranking tbody tr").count() == len(data["ranking"])
    assert "N+1 calls" in page.inner_text("#patterns")
    screenshot(page, "bottlenecks")
    page.locator("#patterns a.mono").first.click()
    page.wait_for_selector("#page[data-ready=true] #waterfall")
    assert page.locator(".wf-row.open").count() >= 5  # the N+1 queries are highlighted


def test_anomalies_page(page: Any, console: Running) -> None:
    open_page(page, console, "anomalies")
    response = httpx.get(f"{console.api_url}/api/anomalies", timeout=60)
    if response.status_code == 404:
        assert "not available" in page.inner_text("#not-available")
        screenshot(page, "anomalies")
        return
    data = response.json()
    assert data["anomalies"] and data["incidents"]  # the payment provider's failures
    assert page.locator("#anomaly-timeline .anomaly-bar").count() == len(data["anomalies"])
    assert page.locator("#incidents tbody tr").count() == len(data["incidents"])
    page.wait_for_selector("#anomaly-charts .uplot")
    screenshot(page, "anomalies")
    if page.locator("#more-signals").count():
        page.click("#more-signals")
    assert page.locator("#anomaly-charts .anomaly").count() == len(data["anomalies"])
    if data["correlation"]["entities"]:
        assert page.locator("#correlation td").count() == len(data["correlation"]["entities"]) ** 2


def test_root_causes_page(page: Any, console: Running) -> None:
    open_page(page, console, "rca")
    response = httpx.get(f"{console.api_url}/api/rca", timeout=60)
    if response.status_code == 404 and response.text.strip() in ("Not Found", ""):
        assert "not available" in page.inner_text("#not-available")
    elif response.status_code == 200:
        data = response.json()
        assert page.locator("#candidates .candidate").count() == len(data["candidates"])
        if data["candidates"]:
            page.wait_for_function("window.glimpseRcaMap !== undefined")
            ringed = set(page.evaluate("window.glimpseRcaMap.nodes('.highlight').map(n => n.id())"))
            assert set(data["incident"].get("services", [])) <= ringed
            assert data["candidates"][0]["service"] in ringed
    screenshot(page, "root-causes")


def test_sql_page_runs_a_query_and_downloads_csv(page: Any, console: Running) -> None:
    open_page(page, console, "sql")
    query = "SELECT service_name, count(*) AS spans FROM otel_traces GROUP BY ALL ORDER BY spans DESC, service_name"
    page.fill("#sql-input", query)
    page.click("#sql-run")
    page.wait_for_function("document.querySelector('#sql-summary')?.textContent.startsWith('6 rows')")
    expected = console.sql(query)
    cells = page.eval_on_selector_all(
        "#sql-table tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert cells == [[row["service_name"], str(row["spans"])] for row in expected]
    with page.expect_download() as download:
        page.click("#sql-csv")
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[0] == "service_name,spans" and f"checkout,{expected[0]['spans']}" in text
    screenshot(page, "sql")
    page.fill("#sql-input", "DELETE FROM otel_traces")
    page.click("#sql-run")
    page.wait_for_selector("#sql-output .error-box")
    assert console.scalar("SELECT count(*) FROM otel_traces") > 0


def test_dark_theme(page: Any, console: Running) -> None:
    page.emulate_media(color_scheme="dark")
    open_page(page, console, f"trace/{error_trace_id(console)}")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 18, 23)"
    screenshot(page, "trace-dark")
