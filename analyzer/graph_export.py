"""Render the service dependency graph (a networkx ``DiGraph``) as text in the formats tools read.

Every function takes the graph built by :func:`analyzer.graph.build_service_graph` and returns
a ``str``. Attributes may be missing or ``None``: JSON formats show ``None`` as ``null``, GraphML
and GEXF leave it out (they cannot store it). GraphML and GEXF come from networkx's writers; DOT
and Mermaid are written here, because networkx's DOT writer needs pydot.

Examples
--------
>>> import networkx as nx
>>> g = nx.DiGraph()
>>> g.add_edge("user", "db:5432", calls=3)
>>> json.loads(render(g, "jaeger"))
[{'parent': 'user', 'child': 'db:5432', 'callCount': 3}]
"""

from __future__ import annotations

import io
import json
import logging
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from analyzer.errors import InvalidQueryError

if TYPE_CHECKING:
    import networkx as nx

# The writers import networkx where they call it: the CLI imports this module for the format
# names, and `glimpse serve` need not hold networkx (12 MiB) until a graph is asked for.

__all__ = [
    "FORMATS",
    "render",
    "to_cytoscape_json",
    "to_dot",
    "to_gexf",
    "to_grafana_node_graph",
    "to_graphml",
    "to_jaeger_dependencies",
    "to_mermaid",
    "to_node_link_json",
]

logger = logging.getLogger(__name__)

_Scalar = str | int | float | bool

# (lowest error rate, colour): the first row whose threshold the rate exceeds wins
_ERROR_COLOURS = ((0.05, "#d62728"), (0.01, "#ff7f0e"), (0.0, "#bcbd22"))
_OK_COLOUR = "#555555"

_DOT_NODE_STYLES: dict[str, dict[str, str]] = {
    "service": {"shape": "box", "style": "rounded,filled", "fillcolor": "#e8f0fe"},
    "database": {"shape": "cylinder", "style": "filled", "fillcolor": "#fff3e0"},
    "messaging": {"shape": "cds", "style": "filled", "fillcolor": "#f3e5f5"},
    "external": {"shape": "box", "style": "dashed"},
    "user": {"shape": "ellipse", "style": "filled", "fillcolor": "#eeeeee"},
}
_DOT_EDGE_STYLES = {"messaging": "dashed", "virtual": "dotted"}
_MERMAID_DOTTED = frozenset(_DOT_EDGE_STYLES)

_MERMAID_SHAPES = {
    "service": ("(", ")"),
    "database": ("[(", ")]"),
    "messaging": ("[/", "/]"),
    "external": ("{{", "}}"),
    "user": ("((", "))"),
}
_MERMAID_ESCAPES = str.maketrans(
    {"#": "#35;", '"': "#quot;", "&": "#amp;", "<": "#lt;", ">": "#gt;", "`": "#96;", "\n": " ", "\r": " "}
)


# --- JSON formats -----------------------------------------------------------------------------


def to_node_link_json(graph: nx.DiGraph) -> str:
    """networkx node-link JSON (``nodes`` and ``edges``); read back with ``nx.node_link_graph``."""
    import networkx as nx

    return _dumps(nx.node_link_data(graph, edges="edges"))


def to_cytoscape_json(graph: nx.DiGraph) -> str:
    """Cytoscape.js JSON (networkx ``cytoscape_data``) with ids on edges and graph data as an object."""
    import networkx as nx

    data: dict[str, Any] = nx.cytoscape_data(graph)
    data["data"] = dict(data["data"])
    edges: list[dict[str, Any]] = data["elements"]["edges"]
    taken = {str(node) for node in graph}
    for edge, edge_id in zip(edges, _edge_ids(graph, taken), strict=True):
        edge["data"]["id"] = edge_id
    return _dumps(data)


