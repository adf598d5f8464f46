"""Terminal rendering of every answer: rich tables built from the API's JSON shapes."""

from __future__ import annotations

import json
from typing import Any

import networkx as nx
from rich.table import Table
from rich.text import Text

from glimpse.timeparse import format_ns

__all__ = [
    "anomaly_tables",
    "bottleneck_tables",
    "candidate_name",
    "cell",
    "diff_table",
    "graph_table",
    "log_table",
    "log_template_table",
    "platforms_table",
    "rca_table",
    "sql_table",
    "waterfall",
]


def sql_table(result: dict[str, Any]) -> Table:
    """The rows of a SQL answer."""
    table = Table(*result["columns"], show_lines=False)
    for row in result["rows"]:
        table.add_row(*(cell(value) for value in row))
    return table


def cell(value: Any) -> str:
    """A SQL value as text: JSON for lists and maps, empty for NULL."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


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
            _ms(data.get("client_p95_ms")),
            _ms(data.get("server_p95_ms")),
        )
    return table


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:,.1f}"


BAR_WIDTH = 48


def waterfall(result: dict[str, Any]) -> Table:
    """Every span as a bar on the trace's time line; the critical path in red."""
    start, end = result["start_ns"], result["end_ns"]
    scale = max(end - start, 1) / BAR_WIDTH
    sections: dict[str, list[tuple[int, int]]] = {}
    for section in result["critical_path"]:
        sections.setdefault(section["span_id"], []).append((section["start_ns"], section["end_ns"]))
    title = f"trace {result['trace_id']}: {(end - start) / 1e6:,.3f} ms, critical path in red"
    if result["provisional_roots"]:
        title += f"; {len(result['provisional_roots'])} span(s) whose parent is missing shown as roots"
    if result["skew_adjusted_spans"]:
        title += f"; {result['skew_adjusted_spans']} span(s) shifted for clock skew (~)"
    with_logs = bool(result.get("log_count"))
    if with_logs:
        title += f"; {result['log_count']} log record(s) (--json shows them)"
    columns = ["span", "service", "start ms", "ms", "self ms", "critical ms"]
    table = Table(*columns, *(["logs"] if with_logs else []), "timeline", title=title)
    for span in result["spans"]:
        name = "  " * span["depth"] + span["operation"] + (" ~" if span["skew_shift_ns"] else "")
        logs = [_log_count(span.get("logs", []))] if with_logs else []
        table.add_row(
            Text(name, style="bold red" if span["error"] else ""),
            span["service"],
            f"{(span['start_ns'] - start) / 1e6:,.3f}",
            f"{span['duration_ns'] / 1e6:,.3f}",
            f"{span['self_ns'] / 1e6:,.3f}",
            f"{span['critical_ns'] / 1e6:,.3f}" if span["critical_ns"] else "",
            *logs,
            _bar(span, sections.get(span["span_id"], []), start, scale),
        )
    return table


_SEVERITY_STYLES = {"FATAL": "bold red", "ERROR": "red", "WARN": "yellow", "DEBUG": "grey50", "TRACE": "grey50"}


def _log_count(records: list[dict[str, Any]]) -> Text:
    """A span's records: how many, in the colour of the most severe."""
    if not records:
        return Text("")
    levels = {record["severity"] for record in records}
    worst = next((level for level in _SEVERITY_STYLES if level in levels), "")
    return Text(str(len(records)), style=_SEVERITY_STYLES.get(worst, ""))


def log_table(result: dict[str, Any]) -> Table:
    """Log records, newest first: time, service, level, template id, message, trace id."""
    shown = f"{len(result['records'])}{'+' if result['truncated'] else ''}"
    title = f"log records, newest first: {shown} in {format_ns(result['window']['since_ns'])} .. "
    title += format_ns(result["window"]["until_ns"])
    table = Table(title=title)
    for column in ("time", "service", "severity", "template", "message", "trace id"):
        table.add_column(column, overflow="fold", no_wrap=column in ("severity", "template"))
    for record in result["records"]:
        table.add_row(
            format_ns(record["time_ns"]),
            record["service"],
            Text(record["severity"], style=_SEVERITY_STYLES.get(record["severity"], "")),
            record["template_id"] or "",
            record["message"],
            record["trace_id"],
        )
    return table


