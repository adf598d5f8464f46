"""The service graph from traces sent through OTLP, checked against hand-computed answers
and against the peer semantics in ../shared/peer-data/README.md."""

from __future__ import annotations

import json
from typing import Any

import httpx
import networkx as nx
import pytest
from typer.testing import CliRunner

from glimpse.cli import app
from storage import graph_queries
from storage.graph_queries import (
    bucket_quantiles,
    operation_edge_rows,
    resolve_window,
    service_edge_rows,
    service_edge_samples,
    window_slices,
)
from tests.conftest import Running
from tests.trace_builder import TraceBuilder, send

HTTP = {"http.request.method": "GET"}


def shop_trace(seed: int = 11) -> TraceBuilder:
    t = TraceBuilder(seed=seed)
    root = t.span("frontend", "GET /checkout", kind="server", start_ms=0, end_ms=100, attributes=HTTP)
    call_cart = t.span("frontend", "GET /cart", kind="client", parent=root, start_ms=5, end_ms=40, attributes=HTTP)
    cart_resource = {
        "k8s.pod.name": "cart-7f",
        "k8s.node.name": "node-a",
        "k8s.namespace.name": "shop",
        "cloud.availability_zone": "eu-west-1a",
    }
    cart = t.span(
        "cart",
        "GET /cart",
        kind="server",
        parent=call_cart,
        start_ms=10,
        end_ms=35,
        attributes=HTTP,
        resource=cart_resource,
    )
    t.span(
        "cart",
        "HGET",
        kind="client",
        parent=cart,
        start_ms=12,
        end_ms=20,
        resource=cart_resource,
        attributes={"db.system.name": "redis", "server.address": "redis-cart"},
    )
    call_checkout = t.span(
        "frontend", "Charge", kind="client", parent=root, start_ms=41, end_ms=90, attributes={"rpc.system": "grpc"}
    )
    checkout = t.span(
        "checkout",
        "Charge",
        kind="server",
        parent=call_checkout,
        start_ms=45,
        end_ms=88,
        error=True,
        attributes={"rpc.system": "grpc"},
    )
    t.span(
        "checkout",
        "POST",
        kind="client",
        parent=checkout,
        start_ms=50,
        end_ms=70,
        attributes={"http.request.method": "POST", "url.full": "https://api.stripe.com:443/v1/charges"},
    )
    publish = t.span(
        "checkout",
        "orders publish",
        kind="producer",
        parent=checkout,
        start_ms=71,
        end_ms=72,
        attributes={"messaging.system": "kafka", "messaging.destination.name": "orders"},
    )
    t.span(
        "email",
        "orders process",
        kind="consumer",
        parent=publish,
        start_ms=80,
        end_ms=95,
        attributes={"messaging.system": "kafka", "messaging.destination.name": "orders"},
    )
    t.span(
        "checkout",
        "audit publish",
        kind="producer",
        parent=checkout,
        start_ms=73,
        end_ms=74,
        attributes={"messaging.system": "kafka", "messaging.destination.name": "audit"},
    )
    return t


def graph_of(running: Running, **params: Any) -> nx.DiGraph:
    response = httpx.get(f"{running.api_url}/api/graph", params={"format": "json", **params})
    assert response.status_code == 200, response.text
    return nx.node_link_graph(response.json(), directed=True, edges="edges")


def edges_of(graph: nx.DiGraph) -> dict[tuple[str, str], dict[str, Any]]:
    return {(a, b): data for a, b, data in graph.edges(data=True)}


