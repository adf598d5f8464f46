"""The service dependency graph: a networkx ``DiGraph`` built from aggregated store rows.

Nodes are services and the peers nobody instrumented (databases, queues, external APIs,
and ``user`` for requests from outside). Every attribute is a scalar so that every export
format can carry it; lists (instances, hosts, zones) are comma-separated.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import networkx as nx

from analyzer.errors import NotFoundError

__all__ = ["NODE_KINDS", "build_operation_graph", "build_service_graph", "neighbourhood", "operation_node_id"]

NODE_KINDS = ("service", "database", "messaging", "external", "user")
_QUANTILES = ("p50", "p95", "p99")


def _ms(nanos: float | None) -> float | None:
    return None if nanos is None else round(nanos / 1e6, 3)


@cache
def _quantile_names(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{name}_ms" for name in _QUANTILES)


def _quantiles_ms(prefix: str, values: list[float] | None) -> dict[str, float | None]:
    values = values or [None, None, None]  # type: ignore[list-item]
    return {name: _ms(value) for name, value in zip(_quantile_names(prefix), values, strict=True)}


def _iso(nanos: int | None) -> str | None:
    if nanos is None:
        return None
    seconds, rest = divmod(nanos, 1_000_000_000)
    # time.gmtime: half the cost of datetime.fromtimestamp, the same text
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{rest:09d}Z"


def build_service_graph(
    edge_rows: Iterable[Mapping[str, Any]],
    node_rows: Iterable[Mapping[str, Any]],
    *,
    window_s: float,
) -> nx.DiGraph:
    """Build the graph from ``service_edge_rows`` and ``service_node_rows`` results.

    Parameters
    ----------
    edge_rows, node_rows
        Rows of storage.graph_queries (latencies in nanoseconds).
    window_s
        Length of the analysed window, for request rates.

    Returns
    -------
    A DiGraph whose nodes carry kind, span_count, request_rate, error_rate, p50/p95/p99_ms
    and platform attributes, and whose edges carry connection_type, calls, errors,
    error_rate, client- and server-side p50/p95/p99_ms, gap_mean_ms, first/last_seen.

    Examples
    --------
    >>> g = build_service_graph(
    ...     [{"client": "user", "server": "api", "server_kind": "service", "connection_type": "virtual",
    ...       "calls": 4, "errors": 1, "first_seen_ns": 0, "last_seen_ns": 1}],
    ...     [{"service": "api", "span_count": 9, "requests": 4, "request_errors": 1}], window_s=2.0)
    >>> g.nodes["api"]["request_rate"], g.nodes["user"]["kind"], g.edges["user", "api"]["error_rate"]
    (2.0, 'user', 0.25)
    """
    graph = nx.DiGraph()
    for row in node_rows:
        graph.add_node(row["service"], **_service_node(row, window_s))
    for row in edge_rows:
        client, server = row["client"], row["server"]
        if client not in graph:
            graph.add_node(client, **_peer_node("user" if client == "user" else "service"))
        if server not in graph:
            graph.add_node(server, **_peer_node(row.get("server_kind") or "service"))
        _add_edge(graph, client, server, row)
    return graph


def _service_node(row: Mapping[str, Any], window_s: float) -> dict[str, Any]:
    requests = int(row.get("requests") or 0)
    errors = int(row.get("request_errors") or 0)
    return {
        "kind": "service",
        "span_count": int(row.get("span_count") or 0),
        "request_rate": round(requests / window_s, 6) if window_s > 0 else 0.0,
        "error_rate": round(errors / requests, 6) if requests else 0.0,
        **_quantiles_ms("", row.get("server_ns_quantiles")),
        "namespace": row.get("namespace") or "",
        "instances": row.get("instances") or "",
        "hosts": row.get("hosts") or "",
        "zones": row.get("zones") or "",
    }


def _peer_node(kind: str) -> dict[str, Any]:
    return {"kind": kind, "span_count": 0, "request_rate": 0.0, "error_rate": 0.0}


def _add_edge(graph: nx.DiGraph, client: str, server: str, row: Mapping[str, Any]) -> None:
    calls = int(row["calls"])
    errors = int(row["errors"])
    if graph.has_edge(client, server):
        # the same pair over two connection types (e.g. http and virtual): keep the busier
        # type's latencies, add the counts
        existing = graph.edges[client, server]
        if existing["calls"] >= calls:
            existing["calls"] += calls
            existing["errors"] += errors
            existing["error_rate"] = round(existing["errors"] / existing["calls"], 6)
            return
        calls += existing["calls"]
        errors += existing["errors"]
    graph.add_edge(
        client,
        server,
        connection_type=row.get("connection_type") or "",
        calls=calls,
        errors=errors,
        error_rate=round(errors / calls, 6) if calls else 0.0,
        **_quantiles_ms("client_", row.get("client_ns_quantiles")),
        **_quantiles_ms("server_", row.get("server_ns_quantiles")),
        gap_mean_ms=_ms(row.get("gap_ns_mean")),
        handoff_mean_ms=_ms(row.get("handoff_ns_mean")),
        first_seen=_iso(row.get("first_seen_ns")),
        last_seen=_iso(row.get("last_seen_ns")),
    )


def operation_node_id(service: str, operation: str | None) -> str:
    """``service::operation``; a peer without an operation (a database, ``user``) keeps its name."""
    return service if operation is None else f"{service}::{operation}"


def build_operation_graph(edge_rows: Iterable[Mapping[str, Any]]) -> nx.DiGraph:
    """The operation-level graph from ``operation_edge_rows``: nodes are (service, operation).

    Node ids are ``service::operation`` with ``service``, ``operation`` and ``kind``
    attributes; edges carry the same statistics as the service graph's.
    """
    graph = nx.DiGraph()
    for row in edge_rows:
        ends = []
        for service, operation, kind in (
            (row["client"], row.get("client_op"), "user" if row["client"] == "user" else "service"),
            (row["server"], row.get("server_op"), row.get("server_kind") or "service"),
        ):
            node = operation_node_id(service, operation)
            if node not in graph:
                graph.add_node(node, **_peer_node(kind), service=service, operation=operation or "")
            ends.append(node)
        _add_edge(graph, ends[0], ends[1], row)
    return graph


def neighbourhood(graph: nx.DiGraph, centre: str | Iterable[str], depth: int) -> nx.DiGraph:
    """The subgraph within ``depth`` hops of ``centre`` (one node or several), following edges either way."""
    sources = [centre] if isinstance(centre, str) else list(centre)
    missing = [node for node in sources if node not in graph]
    if missing:
        raise NotFoundError(f"no service or peer named {missing[0]!r} in the graph")
    undirected = graph.to_undirected(as_view=True)
    reachable: set[str] = set()
    for source in sources:
        reachable.update(nx.single_source_shortest_path_length(undirected, source, cutoff=depth))
    return graph.subgraph(reachable).copy()
