"""The web console in headless Chromium (Debian's, driven by Playwright) against a real server.

One server is filled once for the module (through OTLP/gRPC), one browser opens every page
and checks what it shows against the API and the CLI. Every page's screenshot is taken;
with ``GLIMPSE_SCREENSHOTS=docs/screenshots`` they replace the ones the docs show,
otherwise they go to a temporary folder and the checkout stays clean.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import grpc
import httpx
import pytest
from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2
from typer.testing import CliRunner

import analyzer.query_service.services as services_module
from glimpse.cli import app
from glimpse.web.console import CONSOLE_DIR, VENDOR_PLACEHOLDER, load_vendor, missing_vendor_files
from tests.conftest import Running, start_server
from tests.trace_builder import TRACE_EXPORT, SpanSpec, TraceBuilder, request_for
from tracing.simulator.faults import Fault
from tracing.simulator.runner import run_history
from tracing.simulator.topology import load_topology

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = Path(os.environ.get("GLIMPSE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "glimpse-screenshots")
CHROMIUM = os.environ.get("GLIMPSE_CHROMIUM", "/usr/bin/chromium")

# The workload: the simulator's 13-service shop for ten minutes of span time, with the
# payment service slow and failing in the last three; plus one hand-made trace whose cart
# server span is 80 ms late (clock skew), with an event and a link.
SIM_START_NS = 1_700_000_000_000_000_000
SIM_S = 600
FAULT_FROM_S = 420
SKEW_MS = 80


def simulate(grpc_endpoint: str) -> None:
    faults = [
        Fault("latency", "payment", FAULT_FROM_S, SIM_S),
        Fault("errors", "payment", FAULT_FROM_S, SIM_S, magnitude=0.3),
    ]
    run_history("shop", grpc_endpoint, start_ns=SIM_START_NS, duration_s=SIM_S, seed=3, rate_per_s=3, faults=faults)


def skewed_trace(linked_trace_id: str) -> tuple[list[SpanSpec], dict[bytes, list[dict[str, Any]]]]:
    """frontend -> cart with the cart server span outside its client span."""
    builder = TraceBuilder(seed=11, base_ns=SIM_START_NS + 100 * 1_000_000_000)
    root = builder.span(
        "frontend",
        "GET /cart",
        kind="server",
        start_ms=0,
        end_ms=40,
        attributes={"http.request.method": "GET", "http.route": "/cart"},
    )
    call = builder.span(
        "frontend",
        "GET cart",
        kind="client",
        parent=root,
        start_ms=5,
        end_ms=30,
        attributes={"http.request.method": "GET", "server.address": "cart"},
    )
    served = builder.span(
        "cart",
        "GET /cart",
        kind="server",
        parent=call,
        start_ms=8 + SKEW_MS,
        end_ms=26 + SKEW_MS,
        error=True,
        attributes={"http.request.method": "GET"},
    )
    builder.span(
        "cart",
        "redis GET",
        kind="client",
        parent=served,
        start_ms=10 + SKEW_MS,
        end_ms=14 + SKEW_MS,
        attributes={"db.system.name": "redis", "server.address": "session-cache"},
    )
    served.links.append((bytes.fromhex(linked_trace_id), b"\x00" * 7 + b"\x01"))
    events = {
        served.span_id: [
            {
                "name": "exception",
                "offset_ms": 12,
                "attributes": {"exception.type": "CacheError", "exception.message": "session lost"},
            }
        ]
    }
    return builder.spans, events


def send_with_events(grpc_endpoint: str, spans: list[SpanSpec], events: dict[bytes, list[dict[str, Any]]]) -> None:
    """Export through OTLP/gRPC, with span events and error status messages."""
    request = request_for(spans)
    starts = {spec.span_id: spec.start_ns for spec in spans}
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span_pb in scope_spans.spans:
                if span_pb.status.code == TRACE_PB2.Status.STATUS_CODE_ERROR:
                    span_pb.status.message = "upstream failed"
                for event in events.get(span_pb.span_id, []):
                    event_pb = span_pb.events.add(name=event["name"])
                    event_pb.time_unix_nano = starts[span_pb.span_id] + int(event["offset_ms"] * 1e6)
                    for key, value in event["attributes"].items():
                        event_pb.attributes.add(key=key).value.string_value = value
    with grpc.insecure_channel(grpc_endpoint) as channel:
        channel.unary_unary(TRACE_EXPORT)(request.SerializeToString(), timeout=30)


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
    """A server on port 0 filled by the simulator (and one skewed trace)."""
    reason = _browser_missing()
    if reason:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)
    server = start_server(tmp_path_factory.mktemp("console") / "glimpse.duckdb")
    assert server.info is not None
    try:
        running = Running(server, server.info, str(server.settings.db_path))
        simulate(running.grpc_endpoint)
        linked = running.scalar("SELECT min(trace_id) FROM otel_traces")
        send_with_events(running.grpc_endpoint, *skewed_trace(linked))
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
    if page.url.startswith(console.info.console_url):  # a hash change: wait for the new render
        page.evaluate("document.getElementById('page').dataset.ready = 'stale'")
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
    found = api(console, "/api/traces", service="payment", status="error", limit=1)
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
    assert httpx.get(f"{base}/index.html", timeout=10).text == index.text
    scripts = ("/js/main.js", "/js/router.js", "/js/pages/map.js", "/js/components/graph.js")
    for path in ("/vendor/cytoscape/cytoscape.esm.min.mjs", "/vendor/uplot/uPlot.esm.js", *scripts):
        response = httpx.get(base + path, timeout=10)
        assert response.status_code == 200, path
        assert "javascript" in response.headers["content-type"], path
    # the same API on the console's origin as on the API port
    assert httpx.get(f"{base}/api/health", timeout=10).json()["status"] == "ok"
    assert httpx.get(f"{base}/api/services", timeout=10).json() == api(console, "/api/services")


def test_vendor_tags_come_from_package_json(console: Running) -> None:
    """package.json's "glimpseVendor" is the one list: index.html gets its importmap and stylesheets from it."""
    vendor = load_vendor()
    assert set(vendor.modules) == {"cytoscape", "cytoscape-dagre", "uplot"}
    dependencies = json.loads((CONSOLE_DIR / "package.json").read_text())["dependencies"]
    assert set(vendor.packages) <= set(dependencies)  # runtime dependencies, not the linter's
    assert VENDOR_PLACEHOLDER in (CONSOLE_DIR / "static" / "index.html").read_text()
    assert "/vendor/" not in (CONSOLE_DIR / "static" / "index.html").read_text()
    html = httpx.get(f"{console.info.console_url}/", timeout=10).text
    assert VENDOR_PLACEHOLDER not in html and vendor.head_tags() in html
    importmap = json.loads(html.split('<script type="importmap">', 1)[1].split("</script>", 1)[0])
    assert importmap == {"imports": {name: vendor.url(path) for name, path in vendor.modules.items()}}
    for path in vendor.files:
        response = httpx.get(console.info.console_url + vendor.url(path), timeout=10)
        assert response.status_code == 200, path
        assert response.content == (CONSOLE_DIR / "node_modules" / path).read_bytes(), path
    assert '<link rel="stylesheet" href="/vendor/uplot/uPlot.min.css">' in html