def test_shop_trace_edges_virtual_nodes_and_statistics(running: Running) -> None:
    send(running.grpc_endpoint, shop_trace().spans)
    graph = graph_of(running)
    edges = edges_of(graph)
    assert {key: data["connection_type"] for key, data in edges.items()} == {
        ("user", "frontend"): "virtual",
        ("frontend", "cart"): "http",
        ("cart", "redis-cart"): "database",
        ("frontend", "checkout"): "rpc",
        ("checkout", "api.stripe.com"): "virtual",
        ("checkout", "email"): "messaging",
        ("checkout", "kafka/audit"): "messaging",
    }
    kinds = {node: data["kind"] for node, data in graph.nodes(data=True)}
    assert kinds == {
        "user": "user",
        "frontend": "service",
        "cart": "service",
        "redis-cart": "database",
        "checkout": "service",
        "api.stripe.com": "external",
        "email": "service",
        "kafka/audit": "messaging",
    }
    cart_call = edges[("frontend", "cart")]
    assert cart_call["calls"] == 1 and cart_call["errors"] == 0
    assert cart_call["client_p50_ms"] == 35.0 and cart_call["server_p50_ms"] == 25.0
    assert cart_call["gap_mean_ms"] == 10.0
    assert cart_call["first_seen"] == "2023-11-14T22:13:20.005000000Z"
    assert edges[("frontend", "checkout")]["errors"] == 1 and edges[("frontend", "checkout")]["error_rate"] == 1.0
    assert edges[("checkout", "email")]["handoff_mean_ms"] == 8.0
    assert edges[("cart", "redis-cart")]["client_p50_ms"] == 8.0
    assert edges[("cart", "redis-cart")]["server_p50_ms"] is None
    cart_node = graph.nodes["cart"]
    assert cart_node["span_count"] == 2 and cart_node["p50_ms"] == 25.0
    assert (cart_node["instances"], cart_node["hosts"], cart_node["zones"], cart_node["namespace"]) == (
        "cart-7f",
        "node-a",
        "eu-west-1a",
        "shop",
    )
    assert graph.nodes["checkout"]["error_rate"] == 1.0
    assert graph.nodes["frontend"]["span_count"] == 3


def test_legacy_parent_child_pairs_and_batch_consumers_via_links(running: Running) -> None:
    t = TraceBuilder(seed=3)
    handle = t.span("legacy-a", "handle", kind="unspecified", start_ms=0, end_ms=10)
    t.span("legacy-b", "work", kind="unspecified", parent=handle, start_ms=1, end_ms=9)
    producers = []
    for index in range(2):
        t.new_trace()
        producers.append(
            t.span(
                "orders-svc",
                "publish",
                kind="producer",
                start_ms=index,
                end_ms=index + 1,
                attributes={"messaging.system": "kafka"},
            )
        )
    t.new_trace()
    t.span("batcher", "process batch", kind="consumer", start_ms=20, end_ms=30, links=producers)
    send(running.grpc_endpoint, t.spans)
    edges = edges_of(graph_of(running))
    assert edges[("legacy-a", "legacy-b")]["connection_type"] == ""
    assert edges[("orders-svc", "batcher")]["connection_type"] == "messaging"
    assert edges[("orders-svc", "batcher")]["calls"] == 2
    assert edges[("orders-svc", "batcher")]["handoff_mean_ms"] == 18.5  # (20 - 1 + 20 - 2) / 2
    assert ("user", "batcher") in edges
    assert set(edges) == {("legacy-a", "legacy-b"), ("orders-svc", "batcher"), ("user", "batcher")}


# service-graph connector cases (peer-data README, section 1)
def test_connector_failed_requests_are_counted_per_edge(running: Running) -> None:
    t = TraceBuilder(seed=5)
    for index in range(3):
        t.new_trace()
        client = t.span("foo", "call", kind="client", start_ms=0, end_ms=1000)
        t.span("bar", "serve", kind="server", parent=client, start_ms=0, end_ms=1000, error=index == 1)
    send(running.grpc_endpoint, t.spans)
    edge = edges_of(graph_of(running))[("foo", "bar")]
    assert (edge["calls"], edge["errors"]) == (3, 1)
    assert edge["client_p50_ms"] == 1000.0 and edge["server_p50_ms"] == 1000.0