TEMPLATE_SERVICES_SHOWN = 3  # the busiest; --json has them all


def log_template_table(result: dict[str, Any]) -> Table:
    """A window's templates, most frequent first, with counts per level and service."""
    shown = f"{len(result['templates'])}{'+' if result['truncated'] else ''}"
    title = f"log templates: {shown} over {result['records']:,} records in "
    title += f"{format_ns(result['window']['since_ns'])} .. {format_ns(result['window']['until_ns'])}"
    sample = result.get("record_sample")
    if sample:
        title += f" (below {sample['levels_below']}: 1 record in {sample['one_in']:,} read, counts estimated)"
    table = Table(title=title)
    for column in ("id", "template", "count", "severities", "services", "first", "last", "example"):
        table.add_column(column, overflow="fold", no_wrap=column in ("id", "count"))
    for entry in result["templates"]:
        services = [f"{service} {count:,}" for service, count in entry["services"].items()]
        more = len(services) - TEMPLATE_SERVICES_SHOWN
        table.add_row(
            entry["template_id"],
            entry["template"],
            f"{entry['count']:,}",
            ", ".join(f"{level} {count:,}" for level, count in entry["severities"].items()),
            ", ".join(services[:TEMPLATE_SERVICES_SHOWN]) + (f", {more} more" if more > 0 else ""),
            format_ns(entry["first_ns"]),
            format_ns(entry["last_ns"]),
            entry["example"],
        )
    return table


def _bar(span: dict[str, Any], critical: list[tuple[int, int]], start: int, scale: float) -> Text:
    bar = Text()
    for cell in range(BAR_WIDTH):
        low, high = start + cell * scale, start + (cell + 1) * scale
        if span["end_ns"] <= low or span["start_ns"] >= high:
            bar.append(" ")
        elif any(a < high and b > low for a, b in critical):
            bar.append("█", style="red")
        else:
            bar.append("█", style="grey50")
    return bar


def bottleneck_tables(result: dict[str, Any]) -> list[Table]:
    """The ranking (what to fix first) and the operations that hurt several endpoints."""
    scope = f"endpoint {result['endpoint']}" if result["endpoint"] else "all endpoints"
    sampled = "" if result["sampled_fraction"] >= 1 else f", a {result['sampled_fraction']:.1%} sample"
    ranking = Table(
        "#",
        "service",
        "operation",
        "critical ms",
        "share",
        "traces",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "endpoints",
        "slowest trace",
        title=f"critical-path time by operation: {result['traces']:,} traces ({scope}{sampled})",
    )
    for rank, cost in enumerate(result["ranking"], start=1):
        ranking.add_row(
            str(rank),
            cost["service"],
            cost["operation"],
            f"{cost['total_ns'] / 1e6:,.1f}",
            f"{cost['share']:.1%}",
            f"{cost['traces']:,}",
            f"{cost['p50_ns'] / 1e6:,.2f}",
            f"{cost['p95_ns'] / 1e6:,.2f}",
            f"{cost['p99_ns'] / 1e6:,.2f}",
            str(len(cost["endpoints"])),
            (cost["example_trace_ids"] or [""])[0],
        )
    tables = [ranking]
    found = result["patterns"]["found"]
    if found:
        patterns = Table(
            "pattern",
            "service",
            "operation",
            "occurrences",
            "traces",
            "est. saving ms",
            "example",
            title=f"patterns in {result['patterns']['traces_scanned']:,} traces",
        )
        for item in found:
            example = item["examples"][0]
            patterns.add_row(
                item["pattern"].replace("_", " "),
                item["service"],
                item["operation"],
                str(item["occurrences"]),
                str(item["traces"]),
                f"{item['estimated_saving_ns'] / 1e6:,.1f}",
                f"{example['trace_id']} {example['note']}".strip(),
            )
        tables.append(patterns)
    if result["bottom_up"]:
        shared = Table(
            "service", "operation", "endpoints", "critical ms", title="on the critical path of several endpoints"
        )
        for cost in result["bottom_up"]:
            shared.add_row(
                cost["service"], cost["operation"], ", ".join(cost["endpoints"]), f"{cost['total_ns'] / 1e6:,.1f}"
            )
        tables.append(shared)
    return tables


