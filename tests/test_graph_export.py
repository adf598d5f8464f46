"""Service-graph exports, each checked by the tool (or the parser) that consumes it."""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import networkx as nx
import pytest

from analyzer.errors import InvalidQueryError
from analyzer.graph_export import (
    FORMATS,
    render,
    to_cytoscape_json,
    to_dot,
    to_gexf,
    to_grafana_node_graph,
    to_graphml,
    to_jaeger_dependencies,
    to_mermaid,
    to_node_link_json,
)

FRONTEND = "frontend"
CHECKOUT = 'checkout "v2" svc'
DATABASE = "mythical-database:5432"
QUEUE = "kafka/orders"
STRIPE = "api.stripe.com"
USER = "user"

# (parent, child) -> calls, errors, connection type
EDGES = {
    (USER, FRONTEND): (500, 5, "virtual"),
    (FRONTEND, CHECKOUT): (200, 4, "http"),
    (CHECKOUT, DATABASE): (180, 0, "database"),
    (CHECKOUT, QUEUE): (90, 0, "messaging"),
    (CHECKOUT, STRIPE): (40, 10, "http"),
}


def _edge_attrs(calls: int, errors: int, connection_type: str) -> dict[str, Any]:
    return {
        "connection_type": connection_type,
        "calls": calls,
        "errors": errors,
        "error_rate": errors / calls,
        "client_p50_ms": 10.5,
        "client_p95_ms": 45.25,
        "client_p99_ms": 99.0,
        "server_p50_ms": 8.0,
        "server_p95_ms": 40.125,
        "server_p99_ms": 90.5,
        "gap_mean_ms": 2.5,
        "first_seen": "2024-05-01T10:00:00.000000000Z",
        "last_seen": "2024-05-01T10:05:00.000000000Z",
    }


@pytest.fixture
def graph() -> nx.DiGraph:
    """Every node kind, awkward names, None values, and fully attributed edges."""
    g = nx.DiGraph(since="2024-05-01T10:00:00Z", until="2024-05-01T10:05:00Z")
    g.add_node(USER, kind="user", span_count=0, request_rate=0.0, error_rate=0.0)
    g.add_node(
        FRONTEND,
        kind="service",
        span_count=1200,
        request_rate=12.345,
        error_rate=0.025,
        p50_ms=12.5,
        p95_ms=45.0,
        p99_ms=120.75,
        namespace="shop",
        instances="frontend-1,frontend-2",
        hosts="node-a,node-b",
        zones="eu-west-1a",
        canary=False,
    )
    g.add_node(
        CHECKOUT,
        kind="service",
        span_count=800,
        request_rate=6.5,
        error_rate=0.1,
        p50_ms=None,
        p95_ms=None,
        p99_ms=None,
        namespace=None,
        instances="checkout-0",
        canary=True,
    )
    g.add_node(DATABASE, kind="database", span_count=0, request_rate=0.0, error_rate=0.0)
    g.add_node(QUEUE, kind="messaging", span_count=0, request_rate=0.0, error_rate=0.0)
    g.add_node(STRIPE, kind="external", span_count=0, request_rate=0.0, error_rate=0.0)
    for (parent, child), spec in EDGES.items():
        g.add_edge(parent, child, **_edge_attrs(*spec))
    g.edges[CHECKOUT, STRIPE]["server_p95_ms"] = None
    return g


