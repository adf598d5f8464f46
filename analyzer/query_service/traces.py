"""One trace (its critical path, waterfall, span details and log records) and trace search."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import duckdb

from analyzer.critical_path import critical_path, self_times
from analyzer.errors import InvalidQueryError, NotFoundError
from analyzer.query_service.logs import trace_logs
from storage.graph_queries import resolve_window
from storage.jsonable import jsonable
from storage.log_queries import severity_name, trace_log_rows
from storage.rows import SpanExportRow, TraceSpanRow
from storage.span_filters import SpanFilter
from storage.trace_queries import (
    TraceQuery,
    matched_span_rows,
    normalise_trace_id,
    search_trace_rows,
    trace_detail_rows,
    trace_export_rows,
    trace_span_rows,
)
from tracing.trace import Span, Trace, assemble_trace

__all__ = ["export_traces", "matched_spans", "search_traces", "trace_critical_path", "trace_detail"]


def _trace_id(text: str) -> str:
    try:
        return normalise_trace_id(text)
    except ValueError as exc:
        raise InvalidQueryError(str(exc)) from None


def _span_of(row: TraceSpanRow) -> Span:
    return Span(
        span_id=row["span_id"],
        parent_span_id=row["parent_span_id"],
        service=row["service"],
        name=row["name"],
        kind=row["kind"],
        start_ns=row["start_ns"],
        end_ns=row["end_ns"],
        error=row["error"],
    )


def _spans(con: duckdb.DuckDBPyConnection, trace_id: str) -> tuple[str, list[Span]]:
    """The normalised trace id and the trace's spans (read once; assembled as often as needed)."""
    trace_id = _trace_id(trace_id)
    rows = trace_span_rows(con, trace_id)
    if not rows:
        raise NotFoundError(f"no spans of trace {trace_id} in the store")
    return trace_id, [_span_of(row) for row in rows]


def trace_critical_path(con: duckdb.DuckDBPyConnection, trace_id: str, *, adjust_skew: bool = False) -> dict[str, Any]:
    """The critical path of one trace and its waterfall (every span with self time and its
    log records: see :func:`_add_logs`)."""
    answer = _critical_path_answer(assemble_trace(*_spans(con, trace_id), adjust_skew=adjust_skew))
    return _add_logs(con, answer)


def _add_logs(con: duckdb.DuckDBPyConnection, answer: dict[str, Any]) -> dict[str, Any]:
    """Each span's log records as ``logs`` (time, level, message, template, attributes; see
    :func:`analyzer.query_service.logs.trace_logs`), the records of the trace that name no
    span of it as ``unattached_logs``, their number as ``log_count``, and the window their
    templates were mined over as ``logs_window`` (None without records)."""
    found = trace_logs(con, answer["trace_id"], start_ns=answer["start_ns"], end_ns=answer["end_ns"])
    by_span: dict[str, list[dict[str, Any]]] = {span["span_id"]: [] for span in answer["spans"]}
    unattached = []
    for record in found["records"]:
        if record["span_id"] in by_span:
            by_span[record["span_id"]].append({k: v for k, v in record.items() if k not in ("span_id", "service")})
        else:
            unattached.append(record)
    for span in answer["spans"]:
        span["logs"] = by_span[span["span_id"]]
    answer["unattached_logs"] = unattached
    answer["log_count"] = len(found["records"])
    answer["logs_window"] = found["window"]
    return answer


def _critical_path_answer(trace: Trace) -> dict[str, Any]:
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


