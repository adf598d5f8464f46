"""What the CLI and the HTTP API both answer, computed from a database connection."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

import duckdb
import networkx as nx

from analyzer.bottlenecks import aggregate_critical_paths
from analyzer.critical_path import critical_path, self_times
from analyzer.graph import build_operation_graph, build_service_graph, neighbourhood
from analyzer.graph_diff import diff_graphs
from analyzer.graph_export import render
from analyzer.patterns import detect_patterns, summarise_findings
from analyzer.platforms import entity_health, entity_metric_series, entity_resource_metrics
from analyzer.trace_views import iter_trace_views
from storage.graph_queries import (
    END_OF_TIME_NS,
    SpanWindow,
    operation_edge_rows,
    resolve_window,
    service_edge_rows,
    service_edge_samples,
    service_node_rows,
)
from storage.resource_queries import resource_metric_rows, resource_red_rows
from storage.trace_queries import WindowSpans, normalise_trace_id, sampled_window_spans, trace_span_rows
from tracing.trace import Span, assemble_trace

__all__ = [
    "bottlenecks",
    "jaeger_dependencies",
    "platform_metric_series",
    "platforms",
    "service_graph",
    "service_graph_diff",
    "service_graph_document",
    "trace_critical_path",
]


def service_graph(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    service: str | None = None,
    depth: int = 1,
    operations: bool = False,
) -> nx.DiGraph:
    window = resolve_window(con, since_ns, until_ns)
    if operations:
        graph = build_operation_graph(operation_edge_rows(con, window))
        graph.graph.update(since_ns=window.since_ns, until_ns=window.until_ns)
    else:
        graph = _graph_for(con, window)
    if service is not None:
        centre = [node for node, data in graph.nodes(data=True) if node == service or data.get("service") == service]
        if not centre:
            raise LookupError(f"no service or peer named {service!r} in this window")
        graph = neighbourhood(graph, centre, depth)
    return graph


def _graph_for(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> nx.DiGraph:
    # The two queries run side by side on cursors of their own: DuckDB leaves cores idle
    # in parts of each plan, and together they finish sooner.
    edges_cursor, nodes_cursor = con.cursor(), con.cursor()
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            nodes = pool.submit(service_node_rows, nodes_cursor, window)
            edges = service_edge_rows(edges_cursor, window)
            graph = build_service_graph(edges, nodes.result(), window_s=window.seconds)
    finally:
        edges_cursor.close()
        nodes_cursor.close()
    graph.graph.update(since_ns=window.since_ns, until_ns=window.until_ns)
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
    return {
        "baseline": {"since_ns": baseline.since_ns, "until_ns": baseline.until_ns},
        "current": {"since_ns": current.since_ns, "until_ns": current.until_ns},
        **diff.to_dict(),
    }


def service_graph_document(con: duckdb.DuckDBPyConnection, fmt: str, **options: Any) -> str:
    """The service graph rendered in ``fmt`` (see analyzer.graph_export.FORMATS)."""
    return render(service_graph(con, **options), fmt)


def jaeger_dependencies(con: duckdb.DuckDBPyConnection, *, end_ts_ms: int, lookback_ms: int) -> list[dict[str, Any]]:
    """Jaeger's ``/api/dependencies`` answer for the window ending at ``end_ts_ms``."""
    window = SpanWindow((end_ts_ms - lookback_ms) * 1_000_000, end_ts_ms * 1_000_000)
    return list(json.loads(render(_graph_for(con, window), "jaeger")))


def trace_critical_path(con: duckdb.DuckDBPyConnection, trace_id: str, *, adjust_skew: bool = False) -> dict[str, Any]:
    """The critical path of one trace and its waterfall (every span with self time)."""
    rows = trace_span_rows(con, trace_id)
    if not rows:
        raise LookupError(f"no spans of trace {trace_id} in the store")
    trace = assemble_trace(normalise_trace_id(trace_id), (Span.from_row(row) for row in rows), adjust_skew=adjust_skew)
    sections = critical_path(trace)
    self_ns = self_times(trace)
    on_path: dict[str, int] = {}
    for section in sections:
        on_path[section.span_id] = on_path.get(section.span_id, 0) + section.duration_ns
    spans = []
    for span_id, depth in trace.depth_first():
        span = trace.spans[span_id]
        spans.append(
            {
                "span_id": span_id,
                "parent_span_id": span.parent_span_id,
                "depth": depth,
                "service": span.service,
                "operation": span.name,
                "kind": span.kind,
                "error": span.error,
                "start_ns": span.start_ns,
                "end_ns": span.end_ns,
                "duration_ns": span.duration_ns,
                "self_ns": self_ns[span_id],
                "critical_ns": on_path.get(span_id, 0),
                "skew_shift_ns": span.skew_shift_ns,
            }
        )
    return {
        "trace_id": trace.trace_id,
        "start_ns": min(span.start_ns for span in trace.spans.values()),
        "end_ns": max(span.end_ns for span in trace.spans.values()),
        "critical_path": [
            {
                "span_id": s.span_id,
                "service": trace.spans[s.span_id].service,
                "operation": trace.spans[s.span_id].name,
                "start_ns": s.start_ns,
                "end_ns": s.end_ns,
                "duration_ns": s.duration_ns,
            }
            for s in sections
        ],
        "spans": spans,
        "roots": trace.roots,
        "provisional_roots": trace.provisional_roots,
        "skew_adjusted_spans": len(trace.skew_adjusted),
    }


