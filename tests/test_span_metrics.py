"""GET /metrics/spans: span-derived RED metrics named as the Collector's spanmetrics and
servicegraph connectors name them, equal to `glimpse graph --json` over the window they count,
cumulative from one scrape to the next, and read by a real Prometheus."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from glimpse.cli import app
from tests.conftest import Running, serving
from tests.sdk_shop import MS, send_shop
from tests.test_self_metrics import Scrape, _free_port, _query_until_found

DELAY_S = 0.2
SECOND = 1_000_000_000
DOCS = Path(__file__).resolve().parents[1] / "docs" / "grafana.md"


@pytest.fixture
def metered(db_path: Path) -> Iterator[Running]:
    with serving(db_path, span_metrics_delay_s=DELAY_S) as running:
        yield running


def scrape_spans(running: Running) -> Scrape:
    response = httpx.get(f"{running.api_url}/metrics/spans", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)


def counted_after(last_start_ns: int) -> None:
    """Wait until the cutoff (the clock less the delay, in whole seconds) is past a span time."""
    cutoff_needed = -(-(last_start_ns + 1) // SECOND) * SECOND
    while time.time_ns() - round(DELAY_S * SECOND) < cutoff_needed + 50 * MS:
        time.sleep(0.05)


def graph_json(running: Running, since_ns: int, until_ns: int) -> dict[str, Any]:
    result = CliRunner().invoke(
        app, ["graph", "--db", running.db_path, "--json", "--since", str(since_ns), "--until", str(until_ns)]
    )
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def window_of(metrics: Scrape) -> tuple[int, int]:
    start = metrics.value("glimpse_span_metrics_window_start_seconds")
    end = metrics.value("glimpse_span_metrics_window_end_seconds")
    return round(start * SECOND), round(end * SECOND)


def assert_equal_to_graph(metrics: Scrape, graph: dict[str, Any]) -> None:
    edges = {(edge["source"], edge["target"]): edge for edge in graph["edges"]}
    series = {(s.labels["client"], s.labels["server"]) for s in metrics.matching("traces_service_graph_request_total")}
    assert series == set(edges)
    for (client, server), edge in edges.items():
        pair = {"client": client, "server": server}
        assert metrics.total("traces_service_graph_request_total", **pair) == edge["calls"]
        assert metrics.total("traces_service_graph_request_failed_total", **pair) == edge["errors"]
        assert metrics.total("traces_service_graph_request_server_seconds_count", **pair) == edge["calls"]
        assert metrics.total("traces_service_graph_request_client_seconds_count", **pair) == edge["calls"]
    services = [node for node in graph["nodes"] if node["kind"] == "service"]
    for node in services:
        assert metrics.total("traces_span_metrics_calls_total", service_name=node["id"]) == node["span_count"]
    assert metrics.total("traces_span_metrics_calls_total") == sum(node["span_count"] for node in services)


def test_values_equal_the_graph_of_the_window_they_count(metered: Running) -> None:
    send_shop(metered, base_ns=time.time_ns() - 3600 * SECOND)  # before the server started: never counted
    shop = send_shop(metered)
    counted_after(shop.base_ns + 200 * MS)
    metrics = scrape_spans(metered)
    since_ns, until_ns = window_of(metrics)
    assert since_ns <= shop.base_ns < shop.base_ns + 200 * MS < until_ns
    graph = graph_json(metered, since_ns, until_ns)
    assert_equal_to_graph(metrics, graph)
    assert len(graph["edges"]) == 2  # user -> frontend, frontend -> payment: the old traces are not in it

    call = {"client": "frontend", "server": "payment", "connection_type": "", "failed": "true"}
    assert metrics.value("traces_service_graph_request_total", **call) == 1
    assert metrics.value("traces_service_graph_request_failed_total", **call) == 1
    # server side 90 ms, client side 100 ms: a bound is inclusive (le)
    assert metrics.value("traces_service_graph_request_server_seconds_bucket", le="0.05", **call) == 0
    assert metrics.value("traces_service_graph_request_server_seconds_bucket", le="0.1", **call) == 1
    assert metrics.value("traces_service_graph_request_server_seconds_sum", **call) == pytest.approx(0.09)
    assert metrics.value("traces_service_graph_request_client_seconds_bucket", le="0.1", **call) == 1
    assert metrics.value("traces_service_graph_request_client_seconds_sum", **call) == pytest.approx(0.1)
    # requests from outside: a virtual client, whose side counts a 0-second sample
    user = {"client": "user", "server": "frontend", "connection_type": "virtual_node", "failed": "false"}
    assert metrics.value("traces_service_graph_request_total", **user) == 2
    assert metrics.value("traces_service_graph_request_client_seconds_bucket", le="0.002", **user) == 2
    assert metrics.value("traces_service_graph_request_client_seconds_sum", **user) == 0
    assert metrics.matching("traces_service_graph_request_failed_total", **user) == []

    span = {"service_name": "payment", "span_name": "POST /pay", "span_kind": "SPAN_KIND_SERVER"}
    assert metrics.value("traces_span_metrics_calls_total", status_code="STATUS_CODE_ERROR", **span) == 1
    root = {"service_name": "frontend", "span_name": "GET /checkout", "status_code": "STATUS_CODE_UNSET"}
    assert metrics.value("traces_span_metrics_duration_seconds_bucket", le="0.1", **root) == 0
    assert metrics.value("traces_span_metrics_duration_seconds_bucket", le="0.2", **root) == 1
    assert metrics.value("traces_span_metrics_duration_seconds_bucket", le="+Inf", **root) == 1
    assert metrics.value("traces_span_metrics_duration_seconds_sum", **root) == pytest.approx(0.12)
    health = {"service_name": "frontend", "span_name": "GET /health", "span_kind": "SPAN_KIND_SERVER"}
    assert metrics.value("traces_span_metrics_calls_total", status_code="STATUS_CODE_OK", **health) == 1


def test_counters_accumulate_from_scrape_to_scrape(metered: Running) -> None:
    first = send_shop(metered)
    counted_after(first.base_ns + 200 * MS)
    before = scrape_spans(metered)
    second = send_shop(metered)
    counted_after(second.base_ns + 200 * MS)
    after = scrape_spans(metered)
    (start, middle), (same_start, end) = window_of(before), window_of(after)
    assert same_start == start and middle < second.base_ns and end > second.base_ns + 200 * MS
    call = {"client": "frontend", "server": "payment", "failed": "true"}
    assert before.total("traces_service_graph_request_total", **call) == 1
    assert after.total("traces_service_graph_request_total", **call) == 2
    assert after.total("traces_span_metrics_calls_total") == 2 * before.total("traces_span_metrics_calls_total") == 10
    assert_equal_to_graph(after, graph_json(metered, start, end))
    families = [line.split()[2] for line in after.text.splitlines() if line.startswith("# TYPE")]
    assert families == [
        "traces_span_metrics_calls_total",
        "traces_span_metrics_duration_seconds",
        "traces_service_graph_request_total",
        "traces_service_graph_request_failed_total",
        "traces_service_graph_request_server_seconds",
        "traces_service_graph_request_client_seconds",
        "glimpse_span_metrics_window_start_seconds",
        "glimpse_span_metrics_window_end_seconds",
    ]
    assert all(family.documentation for family in after.families.values())


def test_nothing_counted_while_span_time_is_within_the_delay(db_path: Path) -> None:
    with serving(db_path, span_metrics_delay_s=3600) as running:
        send_shop(running)
        metrics = scrape_spans(running)
    assert metrics.total("traces_span_metrics_calls_total") == 0
    assert metrics.value("glimpse_span_metrics_window_end_seconds") == metrics.value(
        "glimpse_span_metrics_window_start_seconds"
    )


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("prometheus") is None, reason="the prometheus binary is not installed")
def test_a_real_prometheus_scrapes_the_span_metrics(metered: Running, tmp_path: Path) -> None:
    shop = send_shop(metered)
    counted_after(shop.base_ns + 200 * MS)
    config = tmp_path / "prometheus.yml"
    target = metered.api_url.split("://", 1)[1]
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: glimpse-spans\n    metrics_path: /metrics/spans\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    port = _free_port()
    command = [
        "prometheus",
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with (tmp_path / "prometheus.log").open("wb") as log:
        prometheus = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            found = _query_until_found(base, 'traces_service_graph_request_total{client="frontend"}', timeout_s=60)
            assert found[0]["metric"]["server"] == "payment" and float(found[0]["value"][1]) == 1
            buckets = 'traces_service_graph_request_server_seconds_bucket{server="payment"}'
            latency = f"histogram_quantile(0.9, sum by (le) ({buckets}))"
            answer = _query_until_found(base, latency, timeout_s=30)
            assert 0.05 < float(answer[0]["value"][1]) <= 0.1
            for documented in _documented_queries():  # the docs' PromQL runs
                answer = httpx.get(f"{base}/api/v1/query", params={"query": documented}, timeout=30).json()
                assert answer["status"] == "success", (documented, answer)
        finally:
            prometheus.terminate()
            prometheus.wait(30)


def _documented_queries() -> list[str]:
    """The PromQL expressions of docs/grafana.md: its promql block, one after each comment."""
    (block,) = re.findall(r"```promql\n(.*?)```", DOCS.read_text(), re.S)
    return [query.strip() for query in re.split(r"^#.*$", block, flags=re.M) if query.strip()]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_the_documented_scrape_config_is_valid(tmp_path: Path) -> None:
    blocks = [block for block in DOCS.read_text().split("```yaml\n")[1:] if "scrape_configs:" in block]
    assert blocks, "docs/grafana.md has no Prometheus scrape config"
    for block in blocks:
        (tmp_path / "prometheus.yml").write_text(block.split("```")[0])
        result = subprocess.run(
            ["promtool", "check", "config", "prometheus.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr
