"""glimpse's HTTP API (the CLI and the console use the same endpoints)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar

import duckdb
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from glimpse import __version__
from glimpse.anomaly_views import anomalies
from glimpse.console_views import data_overview, search_traces, service_red, trace_detail
from glimpse.incident_views import root_causes
from glimpse.insight_views import insights
from glimpse.jsonable import query_payload
from glimpse.timeparse import parse_time_ns
from glimpse.views import (
    bottlenecks,
    jaeger_dependencies,
    platform_metric_series,
    platforms,
    service_graph_diff,
    service_graph_document,
    trace_critical_path,
)
from storage.errors import QueryError
from storage.query import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, run_read_only
from storage.schema import SCHEMA_VERSION

__all__ = [
    "anomaly_options",
    "bottleneck_options",
    "build_api_app",
    "diff_options",
    "duration_ns",
    "graph_options",
    "insight_options",
    "metric_series_options",
    "rca_options",
    "service_options",
    "trace_search_options",
    "window_options",
]

T = TypeVar("T")

MAX_ROWS_LIMIT = 100_000


def build_api_app(connect: Callable[[], duckdb.DuckDBPyConnection], stats: Callable[[], dict[str, Any]]) -> Starlette:
    """``connect`` returns a fresh read connection for each query."""

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__, "schema_version": SCHEMA_VERSION})

    async def server_stats(_: Request) -> JSONResponse:
        return JSONResponse(stats())

    async def sql(request: Request) -> JSONResponse:
        try:
            payload = await request.json()
        except ValueError:
            return _bad_request('the body must be a JSON object like {"sql": "SELECT ..."}')
        if not isinstance(payload, dict) or not isinstance(payload.get("sql"), str):
            return _bad_request('the body must be a JSON object with a string field "sql"')
        max_rows = payload.get("max_rows", DEFAULT_MAX_ROWS)
        timeout_s = payload.get("timeout_s", DEFAULT_TIMEOUT_S)
        if not isinstance(max_rows, int) or not 1 <= max_rows <= MAX_ROWS_LIMIT:
            return _bad_request(f"max_rows must be an integer from 1 to {MAX_ROWS_LIMIT}")
        if not isinstance(timeout_s, (int, float)) or not 0 < timeout_s <= 300:
            return _bad_request("timeout_s must be a number of seconds from 0 to 300")
        try:
            body = await run_in_threadpool(_run, connect, payload["sql"], max_rows, float(timeout_s))
        except QueryError as exc:
            return _bad_request(str(exc))
        return JSONResponse(body)

    async def graph(request: Request) -> Response:
        params = request.query_params
        fmt = params.get("format", "json")
        try:
            options = graph_options(params)
            text: str = await run_in_threadpool(partial(_with_cursor, connect, service_graph_document, fmt, **options))
        except (ValueError, LookupError) as exc:
            return _bad_request(str(exc).strip("'\""))
        return Response(text, media_type=GRAPH_MEDIA_TYPES.get(fmt, "application/json"))

    def one_trace(function: Callable[..., dict[str, Any]]) -> Any:
        """A GET endpoint for the trace in the path: ``function(connection, trace_id, adjust_skew=...)``."""

        async def endpoint(request: Request) -> JSONResponse:
            adjust = request.query_params.get("adjust_skew", "").lower() in ("1", "true", "yes")
            trace_id = request.path_params["trace_id"]
            try:
                body = await run_in_threadpool(partial(_with_cursor, connect, function, trace_id, adjust_skew=adjust))
            except ValueError as exc:
                return _bad_request(str(exc))
            except LookupError as exc:
                return JSONResponse({"error": str(exc).strip("'\"")}, status_code=404)
            return JSONResponse(body)

        return endpoint

    def analysis(
        function: Callable[..., dict[str, Any]], options: Callable[[Mapping[str, str]], dict[str, Any]]
    ) -> Any:
        """A GET endpoint: query parameters -> options -> function(connection) -> JSON."""

        async def endpoint(request: Request) -> JSONResponse:
            try:
                parsed = options(request.query_params)
                body = await run_in_threadpool(partial(_with_cursor, connect, function, **parsed))
            except ValueError as exc:
                return _bad_request(str(exc))
            except LookupError as exc:  # nothing to analyse (no such trace, no incident)
                return JSONResponse({"error": str(exc).strip("'\"")}, status_code=404)
            return JSONResponse(body)

        return endpoint

    async def dependencies(request: Request) -> JSONResponse:
        params = request.query_params
        try:
            end_ts = int(params.get("endTs") or time.time() * 1000)
            lookback = int(params.get("lookback") or 24 * 3600 * 1000)
        except ValueError:
            return _bad_request("endTs and lookback must be integer milliseconds")
        data = await run_in_threadpool(
            _with_cursor, connect, jaeger_dependencies, end_ts_ms=end_ts, lookback_ms=lookback
        )
        return JSONResponse({"data": data, "total": len(data), "limit": 0, "offset": 0, "errors": None})

    return Starlette(
        routes=[
            Route("/api/graph", graph, methods=["GET"]),
            Route("/api/graph/diff", analysis(service_graph_diff, diff_options), methods=["GET"]),
            Route("/api/traces/{trace_id}/critical-path", one_trace(trace_critical_path), methods=["GET"]),
            Route("/api/traces/{trace_id}", one_trace(trace_detail), methods=["GET"]),
            Route("/api/traces", analysis(search_traces, trace_search_options), methods=["GET"]),
            Route("/api/services", analysis(service_red, service_options), methods=["GET"]),
            Route("/api/extent", analysis(data_overview, lambda _: {}), methods=["GET"]),
            Route("/api/bottlenecks", analysis(bottlenecks, bottleneck_options), methods=["GET"]),
            Route("/api/platforms", analysis(platforms, window_options), methods=["GET"]),
            Route("/api/platforms/metrics", analysis(platform_metric_series, metric_series_options), methods=["GET"]),
            Route("/api/anomalies", analysis(anomalies, anomaly_options), methods=["GET"]),
            Route("/api/rca", analysis(root_causes, rca_options), methods=["GET"]),
            Route("/api/insights", analysis(insights, insight_options), methods=["GET"]),
            Route("/api/dependencies", dependencies, methods=["GET"]),
            Route("/api/health", health, methods=["GET"]),
            Route("/api/stats", server_stats, methods=["GET"]),
            Route("/api/sql", sql, methods=["POST"]),
        ]
    )


def _run(connect: Callable[[], duckdb.DuckDBPyConnection], sql: str, max_rows: int, timeout_s: float) -> dict[str, Any]:
    return query_payload(_with_cursor(connect, run_read_only, sql, max_rows=max_rows, timeout_s=timeout_s))


GRAPH_MEDIA_TYPES = {
    "graphml": "application/xml",
    "gexf": "application/xml",
    "dot": "text/vnd.graphviz",
    "mermaid": "text/plain",
}


def window_options(params: Mapping[str, str]) -> dict[str, Any]:
    """``since``/``until`` (RFC 3339 or unix ns) -> the keywords every analysis takes."""
    return {"since_ns": parse_time_ns(params.get("since")), "until_ns": parse_time_ns(params.get("until"))}


def _limit(params: Mapping[str, str], default: int) -> int:
    limit = params.get("limit") or str(default)
    if not limit.isdigit() or int(limit) < 1:
        raise ValueError("limit must be a positive integer")
    return int(limit)


def anomaly_options(params: Mapping[str, str]) -> dict[str, Any]:
    """Window, ``service``, ``series`` (include each anomaly's series; default true), ``limit``."""
    return {
        **window_options(params),
        "service": params.get("service") or None,
        "with_series": params.get("series", "true").lower() not in ("0", "false", "no"),
        "limit": _limit(params, 200),
    }


def rca_options(params: Mapping[str, str]) -> dict[str, Any]:
    """Incident window (none: the latest incident is found), baseline window, ``service``, ``limit``."""
    return {
        **window_options(params),
        "baseline_since_ns": parse_time_ns(params.get("baseline_since")),
        "baseline_until_ns": parse_time_ns(params.get("baseline_until")),
        "service": params.get("service") or None,
        "limit": _limit(params, 10),
    }


def insight_options(params: Mapping[str, str]) -> dict[str, Any]:
    """Window, ``service``, ``horizon`` (seconds to forecast; default a quarter of the window)."""
    horizon = params.get("horizon")
    try:
        horizon_s = float(horizon) if horizon else None
    except ValueError:
        raise ValueError("horizon must be a number of seconds") from None
    return {**window_options(params), "service": params.get("service") or None, "horizon_s": horizon_s}


def bottleneck_options(params: Mapping[str, str]) -> dict[str, Any]:
    limit = params.get("limit") or "20"
    if not limit.isdigit() or int(limit) < 1:
        raise ValueError("limit must be a positive integer")
    return {
        **window_options(params),
        "endpoint": params.get("endpoint") or None,
        "service": params.get("service") or None,
        "limit": int(limit),
    }


def service_options(params: Mapping[str, str]) -> dict[str, Any]:
    bucket = params.get("bucket")
    try:
        bucket_s = float(bucket) if bucket else None
    except ValueError:
        raise ValueError("bucket must be a number of seconds") from None
    return {**window_options(params), "bucket_s": bucket_s, "service": params.get("service") or None}


_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000}


