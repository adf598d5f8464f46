"""Critical-path time per operation across a window's traces, and wasteful call patterns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import duckdb

from analyzer.bottlenecks import BottleneckReport, aggregate_critical_paths
from analyzer.errors import InvalidQueryError
from analyzer.patterns import Finding, detect_patterns, summarise_findings
from analyzer.trace_views import iter_trace_views
from storage.graph_queries import resolve_window
from storage.rows import WindowSpans
from storage.trace_queries import sampled_window_spans
from storage.window import SpanWindow

__all__ = [
    "DEFAULT_MAX_SPANS",
    "DEFAULT_MAX_TRACES",
    "MAX_PATTERN_TRACES",
    "bottleneck_answer",
    "bottlenecks",
    "pattern_answer",
    "split_endpoint",
]

DEFAULT_MAX_TRACES = 200_000
# and spans: the per-span arrays of 5 million spans (200,000 traces of 25 spans) took a
# server at the default --memory-limit of 1 GiB to 1,085 MiB; 2 million stay well under it
DEFAULT_MAX_SPANS = 2_000_000
MAX_PATTERN_TRACES = 10_000


def bottlenecks(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    endpoint: str | None = None,
    service: str | None = None,
    limit: int = 20,
    max_traces: int = DEFAULT_MAX_TRACES,
    max_spans: int = DEFAULT_MAX_SPANS,
    patterns: bool = True,
) -> dict[str, Any]:
    """Critical-path time per operation across the window's traces, ranked (see analyzer.bottlenecks).

    ``endpoint`` is ``service:operation`` of the traces' root span. Past ``max_traces``
    traces or ``max_spans`` spans, a deterministic sample is analysed: the traces whose id
    hashes below the fraction (the same traces every time).
    """
    window = resolve_window(con, since_ns, until_ns)
    root_service, root_operation = split_endpoint(endpoint)
    spans, fraction = sampled_window_spans(
        con,
        window.since_ns,
        window.until_ns,
        max_traces,
        max_spans=max_spans,
        root_service=root_service,
        root_operation=root_operation,
    )
    report = aggregate_critical_paths(spans)
    found = _patterns(spans, limit) if patterns else {"traces_scanned": 0, "found": []}
    return bottleneck_answer(
        window, report, endpoint=endpoint, service=service, limit=limit, fraction=fraction, found=found
    )


def bottleneck_answer(
    window: SpanWindow,
    report: BottleneckReport,
    *,
    endpoint: str | None,
    service: str | None,
    limit: int,
    fraction: float,
    found: dict[str, Any],
) -> dict[str, Any]:
    """The answer's shape, from the report (the store's path and the Spark job's share it)."""
    ranking = [cost for cost in report.ranking if service is None or cost.service == service]
    endpoints = sorted(report.by_endpoint.items(), key=lambda item: -sum(c.total_ns for c in item[1]))
    return {
        "window": window.as_dict(),
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


def _patterns(spans: WindowSpans, limit: int) -> dict[str, Any]:
    """Pattern findings in the first MAX_PATTERN_TRACES traces (trace-id order), summarised."""
    findings = []
    starts: dict[int, int] = {}  # trace number -> index of its first span
    for view in iter_trace_views(spans, limit=MAX_PATTERN_TRACES):
        findings += detect_patterns(view)
        starts[view.number] = view.offset

    def span_id(finding: Finding, index: int) -> str:
        return spans.span_id(starts[finding.trace] + index)

    return pattern_answer(findings, len(starts), spans.operations, spans.trace_ids, span_id, limit)


def pattern_answer(
    findings: list[Finding],
    scanned: int,
    operations: dict[int, tuple[str, str]],
    trace_ids: list[str],
    span_id: Callable[[Finding, int], str],
    limit: int,
) -> dict[str, Any]:
    """The findings summarised; ``span_id(finding, i)`` names span i of the finding's trace."""
    summaries = []
    for summary in summarise_findings(findings)[:limit]:
        service, operation = operations[summary.op]
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
                        "trace_id": trace_ids[f.trace],
                        "parent_span_id": span_id(f, f.parent),
                        "span_ids": [span_id(f, i) for i in f.spans[:10]],
                        "saving_ns": f.saving_ns,
                        "note": f.note,
                    }
                    for f in summary.examples
                ],
            }
        )
    return {"traces_scanned": scanned, "found": summaries}


def split_endpoint(endpoint: str | None) -> tuple[str | None, str | None]:
    if endpoint is None:
        return None, None
    service, separator, operation = endpoint.partition(":")
    if not separator or not service or not operation:
        raise InvalidQueryError(f"an endpoint is SERVICE:OPERATION of a root span, got {endpoint!r}")
    return service, operation
