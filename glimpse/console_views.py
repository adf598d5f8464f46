"""What the web console's own endpoints answer (the other pages use the CLI's views)."""

from __future__ import annotations

import json
import math
from typing import Any

import duckdb

from glimpse.jsonable import jsonable
from glimpse.views import trace_critical_path
from storage.console_queries import (
    TraceQuery,
    data_extent,
    operation_red_rows,
    search_trace_rows,
    service_red_rows,
    trace_detail_rows,
)
from storage.graph_queries import SpanWindow, resolve_window
from storage.trace_queries import trace_span_rows
from tracing.trace import Span, assemble_trace

__all__ = ["NICE_BUCKETS_S", "choose_bucket_s", "data_overview", "search_traces", "service_red", "trace_detail"]

# Sparkline buckets: the smallest of these that gives at most MAX_BUCKETS points.
NICE_BUCKETS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
MAX_BUCKETS = 60


def choose_bucket_s(window_s: float, *, max_buckets: int = MAX_BUCKETS) -> int:
    """A round bucket length (seconds) that cuts ``window_s`` into at most ``max_buckets``.

    >>> choose_bucket_s(3600), choose_bucket_s(600), choose_bucket_s(10)
    (60, 10, 1)
    """
    for bucket in NICE_BUCKETS_S:
        if window_s / bucket <= max_buckets:
            return bucket
    return math.ceil(window_s / max_buckets)


def data_overview(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The span-time extent of the store: what the console's time picker offers."""
    return data_extent(con)


def _ms(nanos: float | None) -> float | None:
    return None if nanos is None else round(nanos / 1e6, 3)


def _quantiles(values: list[float] | None) -> dict[str, float | None]:
    p50, p95, p99 = values or (None, None, None)
    return {"p50_ms": _ms(p50), "p95_ms": _ms(p95), "p99_ms": _ms(p99)}


def service_red(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    bucket_s: float | None = None,
    service: str | None = None,
) -> dict[str, Any]:
    """Rate, errors and duration (RED) of every service's requests, with a series per bucket.

    Requests are SERVER and CONSUMER spans, as on the service graph's nodes. ``bucket_s``
    defaults to a round length giving at most 60 buckets. With ``service``, only that
    service, plus its operations (all span kinds).
    """
    window = resolve_window(con, since_ns, until_ns)
    bucket = bucket_s if bucket_s is not None else choose_bucket_s(window.seconds)
    if bucket <= 0:
        raise ValueError("the bucket must be a positive number of seconds")
    bucket_ns = max(int(bucket * 1e9), 1)
    buckets = max(1, math.ceil((window.until_ns - window.since_ns) / bucket_ns))
    if buckets > 10_000:
        raise ValueError(f"{buckets} buckets: choose a longer bucket or a shorter window")
    services: dict[str, dict[str, Any]] = {}
    for row in service_red_rows(con, window, bucket_ns=bucket_ns, service=service):
        name = row["service"]
        if row["bucket"] is None:
            requests = int(row["requests"])
            services[name] = {
                "service": name,
                "span_count": int(row["span_count"]),
                "requests": requests,
                "errors": int(row["errors"]),
                "rate_per_s": round(requests / window.seconds, 6),
                "error_rate": round(int(row["errors"]) / requests, 6) if requests else 0.0,
                **_quantiles(row["ns_quantiles"]),
                "series": _empty_series(window, bucket_ns, buckets),
            }
            continue
        index = int(row["bucket"])
        if not 0 <= index < buckets:
            continue
        series = services[name]["series"]
        requests = int(row["requests"])
        series["requests"][index] = requests
        series["rate_per_s"][index] = round(requests / (bucket_ns / 1e9), 6)
        series["error_rate"][index] = round(int(row["errors"]) / requests, 6) if requests else None
        for key, value in _quantiles(row["ns_quantiles"]).items():
            series[key][index] = value
    answer: dict[str, Any] = {
        "window": {"since_ns": window.since_ns, "until_ns": window.until_ns},
        "bucket_s": bucket_ns / 1e9,
        "services": list(services.values()),
    }
    if service is not None:
        answer["operations"] = [
            {
                "operation": row["operation"],
                "kind": row["kind"],
                "requests": int(row["requests"]),
                "errors": int(row["errors"]),
                "rate_per_s": round(int(row["requests"]) / window.seconds, 6),
                "error_rate": round(int(row["errors"]) / int(row["requests"]), 6) if row["requests"] else 0.0,
                **_quantiles(row["ns_quantiles"]),
            }
            for row in operation_red_rows(con, window, service)
        ]
    return answer


def _empty_series(window: SpanWindow, bucket_ns: int, buckets: int) -> dict[str, list[Any]]:
    return {
        "t": [window.since_ns + i * bucket_ns for i in range(buckets)],
        "requests": [0] * buckets,
        "rate_per_s": [0.0] * buckets,
        "error_rate": [None] * buckets,
        "p50_ms": [None] * buckets,
        "p95_ms": [None] * buckets,
        "p99_ms": [None] * buckets,
    }


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
    limit: int = 20,
) -> dict[str, Any]:
    """Traces matching a search (see storage.console_queries.TraceQuery), the newest first."""
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
        limit=limit + 1,
    )
    rows = search_trace_rows(con, query)
    return {
        "window": {"since_ns": window.since_ns, "until_ns": window.until_ns},
        "traces": [
            {**row, "services": list(row["services"]), "start_ns": int(row["start_ns"])} for row in rows[:limit]
        ],
        "truncated": len(rows) > limit,
    }


def trace_detail(con: duckdb.DuckDBPyConnection, trace_id: str, *, adjust_skew: bool = False) -> dict[str, Any]:
    """One trace for the waterfall: the critical-path answer (``glimpse critical-path
    --json``: spans with depth, self time, critical-path time and skew shift) with each
    span's attributes, resource, scope, status message, events and links added, and
    ``offset_ns`` (from the trace's start) on spans and critical-path sections.

    Without ``adjust_skew``, ``skew_detected`` counts the spans that the adjustment
    would shift (so that the page can offer it).
    """
    answer = trace_critical_path(con, trace_id, adjust_skew=adjust_skew)
    details = {row["span_id"]: row for row in trace_detail_rows(con, trace_id)}
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
    answer["adjust_skew"] = adjust_skew
    if adjust_skew:
        answer["skew_detected"] = answer["skew_adjusted_spans"]
    else:
        rows = trace_span_rows(con, trace_id)
        adjusted = assemble_trace(answer["trace_id"], (Span.from_row(r) for r in rows), adjust_skew=True)
        answer["skew_detected"] = len(adjusted.skew_adjusted)
    services: dict[str, int] = {}
    for span in answer["spans"]:
        services[span["service"]] = services.get(span["service"], 0) + 1
    answer["services"] = services
    answer["error_count"] = sum(1 for span in answer["spans"] if span["error"])
    return dict(jsonable(answer))


def _json(text: str | None) -> Any:
    return json.loads(text) if text else {}