def trace_detail(con: duckdb.DuckDBPyConnection, trace_id: str, *, adjust_skew: bool = False) -> dict[str, Any]:
    """One trace for the waterfall: the critical-path answer (``glimpse critical-path
    --json``: spans with depth, self time, critical-path time, skew shift and log records)
    with each span's attributes, resource, scope, status message, events and links added,
    and ``offset_ns`` (from the trace's start) on spans, critical-path sections and log
    records.

    Without ``adjust_skew``, ``skew_detected`` counts the spans that the adjustment
    would shift (so that the page can offer it).
    """
    trace_id = _trace_id(trace_id)
    details = {row["span_id"]: row for row in trace_detail_rows(con, trace_id)}
    if not details:
        raise NotFoundError(f"no spans of trace {trace_id} in the store")
    spans = [_span_of(row) for row in details.values()]
    answer = _add_logs(con, _critical_path_answer(assemble_trace(trace_id, spans, adjust_skew=adjust_skew)))
    for span in answer["spans"]:
        row = details.get(span["span_id"])
        span["critical"] = span["critical_ns"] > 0
        if row is None:
            continue
        span.update(
            trace_state=row["trace_state"],
            flags=row["flags"],
            scope={"name": row["scope_name"], "version": row["scope_version"]},
            resource=_json(row["resource_attributes"]),
            attributes=_json(row["span_attributes"]),
            status_code=row["status_code"],
            status_message=row["status_message"],
            events=[{**event, "attributes": _json(event["attributes"])} for event in row["events"]],
            links=[{**link, "attributes": _json(link["attributes"])} for link in row["links"]],
            dropped={
                "attributes": row["dropped_attributes_count"],
                "events": row["dropped_events_count"],
                "links": row["dropped_links_count"],
            },
        )
    # Unix nanoseconds exceed JavaScript's exact integers (2**53): offsets from the trace's
    # start are exact in a browser.
    start_ns = answer["start_ns"]
    for item in (*answer["spans"], *answer["critical_path"]):
        item["offset_ns"] = item["start_ns"] - start_ns
    # A span's records move with it when it is shifted for clock skew (they share its clock).
    for span in answer["spans"]:
        for record in span["logs"]:
            record["offset_ns"] = _offset(record["time_ns"], start_ns - span["skew_shift_ns"])
    for record in answer["unattached_logs"]:
        record["offset_ns"] = _offset(record["time_ns"], start_ns)
    answer["adjust_skew"] = adjust_skew
    if adjust_skew:
        answer["skew_detected"] = answer["skew_adjusted_spans"]
    else:
        answer["skew_detected"] = len(assemble_trace(trace_id, spans, adjust_skew=True).skew_adjusted)
    services: dict[str, int] = {}
    for span in answer["spans"]:
        services[span["service"]] = services.get(span["service"], 0) + 1
    answer["services"] = services
    answer["error_count"] = sum(1 for span in answer["spans"] if span["error"])
    return dict(jsonable(answer))


def _offset(time_ns: int | None, start_ns: int) -> int | None:
    return None if time_ns is None else time_ns - start_ns


def _json(text: str | None) -> Any:
    return json.loads(text) if text else {}