def duration_ns(text: str | None) -> int | None:
    """``250ms``, ``1.5s``, ``300us``, ``2m`` or a bare number of milliseconds -> ns (None stays None)."""
    if text is None or not text.strip():
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m)?\s*", text)
    if not match:
        raise ValueError(f"not a duration (like 250ms, 1.5s, 300us): {text!r}")
    return round(float(match.group(1)) * _DURATION_UNITS[match.group(2) or "ms"])


def trace_search_options(params: Mapping[str, str]) -> dict[str, Any]:
    """``service``, ``operation``, ``min_duration``/``max_duration``, ``status`` (error|ok),
    ``attr`` (``key=value``, repeatable), ``limit``, ``since``/``until``."""
    getlist = getattr(params, "getlist", None)
    pairs = list(getlist("attr")) if getlist else [params["attr"]] if params.get("attr") else []
    attributes: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"an attribute filter is key=value, got {pair!r}")
        attributes[key.strip()] = value.strip()
    status = (params.get("status") or "").lower()
    if status not in ("", "error", "ok"):
        raise ValueError("status must be error or ok")
    limit = params.get("limit") or "20"
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        raise ValueError("limit must be an integer from 1 to 1000")
    return {
        **window_options(params),
        "service": params.get("service") or None,
        "operation": params.get("operation") or None,
        "attributes": attributes,
        "min_duration_ns": duration_ns(params.get("min_duration")),
        "max_duration_ns": duration_ns(params.get("max_duration")),
        "errors": {"": None, "error": True, "ok": False}[status],
        "limit": int(limit),
    }