def platforms_table(result: dict[str, Any]) -> Table:
    table = Table(
        "platform",
        "instance",
        "host",
        "zone",
        "cluster",
        "services",
        "req/s",
        "errors",
        "p95 ms",
        "resources (latest minute)",
        title="entities, from the resources of stored spans and metrics",
    )
    for entity in result["entities"]:
        table.add_row(
            entity["platform"],
            f"{entity['instance'] or '-'} ({entity['instance_kind']})",
            entity["host"] or "-",
            entity["zone"] or "-",
            entity["cluster"] or "-",
            ", ".join(entity["services"]),
            f"{entity['request_rate']:,.3f}",
            f"{entity['error_rate']:.1%}",
            "-" if entity["p95_ms"] is None else f"{entity['p95_ms']:,.1f}",
            _resources(entity["resources"]),
        )
    return table


_RESOURCE_LABELS = {
    "cpu_utilization": ("cpu", "{:.0%}"),
    "memory_utilization": ("mem", "{:.0%}"),
    "memory_usage_bytes": ("mem", "{:,.0f} B"),
    "network_in_bytes_per_s": ("in", "{:,.0f} B/s"),
    "network_out_bytes_per_s": ("out", "{:,.0f} B/s"),
    "restarts": ("restarts", "{:.0f}"),
    "invocations": ("invocations", "{:.0f}"),
    "cold_starts": ("cold starts", "{:.0f}"),
}


def _resources(values: dict[str, float]) -> str:
    return ", ".join(
        f"{label} {fmt.format(values[signal])}" for signal, (label, fmt) in _RESOURCE_LABELS.items() if signal in values
    )


def candidate_name(candidate: dict[str, Any]) -> str:
    """A candidate's name, with its service when that is not the name itself (two services'
    operations may share a name).

    >>> candidate_name({"name": "GET /health", "service": "cart"})
    'GET /health (cart)'
    >>> candidate_name({"name": "cart", "service": "cart"})
    'cart'
    """
    service = candidate.get("service")
    return candidate["name"] if not service or service == candidate["name"] else f"{candidate['name']} ({service})"


def rca_table(result: dict[str, Any]) -> Table:
    incident, baseline = result["incident"], result["baseline"]
    found = " (detected)" if incident.get("detected") else ""
    table = Table(
        title=f"Probable root causes of {format_ns(incident['start_ns'])} .. {format_ns(incident['end_ns'])}{found}, "
        f"against {format_ns(baseline['start_ns'])} .. {format_ns(baseline['end_ns'])}",
        show_lines=True,
    )
    for column in ("#", "kind", "name", "score", "evidence", "remediation"):
        table.add_column(column, overflow="fold")
    for candidate in result["candidates"]:
        evidence = "\n".join(e["detail"] for e in candidate["evidence"])
        table.add_row(
            str(candidate["rank"]),
            candidate["kind"],
            candidate_name(candidate),
            f"{candidate['score']:.2f}",
            evidence,
            candidate["remediation"],
        )
    return table