def test_connector_kind_not_attributes_decides_the_edge(running: Running) -> None:
    t = TraceBuilder(seed=6)
    client = t.span(
        "foo-server", "call", kind="client", start_ms=0, end_ms=0.001, attributes={"messaging.system": "kafka"}
    )
    t.span(
        "bar-requester",
        "serve",
        kind="server",
        parent=client,
        start_ms=0,
        end_ms=0.001,
        attributes={"db.system": "postgresql"},
    )
    send(running.grpc_endpoint, t.spans)
    edges = edges_of(graph_of(running))
    assert set(edges) == {("foo-server", "bar-requester")}
    assert edges[("foo-server", "bar-requester")]["connection_type"] == ""


def test_connector_virtual_nodes_for_lone_client_and_root_server(running: Running) -> None:
    t = TraceBuilder(seed=7)
    t.span("foo-server", "call", kind="client", start_ms=0, end_ms=0.001)
    t.new_trace()
    t.span(
        "bar-requester",
        "serve",
        kind="server",
        start_ms=0,
        end_ms=0.001,
        attributes={"peer.service": "external-platform"},
    )
    t.new_trace()
    t.span("orphan", "serve", kind="server", start_ms=0, end_ms=1, orphan_parent=True)  # parent never arrives
    send(running.grpc_endpoint, t.spans)
    graph = graph_of(running)
    # the connector names an unknown peer "unknown"; for a root server glimpse follows the
    # connector ("user"), where Tempo would take the server span's peer.service
    assert set(edges_of(graph)) == {("foo-server", "unknown"), ("user", "bar-requester")}
    assert graph.nodes["unknown"]["kind"] == "external"


def test_connector_same_service_client_server_pair(running: Running) -> None:
    t = TraceBuilder(seed=8)
    client = t.span("some-service", "call", kind="client", start_ms=0, end_ms=1000)
    t.span("some-service", "serve", kind="server", parent=client, start_ms=0, end_ms=2000)
    send(running.grpc_endpoint, t.spans)
    edge = edges_of(graph_of(running))[("some-service", "some-service")]
    assert edge["calls"] == 1 and edge["client_p50_ms"] == 1000.0 and edge["server_p50_ms"] == 2000.0


# Tempo's database naming precedence (peer-data README, section 1, Tempo)
@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"server.address": "mythical-database", "db.system": "postgresql"}, "mythical-database"),
        (
            {"network.peer.address": "mythical-database", "network.peer.port": 5432, "db.system": "postgresql"},
            "mythical-database:5432",
        ),
        ({"db.namespace": "mydb", "db.system": "postgresql"}, "mydb"),
        ({"db.namespace": "priority-db", "db.name": "other-db"}, "priority-db"),
        ({"db.system.name": "postgresql"}, "postgresql"),
        ({"db.system": "postgresql", "db.system.name": "mssql"}, "mssql"),
        ({"peer.service": "billing-db", "server.address": "10.0.0.9", "db.system": "postgresql"}, "billing-db"),
        ({"db.name": "orders", "db.system": "mysql"}, "orders"),
    ],
)
def test_database_node_naming(running: Running, attributes: dict[str, Any], expected: str) -> None:
    t = TraceBuilder(seed=9)
    t.span("mythical-server", "query", kind="client", start_ms=0, end_ms=3, attributes=attributes)
    send(running.grpc_endpoint, t.spans)
    graph = graph_of(running)
    assert set(edges_of(graph)) == {("mythical-server", expected)}
    assert graph.nodes[expected]["kind"] == "database"
    assert graph.edges["mythical-server", expected]["connection_type"] == "database"


