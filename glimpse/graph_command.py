"""``glimpse graph``: fetch the graph (API or file) and render it for the terminal."""

from __future__ import annotations

import json
from typing import Any

import networkx as nx
from rich.table import Table

from glimpse.api import diff_options, graph_options
from glimpse.source import api_get, as_query_params, server_url_for, with_read_only
from glimpse.views import service_graph_diff, service_graph_document

__all__ = ["diff_table", "fetch_graph_diff", "fetch_graph_document", "graph_table"]


def fetch_graph_document(db_path: str, server: str | None, fmt: str, params: dict[str, Any]) -> str:
    url = server_url_for(db_path, server)
    if url is not None:
        return api_get(url, "/api/graph", {"format": fmt, **params}).text
    options = graph_options(as_query_params(params))
    return with_read_only(db_path, service_graph_document, fmt, **options)


def fetch_graph_diff(db_path: str, server: str | None, params: dict[str, Any]) -> dict[str, Any]:
    url = server_url_for(db_path, server)
    if url is not None:
        return dict(api_get(url, "/api/graph/diff", params).json())
    options = diff_options(as_query_params(params))
    return with_read_only(db_path, service_graph_diff, **options)


def diff_table(diff: dict[str, Any]) -> Table:
    """New, vanished and changed nodes and edges, one row each."""
    table = Table("change", "what", "baseline", "current", "test (p)", title="service graph diff")
    for node in diff["new_nodes"]:
        table.add_row("new node", node, "", "", "")
    for node in diff["vanished_nodes"]:
        table.add_row("vanished node", node, "", "", "")
    for edge in diff["new_edges"]:
        table.add_row("new edge", f"{edge['client']} -> {edge['server']}", "", "", "")
    for edge in diff["vanished_edges"]:
        table.add_row("vanished edge", f"{edge['client']} -> {edge['server']}", "", "", "")
    for change in diff["changed_edges"]:
        unit = " ms" if change["signal"] == "latency" else ""
        table.add_row(
            change["signal"].replace("_", " "),
            f"{change['client']} -> {change['server']}",
            f"{change['baseline']}{unit} (n={change['baseline_n']})",
            f"{change['current']}{unit} (n={change['current_n']})",
            f"{change['test']} ({change['p_value']:.2g})",
        )
    return table


def graph_table(node_link_json: str) -> Table:
    """Edges, busiest first, with their statistics."""
    graph = nx.node_link_graph(json.loads(node_link_json), directed=True, edges="edges")
    table = Table(
        "client", "server", "type", "calls", "errors", "client p95 ms", "server p95 ms", title="service graph"
    )
    edges = sorted(graph.edges(data=True), key=lambda edge: -edge[2].get("calls", 0))
    for client, server, data in edges:
        kind = graph.nodes[server].get("kind", "service")
        table.add_row(
            str(client),
            f"{server}" if kind == "service" else f"{server} ({kind})",
            data.get("connection_type") or "-",
            str(data.get("calls", 0)),
            f"{data.get('errors', 0)} ({data.get('error_rate', 0.0):.1%})",
            _num(data.get("client_p95_ms")),
            _num(data.get("server_p95_ms")),
        )
    return table


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:,.1f}"
