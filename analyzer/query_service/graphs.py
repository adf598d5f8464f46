"""The service dependency graph of a window, its diff against another window, and its exports."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import duckdb
import networkx as nx

from analyzer.errors import NotFoundError
from analyzer.graph import build_operation_graph, build_service_graph, neighbourhood
from analyzer.graph_diff import diff_graphs
from analyzer.graph_export import render
from analyzer.query_service.services import quantile_sample
from storage.graph_queries import (
    operation_edge_rows,
    resolve_window,
    service_edge_rows,
    service_edge_samples,
    service_node_rows,
)
from storage.window import SpanWindow

__all__ = ["jaeger_dependencies", "service_graph", "service_graph_diff", "service_graph_document"]


def service_graph(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    service: str | None = None,
    depth: int = 1,
    operations: bool = False,
) -> nx.DiGraph:
    """The graph of services (or, with ``operations``, of operations) that called each other
    in the window; with ``service``, only the nodes within ``depth`` hops of it."""
    window = resolve_window(con, since_ns, until_ns)
    if operations:
        graph = build_operation_graph(operation_edge_rows(con, window))
        graph.graph.update(since_ns=window.since_ns, until_ns=window.until_ns)
    else:
        graph = _graph_for(con, window)
    if service is not None:
        centre = [node for node, data in graph.nodes(data=True) if node == service or data.get("service") == service]
        if not centre:
            raise NotFoundError(f"no service or peer named {service!r} in this window")
        graph = neighbourhood(graph, centre, depth)
    return graph


def _graph_for(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> nx.DiGraph:
    # The services' latency quantiles are of the sample /api/services reads (a long window's
    # would not fit DuckDB's memory); a long window's edges are read in slices.
    sample = quantile_sample(con, window)
    # The two queries run side by side on cursors of their own: DuckDB leaves cores idle
    # in parts of each plan, and together they finish sooner.
    edges_cursor, nodes_cursor = con.cursor(), con.cursor()
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            nodes = pool.submit(service_node_rows, nodes_cursor, window, sample=sample)
            edges = service_edge_rows(edges_cursor, window)
            graph = build_service_graph(edges, nodes.result(), window_s=window.seconds)
    finally:
        edges_cursor.close()
        nodes_cursor.close()
    graph.graph.update(
        since_ns=window.since_ns, until_ns=window.until_ns, quantile_sampled_fraction=round(1 / sample, 6)
    )
    return graph


def service_graph_diff(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None,
    until_ns: int | None,
    baseline_since_ns: int | None,
    baseline_until_ns: int | None,
) -> dict[str, Any]:
    """What changed from the baseline window to the current one (see analyzer.graph_diff)."""
    current = resolve_window(con, since_ns, until_ns)
    baseline = resolve_window(con, baseline_since_ns, baseline_until_ns)
    diff = diff_graphs(
        _graph_for(con, baseline),
        _graph_for(con, current),
        baseline_samples=service_edge_samples(con, baseline),
        current_samples=service_edge_samples(con, current),
    )
    return {"baseline": baseline.as_dict(), "current": current.as_dict(), **diff.to_dict()}


def service_graph_document(con: duckdb.DuckDBPyConnection, fmt: str, **options: Any) -> str:
    """The service graph rendered in ``fmt`` (see analyzer.graph_export.FORMATS)."""
    return render(service_graph(con, **options), fmt)


def jaeger_dependencies(con: duckdb.DuckDBPyConnection, *, end_ts_ms: int, lookback_ms: int) -> list[dict[str, Any]]:
    """Jaeger's ``/api/dependencies`` answer for the window ending at ``end_ts_ms``."""
    window = SpanWindow((end_ts_ms - lookback_ms) * 1_000_000, end_ts_ms * 1_000_000)
    return list(json.loads(render(_graph_for(con, window), "jaeger")))