def anomaly_tables(result: dict[str, Any], limit: int = 30) -> list[Table]:
    incidents = Table(title="Incidents (most recent first)")
    for column in ("id", "start", "end", "score", "anomalies", "services"):
        incidents.add_column(column)
    for incident in result["incidents"]:
        incidents.add_row(
            str(incident["id"]),
            format_ns(incident["start"]),
            format_ns(incident["end"]),
            f"{incident['score']:.2f}",
            str(incident["anomalies"]),
            ", ".join(incident["services"]),
        )
    table = Table(title=f"Anomalies ({len(result['anomalies'])}, strongest first)")
    for column in ("entity", "signal", "start", "end", "baseline", "observed", "score", "detector"):
        table.add_column(column, overflow="fold")
    for anomaly in result["anomalies"][:limit]:
        table.add_row(
            f"{anomaly['entity_kind']} {anomaly['entity']}",
            anomaly["signal"],
            format_ns(anomaly["start"]),
            format_ns(anomaly["end"]),
            _num(anomaly["baseline"]),
            _num(anomaly["observed"]),
            f"{anomaly['score']:.2f}",
            anomaly["detector"],
        )
    return [incidents, table]


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _causes_text(causes: list[dict[str, Any]]) -> str:
    return "\n".join(f"{c['rank']}. {c['kind']} {c['name']}: {c['evidence']}" for c in causes)


def _value_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def alert_tables(result: dict[str, Any]) -> list[Table]:
    """``glimpse alerts``: every alert's state with its root causes, and the history if asked."""
    table = Table(title="Alerts (firing, then pending)", show_lines=True)
    for column in ("alert", "state", "scope", "signal", "value", "since", "root causes"):
        table.add_column(column, overflow="fold")
    for alert in result["alerts"]:
        since = alert["fired_at"] if alert["state"] == "firing" else alert["active_since"]
        table.add_row(
            alert["alert"],
            alert["state"],
            alert["scope"],
            alert["signal"],
            _value_text(alert["value"]),
            format_ns(since) if since is not None else "",
            _causes_text(alert["root_causes"]),
        )
    tables = [table]
    if "history" in result:
        history = Table(title="State changes (latest first)")
        for column in ("at", "alert", "from", "to", "value"):
            history.add_column(column)
        for change in result["history"]:
            history.add_row(
                format_ns(change["at"]),
                change["alert"],
                change["from_state"],
                change["to_state"],
                _value_text(change["value"]),
            )
        tables.append(history)
    if result.get("actions"):
        tables.append(_actions_table(result["actions"]))
    return tables


def _actions_table(actions: list[dict[str, Any]]) -> Table:
    table = Table(title="Remediation actions (latest first)", show_lines=True)
    for column in ("at", "alert", "target", "outcome", "remediation"):
        table.add_column(column, overflow="fold")
    for action in actions:
        target = f"{action['target_kind']} {action['target_name']}" if action["target_kind"] else ""
        table.add_row(
            format_ns(action["requested_at"]), action["alert"], target, action["outcome"], action["remediation"]
        )
    return table


def backtest_tables(result: dict[str, Any]) -> list[Table]:
    """``glimpse alerts test``: per rule how often it fired, then every state change."""
    window = result["window"]
    rules = Table(title=f"Rules replayed over {format_ns(window['since'])} .. {format_ns(window['until'])}")
    for column in ("alert", "signal", "scope", "fired", "first fired", "state at end"):
        rules.add_column(column)
    for rule in result["rules"]:
        first = rule["first_fired"]
        rules.add_row(
            rule["alert"],
            rule["signal"],
            rule["scope"],
            str(rule["fired"]),
            format_ns(first) if first is not None else "",
            rule["state_at_end"],
        )
    events = Table(title="What would have happened", show_lines=True)
    for column in ("at", "alert", "change", "value", "root causes"):
        events.add_column(column, overflow="fold")
    for event in result["events"]:
        events.add_row(
            format_ns(event["at"]),
            event["alert"],
            f"{event['from']} -> {event['to']}",
            _value_text(event["value"]),
            _causes_text(event.get("root_causes", [])),
        )
    return [rules, events]