def search_traces(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    service: str | None = None,
    operation: str | None = None,
    attributes: dict[str, str] | None = None,
    min_duration_ns: int | None = None,
    max_duration_ns: int | None = None,
    errors: bool | None = None,
    span_filter: SpanFilter | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """Traces matching a search (see storage.trace_queries.TraceQuery), the newest first;
    ``span_filter`` (storage.span_filters) is one more condition the matching span meets."""
    window = resolve_window(con, since_ns, until_ns)
    query = TraceQuery(
        since_ns=window.since_ns,
        until_ns=window.until_ns,
        service=service,
        operation=operation,
        attributes=attributes or {},
        min_duration_ns=min_duration_ns,
        max_duration_ns=max_duration_ns,
        errors=errors,
        span_filter=span_filter,
        limit=limit + 1,
    )
    rows = search_trace_rows(con, query)
    return {
        "window": window.as_dict(),
        "traces": [
            {**row, "services": list(row["services"]), "start_ns": int(row["start_ns"])} for row in rows[:limit]
        ],
        "truncated": len(rows) > limit,
    }


def export_traces(con: duckdb.DuckDBPyConnection, trace_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The traces as stored, to send on in another format (Jaeger's, OTLP): for each known
    id, in the order asked, ``{"trace_id", "spans", "logs"}``. A span carries every field
    OTLP has (``resource`` and ``scope`` with their attributes, schema URLs and dropped
    counts; ``attributes``, ``events`` and ``links`` as typed JSON, see tracing.attributes;
    ``kind`` and ``status_code`` as stored), in start order; ``logs`` are the trace's log
    records in time order (``time_ns``, ``span_id``, ``severity``, ``severity_text``,
    ``severity_number``, ``event_name``, ``message``, ``attributes``). Unknown ids are left
    out; a malformed one is an InvalidQueryError."""
    wanted = list(dict.fromkeys(_trace_id(text) for text in trace_ids))
    by_trace: dict[str, list[dict[str, Any]]] = {trace_id: [] for trace_id in wanted}
    for row in trace_export_rows(con, wanted):
        by_trace[row["trace_id"]].append(_exported_span(row))
    return [
        {"trace_id": trace_id, "spans": spans, "logs": _exported_logs(con, trace_id)}
        for trace_id, spans in by_trace.items()
        if spans
    ]


def _exported_span(row: SpanExportRow) -> dict[str, Any]:
    return {
        "trace_id": row["trace_id"],
        "span_id": row["span_id"],
        "parent_span_id": row["parent_span_id"],
        "trace_state": row["trace_state"],
        "flags": row["flags"],
        "name": row["name"],
        "kind": row["kind"],
        "start_ns": row["start_ns"],
        "end_ns": row["end_ns"],
        "service": row["service"],
        "resource": {
            "attributes": _json(row["resource_attributes"]),
            "schema_url": row["resource_schema_url"],
            "dropped_attributes_count": row["resource_dropped_attributes_count"],
        },
        "scope": {
            "name": row["scope_name"],
            "version": row["scope_version"],
            "attributes": _json(row["scope_attributes"]),
            "schema_url": row["scope_schema_url"],
        },
        "attributes": _json(row["span_attributes"]),
        "dropped_attributes_count": row["dropped_attributes_count"],
        "status_code": row["status_code"],
        "status_message": row["status_message"],
        "events": [{**event, "attributes": _json(event["attributes"])} for event in row["events"]],
        "dropped_events_count": row["dropped_events_count"],
        "links": [{**link, "attributes": _json(link["attributes"])} for link in row["links"]],
        "dropped_links_count": row["dropped_links_count"],
    }


def _exported_logs(con: duckdb.DuckDBPyConnection, trace_id: str) -> list[dict[str, Any]]:
    return [
        {
            "time_ns": row["time_ns"],
            "span_id": row["span_id"],
            "severity": severity_name(row["severity_number"], row["severity_text"]),
            "severity_text": row["severity_text"],
            "severity_number": row["severity_number"],
            "event_name": row["event_name"],
            "message": row["message"],
            "attributes": _json(row["attributes"]),
        }
        for row in trace_log_rows(con, trace_id)
    ]


def matched_spans(
    con: duckdb.DuckDBPyConnection,
    trace_ids: Sequence[str],
    span_filter: SpanFilter,
    *,
    since_ns: int,
    until_ns: int,
    per_trace: int = 3,
) -> dict[str, dict[str, Any]]:
    """For each of ``trace_ids`` with spans that start in the window and satisfy
    ``span_filter``: ``{"matched": count, "spans": [...]}``, the earliest ``per_trace``
    spans (``span_id``, ``name``, ``service``, ``start_ns``, ``duration_ns``)."""
    found: dict[str, dict[str, Any]] = {}
    rows = matched_span_rows(
        con, [_trace_id(t) for t in trace_ids], span_filter, since_ns=since_ns, until_ns=until_ns, per_trace=per_trace
    )
    for row in rows:
        entry = found.setdefault(row["trace_id"], {"matched": int(row["matched"]), "spans": []})
        entry["spans"].append({key: row[key] for key in ("span_id", "name", "service", "start_ns", "duration_ns")})
    return found
