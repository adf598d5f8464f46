"""Log records: search, templates with counts, and the records of one trace.

Templates are mined per window, at query time (:mod:`analyzer.log_templates`, drain3 over
the window's distinct masked messages; past :data:`TEMPLATE_RECORDS`, those of every warning
and error and a sample of the rest), never stored: ingest does not pay for them. A
window's templates do not depend on a search's other filters (service, severity, ...): they
are mined from every record of the window, so that a template id names the same template
whatever else is asked. Over another window the same message may fall in another template
(a wider window generalises more); each answer carries the window its ids belong to.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import duckdb

from analyzer.errors import InvalidQueryError
from analyzer.log_templates import LogTemplate, MinedTemplates, mine_templates
from storage.jsonable import jsonable
from storage.log_queries import (
    SAMPLED_BELOW,
    SEVERITY_LEVELS,
    UNSPECIFIED,
    LogCut,
    LogQuery,
    cut_log_window,
    kept_whole,
    log_bounds,
    log_group_rows,
    message_masks,
    normalise_span_id,
    parse_severity,
    search_log_rows,
    severity_name,
    trace_log_rows,
    window_masked_messages,
)
from storage.rows import LogGroupRow
from storage.trace_queries import normalise_trace_id
from storage.window import END_OF_TIME_NS, SpanWindow

__all__ = ["TEMPLATE_RECORDS", "TRACE_LOG_CONTEXT_NS", "log_templates", "search_logs", "trace_logs"]

# Templates are mined and counted over at most about this many records of a window: past it,
# every record at or above storage.log_queries.SAMPLED_BELOW (WARN) is read and one in n of
# the others, so that weeks of logs answer in seconds and a rare warning or error is never
# sampled away (masking costs a few seconds a million records).
TEMPLATE_RECORDS = 1_000_000

# A trace's log records get the templates mined over the trace's time and this much on either
# side (and the trace's own records): enough neighbours for a message's variable words to show.
TRACE_LOG_CONTEXT_NS = 60 * 1_000_000_000
_SECOND_NS = 1_000_000_000

_TEMPLATE_ID = re.compile(r"[0-9a-f]{12}")
_SPACES = re.compile(r"\s+")
_LEVEL_ORDER = [*reversed(SEVERITY_LEVELS), UNSPECIFIED]


def resolve_log_window(con: duckdb.DuckDBPyConnection, since_ns: int | None, until_ns: int | None) -> SpanWindow:
    """Fill an open bound from the records: the first record's time, or just after the last one's."""
    if since_ns is not None and until_ns is not None:
        return SpanWindow(since_ns, max(until_ns, since_ns))
    first, last = log_bounds(con)
    since = since_ns if since_ns is not None else (first if first is not None else 0)
    until = until_ns if until_ns is not None else (last + 1 if last is not None else since + 1)
    return SpanWindow(since, min(max(until, since), END_OF_TIME_NS))


def template_matcher(spec: str) -> Callable[[str, LogTemplate], bool]:
    """``(masked message, template) -> bool`` for a ``--template`` value: a template id (12 hex
    digits) matches that template; any other text is a pattern where ``<*>`` stands for any
    run of characters, matched whole and case-insensitively (runs of white space as one
    space) against the template's text or the masked message.

    >>> match = template_matcher("user <*> logged in")
    >>> match("User <NUM> logged in", LogTemplate("x", "User <*> logged in"))
    True
    >>> match("User <NUM> logged out", LogTemplate("y", "User <*> logged out"))
    False
    """
    value = spec.strip()
    if _TEMPLATE_ID.fullmatch(value.lower()):
        wanted = value.lower()
        return lambda _masked, template: template.template_id == wanted
    parts = _SPACES.sub(" ", value).split("<*>")
    pattern = re.compile(".*".join(re.escape(part) for part in parts), re.IGNORECASE | re.DOTALL)

    def matches(masked: str, template: LogTemplate) -> bool:
        return any(pattern.fullmatch(_SPACES.sub(" ", text)) for text in (template.text, masked))

    return matches


def _log_query(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None,
    until_ns: int | None,
    service: str | None,
    severity: str | None,
    trace_id: str | None,
    span_id: str | None,
    text: str | None,
    limit: int,
) -> LogQuery:
    try:
        min_severity = parse_severity(severity) if severity else None
        trace = normalise_trace_id(trace_id) if trace_id else None
        span = normalise_span_id(span_id) if span_id else None
    except ValueError as exc:
        raise InvalidQueryError(str(exc)) from None
    if limit < 1:
        raise InvalidQueryError("limit must be a positive integer")
    window = resolve_log_window(con, since_ns, until_ns)
    return LogQuery(
        since_ns=window.since_ns,
        until_ns=window.until_ns,
        service=service or None,
        min_severity=min_severity,
        trace_id=trace,
        span_id=span,
        text=text or None,
        limit=limit,
    )


def record_sample(cut: LogCut) -> int:
    """One in how many records below :data:`SAMPLED_BELOW` the window's templates read (1: every
    record), so that about :data:`TEMPLATE_RECORDS` records are read."""
    return max(1, math.ceil(cut.records / TEMPLATE_RECORDS))


def _mined(con: duckdb.DuckDBPyConnection, cut: LogCut) -> MinedTemplates:
    return mine_templates(window_masked_messages(con, cut, record_sample=record_sample(cut)))


def _with_template(query: LogQuery, templates: Mapping[str, LogTemplate], spec: str | None) -> LogQuery:
    """The query narrowed to the masked messages of the templates ``spec`` names."""
    if not spec:
        return query
    matches = template_matcher(spec)
    masked = sorted(message for message, template in templates.items() if matches(message, template))
    return replace(query, masked=masked)


def _template_of(masked: str | None, templates: MinedTemplates) -> LogTemplate | None:
    return None if masked is None else templates.template_of(masked)


def _sample_note(sample: int) -> dict[str, Any] | None:
    """How an answer's records were read: None for every record."""
    return None if sample == 1 else {"levels_below": SAMPLED_BELOW, "one_in": sample}