def to_jaeger_dependencies(graph: nx.DiGraph) -> str:
    """Jaeger's ``/api/dependencies`` links: ``[{"parent", "child", "callCount"}]``, one per edge."""
    links = [
        {"parent": str(parent), "child": str(child), "callCount": _calls(data)}
        for parent, child, data in graph.edges(data=True)
    ]
    return _dumps(links)


def to_grafana_node_graph(graph: nx.DiGraph) -> str:
    """Grafana node-graph panel frames: ``{"nodes": [...], "edges": [...]}`` with its field names."""
    nodes = [_grafana_node(graph, node, data) for node, data in graph.nodes(data=True)]
    edges = [
        {
            "id": edge_id,
            "source": str(source),
            "target": str(target),
            "mainStat": _calls_text(data),
            "secondaryStat": _latency_text(_number(data, "client_p95_ms") or _number(data, "server_p95_ms")),
        }
        for (source, target, data), edge_id in zip(graph.edges(data=True), _edge_ids(graph, set()), strict=True)
    ]
    return _dumps({"nodes": nodes, "edges": edges})


def _grafana_node(graph: nx.DiGraph, node: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    failed = min(max(_number(data, "error_rate") or 0.0, 0.0), 1.0)
    return {
        "id": str(node),
        "title": str(node),
        "mainStat": _node_load_text(graph, node, data),
        "secondaryStat": _latency_text(_number(data, "p95_ms")),
        "arc__success": 1.0 - failed,
        "arc__failed": failed,
    }


def _node_load_text(graph: nx.DiGraph, node: Any, data: Mapping[str, Any]) -> str:
    """Request rate for services; calls received (or, for callers only, made) for peers."""
    rate = _number(data, "request_rate")
    if data.get("kind", "service") == "service" and rate is not None:
        return f"{_short(rate)} req/s"
    edges = graph.in_edges(node, data=True) or graph.out_edges(node, data=True)
    return _count_calls(sum(_calls(edge_data) for *_, edge_data in edges))


# --- XML formats ------------------------------------------------------------------------------


def to_graphml(graph: nx.DiGraph) -> str:
    """GraphML (networkx writer); ``None`` attributes are left out."""
    import networkx as nx

    buffer = io.BytesIO()
    nx.write_graphml_xml(_xml_ready(graph), buffer, encoding="utf-8")  # same output with or without lxml
    return buffer.getvalue().decode("utf-8")


def to_gexf(graph: nx.DiGraph) -> str:
    """GEXF 1.2 for Gephi (networkx writer); ``None`` attributes and graph attributes are left out."""
    import networkx as nx

    buffer = io.BytesIO()
    nx.write_gexf(_xml_ready(graph), buffer, encoding="utf-8")
    return buffer.getvalue().decode("utf-8")


def _xml_ready(graph: nx.DiGraph) -> nx.DiGraph:
    """A copy without ``None`` attributes in which each attribute name has one value type.

    The GEXF writer declares an attribute's type from its first value and the reader then
    fails on, say, a float under an integer declaration; GraphML declares two keys of one name.
    Mapping-valued graph attributes (``node_default`` of a graph read from GraphML) are left out.
    """
    import networkx as nx

    graph_attrs = {key: value for key, value in graph.graph.items() if not isinstance(value, Mapping)}
    ready = nx.DiGraph()
    ready.graph.update(_unify_types([graph_attrs])[0])
    ready.add_nodes_from(zip(graph.nodes, _unify_types(data for _, data in graph.nodes(data=True)), strict=True))
    edge_data = _unify_types(data for *_, data in graph.edges(data=True))
    ready.add_edges_from((u, v, data) for (u, v), data in zip(graph.edges, edge_data, strict=True))
    return ready


def _unify_types(records: Iterable[Mapping[str, Any]]) -> list[dict[str, _Scalar]]:
    """Drop ``None`` values; per key, widen int to float when both occur, otherwise mixed types to str."""
    present = [{str(key): _plain(value) for key, value in record.items() if value is not None} for record in records]
    seen: dict[str, set[type]] = {}
    for record in present:
        for key, value in record.items():
            seen.setdefault(key, set()).add(type(value))
    casts = {key: _common_type(types) for key, types in seen.items()}
    return [{key: casts[key](value) for key, value in record.items()} for record in present]


def _plain(value: Any) -> _Scalar:
    """The value as a plain Python scalar (numpy numbers included); anything else as text."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    return float(value) if isinstance(value, numbers.Real) else str(value)


def _common_type(types: set[type]) -> Callable[[Any], _Scalar]:
    if len(types) == 1:
        return next(iter(types))
    return float if types == {int, float} else str


# --- DOT (Graphviz) ---------------------------------------------------------------------------


def to_dot(graph: nx.DiGraph) -> str:
    """Graphviz DOT: shapes by node kind, edges labelled with calls and coloured by error rate."""
    lines = ["digraph glimpse {", f"  graph {_dot_attrs(_dot_graph_attrs(graph))};"]
    lines.append('  node [fontname="Helvetica", fontsize="11"];')
    lines.append('  edge [fontname="Helvetica", fontsize="9"];')
    lines += [
        f"  {_dot_quote(str(node))} {_dot_attrs(_dot_node(node, data))};" for node, data in graph.nodes(data=True)
    ]
    lines += [
        f"  {_dot_quote(str(source))} -> {_dot_quote(str(target))} {_dot_attrs(_dot_edge(data))};"
        for source, target, data in graph.edges(data=True)
    ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_graph_attrs(graph: nx.DiGraph) -> dict[str, str]:
    attrs = {"rankdir": "LR", "fontname": "Helvetica"}
    window = [f"{name} {graph.graph[name]}" for name in ("since", "until") if graph.graph.get(name) is not None]
    if window:
        attrs |= {"label": ", ".join(window), "labelloc": "t"}
    return attrs


def _dot_node(node: Any, data: Mapping[str, Any]) -> dict[str, str]:
    label = str(node)
    rate = _number(data, "request_rate")
    if data.get("kind", "service") == "service" and rate is not None:
        label += f"\n{_short(rate)} req/s"
    style = _DOT_NODE_STYLES.get(str(data.get("kind", "service")), {"shape": "box"})
    return {"label": label, **style, "color": _error_colour(_number(data, "error_rate"))}


def _dot_edge(data: Mapping[str, Any]) -> dict[str, str]:
    colour = _error_colour(_error_rate(data))
    attrs = {"label": _calls_text(data).replace(", ", "\n"), "color": colour, "fontcolor": colour}
    style = _DOT_EDGE_STYLES.get(str(data.get("connection_type")))
    return (attrs | {"style": style}) if style else attrs


def _dot_attrs(attrs: Mapping[str, str]) -> str:
    # Graphviz decodes HTML entities in labels, so "&amp;" would show as "&" unless escaped
    pairs = (
        f"{key}={_dot_quote(value.replace('&', '&amp;') if key == 'label' else value)}" for key, value in attrs.items()
    )
    return "[" + ", ".join(pairs) + "]"


def _dot_quote(text: str) -> str:
    r"""A DOT quoted string; in labels ``\\`` shows a backslash and ``\n`` breaks the line."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{escaped}"'


# --- Mermaid ----------------------------------------------------------------------------------


def to_mermaid(graph: nx.DiGraph) -> str:
    """Mermaid ``flowchart LR`` with generated ids (n0, n1, ...), shapes by kind, calls on edges."""
    ids = {node: f"n{index}" for index, node in enumerate(graph)}
    lines = ["flowchart LR"]
    for node, data in graph.nodes(data=True):
        opening, closing = _MERMAID_SHAPES.get(str(data.get("kind", "service")), ("[", "]"))
        lines.append(f'    {ids[node]}{opening}"{_mermaid_text(str(node))}"{closing}')
    styles = []
    for index, (source, target, data) in enumerate(graph.edges(data=True)):
        arrow = "-.->" if data.get("connection_type") in _MERMAID_DOTTED else "-->"
        lines.append(f'    {ids[source]} {arrow}|"{_mermaid_text(_calls_text(data))}"| {ids[target]}')
        if (_error_rate(data) or 0.0) > 0.0:
            styles.append(f"    linkStyle {index} stroke:{_error_colour(_error_rate(data))},stroke-width:2px")
    return "\n".join(lines + styles) + "\n"


def _mermaid_text(text: str) -> str:
    """Text safe inside a Mermaid quoted label: quotes and markup characters as entity codes."""
    return text.translate(_MERMAID_ESCAPES)


# --- registry ---------------------------------------------------------------------------------

FORMATS: dict[str, Callable[[nx.DiGraph], str]] = {
    "json": to_node_link_json,
    "graphml": to_graphml,
    "gexf": to_gexf,
    "dot": to_dot,
    "cytoscape": to_cytoscape_json,
    "mermaid": to_mermaid,
    "jaeger": to_jaeger_dependencies,
    "grafana": to_grafana_node_graph,
}


def render(graph: nx.DiGraph, fmt: str) -> str:
    """Render ``graph`` in the format named ``fmt`` (a key of :data:`FORMATS`).

    Raises
    ------
    InvalidQueryError
        If ``fmt`` is not a known format; the message lists the known ones.
    """
    try:
        export = FORMATS[fmt]
    except KeyError:
        raise InvalidQueryError(f"unknown graph format {fmt!r}; known formats: {', '.join(FORMATS)}") from None
    logger.debug("rendering %d nodes, %d edges as %s", graph.number_of_nodes(), graph.number_of_edges(), fmt)
    return export(graph)


# --- shared helpers ---------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(_json_safe(value), indent=2, ensure_ascii=False, allow_nan=False)


def _json_safe(value: Any) -> Any:
    """Plain JSON values: non-finite floats become null, unknown objects their text."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return str(value)


def _edge_ids(graph: nx.DiGraph, taken: set[str]) -> list[str]:
    """Readable unique edge ids ``source->target``, suffixed ``#2``, ``#3`` ... on a clash."""
    ids = []
    for source, target in graph.edges:
        base = candidate = f"{source}->{target}"
        suffix = 1
        while candidate in taken:
            suffix += 1
            candidate = f"{base}#{suffix}"
        taken.add(candidate)
        ids.append(candidate)
    return ids


def _number(data: Mapping[str, Any], key: str) -> float | None:
    """``data[key]`` as a finite float, or None when missing, None, not a number or not finite."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value) if math.isfinite(value) else None


def _calls(data: Mapping[str, Any]) -> int:
    return int(_number(data, "calls") or 0)


def _error_rate(data: Mapping[str, Any]) -> float | None:
    rate = _number(data, "error_rate")
    if rate is None and _calls(data) and (errors := _number(data, "errors")) is not None:
        rate = errors / _calls(data)
    return rate


def _calls_text(data: Mapping[str, Any]) -> str:
    """``"120 calls"``, with ``", 2.5% err"`` appended when some failed."""
    text = _count_calls(_calls(data))
    rate = _error_rate(data)
    return f"{text}, {_short(rate * 100)}% err" if rate else text


def _count_calls(calls: int) -> str:
    return "1 call" if calls == 1 else f"{calls} calls"


def _latency_text(p95_ms: float | None) -> str:
    return "" if p95_ms is None else f"p95 {_short(p95_ms)} ms"


def _error_colour(rate: float | None) -> str:
    for threshold, colour in _ERROR_COLOURS:
        if (rate or 0.0) > threshold:
            return colour
    return _OK_COLOUR


def _short(value: float) -> str:
    """A number with about three significant digits and no trailing zeros: 12.3, 45, 0.25."""
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