def test_window_neighbourhood_and_jaeger_dependencies(running: Running) -> None:
    send(running.grpc_endpoint, shop_trace().spans)
    base_ms = 1_700_000_000_000
    # only spans starting in [40 ms, 100 ms): the checkout part of the trace
    graph = graph_of(running, since=str((base_ms + 40) * 1_000_000), until=str((base_ms + 100) * 1_000_000))
    assert set(edges_of(graph)) == {
        ("frontend", "checkout"),
        ("checkout", "api.stripe.com"),
        ("checkout", "email"),
        ("checkout", "kafka/audit"),
    }
    around_cart = graph_of(running, service="cart", depth=1)
    assert set(around_cart.nodes) == {"frontend", "cart", "redis-cart"}
    response = httpx.get(f"{running.api_url}/api/dependencies", params={"endTs": base_ms + 1000, "lookback": 2000})
    deps = {(d["parent"], d["child"]): d["callCount"] for d in response.json()["data"]}
    assert deps[("frontend", "cart")] == 1 and len(deps) == 7
    assert httpx.get(f"{running.api_url}/api/graph", params={"service": "nope"}).status_code == 404


def test_cli_prints_a_table_and_exports(running: Running, tmp_path: Any) -> None:
    send(running.grpc_endpoint, shop_trace().spans)
    runner = CliRunner()
    table = runner.invoke(app, ["graph", "--db", running.db_path], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    for name in ("frontend", "redis-cart", "(database)", "api.stripe.com", "kafka/audit"):
        assert name in table.stdout
    target = tmp_path / "graph.graphml"
    exported = runner.invoke(app, ["graph", "--db", running.db_path, "--format", "graphml", "-o", str(target)])
    assert exported.exit_code == 0, exported.output
    assert set(nx.read_graphml(target).nodes) == set(graph_of(running).nodes)
    as_json = runner.invoke(app, ["graph", "--db", running.db_path, "--json"])
    assert len(json.loads(as_json.stdout)["edges"]) == 7
    bad = runner.invoke(app, ["graph", "--db", running.db_path, "--format", "png"])
    assert bad.exit_code == 1


def _calls(
    t: TraceBuilder, client: str, server: str, *, count: int, start_ms: float, latency_ms: float, errors: int = 0
) -> None:
    for index in range(count):
        t.new_trace()
        begin = start_ms + index * 10
        call = t.span(client, "call", kind="client", start_ms=begin, end_ms=begin + latency_ms + index % 3)
        t.span(
            server,
            "serve",
            kind="server",
            parent=call,
            start_ms=begin,
            end_ms=begin + latency_ms - 1,
            error=index < errors,
        )


def test_diff_between_two_windows(running: Running) -> None:
    t = TraceBuilder(seed=21)
    _calls(t, "foo", "bar", count=50, start_ms=0, latency_ms=10)  # baseline: [0 s, 1 s)
    t.new_trace()
    t.span("bar", "query", kind="client", start_ms=5, end_ms=7, attributes={"db.system.name": "postgresql"})
    _calls(t, "foo", "bar", count=50, start_ms=10_000, latency_ms=50, errors=20)  # current: [10 s, 11 s)
    _calls(t, "foo", "baz", count=3, start_ms=10_000, latency_ms=5)
    send(running.grpc_endpoint, t.spans)
    base = 1_700_000_000_000_000_000
    params = {"since": base + 10 * 10**9, "until": base + 11 * 10**9, "diff_since": base, "diff_until": base + 10**9}
    response = httpx.get(f"{running.api_url}/api/graph/diff", params=params)
    assert response.status_code == 200, response.text
    diff = response.json()
    assert diff["new_nodes"] == ["baz"] and diff["vanished_nodes"] == ["postgresql"]
    assert diff["new_edges"] == [{"client": "foo", "server": "baz"}]
    assert diff["vanished_edges"] == [{"client": "bar", "server": "postgresql"}]
    changes = {change["signal"]: change for change in diff["changed_edges"]}
    assert set(changes) == {"error_rate", "latency"}
    errors = changes["error_rate"]
    assert (errors["client"], errors["server"], errors["baseline"], errors["current"]) == ("foo", "bar", 0.0, 0.4)
    assert errors["test"] == "fisher_exact" and errors["p_value"] < 1e-6
    latency = changes["latency"]
    assert latency["baseline"] == 11.0 and latency["current"] == 51.0  # median client ms: 10 + (0, 1, 2)
    assert latency["baseline_n"] == 50 and latency["p_value"] < 1e-6
    cli = CliRunner().invoke(
        app,
        [
            "graph",
            "--db",
            running.db_path,
            "--json",
            *[f"--{key.replace('_', '-')}={value}" for key, value in params.items()],
        ],
    )
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout)["changed_edges"] == diff["changed_edges"]
    unchanged = httpx.get(f"{running.api_url}/api/graph/diff", params={**params, "since": base, "until": base + 10**9})
    assert unchanged.json()["changed_edges"] == [] and unchanged.json()["new_edges"] == []


