"""Critical-path time across traces, checked against hand-computed answers."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from analyzer.query_service.bottlenecks import bottlenecks
from glimpse.cli import app
from storage.store import on_connection
from tests.conftest import Running
from tests.test_graph import shop_trace
from tests.trace_builder import TraceBuilder, send

MS = 1_000_000


def _admin_trace(seed: int) -> TraceBuilder:
    t = TraceBuilder(seed=seed)
    root = t.span("admin", "GET /report", kind="server", start_ms=0, end_ms=40)
    call = t.span("admin", "GET /cart", kind="client", parent=root, start_ms=5, end_ms=35)
    t.span("cart", "GET /cart", kind="server", parent=call, start_ms=10, end_ms=30)
    return t


@pytest.fixture
def filled(running: Running) -> Running:
    # per shop trace (ms on the critical path): frontend GET /checkout 16, frontend GET /cart 10,
    # cart GET /cart 17, cart HGET 8, frontend Charge 6, checkout Charge 21, checkout POST 20,
    # checkout orders publish 1, checkout audit publish 1 (the email consumer is not blocking)
    # admin trace: admin GET /report 10, admin GET /cart 10, cart GET /cart 20
    send(running.grpc_endpoint, shop_trace(seed=1).spans + shop_trace(seed=2).spans + _admin_trace(3).spans)
    return running


def _get(running: Running, **params: object) -> dict[str, object]:
    response = httpx.get(f"{running.api_url}/api/bottlenecks", params=params)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_ranking_shares_percentiles_and_evidence(filled: Running) -> None:
    result = _get(filled)
    assert result["traces"] == 3 and result["critical_ns"] == 240 * MS
    ranking = result["ranking"]
    assert isinstance(ranking, list)
    top = [(c["service"], c["operation"], c["total_ns"]) for c in ranking[:4]]
    assert top == [
        ("cart", "GET /cart", 54 * MS),
        ("checkout", "Charge", 42 * MS),
        ("checkout", "POST", 40 * MS),
        ("frontend", "GET /checkout", 32 * MS),
    ]
    cart = ranking[0]
    assert cart["traces"] == 3 and cart["share"] == round(54 / 240, 6)
    assert cart["p50_ns"] == 17 * MS and cart["p99_ns"] == pytest.approx(19.94 * MS)
    assert cart["endpoints"] == ["admin GET /report", "frontend GET /checkout"]
    assert cart["example_trace_ids"][0] == _admin_trace(3).trace_id.hex()  # where it cost most (20 ms)
    assert all(c["service"] != "email" for c in ranking)  # not blocking: never on the critical path
    assert [(c["service"], c["operation"]) for c in result["bottom_up"]] == [("cart", "GET /cart")]


def test_top_down_for_one_endpoint_and_service_filter(filled: Running) -> None:
    result = _get(filled, endpoint="frontend:GET /checkout")
    assert result["traces"] == 2
    assert result["ranking"][0]["operation"] == "Charge" and result["ranking"][0]["total_ns"] == 42 * MS
    assert list(result["top_down"]) == ["frontend GET /checkout"]
    only_cart = _get(filled, service="cart")
    assert [(c["operation"], c["total_ns"]) for c in only_cart["ranking"]] == [
        ("GET /cart", 54 * MS),
        ("HGET", 16 * MS),
    ]
    bad = httpx.get(f"{filled.api_url}/api/bottlenecks", params={"endpoint": "no-colon"})
    assert bad.status_code == 400


def test_cli(filled: Running) -> None:
    runner = CliRunner()
    table = runner.invoke(app, ["bottlenecks", "--db", filled.db_path], env={"COLUMNS": "220"})
    assert table.exit_code == 0, table.output
    assert "GET /cart" in table.stdout and "several endpoints" in table.stdout
    as_json = runner.invoke(app, ["bottlenecks", "--db", filled.db_path, "--json", "--limit", "2"])
    assert [c["total_ns"] for c in json.loads(as_json.stdout)["ranking"]] == [54 * MS, 42 * MS]


def test_patterns_with_evidence_and_savings(running: Running) -> None:
    t = TraceBuilder(seed=40)
    root = t.span("api", "GET /order", kind="server", start_ms=0, end_ms=300)
    selects = [
        t.span("api", "SELECT item", kind="client", parent=root, start_ms=10 + 10 * i, end_ms=20 + 10 * i)
        for i in range(6)
    ]  # N+1: 6 x 10 ms in a row -> saving 50 ms
    for i, failed in enumerate((True, True, False)):  # two failed attempts -> saving 20 ms
        t.span("api", "GET /price", kind="client", parent=root, start_ms=80 + 10 * i, end_ms=90 + 10 * i, error=failed)
    render = t.span("api", "render", kind="internal", parent=root, start_ms=115, end_ms=210)
    t.span("api", "GET /a", kind="client", parent=render, start_ms=120, end_ms=160)
    t.span("api", "GET /b", kind="client", parent=render, start_ms=160, end_ms=200)  # in parallel: saving 40 ms
    # the root's longest uncovered stretch: 210 -> 300 ms = 90 ms
    t.new_trace()
    batch = t.span("batch", "run", kind="server", start_ms=0, end_ms=100)
    for i in range(25):  # fan-out of 25; the slowest child takes 34 ms -> saving 66 ms
        t.span("batch", "fetch", kind="client", parent=batch, start_ms=10, end_ms=20 + i)
    t.new_trace()
    publish = t.span("shop", "publish", kind="producer", start_ms=0, end_ms=1)
    t.span("mailer", "consume", kind="consumer", parent=publish, start_ms=151, end_ms=160)  # hand-off 150 ms
    send(running.grpc_endpoint, t.spans)
    patterns = _get(running)["patterns"]
    assert isinstance(patterns, dict) and patterns["traces_scanned"] == 3
    found = {(p["pattern"], p["service"], p["operation"]): p for p in patterns["found"]}
    savings = {key: p["estimated_saving_ns"] // MS for key, p in found.items()}
    assert savings == {
        ("uninstrumented_gap", "api", "GET /order"): 90,
        ("fan_out", "batch", "run"): 66,
        ("uninstrumented_gap", "batch", "run"): 56,  # 44 -> 100 ms: nothing covers it
        ("n_plus_one", "api", "SELECT item"): 50,
        ("sequential_calls", "api", "render"): 40,
        ("retries", "api", "GET /price"): 20,
        ("slow_handoff", "mailer", "consume"): 150,
    }
    n_plus_one = found[("n_plus_one", "api", "SELECT item")]["examples"][0]
    assert n_plus_one["trace_id"] == selects[0].trace_id.hex()
    assert n_plus_one["parent_span_id"] == root.span_hex
    assert n_plus_one["span_ids"] == [s.span_hex for s in selects]
    assert n_plus_one["note"] == "6 calls in a row"


def test_past_so_many_spans_a_sample_of_whole_traces_is_analysed(running: Running) -> None:
    """40 traces of 3 spans: room for 30 spans is a quarter of them, and the answer says so;
    room for 200 traces alone would take them all."""
    send(running.grpc_endpoint, [span for seed in range(40) for span in _admin_trace(100 + seed).spans])
    assert running.server is not None
    everything = on_connection(running.server.read_cursor, bottlenecks, max_traces=200)
    assert (everything["traces"], everything["sampled_fraction"]) == (40, 1.0)
    sampled = on_connection(running.server.read_cursor, bottlenecks, max_traces=200, max_spans=30)
    assert sampled["sampled_fraction"] == 0.25
    assert 0 < sampled["traces"] < 40  # whole traces, chosen by their id's hash
    assert sampled["critical_ns"] == sampled["traces"] * 40 * MS  # each admin trace's critical path is 40 ms