def search_logs(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    service: str | None = None,
    severity: str | None = None,
    template: str | None = None,
    trace_id: str | None = None,
    span_id: str | None = None,
    text: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """The newest ``limit`` log records matching every filter given, each with its template.

    ``severity`` is a minimum level (a name such as ``WARN`` or a number 1-24; records without
    a number match by their severity text); ``template`` a template id or a pattern
    (:func:`template_matcher`); ``text`` a case-insensitive substring of the message.
    """
    query = _log_query(
        con,
        since_ns=since_ns,
        until_ns=until_ns,
        service=service,
        severity=severity,
        trace_id=trace_id,
        span_id=span_id,
        text=text,
        limit=limit,
    )
    window = SpanWindow(query.since_ns, query.until_ns)
    cut = cut_log_window(con, window)  # once: the mining and the search read the same slices
    templates = _mined(con, cut)
    query = _with_template(query, templates, template)
    rows = [] if query.masked == [] else search_log_rows(con, replace(query, limit=limit + 1), cut)
    kept = rows[:limit]
    masks = message_masks(con, [row["message"] for row in kept])
    records = []
    for row in kept:
        found = _template_of(masks.get(row["message"]), templates)
        records.append(
            {
                "time_ns": row["time_ns"],
                "service": row["service"],
                "instance": row["instance"],
                "severity": severity_name(row["severity_number"], row["severity_text"]),
                "severity_text": row["severity_text"],
                "severity_number": row["severity_number"],
                "template_id": found.template_id if found else None,
                "template": found.text if found else None,
                "message": row["message"],
                "location": row["location"],
                "trace_id": row["trace_id"],
                "span_id": row["span_id"],
            }
        )
    return {"window": window.as_dict(), "records": records, "truncated": len(rows) > limit}


def log_templates(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    service: str | None = None,
    severity: str | None = None,
    template: str | None = None,
    trace_id: str | None = None,
    span_id: str | None = None,
    text: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """The window's templates among the records matching every filter (as :func:`search_logs`),
    most frequent first (ties by text): records, per severity level, per service, first and
    last time, and the earliest record as an example (with its code location). Past
    :data:`TEMPLATE_RECORDS` the records below :data:`SAMPLED_BELOW` are sampled and their
    counts estimated (``record_sample`` says how)."""
    query = _log_query(
        con,
        since_ns=since_ns,
        until_ns=until_ns,
        service=service,
        severity=severity,
        trace_id=trace_id,
        span_id=span_id,
        text=text,
        limit=limit,
    )
    window = SpanWindow(query.since_ns, query.until_ns)
    cut = cut_log_window(con, window)  # once: the mining and the counts read the same slices
    query = replace(query, record_sample=record_sample(cut))
    filtered = any(value is not None for value in (query.service, query.min_severity, query.trace_id))
    filtered = filtered or any(value is not None for value in (query.span_id, query.text)) or bool(template)
    if filtered:
        templates = _mined(con, cut)
        query = _with_template(query, templates, template)
        groups = [] if query.masked == [] else log_group_rows(con, query, cut)
    else:  # every record read counts: its groups hold every masked message, no second pass
        groups = log_group_rows(con, query, cut)
        templates = mine_templates(group["masked"] for group in groups)
    ranked = _merged(groups, templates, query.record_sample)
    return {
        "window": window.as_dict(),
        "records": sum(entry["count"] for _, entry in ranked),
        "record_sample": _sample_note(query.record_sample),
        "templates": [_template_entry(tid, entry) for tid, entry in ranked[:limit]],
        "truncated": len(ranked) > limit,
    }


def _merged(groups: Iterable[LogGroupRow], templates: MinedTemplates, sample: int) -> list[tuple[str, dict[str, Any]]]:
    """The groups merged per template, the most frequent first (ties by text): a sampled
    group's records count ``sample`` times, an estimate of the records it stands for."""
    merged: dict[str, dict[str, Any]] = {}
    for group in groups:
        found = templates.template_of(group["masked"])
        entry = merged.setdefault(
            found.template_id,
            {"template": found.text, "count": 0, "severities": {}, "services": {}, "example": None},
        )
        records = group["records"] * (1 if kept_whole(group["severity_number"], group["severity_text"]) else sample)
        entry["count"] += records
        level = severity_name(group["severity_number"], group["severity_text"])
        entry["severities"][level] = entry["severities"].get(level, 0) + records
        entry["services"][group["service"]] = entry["services"].get(group["service"], 0) + records
        example = (group["first_ns"], group["example"], group["example_location"])
        entry["example"] = example if entry["example"] is None else min(entry["example"], example)
        entry["last_ns"] = max(entry.get("last_ns", group["last_ns"]), group["last_ns"])
    return sorted(merged.items(), key=lambda item: (-item[1]["count"], item[1]["template"], item[0]))


def _template_entry(tid: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "template_id": tid,
        "template": entry["template"],
        "count": entry["count"],
        "severities": _ordered_levels(entry["severities"]),
        "services": dict(sorted(entry["services"].items(), key=lambda item: (-item[1], item[0]))),
        "first_ns": entry["example"][0],
        "last_ns": entry["last_ns"],
        "example": entry["example"][1],
        "location": entry["example"][2],
    }


def _ordered_levels(counts: Mapping[str, int]) -> dict[str, int]:
    """Level -> count, the most severe first."""
    return {level: counts[level] for level in _LEVEL_ORDER if level in counts}


def trace_logs(con: duckdb.DuckDBPyConnection, trace_id: str, *, start_ns: int, end_ns: int) -> dict[str, Any]:
    """Every log record of one trace (whatever its time), in time order, each with its level,
    template and attributes, and the window its templates were mined over: the trace's time
    and :data:`TRACE_LOG_CONTEXT_NS` on either side, widened to whole seconds (None when the
    trace has no record).

    The one query for a trace's logs: the waterfall of the CLI, the API and the console
    reads it through :func:`analyzer.query_service.traces.trace_detail`.
    """
    rows = trace_log_rows(con, trace_id)
    if not rows:
        return {"window": None, "records": []}
    # whole seconds: exact as JSON numbers in a browser (multiples of 2**9 below 2**62)
    since_ns = max(start_ns - TRACE_LOG_CONTEXT_NS, 0) // _SECOND_NS * _SECOND_NS
    until_ns = -(-(end_ns + TRACE_LOG_CONTEXT_NS + 1) // _SECOND_NS) * _SECOND_NS
    window = SpanWindow(since_ns, min(until_ns, END_OF_TIME_NS))
    own = (row["masked"] for row in rows if row["masked"] is not None)
    cut = cut_log_window(con, window)
    mined = window_masked_messages(con, cut, record_sample=record_sample(cut))
    templates = mine_templates(_chain(mined, own))
    records = []
    for row in rows:
        found = _template_of(row["masked"], templates)
        records.append(
            {
                "time_ns": row["time_ns"],
                "span_id": row["span_id"],
                "service": row["service"],
                "instance": row["instance"],
                "severity": severity_name(row["severity_number"], row["severity_text"]),
                "severity_text": row["severity_text"],
                "severity_number": row["severity_number"],
                "event_name": row["event_name"],
                "message": row["message"],
                "template_id": found.template_id if found else None,
                "template": found.text if found else None,
                "attributes": json.loads(row["attributes"]) if row["attributes"] else {},
            }
        )
    return dict(jsonable({"window": window.as_dict(), "records": records}))


def _chain(*parts: Iterable[str]) -> list[str]:
    return [item for part in parts for item in part]