def test_operation_level_graph(running: Running) -> None:
    send(running.grpc_endpoint, shop_trace().spans)
    graph = graph_of(running, operations="true")
    assert set(edges_of(graph)) == {
        ("user", "frontend::GET /checkout"),
        ("frontend::GET /cart", "cart::GET /cart"),
        ("cart::HGET", "redis-cart"),
        ("frontend::Charge", "checkout::Charge"),
        ("checkout::POST", "api.stripe.com"),
        ("checkout::orders publish", "email::orders process"),
        ("checkout::audit publish", "kafka/audit"),
    }
    assert graph.nodes["cart::GET /cart"]["service"] == "cart"
    assert graph.nodes["cart::GET /cart"]["operation"] == "GET /cart"
    assert graph.nodes["redis-cart"]["kind"] == "database"
    assert graph.edges["frontend::Charge", "checkout::Charge"]["errors"] == 1
    around_cart = graph_of(running, operations="true", service="cart", depth=1)
    assert set(around_cart.nodes) == {"cart::GET /cart", "cart::HGET", "frontend::GET /cart", "redis-cart"}


# Zipkin's dependency linker cases (peer-data README, section 4)
def test_zipkin_kindless_chain_and_server_under_server(running: Running) -> None:
    t = TraceBuilder(seed=31)
    client = t.span("some-client", "a", kind="unspecified", start_ms=0, end_ms=10)
    web = t.span("web", "b", kind="unspecified", parent=client, start_ms=1, end_ms=9)
    app_span = t.span("app", "c", kind="unspecified", parent=web, start_ms=2, end_ms=8)
    t.span("db", "d", kind="unspecified", parent=app_span, start_ms=3, end_ms=7)
    t.new_trace()
    first = t.span("service1", "serve", kind="server", start_ms=0, end_ms=10, orphan_parent=True)
    t.span("service2", "serve", kind="server", parent=first, start_ms=1, end_ms=9)
    send(running.grpc_endpoint, t.spans)
    send(running.grpc_endpoint, t.spans)  # the same trace twice: stored once, so counted once (Zipkin counts 2)
    edges = edges_of(graph_of(running))
    assert {key: data["calls"] for key, data in edges.items()} == {
        ("some-client", "web"): 1,
        ("web", "app"): 1,
        ("app", "db"): 1,
        ("service1", "service2"): 1,
    }


