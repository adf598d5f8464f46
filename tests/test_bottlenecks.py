"""Critical-path time across traces, checked against hand-computed answers."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from glimpse.cli import app
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