DEFAULT_MAX_TRACES = 200_000


def bottlenecks(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    endpoint: str | None = None,
    service: str | None = None,
    limit: int = 20,
    max_traces: int = DEFAULT_MAX_TRACES,
    patterns: bool = True,
) -> dict[str, Any]:
    """Critical-path time per operation across the window's traces, ranked (see analyzer.bottlenecks).

    ``endpoint`` is ``service:operation`` of the traces' root span. Past ``max_traces``
    traces, a deterministic sample is analysed: the traces whose id hashes below the
    fraction (the same traces every time).
    """
    window = resolve_window(con, since_ns, until_ns)
    root_service, root_operation = _split_endpoint(endpoint)
    spans, fraction = sampled_window_spans(
        con, window.since_ns, window.until_ns, max_traces, root_service=root_service, root_operation=root_operation
    )
    report = aggregate_critical_paths(spans)
    found = _patterns(spans, limit) if patterns else {"traces_scanned": 0, "found": []}
    ranking = [cost for cost in report.ranking if service is None or cost.service == service]
    endpoints = sorted(report.by_endpoint.items(), key=lambda item: -sum(c.total_ns for c in item[1]))
    return {
        "window": {"since_ns": window.since_ns, "until_ns": window.until_ns},
        "endpoint": endpoint,
        "traces": report.traces,
        "spans": report.spans,
        "sampled_fraction": round(fraction, 6),
        "critical_ns": report.critical_ns,
        "ranking": [asdict(cost) for cost in ranking[:limit]],
        "top_down": {name: [asdict(cost) for cost in costs[:limit]] for name, costs in endpoints[:limit]},
        "patterns": found,
        "bottom_up": [asdict(cost) for cost in report.bottom_up() if service is None or cost.service == service][
            :limit
        ],
    }


MAX_PATTERN_TRACES = 10_000


def _patterns(spans: WindowSpans, limit: int) -> dict[str, Any]:
    """Pattern findings in the first MAX_PATTERN_TRACES traces (trace-id order), summarised."""
    findings = []
    starts: dict[int, int] = {}  # trace number -> index of its first span
    for view in iter_trace_views(spans, limit=MAX_PATTERN_TRACES):
        findings += detect_patterns(view)
        starts[view.number] = view.offset
    scanned = len(starts)
    summaries = []
    for summary in summarise_findings(findings)[:limit]:
        service, operation = spans.operations[summary.op]
        summaries.append(
            {
                "pattern": summary.pattern,
                "service": service,
                "operation": operation,
                "occurrences": summary.occurrences,
                "traces": summary.traces,
                "estimated_saving_ns": summary.saving_ns,
                "examples": [
                    {
                        "trace_id": spans.trace_ids[f.trace],
                        "parent_span_id": spans.span_id(starts[f.trace] + f.parent),
                        "span_ids": [spans.span_id(starts[f.trace] + i) for i in f.spans[:10]],
                        "saving_ns": f.saving_ns,
                        "note": f.note,
                    }
                    for f in summary.examples
                ],
            }
        )
    return {"traces_scanned": scanned, "found": summaries}


def _split_endpoint(endpoint: str | None) -> tuple[str | None, str | None]:
    if endpoint is None:
        return None, None
    service, separator, operation = endpoint.partition(":")
    if not separator or not service or not operation:
        raise ValueError(f"an endpoint is SERVICE:OPERATION of a root span, got {endpoint!r}")
    return service, operation


def platforms(
    con: duckdb.DuckDBPyConnection, *, since_ns: int | None = None, until_ns: int | None = None
) -> dict[str, Any]:
    """Every entity (pod, container, process, function instance) with its services and RED."""
    window = resolve_window(con, since_ns, until_ns)
    metrics_window = SpanWindow(since_ns or 0, until_ns or END_OF_TIME_NS)  # buckets aligned on the epoch
    metric_rows = resource_metric_rows(con, metrics_window, bucket_ns=METRIC_BUCKET_NS)
    entities = entity_health(
        resource_red_rows(con, window), window_s=window.seconds, metrics=entity_resource_metrics(metric_rows)
    )
    return {"window": {"since_ns": window.since_ns, "until_ns": window.until_ns}, "entities": entities}


METRIC_BUCKET_NS = 60 * 1_000_000_000


def platform_metric_series(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    bucket_s: float = 60.0,
) -> dict[str, Any]:
    """The normalised resource metrics of every entity, per time bucket."""
    if bucket_s <= 0:
        raise ValueError("the bucket must be a positive number of seconds")
    window = SpanWindow(since_ns or 0, until_ns or END_OF_TIME_NS)
    bucket_ns = int(bucket_s * 1e9)
    rows = resource_metric_rows(con, window, bucket_ns=bucket_ns)
    return {"bucket_s": bucket_s, "series": entity_metric_series(rows, since_ns=window.since_ns, bucket_ns=bucket_ns)}