def _sliced_and_whole(running: Running, keys: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    assert running.server is not None
    con = running.server.read_cursor()
    try:
        window = resolve_window(con, None, None)
        rows = operation_edge_rows if keys == "operations" else service_edge_rows
        slices = window_slices(con, window, max_spans=1)
        assert slices is not None and len(slices) == running.scalar("SELECT count(DISTINCT timestamp) FROM otel_spans")
        return [dict(row) for row in rows(con, window, max_spans=1)], [dict(row) for row in rows(con, window)]
    finally:
        con.close()


@pytest.mark.parametrize("keys", ["services", "operations"])
def test_a_window_read_in_slices_gives_the_same_calls(running: Running, keys: str) -> None:
    """With room for one span a query, every span starts a slice of its own, and each call's
    answer (a child, a consumer, a batch consumer's link) lies in another slice: the calls,
    errors, means and first and last seen are the same as the whole window's, and the
    quantiles, from the slices' histograms, within 1 % of quantile_cont's."""
    spans = shop_trace().spans
    links = TraceBuilder(seed=4)
    producer = links.span("orders-svc", "publish", kind="producer", start_ms=200, end_ms=201)
    links.new_trace()
    links.span("batcher", "process batch", kind="consumer", start_ms=220, end_ms=230, links=[producer])
    send(running.grpc_endpoint, spans + links.spans)
    sliced, whole = _sliced_and_whole(running, keys)
    assert len(whole) == 9  # the shop trace's 7, orders-svc -> batcher and user -> batcher
    for cut, exact in zip(sliced, whole, strict=True):
        for name in ("client_ns_quantiles", "server_ns_quantiles"):
            approximate, expected = cut.pop(name), exact.pop(name)
            assert (approximate is None) == (expected is None)
            if expected is not None:
                assert approximate == pytest.approx(expected, rel=0.01)
        assert cut == exact


def test_histogram_quantiles_by_hand() -> None:
    """Durations 1 ms (bucket 1381: e^13.81 to e^13.82 ns) and three of 2 ms (bucket 1450):
    the median lies between the second and third 2 ms durations, spread across their bucket."""
    assert bucket_quantiles([]) is None
    p0, p50, p100 = bucket_quantiles([(1381, 1), (1450, 3)], [0.0, 0.5, 1.0])  # type: ignore[misc]
    assert p0 == pytest.approx(1e6, rel=0.01)
    assert p50 == pytest.approx(2e6, rel=0.01) and p50 > 1e6
    assert p0 < p50 < p100 < 2e6 * 1.01


def test_the_server_reads_a_window_larger_than_its_duckdb_share_holds_in_slices(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's DuckDB share sets how many spans one query of the graph may join; past
    it, /api/graph answers from slices with the same edges, nodes and calls."""
    send(running.grpc_endpoint, shop_trace().spans)
    whole = graph_of(running)
    monkeypatch.setattr(graph_queries, "JOIN_BYTES_PER_SPAN", 2**40)  # room for no span
    sliced = graph_of(running)
    assert dict(sliced.nodes(data=True)) == dict(whole.nodes(data=True))
    assert edges_of(sliced).keys() == edges_of(whole).keys()
    for key, edge in edges_of(whole).items():
        cut = edges_of(sliced)[key]
        assert (cut["calls"], cut["errors"], cut["gap_mean_ms"]) == (edge["calls"], edge["errors"], edge["gap_mean_ms"])
        assert (cut["client_p50_ms"] is None) == (edge["client_p50_ms"] is None)
        if edge["client_p50_ms"] is not None:
            assert cut["client_p50_ms"] == pytest.approx(edge["client_p50_ms"], rel=0.01)
    # from the slices' histograms, not quantile_cont's exact 35 ms
    assert edges_of(sliced)[("frontend", "cart")]["client_p50_ms"] != 35.0


def test_a_window_read_in_slices_samples_the_same_call_durations(running: Running) -> None:
    """The graph diff's duration samples: the calls with the smallest hashes, the same ones
    whether the window is read whole or a span a slice."""
    t = TraceBuilder(seed=8)
    for index in range(6):
        t.new_trace()
        client = t.span("foo", "call", kind="client", start_ms=index * 100, end_ms=index * 100 + 10 + index)
        t.span("bar", "serve", kind="server", parent=client, start_ms=index * 100 + 1, end_ms=index * 100 + 9)
    send(running.grpc_endpoint, t.spans)
    assert running.server is not None
    con = running.server.read_cursor()
    try:
        window = resolve_window(con, None, None)
        whole = service_edge_samples(con, window, per_edge=4)
        assert whole.keys() == {("foo", "bar")} and len(whole[("foo", "bar")]) == 4
        assert service_edge_samples(con, window, per_edge=4, max_spans=1) == whole
        assert sorted(service_edge_samples(con, window, per_edge=6)[("foo", "bar")]) == [
            (10 + index) * 1_000_000 for index in range(6)
        ]
    finally:
        con.close()