def metric_series_options(params: Mapping[str, str]) -> dict[str, Any]:
    return {**window_options(params), "bucket_s": float(params.get("bucket") or 60)}


def graph_options(params: Mapping[str, str]) -> dict[str, Any]:
    """Query parameters (or CLI options) of a graph request -> service_graph keywords."""
    depth_text = params.get("depth") or "1"
    if not depth_text.isdigit():
        raise ValueError("depth must be a non-negative integer")
    return {
        **window_options(params),
        "service": params.get("service") or None,
        "depth": int(depth_text),
        "operations": params.get("operations", "").lower() in ("1", "true", "yes"),
    }


def diff_options(params: Mapping[str, str]) -> dict[str, Any]:
    """Query parameters of a graph diff: the current window and the baseline window."""
    if not params.get("diff_since") and not params.get("diff_until"):
        raise ValueError("a diff needs a baseline window: diff_since and/or diff_until")
    return {
        "since_ns": parse_time_ns(params.get("since")),
        "until_ns": parse_time_ns(params.get("until")),
        "baseline_since_ns": parse_time_ns(params.get("diff_since")),
        "baseline_until_ns": parse_time_ns(params.get("diff_until")),
    }


def _with_cursor(
    connect: Callable[[], duckdb.DuckDBPyConnection], function: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    con = connect()
    try:
        return function(con, *args, **kwargs)
    finally:
        con.close()


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)
