"""Incident and health reports as Markdown or self-contained HTML (inline SVG, no scripts, no CDN).

Input is plain data (``glimpse.cli.report.gather_report``): the ranked root causes, the
anomalies with their series, the service graph (node-link JSON) and per-service insights.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from typing import Any

from glimpse.render.tables import candidate_name

__all__ = ["render_html", "render_markdown"]

WIDTH, NODE_W, NODE_H, COLUMN_GAP, ROW_GAP = 980, 150, 34, 60, 14


def _time(ns: int | None) -> str:
    if ns is None:
        return ""
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _summary_lines(data: dict[str, Any]) -> list[str]:
    rca = data["rca"]
    if rca is None:
        return [f"No incident found: {data['no_incident']}"]
    incident, candidates = rca["incident"], rca["candidates"]
    lines = [
        f"Incident: {_time(incident['start_ns'])} to {_time(incident['end_ns'])}"
        + (" (detected automatically)" if incident.get("detected") else ""),
        f"Baseline: {_time(rca['baseline']['start_ns'])} to {_time(rca['baseline']['end_ns'])}",
        f"Anomalies: {len(data['anomalies']['anomalies'])} in {len(data['anomalies']['incidents'])} incident(s)",
    ]
    if candidates:
        top = candidates[0]
        lines.append(
            f"Most probable cause: {top['kind']} {top['name']} (score {top['score']:.2f}). {top['remediation']}"
        )
    return lines


def _suspects(data: dict[str, Any]) -> dict[str, int]:
    """Graph node -> rank of the best candidate naming it (services, dependencies, or a pod's service)."""
    ranks: dict[str, int] = {}
    for candidate in (data["rca"] or {}).get("candidates", [])[:5]:
        for node in (candidate["name"], candidate.get("service")):
            if node and node not in ranks:
                ranks[node] = candidate["rank"]
    return ranks


# --- Markdown -----------------------------------------------------------------------------


def render_markdown(data: dict[str, Any]) -> str:
    out = ["# glimpse incident report", ""]
    out += [f"- {line}" for line in _summary_lines(data)] + [""]
    out += ["## Service graph during the incident", "", "```mermaid", "flowchart LR"]
    suspects = _suspects(data)
    ids = {node["id"]: f"n{i}" for i, node in enumerate(data["graph"]["nodes"])}
    for node in data["graph"]["nodes"]:
        label = node["id"] + (f" #{suspects[node['id']]}" if node["id"] in suspects else "")
        out.append(f'    {ids[node["id"]]}["{label}"]')
    for edge in data["graph"]["edges"]:
        out.append(f"    {ids[edge['source']]} -->|{edge['calls']}| {ids[edge['target']]}")
    for node, _rank in suspects.items():
        if node in ids:
            out.append(f"    style {ids[node]} fill:#f87171,stroke:#991b1b")
    out += ["```", ""]
    out += _markdown_candidates(data)
    out += _markdown_anomalies(data)
    out += _markdown_insights(data)
    return "\n".join(out) + "\n"


def _markdown_table(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _markdown_candidates(data: dict[str, Any]) -> list[str]:
    if data["rca"] is None:
        return []
    rows = []
    for c in data["rca"]["candidates"]:
        evidence = "<br>".join(e["detail"] for e in c["evidence"])
        examples = {t for e in c["evidence"] for t in e.get("trace_ids", [])[:1]}
        if examples:
            evidence += "<br>example traces: " + ", ".join(f"`{t}`" for t in sorted(examples))
        rows.append([str(c["rank"]), c["kind"], candidate_name(c), f"{c['score']:.2f}", evidence, c["remediation"]])
    header = ["#", "kind", "name", "score", "evidence", "remediation"]
    return _markdown_table("Ranked probable root causes", header, rows)


def _markdown_anomalies(data: dict[str, Any]) -> list[str]:
    rows = [
        [
            _time(a["start"]),
            _time(a["end"]),
            f"{a['entity_kind']} {a['entity']}",
            a["signal"],
            _num(a["baseline"]),
            _num(a["observed"]),
            f"{a['score']:.2f}",
        ]
        for a in sorted(data["anomalies"]["anomalies"][:25], key=lambda a: a["start"])
    ]
    header = ["start", "end", "entity", "signal", "baseline", "observed", "score"]
    return _markdown_table("Timeline of anomalies", header, rows)


INSIGHT_HEADER = ["service", "req/s", "p95 ms", "error rate", "p95 trend/h", "forecast p95", "capacity"]


def _insight_rows(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for s in data["insights"]["services"]:
        trend = s["trend"]["latency_p95_ms"]
        forecast = s["forecast"]["latency_p95_ms"]
        current = s["current"]
        rows.append(
            [
                s["service"],
                _num(current["throughput_rps"]),
                _num(current["latency_p95_ms"]),
                _num(current["error_rate"]),
                _num(trend["slope_per_hour"]) + (" (significant)" if trend["significant"] else "") if trend else "",
                _num(forecast["value"]) if forecast else "",
                (s["capacity"] or {}).get("message", ""),
            ]
        )
    return rows


def _markdown_insights(data: dict[str, Any]) -> list[str]:
    return _markdown_table("Trends and forecasts", INSIGHT_HEADER, _insight_rows(data))


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


# --- HTML ----------------------------------------------------------------------------------


def render_html(data: dict[str, Any]) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>glimpse incident report</title>",
        f"<style>{_CSS}</style></head><body><h1>glimpse incident report</h1><ul class='summary'>",
        *(f"<li>{esc(line)}</li>" for line in _summary_lines(data)),
        "</ul><h2>Service graph during the incident</h2>",
        _graph_svg(data),
        "<p class='legend'><span class='s1'></span> ranked cause <span class='s2'></span> anomalous "
        "<span class='s3'></span> normal</p>",
    ]
    if data["rca"] is not None:
        parts.append(
            "<h2>Ranked probable root causes</h2><table><tr><th>#</th><th>kind</th><th>name</th>"
            "<th>score</th><th>evidence</th><th>remediation</th></tr>"
        )
        for c in data["rca"]["candidates"]:
            evidence = "".join(
                f"<div>{esc(e['detail'])}"
                + ("".join(f" <code>{esc(t)}</code>" for t in e.get("trace_ids", [])[:2]) if e.get("trace_ids") else "")
                + "</div>"
                for e in c["evidence"]
            )
            parts.append(
                f"<tr><td>{c['rank']}</td><td>{esc(c['kind'])}</td><td>{esc(c['name'])}</td>"
                f"<td>{c['score']:.2f}</td><td>{evidence}</td><td>{esc(c['remediation'])}</td></tr>"
            )
        parts.append("</table>")
    parts.append("<h2>Timelines</h2>")
    for a in data["anomalies"]["anomalies"][:12]:
        parts.append(
            f"<div class='timeline'><div>{esc(a['entity_kind'])} <b>{esc(a['entity'])}</b> "
            f"{esc(a['signal'])}: {_num(a['baseline'])} &rarr; {_num(a['observed'])} "
            f"(score {a['score']:.2f}, from {esc(_time(a['start']))})</div>{_sparkline(a)}</div>"
        )
    parts.append("<h2>Trends and forecasts</h2>")
    parts.append(_html_table(INSIGHT_HEADER, _insight_rows(data)))
    parts.append("</body></html>\n")
    return "".join(parts)


def _layers(graph: dict[str, Any]) -> dict[str, int]:
    """Column per node: its longest distance from a node nothing calls (cycles cut)."""
    callees: dict[str, list[str]] = defaultdict(list)
    called = set()
    for edge in graph["edges"]:
        callees[edge["source"]].append(edge["target"])
        called.add(edge["target"])
    nodes = [n["id"] for n in graph["nodes"]]
    depth = {n: 0 for n in nodes}
    frontier = [n for n in nodes if n not in called] or nodes[:1]
    for _ in range(len(nodes)):
        changed = []
        for node in frontier:
            for callee in callees[node]:
                if depth[callee] < depth[node] + 1 <= len(nodes):
                    depth[callee] = depth[node] + 1
                    changed.append(callee)
        if not changed:
            break
        frontier = changed
    return depth


def _graph_svg(data: dict[str, Any]) -> str:
    graph = data["graph"]
    if not graph["nodes"]:
        return "<p>No calls in this window.</p>"
    depth = _layers(graph)
    columns: dict[int, list[str]] = defaultdict(list)
    for node in sorted(depth):
        columns[depth[node]].append(node)
    position = {}
    for column, names in columns.items():
        for row, name in enumerate(names):
            position[name] = (20 + column * (NODE_W + COLUMN_GAP), 20 + row * (NODE_H + ROW_GAP))
    width = max(x for x, _ in position.values()) + NODE_W + 20
    height = max(y for _, y in position.values()) + NODE_H + 20
    suspects = _suspects(data)
    anomalous = {a.get("service") for a in data["anomalies"]["anomalies"]} | {
        a["entity"] for a in data["anomalies"]["anomalies"]
    }
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' class='graph'>",
        "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='6' markerHeight='6' "
        "orient='auto'><path d='M0,0 L10,5 L0,10 z' fill='#888'/></marker></defs>",
    ]
    for edge in graph["edges"]:
        (x1, y1), (x2, y2) = position[edge["source"]], position[edge["target"]]
        colour = "#dc2626" if edge.get("error_rate", 0) and edge["error_rate"] > 0.05 else "#888"
        out.append(
            f"<line x1='{x1 + NODE_W}' y1='{y1 + NODE_H / 2}' x2='{x2}' y2='{y2 + NODE_H / 2}' "
            f"stroke='{colour}' marker-end='url(#arrow)'><title>{html.escape(edge['source'])} -&gt; "
            f"{html.escape(edge['target'])}: {edge['calls']} calls</title></line>"
        )
    for node in graph["nodes"]:
        name = node["id"]
        x, y = position[name]
        fill = "#f87171" if name in suspects else "#fdba74" if name in anomalous else "#e5e7eb"
        label = html.escape(name if len(name) <= 20 else name[:19] + "…")
        rank = f" #{suspects[name]}" if name in suspects else ""
        shape = "rx='17'" if node.get("kind") in ("database", "messaging") else "rx='4'"
        out.append(
            f"<g><rect x='{x}' y='{y}' width='{NODE_W}' height='{NODE_H}' {shape} fill='{fill}' "
            f"stroke='#374151'/><text x='{x + 8}' y='{y + 22}' font-size='12'>{label}{rank}</text>"
            f"<title>{html.escape(name)} ({html.escape(str(node.get('kind')))})</title></g>"
        )
    out.append("</svg>")
    return "".join(out)


def _sparkline(anomaly: dict[str, Any], width: int = 600, height: int = 60) -> str:
    series = anomaly.get("series") or {}
    values = [v for v in series.get("value", []) if v is not None]
    if len(values) < 2:
        return ""
    highs = [v for v in series.get("baseline_high", []) if v is not None]
    top = max(values + highs) or 1.0
    count = len(series["value"])

    def xy(i: int, v: float) -> str:
        return f"{i * width / (count - 1):.1f},{height - v / top * (height - 4):.1f}"

    line = " ".join(xy(i, v) for i, v in enumerate(series["value"]) if v is not None)
    band = [
        (i, lo, hi)
        for i, (lo, hi) in enumerate(zip(series["baseline_low"], series["baseline_high"], strict=False))
        if lo is not None and hi is not None
    ]
    polygon = " ".join(xy(i, hi) for i, _, hi in band) + " " + " ".join(xy(i, max(lo, 0)) for i, lo, _ in band[::-1])
    start = (anomaly["start"] - series["t"][0]) / max(series["t"][-1] - series["t"][0], 1) * width
    return (
        f"<svg width='{width}' height='{height}' class='spark'><polygon points='{polygon}' fill='#bfdbfe'/>"
        f"<rect x='{start:.1f}' y='0' width='{max(width - start, 1):.1f}' height='{height}' fill='#fee2e2' "
        f"opacity='0.5'/><polyline points='{line}' fill='none' stroke='#1d4ed8' stroke-width='1.5'/></svg>"
    )


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#111827}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #d1d5db;padding:4px 8px;vertical-align:top;
font-size:13px}th{background:#f3f4f6}code{font-size:11px}.timeline{margin:10px 0}.graph{border:1px solid #e5e7eb}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}.s1{background:#f87171}
.s2{background:#fdba74}.s3{background:#e5e7eb}
"""