def test_package_data_ships_the_console_and_only_its_libraries() -> None:
    """pyproject's package-data: every console file and vendor bundle (with its LICENSE), nothing else from npm."""
    tomllib = pytest.importorskip("tomllib")
    package = ROOT / "glimpse"
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["glimpse"]
    shipped = {path for pattern in patterns for path in glob.glob(pattern, root_dir=package, recursive=True)}
    vendor = load_vendor()
    node_modules = "console/node_modules/"
    wanted = {node_modules + path for path in vendor.files}
    wanted |= {f"{node_modules}{name}/LICENSE" for name in vendor.packages}
    static = CONSOLE_DIR / "static"
    wanted |= {f"console/static/{path.relative_to(static)}" for path in static.rglob("*") if path.is_file()}
    wanted |= {"console/package.json", "console/package-lock.json"}
    assert not wanted - shipped, f"pyproject's package-data misses {sorted(wanted - shipped)}"
    extra = {path for path in shipped if path.startswith(node_modules)} - wanted
    assert not extra, f"pyproject's package-data sweeps up other npm packages' files: {sorted(extra)[:10]}"


def test_services_api_counts_requests_and_buckets(console: Running) -> None:
    data = api(console, "/api/services")
    services = {row["service"]: row for row in data["services"]}
    assert set(services) == set(load_topology("shop").services) | {"frontend", "cart"}
    requests = console.sql(
        "SELECT service_name, count(*) AS n, count(*) FILTER (WHERE status_code = 'Error') AS errors "
        "FROM otel_traces WHERE span_kind IN ('Server', 'Consumer') GROUP BY ALL"
    )
    for row in requests:
        red = services[row["service_name"]]
        assert (red["requests"], red["errors"]) == (row["n"], row["errors"])
        assert sum(red["series"]["requests"]) == row["n"]
    assert data["bucket_s"] == 10 and len(services["frontend"]["series"]["t"]) == 60
    payment = services["payment"]
    assert payment["errors"] > 0 and payment["p99_ms"] >= payment["p95_ms"] >= payment["p50_ms"] > 0
    late = payment["series"]["error_rate"][FAULT_FROM_S // 10 + 1 :]
    assert max(v or 0 for v in late) > max(v or 0 for v in payment["series"]["error_rate"][: FAULT_FROM_S // 10])
    detail = api(console, "/api/services", service="payment")
    names = {
        r["span_name"] for r in console.sql("SELECT DISTINCT span_name FROM otel_traces WHERE service_name = 'payment'")
    }
    assert {op["operation"] for op in detail["operations"]} == names


def test_trace_search_filters(console: Running) -> None:
    errors = api(console, "/api/traces", status="error", limit=500)["traces"]
    assert errors and all(trace["error_count"] > 0 for trace in errors)
    clean = api(console, "/api/traces", status="ok", service="payment", limit=500)["traces"]
    assert clean and all(trace["error_count"] == 0 for trace in clean)
    slow = api(console, "/api/traces", min_duration="150ms", limit=500)["traces"]
    assert slow and all(trace["duration_ns"] >= 150_000_000 for trace in slow)
    fast = api(console, "/api/traces", max_duration="0.01s", limit=500)["traces"]
    assert fast and all(trace["duration_ns"] <= 10_000_000 for trace in fast)
    pod = console.scalar("SELECT min(k8s_pod_name) FROM otel_traces WHERE service_name = 'payment'")
    by_attribute = api(console, "/api/traces", attr=["http.request.method=POST", f"k8s.pod.name={pod}"], limit=500)
    expected = console.scalar(
        "SELECT count(DISTINCT trace_id) FROM otel_traces WHERE span_attributes->>'$.\"http.request.method\"' = 'POST' "
        f"AND k8s_pod_name = '{pod}'"
    )
    assert len(by_attribute["traces"]) == expected > 0
    by_operation = api(console, "/api/traces", service="payment", operation="shop.PaymentService/Charge", limit=3)
    assert len(by_operation["traces"]) == 3 and by_operation["truncated"]
    assert all("payment" in trace["services"] for trace in by_operation["traces"])
    since = SIM_START_NS + FAULT_FROM_S * 1_000_000_000
    recent = api(console, "/api/traces", since=str(since), limit=500)["traces"]
    assert recent and all(trace["start_ns"] >= since - 5_000_000_000 for trace in recent)
    bad = httpx.get(f"{console.api_url}/api/traces", params={"min_duration": "soon"}, timeout=10)
    assert bad.status_code == 400 and "duration" in bad.json()["error"]


def test_durations_and_attribute_filters_parse() -> None:
    from analyzer.errors import InvalidQueryError
    from glimpse.params import duration_ns, trace_search_options

    assert [duration_ns(t) for t in ("250ms", "1.5s", "300us", "2m", "40", " 7 ns ", None)] == [
        250_000_000,
        1_500_000_000,
        300_000,
        120_000_000_000,
        40_000_000,
        7,
        None,
    ]
    with pytest.raises(InvalidQueryError, match="duration"):
        duration_ns("1 fortnight")
    options = trace_search_options({"attr": "http.route=/a=b", "status": "ok"})
    assert options["attributes"] == {"http.route": "/a=b"} and options["errors"] is False
    with pytest.raises(InvalidQueryError, match="key=value"):
        trace_search_options({"attr": "nothing"})


def test_trace_detail_carries_what_the_waterfall_shows(console: Running) -> None:
    trace_id = error_trace_id(console)
    detail = api(console, f"/api/traces/{trace_id}")
    path = cli_json(console, "critical-path", trace_id)
    assert [{k: v for k, v in s.items() if k != "offset_ns"} for s in detail["critical_path"]] == path["critical_path"]
    assert [span["self_ns"] for span in detail["spans"]] == [span["self_ns"] for span in path["spans"]]
    charge = next(span for span in detail["spans"] if span["service"] == "payment" and span["kind"] == "Server")
    assert charge["resource"]["service.name"] == "payment" and charge["resource"]["k8s.pod.name"]
    assert charge["attributes"] and charge["scope"]["name"]
    missing = httpx.get(f"{console.api_url}/api/traces/{'0' * 31}1", timeout=10)
    assert missing.status_code == 404


# ---- the pages --------------------------------------------------------------------------


def test_services_page(page: Any, console: Running) -> None:
    open_page(page, console, "services")
    rows = page.locator("#services-table tbody tr")
    assert rows.count() == len(api(console, "/api/services")["services"])
    payment = page.locator("#services-table tbody tr", has_text="payment")
    assert "%" in payment.inner_text() and payment.locator("svg.spark").count() == 3
    screenshot(page, "services")
    payment.click()
    page.wait_for_selector(".detail-row .uplot")
    page.wait_for_selector(".detail-row table >> text=shop.PaymentService/Charge")
    assert page.locator(".detail-row .uplot").count() == 3
    page.fill("input[type=search]", "curr")
    assert page.locator("#services-table tbody tr").count() == 1


def test_a_large_store_opens_on_a_recent_window(page: Any, console: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past CONSOLE_SPANS spans the console starts on the longest preset that holds about
    that many (here none does: the last 5 minutes); "All data" stays one choice away."""
    monkeypatch.setattr(services_module, "CONSOLE_SPANS", 1)
    extent = api(console, "/api/extent")
    assert extent["default_range"] == "5m"
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/api/services" in request.url else None)
    open_page(page, console, "services")
    assert page.locator("#range").input_value() == "5m"
    until = int(extent["last_ns"]) + 1
    window = dict(parse_qsl(urlsplit(asked[-1]).query))  # JSON numbers: JavaScript keeps ~16 digits
    assert abs(int(window["until"]) - until) < 1000 and int(window["until"]) - int(window["since"]) == 300 * 10**9
    recent = api(console, "/api/services", since=until - 300 * 10**9, until=until)["services"]
    assert page.locator("#services-table tbody tr").count() == len(recent)
    page.select_option("#range", "all")
    page.wait_for_url("**range=all*")
    page.wait_for_selector("#page[data-ready=true]")
    assert asked[-1].endswith("/api/services")
    assert page.locator("#services-table tbody tr").count() == len(api(console, "/api/services")["services"])
    page.click("#nav a[data-page=bottlenecks]")  # the next page keeps the window chosen
    page.wait_for_url("**#/bottlenecks?range=all")
    assert page.locator("#range").input_value() == "all"
    monkeypatch.undo()
    assert api(console, "/api/extent")["default_range"] == "all"


def test_map_matches_the_graph_api(page: Any, console: Running) -> None:
    open_page(page, console, "map")
    graph = api(console, "/api/graph", format="json")
    counts = page.evaluate("[window.glimpseMap.nodes().length, window.glimpseMap.edges().length]")
    assert counts == [len(graph["nodes"]), len(graph["edges"])]
    kinds = page.evaluate("Object.fromEntries(window.glimpseMap.nodes().map(n => [n.id(), n.data('kind')]))")
    assert kinds == {node["id"]: node["kind"] for node in graph["nodes"]}
    assert {"database", "external", "user", "service"} <= set(kinds.values())
    screenshot(page, "map")
    page.evaluate("window.glimpseMap.getElementById('payment').emit('tap') && null")
    side = page.locator("#map-side")
    side.locator("text=Called by (1)").wait_for()
    assert "checkout" in side.inner_text() and "payment-gateway" in side.inner_text()
    page.evaluate("window.glimpseMap.getElementById('checkout->payment').emit('tap') && null")
    side.locator("h2", has_text="checkout → payment").wait_for()
    assert "calls" in side.inner_text()


def test_map_diff_between_two_windows(page: Any, console: Running) -> None:
    open_page(page, console, "map?diff=halves")
    side = page.locator("#map-side")
    side.locator("h2", has_text="Changes").wait_for()
    assert "checkout → payment" in side.inner_text()  # slower and failing in the second half
    changed = page.evaluate("window.glimpseMap.edges('.changed').map(e => e.id())")
    assert "checkout->payment" in changed
    screenshot(page, "map-diff")


def test_trace_search_page_opens_a_trace(page: Any, console: Running) -> None:
    open_page(page, console, "traces")
    newest = api(console, "/api/traces", limit=50)["traces"]
    assert page.locator("#trace-results tr.trace-row").count() == len(newest) == 50
    screenshot(page, "traces")
    open_page(page, console, "traces?service=payment&status=error&limit=20")
    rows = page.locator("#trace-results tr.trace-row")
    expected = api(console, "/api/traces", service="payment", status="error", limit=20)["traces"]
    assert rows.count() == len(expected) > 0
    assert page.locator("svg.scatter circle").count() == len(expected)
    page.select_option("#trace-sort", "longest")
    durations = [t["duration_ns"] for t in sorted(expected, key=lambda t: -t["duration_ns"])]
    assert page.locator("#trace-results tr.trace-row").first.get_attribute("data-trace-id") in {
        t["trace_id"] for t in expected if t["duration_ns"] == durations[0]
    }
    first = rows.first.get_attribute("data-trace-id")
    rows.first.click()
    page.wait_for_url(f"**/#/trace/{first}*")
    page.wait_for_selector("#page[data-ready=true] #waterfall")
    assert page.locator(".wf-row").count() == next(t["span_count"] for t in expected if t["trace_id"] == first)


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
    page.locator(".wf-row", has_text="shop.PaymentService/Charge").first.click()
    detail = page.locator(".wf-detail")
    for text in ("self time", "on critical path", "k8s.pod.name", "service.version", "rpc.method"):
        assert text in detail.inner_text(), text
    screenshot(page, "trace", full_page=True)


def test_trace_view_marks_skew_adjustments(page: Any, console: Running) -> None:
    rows = console.sql("SELECT DISTINCT trace_id FROM otel_traces WHERE len(events) > 0 AND service_name = 'cart'")
    skewed = [row["trace_id"] for row in rows if api(console, f"/api/traces/{row['trace_id']}")["skew_detected"]]
    assert len(skewed) == 1
    open_page(page, console, f"trace/{skewed[0]}")
    assert page.locator(".skew").count() == 0 and "2 spans skewed" in page.inner_text(".page")
    page.locator(".wf-row", has_text="GET /cart").nth(1).click()
    detail = page.locator(".wf-detail").inner_text()
    assert "CacheError" in detail and "session lost" in detail and "links (1)" in detail.lower()
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
    assert page.locator("#patterns tbody tr").count() == len(data["patterns"]["found"]) > 0
    screenshot(page, "bottlenecks")
    example = data["patterns"]["found"][0]["examples"][0]
    page.locator("#patterns a.mono").first.click()
    page.wait_for_selector("#page[data-ready=true] #waterfall")
    highlighted = page.eval_on_selector_all(".wf-row.open", "els => els.map(e => e.dataset.spanId)")
    assert set(highlighted) == set(example["span_ids"])


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
    page.wait_for_function("document.querySelectorAll('#anomaly-charts .uplot').length >= 4")
    page.add_style_tag(content=".topbar { position: static; }")  # not over the element
    page.locator("#anomaly-charts").screenshot(path=str(SCREENSHOTS / "anomaly-signals.png"))
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
    expected = console.sql(query)
    page.fill("#sql-input", query)
    page.click("#sql-run")
    page.wait_for_function(f"document.querySelector('#sql-summary')?.textContent.startsWith('{len(expected)} rows')")
    cells = page.eval_on_selector_all(
        "#sql-table tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert cells == [[row["service_name"], str(row["spans"])] for row in expected]
    with page.expect_download() as download:
        page.click("#sql-csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines == ["service_name,spans", *(f"{row['service_name']},{row['spans']}" for row in expected)]
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
