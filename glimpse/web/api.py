"""glimpse's HTTP API: the routes of :mod:`glimpse.endpoints`, plus graph exports, SQL, health,
the Jaeger (``/jaeger``, glimpse.web.jaeger) and Tempo (``/tempo``, glimpse.web.tempo)
facades, the span-derived metrics (``/metrics/spans``, glimpse.span_metrics), and the MCP
endpoint ``/mcp`` (:mod:`glimpse.mcp.endpoint`).

The CLI and the console read the same endpoints. Errors map to a status in one place,
:func:`status_for`; every error answer is ``{"error": message}``. With a token store,
every route but ``/api/health`` (liveness probes and load balancers carry no
credentials; it tells only that the server is up, and its version) answers 401 to a
request without one of the bearer tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from analyzer.errors import InvalidQueryError, NotFoundError
from collector.security import BearerAuth, TokenStore
from glimpse import __version__
from glimpse.endpoints import (
    ANALYSES,
    TRACE_ANALYSES,
    Analysis,
    TraceAnalysis,
    jaeger_dependencies,
    service_graph_document,
)
from glimpse.metrics import CONTENT_TYPE, SelfMetrics
from glimpse.params import graph_options, trace_options
from glimpse.web.common import Connect, status_for
from glimpse.web.jaeger import jaeger_routes
from glimpse.web.tempo import tempo_routes
from storage.errors import QueryError
from storage.jsonable import query_payload
from storage.query import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, run_read_only
from storage.schema import SCHEMA_VERSION
from storage.store import on_connection
from tracing.errors import GlimpseError

if TYPE_CHECKING:
    from glimpse.mcp.endpoint import McpEndpoint

__all__ = [
    "EXCEPTION_HANDLERS",
    "GRAPH_MEDIA_TYPES",
    "MAX_ROWS_LIMIT",
    "PUBLIC_API_PATHS",
    "SPAN_METRICS_PATH",
    "api_routes",
    "build_api_app",
    "require_token",
    "status_for",
]


MAX_ROWS_LIMIT = 100_000

GRAPH_MEDIA_TYPES = {
    "graphml": "application/xml",
    "gexf": "application/xml",
    "dot": "text/vnd.graphviz",
    "mermaid": "text/plain",
}

SPAN_METRICS_PATH = "/metrics/spans"

# answered without a token (see the module's docstring)
PUBLIC_API_PATHS = frozenset({"/api/health"})


async def _error_answer(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, GlimpseError)
    return JSONResponse({"error": str(exc)}, status_code=status_for(exc))


EXCEPTION_HANDLERS = {GlimpseError: _error_answer}


def build_api_app(
    connect: Connect,
    stats: Callable[[], dict[str, Any]],
    *,
    metrics: SelfMetrics | None = None,
    span_metrics: Callable[[], bytes] | None = None,
    tokens: TokenStore | None = None,
    mcp: McpEndpoint | None = None,
    reload_rules: Callable[[], int] | None = None,
) -> Starlette:
    """``connect`` returns a fresh read connection for each query; ``span_metrics`` makes the
    ``/metrics/spans`` exposition; ``tokens``: who may ask; ``mcp``: the MCP endpoint to serve
    beside the API (behind the same tokens), whose sessions run in the app's lifespan;
    ``reload_rules`` re-reads the alert rules for ``POST /api/rules/reload`` (None: the
    server has no rules file, and the route answers 404)."""
    reload_route = Route("/api/rules/reload", partial(_reload_rules, reload_rules), methods=["POST"])
    return Starlette(
        routes=[*api_routes(connect, stats, metrics, span_metrics), reload_route, *([mcp.route] if mcp else [])],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=require_token(tokens, PUBLIC_API_PATHS.__contains__),
        lifespan=mcp.lifespan if mcp else None,
    )


def require_token(tokens: TokenStore | None, is_public: Callable[[str], bool]) -> list[Middleware]:
    """The middleware that turns away requests without a token (none without a token store)."""
    return [] if tokens is None else [Middleware(BearerAuth, tokens=tokens, public=is_public)]


def api_routes(
    connect: Connect,
    stats: Callable[[], dict[str, Any]],
    metrics: SelfMetrics | None = None,
    span_metrics: Callable[[], bytes] | None = None,
) -> list[Route]:
    """Every API route (the console app serves them beside its pages); with ``metrics``,
    each one timed, and ``GET /metrics``; with ``span_metrics``, ``GET /metrics/spans``."""

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__, "schema_version": SCHEMA_VERSION})

    async def server_stats(_: Request) -> JSONResponse:
        return JSONResponse(stats())

    async def graph(request: Request) -> Response:
        fmt = request.query_params.get("format", "json")
        options = graph_options(request.query_params)
        text: str = await run_in_threadpool(partial(on_connection, connect, service_graph_document, fmt, **options))
        return Response(text, media_type=GRAPH_MEDIA_TYPES.get(fmt, "application/json"))

    async def dependencies(request: Request) -> JSONResponse:
        params = request.query_params
        try:
            end_ts = int(params.get("endTs") or time.time() * 1000)
            lookback = int(params.get("lookback") or 24 * 3600 * 1000)
        except ValueError:
            raise InvalidQueryError("endTs and lookback must be integer milliseconds") from None
        data = await run_in_threadpool(
            on_connection, connect, jaeger_dependencies, end_ts_ms=end_ts, lookback_ms=lookback
        )
        return JSONResponse({"data": data, "total": len(data), "limit": 0, "offset": 0, "errors": None})

    routes = [
        Route("/api/graph", graph, methods=["GET"]),
        *(Route(entry.path, _trace_endpoint(connect, entry), methods=["GET"]) for entry in TRACE_ANALYSES.values()),
        *(Route(entry.path, _analysis_endpoint(connect, entry), methods=["GET"]) for entry in ANALYSES.values()),
        Route("/api/dependencies", dependencies, methods=["GET"]),
        Route("/api/health", health, methods=["GET"]),
        Route("/api/stats", server_stats, methods=["GET"]),
        Route("/api/sql", partial(_sql, connect), methods=["POST"]),
        Route("/api/alerts/test", partial(_backtest, connect), methods=["POST"]),
        *jaeger_routes(connect),
        *tempo_routes(connect),
    ]
    if span_metrics is not None:
        routes.append(Route(SPAN_METRICS_PATH, partial(_exposition, span_metrics), methods=["GET"]))
    if metrics is None:
        return routes
    timed = [_timed(route, metrics) for route in routes]
    return [*timed, Route("/metrics", partial(_exposition, metrics.exposition), methods=["GET"])]


def _timed(route: Route, metrics: SelfMetrics) -> Route:
    """``route`` with its latency observed under its template (bounded cardinality)."""
    endpoint, template = route.endpoint, route.path
    metrics.track_route(template)

    async def timed(request: Request) -> Any:
        started = time.perf_counter()
        try:
            return await endpoint(request)
        finally:  # errors too: a slow 400 is still a slow answer
            metrics.observe_query(template, time.perf_counter() - started)

    return Route(template, timed, methods=route.methods, name=route.name)


async def _exposition(exposition: Callable[[], bytes], _: Request) -> Response:
    # off the event loop: a scrape reads /proc and the journal directory, or queries the store
    return Response(await run_in_threadpool(exposition), media_type=CONTENT_TYPE)


def _analysis_endpoint(connect: Connect, entry: Analysis) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> JSONResponse:
        options = entry.options(request.query_params)
        return JSONResponse(await run_in_threadpool(partial(on_connection, connect, entry.function, **options)))

    return endpoint


def _trace_endpoint(connect: Connect, entry: TraceAnalysis) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> JSONResponse:
        options = trace_options(request.query_params)
        trace_id = request.path_params["trace_id"]
        return JSONResponse(
            await run_in_threadpool(partial(on_connection, connect, entry.function, trace_id, **options))
        )

    return endpoint


async def _backtest(connect: Connect, request: Request) -> JSONResponse:
    """``glimpse alerts test`` through the server: ``{"rules": YAML text, "since", "until",
    "step_ns", "root_causes"}`` -> the replay (400 naming every mistake of the rules)."""
    from analyzer.alert_rules import parse_rules
    from analyzer.query_service.alerts import DEFAULT_STEP_NS, backtest

    try:
        payload = await request.json()
    except ValueError:
        raise InvalidQueryError('the body must be a JSON object like {"rules": "rules: ..."}') from None
    if not isinstance(payload, dict) or not isinstance(payload.get("rules"), str):
        raise InvalidQueryError('the body must be a JSON object with the rules file\'s text as "rules"')
    bounds = [payload.get(key) for key in ("since", "until", "step_ns")]
    if not all(value is None or (isinstance(value, int) and not isinstance(value, bool)) for value in bounds):
        raise InvalidQueryError("since, until and step_ns must be integer nanoseconds")
    rules = parse_rules(payload["rules"])
    options = {
        "since_ns": bounds[0],
        "until_ns": bounds[1],
        "step_ns": bounds[2] or DEFAULT_STEP_NS,
        "with_root_causes": payload.get("root_causes", True) is not False,
    }
    return JSONResponse(await run_in_threadpool(partial(on_connection, connect, backtest, rules, **options)))


async def _reload_rules(reload_rules: Callable[[], int] | None, _: Request) -> JSONResponse:
    """Re-read the alert rules file: ``{"rules": count}``; 400 listing its mistakes (the rules
    loaded before stay), 404 without a rules file."""
    if reload_rules is None:
        raise NotFoundError("this server has no alert rules file: start it with --rules FILE")
    return JSONResponse({"rules": await run_in_threadpool(reload_rules)})


async def _sql(connect: Connect, request: Request) -> JSONResponse:
    try:
        payload = await request.json()
    except ValueError:
        raise QueryError('the body must be a JSON object like {"sql": "SELECT ..."}') from None
    if not isinstance(payload, dict) or not isinstance(payload.get("sql"), str):
        raise QueryError('the body must be a JSON object with a string field "sql"')
    max_rows = payload.get("max_rows", DEFAULT_MAX_ROWS)
    timeout_s = payload.get("timeout_s", DEFAULT_TIMEOUT_S)
    if not isinstance(max_rows, int) or not 1 <= max_rows <= MAX_ROWS_LIMIT:
        raise QueryError(f"max_rows must be an integer from 1 to {MAX_ROWS_LIMIT}")
    if not isinstance(timeout_s, (int, float)) or not 0 < timeout_s <= 300:
        raise QueryError("timeout_s must be a number of seconds from 0 to 300")
    result = await run_in_threadpool(
        on_connection, connect, run_read_only, payload["sql"], max_rows=max_rows, timeout_s=float(timeout_s)
    )
    return JSONResponse(query_payload(result))
