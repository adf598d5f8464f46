"""``glimpse critical-path``: fetch a trace's critical path (API or file) and draw its waterfall."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from glimpse.api import bottleneck_options, window_options
from glimpse.source import api_get, fetch_analysis, server_url_for, with_read_only
from glimpse.views import bottlenecks, platforms, trace_critical_path

__all__ = [
    "bottleneck_tables",
    "fetch_bottlenecks",
    "fetch_critical_path",
    "fetch_platforms",
    "platforms_table",
    "waterfall",
]

BAR_WIDTH = 48


def fetch_critical_path(db_path: str, server: str | None, trace_id: str, *, adjust_skew: bool) -> dict[str, Any]:
    url = server_url_for(db_path, server)
    if url is not None:
        params = {"adjust_skew": "true" if adjust_skew else None}
        return dict(api_get(url, f"/api/traces/{trace_id}/critical-path", params).json())
    return with_read_only(db_path, trace_critical_path, trace_id, adjust_skew=adjust_skew)


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
    table = Table("span", "service", "start ms", "ms", "self ms", "critical ms", "timeline", title=title)
    for span in result["spans"]:
        name = "  " * span["depth"] + span["operation"] + (" ~" if span["skew_shift_ns"] else "")
        table.add_row(
            Text(name, style="bold red" if span["error"] else ""),
            span["service"],
            f"{(span['start_ns'] - start) / 1e6:,.3f}",
            f"{span['duration_ns'] / 1e6:,.3f}",
            f"{span['self_ns'] / 1e6:,.3f}",
            f"{span['critical_ns'] / 1e6:,.3f}" if span["critical_ns"] else "",
            _bar(span, sections.get(span["span_id"], []), start, scale),
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


def fetch_bottlenecks(db_path: str, server: str | None, params: dict[str, Any]) -> dict[str, Any]:
    return fetch_analysis(db_path, server, "/api/bottlenecks", bottlenecks, bottleneck_options, params)


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


def fetch_platforms(db_path: str, server: str | None, params: dict[str, Any]) -> dict[str, Any]:
    return fetch_analysis(db_path, server, "/api/platforms", platforms, window_options, params)


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