def _present(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _assert_same_typed(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert actual == expected
    assert {key: type(value) for key, value in actual.items()} == {key: type(value) for key, value in expected.items()}


# --- GraphML and GEXF -------------------------------------------------------------------------


def test_graphml_round_trip_keeps_values_and_types(graph: nx.DiGraph) -> None:
    read = nx.read_graphml(io.BytesIO(to_graphml(graph).encode("utf-8")))
    assert read.is_directed()
    assert set(read.nodes) == set(graph.nodes)
    assert set(read.edges) == set(graph.edges)
    for node, data in graph.nodes(data=True):
        _assert_same_typed(read.nodes[node], _present(data))
    for parent, child, data in graph.edges(data=True):
        _assert_same_typed(read.edges[parent, child], _present(data))
    assert read.graph.items() >= graph.graph.items()


def test_gexf_round_trip_keeps_values_and_types(graph: nx.DiGraph) -> None:
    read = nx.read_gexf(io.BytesIO(to_gexf(graph).encode("utf-8")))
    assert read.is_directed()
    assert set(read.nodes) == set(graph.nodes)
    assert set(read.edges) == set(graph.edges)
    for node, data in graph.nodes(data=True):
        read_data = dict(read.nodes[node])
        assert read_data.pop("label") == node  # GEXF's own node label
        _assert_same_typed(read_data, _present(data))
    for parent, child, data in graph.edges(data=True):
        read_data = dict(read.edges[parent, child])
        read_data.pop("id")  # GEXF's own edge id
        _assert_same_typed(read_data, _present(data))


@pytest.mark.parametrize("export", [to_graphml, to_gexf])
def test_xml_formats_unify_mixed_attribute_types(export: Callable[[nx.DiGraph], str]) -> None:
    g = nx.DiGraph()
    g.add_node("a", request_rate=0, zone=1)
    g.add_node("b", request_rate=2.5, zone="eu-1")
    reader = nx.read_graphml if export is to_graphml else nx.read_gexf
    read = reader(io.BytesIO(export(g).encode("utf-8")))
    assert [read.nodes[n]["request_rate"] for n in "ab"] == [0.0, 2.5]
    assert isinstance(read.nodes["a"]["request_rate"], float)
    assert [read.nodes[n]["zone"] for n in "ab"] == ["1", "eu-1"]


@pytest.mark.parametrize("export", [to_graphml, to_gexf])
def test_xml_formats_export_a_graph_they_read(graph: nx.DiGraph, export: Callable[[nx.DiGraph], str]) -> None:
    reader = nx.read_graphml if export is to_graphml else nx.read_gexf
    text = export(graph)
    again = export(reader(io.BytesIO(text.encode("utf-8"))))
    assert set(reader(io.BytesIO(again.encode("utf-8"))).edges) == set(graph.edges)


# --- JSON formats -----------------------------------------------------------------------------


def test_node_link_json_round_trip(graph: nx.DiGraph) -> None:
    data = json.loads(to_node_link_json(graph))
    assert nx.utils.graphs_equal(nx.node_link_graph(data, edges="edges"), graph)
    checkout = next(node for node in data["nodes"] if node["id"] == CHECKOUT)
    assert checkout["p95_ms"] is None


def test_json_formats_write_non_finite_numbers_as_null() -> None:
    g = nx.DiGraph()
    g.add_node("a", p95_ms=math.nan, error_rate=math.inf)
    g.add_edge("a", "b", calls=3, client_p95_ms=math.nan)
    for fmt in ("json", "cytoscape", "grafana", "jaeger"):
        json.loads(render(g, fmt), parse_constant=pytest.fail)
    node = json.loads(to_node_link_json(g))["nodes"][0]
    assert node["p95_ms"] is None
    assert node["error_rate"] is None


def test_cytoscape_elements_are_consistent(graph: nx.DiGraph) -> None:
    data = json.loads(to_cytoscape_json(graph))
    nodes, edges = data["elements"]["nodes"], data["elements"]["edges"]
    assert len(nodes) == graph.number_of_nodes()
    assert len(edges) == graph.number_of_edges()
    ids = [element["data"]["id"] for element in nodes + edges]
    assert len(set(ids)) == len(ids)
    node_ids = {node["data"]["id"] for node in nodes}
    assert node_ids == set(graph.nodes)
    for edge in edges:
        assert {edge["data"]["source"], edge["data"]["target"]} <= node_ids
    assert data["data"] == graph.graph


def test_cytoscape_round_trip(graph: nx.DiGraph) -> None:
    read = nx.cytoscape_graph(json.loads(to_cytoscape_json(graph)))
    assert read.is_directed()
    assert set(read.nodes) == set(graph.nodes)
    assert set(read.edges) == set(graph.edges)
    for node, data in graph.nodes(data=True):
        assert read.nodes[node].items() >= data.items()
    for parent, child, data in graph.edges(data=True):
        assert read.edges[parent, child].items() >= data.items()


def test_jaeger_dependencies_one_link_per_edge(graph: nx.DiGraph) -> None:
    links = json.loads(to_jaeger_dependencies(graph))
    assert all(set(link) == {"parent", "child", "callCount"} for link in links)
    assert sorted((link["parent"], link["child"], link["callCount"]) for link in links) == [
        (CHECKOUT, STRIPE, 40),
        (CHECKOUT, QUEUE, 90),
        (CHECKOUT, DATABASE, 180),
        (FRONTEND, CHECKOUT, 200),
        (USER, FRONTEND, 500),
    ]


def test_grafana_node_graph_fields(graph: nx.DiGraph) -> None:
    frames = json.loads(to_grafana_node_graph(graph))
    assert set(frames) == {"nodes", "edges"}
    node_fields = {"id", "title", "mainStat", "secondaryStat", "arc__success", "arc__failed"}
    assert all(set(node) == node_fields for node in frames["nodes"])
    assert all(set(edge) == {"id", "source", "target", "mainStat", "secondaryStat"} for edge in frames["edges"])
    nodes = {node["id"]: node for node in frames["nodes"]}
    assert set(nodes) == set(graph.nodes)
    for node_id, node in nodes.items():
        assert node["arc__success"] + node["arc__failed"] == pytest.approx(1.0)
        assert node["arc__failed"] == pytest.approx(graph.nodes[node_id]["error_rate"])
    assert (nodes[FRONTEND]["mainStat"], nodes[FRONTEND]["secondaryStat"]) == ("12.3 req/s", "p95 45 ms")
    assert nodes[DATABASE]["mainStat"] == "180 calls"
    edge_ids = [edge["id"] for edge in frames["edges"]]
    assert len(set(edge_ids)) == len(edge_ids) == graph.number_of_edges()
    assert {(edge["source"], edge["target"]) for edge in frames["edges"]} == set(graph.edges)
    stripe = next(edge for edge in frames["edges"] if edge["target"] == STRIPE)
    assert (stripe["mainStat"], stripe["secondaryStat"]) == ("40 calls, 25% err", "p95 45.2 ms")


# --- DOT --------------------------------------------------------------------------------------


def _run_dot(source: str) -> str:
    """SVG from Graphviz; skips without ``dot`` locally, fails without it in CI."""
    if shutil.which("dot") is None:
        if os.environ.get("CI"):
            pytest.fail("Graphviz `dot` is not installed (CI must install graphviz)")
        pytest.skip("Graphviz `dot` is not installed")
    result = subprocess.run(["dot", "-Tsvg"], input=source, capture_output=True, text=True, encoding="utf-8")
    assert result.returncode == 0, result.stderr
    return result.stdout


def _svg_texts(svg: str, tag: str) -> list[str]:
    root = ET.fromstring(svg)
    return [element.text or "" for element in root.iter(f"{{http://www.w3.org/2000/svg}}{tag}")]


def test_dot_renders_every_node_and_edge(graph: nx.DiGraph) -> None:
    source = to_dot(graph)
    assert f'"{DATABASE}"' in source
    titles = set(_svg_texts(_run_dot(source), "title"))
    assert set(graph.nodes) <= titles
    assert {f"{parent}->{child}" for parent, child in graph.edges} <= titles


def test_dot_styles_nodes_by_kind_and_edges_by_error_rate(graph: nx.DiGraph) -> None:
    lines = to_dot(graph).splitlines()
    database = next(line for line in lines if line.startswith(f'  "{DATABASE}" ['))
    assert 'shape="cylinder"' in database
    stripe = next(line for line in lines if f'-> "{STRIPE}"' in line)
    assert 'label="40 calls\\n25% err"' in stripe
    assert 'color="#d62728"' in stripe


def test_dot_labels_show_backslashes_and_markup_literally() -> None:
    names = ["back\\slash", "ends with \\", 'quote\\"mix', "<b>&amp;</b>", "x & y"]
    g = nx.DiGraph()
    g.add_edges_from(itertools.pairwise(names))
    assert set(names) <= set(_svg_texts(_run_dot(to_dot(g)), "text"))


# --- Mermaid ----------------------------------------------------------------------------------

_MERMAID_NODE = re.compile(r'    (n\d+)(\[\(|\[/|\{\{|\(\(|\(|\[)"([^"]*)"(\)\]|/\]|\}\}|\)\)|\)|\])')
_MERMAID_EDGE = re.compile(r'    (n\d+) (-->|-\.->)\|"([^"]*)"\| (n\d+)')
_MERMAID_LINK_STYLE = re.compile(r"    linkStyle (\d+) stroke:#[0-9a-f]{6},stroke-width:2px")
_MERMAID_ENTITIES = {"#quot;": '"', "#35;": "#", "#amp;": "&", "#lt;": "<", "#gt;": ">", "#96;": "`"}


def _mermaid_label(text: str) -> str:
    return re.sub("|".join(_MERMAID_ENTITIES), lambda match: _MERMAID_ENTITIES[match.group()], text)


def _parse_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Node id -> label and (source id, target id, label) edges; fails on any other line."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []
    for line in lines[1:]:
        if node := _MERMAID_NODE.fullmatch(line):
            assert node[1] not in nodes, f"declared twice: {line}"
            nodes[node[1]] = _mermaid_label(node[3])
        elif edge := _MERMAID_EDGE.fullmatch(line):
            assert {edge[1], edge[4]} <= set(nodes), f"undeclared node: {line}"
            edges.append((edge[1], edge[4], _mermaid_label(edge[3])))
        else:
            style = _MERMAID_LINK_STYLE.fullmatch(line)
            assert style is not None, f"unexpected line: {line!r}"
            assert int(style[1]) < len(edges)
    return nodes, edges


def test_mermaid_declares_every_node_and_edge(graph: nx.DiGraph) -> None:
    text = to_mermaid(graph)
    nodes, edges = _parse_mermaid(text)
    assert sorted(nodes.values()) == sorted(graph.nodes)
    by_label = {label: node_id for node_id, label in nodes.items()}
    assert len(edges) == graph.number_of_edges()
    labelled = {(nodes[source], nodes[target]): label for source, target, label in edges}
    assert labelled.keys() == set(graph.edges)
    assert labelled[CHECKOUT, STRIPE] == "40 calls, 25% err"
    assert f'    {by_label[DATABASE]}[("{DATABASE}")]' in text.splitlines()


def test_mermaid_escapes_awkward_names() -> None:
    names = ['say "hi"', "a#1;b", "<script>", "`md`", "x & y", "two\nlines"]
    g = nx.DiGraph()
    g.add_edges_from(itertools.pairwise(names))
    nodes, edges = _parse_mermaid(to_mermaid(g))
    assert sorted(nodes.values()) == sorted(name.replace("\n", " ") for name in names)
    assert len(edges) == len(names) - 1


# --- registry ---------------------------------------------------------------------------------


def test_formats_registry_and_render(graph: nx.DiGraph) -> None:
    assert list(FORMATS) == ["json", "graphml", "gexf", "dot", "cytoscape", "mermaid", "jaeger", "grafana"]
    assert render(graph, "mermaid") == to_mermaid(graph)


def test_render_rejects_unknown_format(graph: nx.DiGraph) -> None:
    with pytest.raises(InvalidQueryError, match="png") as raised:
        render(graph, "png")
    assert all(name in str(raised.value) for name in FORMATS)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_empty_graph_renders(fmt: str) -> None:
    assert render(nx.DiGraph(), fmt)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_graph_without_attributes_renders(fmt: str) -> None:
    g = nx.DiGraph(since=None)
    g.add_edge("a", "b")
    g.add_node("c", kind=None)
    assert render(g, fmt)
