"""Jaeger's query HTTP API under ``/jaeger``: what Jaeger's UI and Grafana's Jaeger data
source call (a Grafana data source URL ``http://host:4320/jaeger``).

The legacy JSON API (``/jaeger/api/...``) answers ``{"data", "total", "limit", "offset",
"errors"}`` with traces in Jaeger's JSON model (glimpse.web.jaeger_model), and errors as
``{"data": null, "total": 0, "limit": 0, "offset": 0, "errors": [{"code", "msg"}]}`` with
that status. ``api_v3`` (``/jaeger/api/v3/...``) answers OTLP/JSON wrapped in
``{"result": ...}``, and errors as ``{"error": {"httpCode", "message"}}``.

Everything is read through the query service; the facade parses Jaeger's parameters and
translates answers. Times: Jaeger's legacy API takes microseconds; Grafana sends
milliseconds to a trace lookup: the magnitude tells which (glimpse.params.epoch_ns).
api_v3 takes RFC 3339 (a ``+`` of a zone offset that arrived as a space is read as ``+``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from analyzer.errors import InvalidQueryError, NotFoundError
from analyzer.query_service.catalog import operations, services
from analyzer.query_service.traces import export_traces, search_traces
from glimpse.endpoints import jaeger_dependencies
from glimpse.params import epoch_ns, go_duration_ns
from glimpse.timeparse import parse_time_ns
from glimpse.web.common import Connect, query, status_for
from glimpse.web.jaeger_model import jaeger_id, jaeger_trace, span_kind_name
from glimpse.web.otlp_export import otlp_json, traces_data
from storage.span_filters import AllOf, Attribute, Comparison, Intrinsic, SpanFilter
from tracing.errors import GlimpseError

__all__ = ["JAEGER_PREFIX", "JaegerSearch", "jaeger_routes", "jaeger_search", "jaeger_trace_id", "tag_filter"]

JAEGER_PREFIX = "/jaeger"
DEFAULT_LIMIT = 100  # Jaeger's query service default
MAX_LIMIT = 1000
TRACE_NOT_FOUND = "trace not found"
_KINDS = {
    "server": "Server",
    "client": "Client",
    "producer": "Producer",
    "consumer": "Consumer",
    "internal": "Internal",
}
_LOOKBACK = re.compile(r"(\d+)([mhdw])")
_LOOKBACK_NS = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class JaegerSearch:
    """A legacy ``/api/traces`` request: trace ids, or a search."""

    trace_ids: tuple[str, ...] = ()
    service: str | None = None
    operation: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    span_filter: SpanFilter | None = None
    limit: int = DEFAULT_LIMIT


def jaeger_trace_id(text: str) -> str:
    """A Jaeger trace id (1 to 32 hex digits; Jaeger drops a zero high half) as 32 digits."""
    value = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{1,32}", value):
        raise InvalidQueryError(f"cannot parse traceID {text!r}: not 1 to 32 hex digits")
    return value.rjust(32, "0")


def tag_filter(key: str, value: str) -> Comparison:
    """A Jaeger tag condition: the tags glimpse's Jaeger model derives (``error``,
    ``span.kind``, ``otel.status_code``, ``otel.status_description``) test the span's status
    and kind; any other key a span or resource attribute, compared as text."""
    if key == "error":
        return Comparison(Intrinsic("status"), "=" if value == "true" else "!=", "Error")
    if key == "span.kind":
        return Comparison(Intrinsic("kind"), "=", _KINDS.get(value, value))
    if key == "otel.status_code":
        return Comparison(Intrinsic("status"), "=", value.capitalize())
    if key == "otel.status_description":
        return Comparison(Intrinsic("status_message"), "=", value)
    return Comparison(Attribute(key, "any"), "=", value, as_text=True)


def _tags(params: Any) -> dict[str, str]:
    tags: dict[str, str] = {}
    for pair in params.getlist("tag"):
        key, separator, value = pair.partition(":")
        if not separator:
            raise InvalidQueryError(f"malformed 'tag' parameter, expecting key:value, received: {pair}")
        tags[key] = value
    for text in params.getlist("tags"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InvalidQueryError(f"malformed 'tags' parameter, cannot unmarshal JSON: {exc}") from None
        if not isinstance(document, dict):
            raise InvalidQueryError("malformed 'tags' parameter: a JSON object of key: value")
        tags.update(
            {str(key): value if isinstance(value, str) else json.dumps(value) for key, value in document.items()}
        )
    return tags


def jaeger_search(params: Any, *, now_ns: int | None = None) -> JaegerSearch:
    """Parse a legacy ``/api/traces`` query string as Jaeger's query service does: ``service``
    (required unless ``traceID`` is given), ``operation``, ``tags`` (JSON) and ``tag``
    (``key:value``, repeatable), ``minDuration``/``maxDuration`` (Go durations, of the
    matching span), ``start``/``end`` (unix microseconds; without ``start``, ``lookback``
    such as ``1h`` or ``2d`` before ``end`` or now; without either, all data), ``limit``
    (default 100, at most 1,000)."""
    trace_ids = tuple(jaeger_trace_id(text) for text in params.getlist("traceID"))
    service = params.get("service") or None
    if not trace_ids and service is None:
        raise InvalidQueryError("parameter 'service' is required")
    since_ns, until_ns = epoch_ns(params.get("start"), "start"), epoch_ns(params.get("end"), "end")
    lookback = _LOOKBACK.fullmatch(params.get("lookback") or "")
    if since_ns is None and lookback:
        end = until_ns if until_ns is not None else (now_ns or time.time_ns())
        since_ns = end - int(lookback.group(1)) * _LOOKBACK_NS[lookback.group(2)] * 1_000_000_000
    limit_text = params.get("limit") or str(DEFAULT_LIMIT)
    if not re.fullmatch(r"-?\d+", limit_text):
        raise InvalidQueryError(f"cannot parse limit {limit_text!r}: not an integer")
    limit = min(max(int(limit_text), 1), MAX_LIMIT) if int(limit_text) > 0 else DEFAULT_LIMIT
    tags = _tags(params)
    parts: list[SpanFilter] = [tag_filter(key, value) for key, value in tags.items()]
    low, high = _duration(params, "minDuration"), _duration(params, "maxDuration")
    if low and high and high < low:
        raise InvalidQueryError("'maxDuration' should be greater than 'minDuration'")
    if low:
        parts.append(Comparison(Intrinsic("duration"), ">=", low))
    if high:
        parts.append(Comparison(Intrinsic("duration"), "<=", high))
    return JaegerSearch(
        trace_ids=trace_ids,
        service=service,
        operation=params.get("operation") or None,
        since_ns=since_ns,
        until_ns=until_ns,
        span_filter=AllOf(tuple(parts)) if parts else None,
        limit=limit,
    )


def _duration(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name)
    if not text:
        return None
    try:
        return go_duration_ns(text, name)
    except InvalidQueryError as exc:
        raise InvalidQueryError(f"cannot not parse {name}: {exc}") from None


def _envelope(data: Any, *, total: int = 0, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors or None}


def _legacy(endpoint: Handler) -> Handler:
    """Errors in the legacy API's shape: ``errors: [{"code", "msg"}]`` and that status."""

    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except GlimpseError as exc:
            status = status_for(exc)
            message = TRACE_NOT_FOUND if isinstance(exc, NotFoundError) else str(exc)
            return JSONResponse(_envelope(None, errors=[{"code": status, "msg": message}]), status_code=status)

    return answer


def _v3(endpoint: Handler) -> Handler:
    """Errors in api_v3's shape: ``{"error": {"httpCode", "message"}}`` and that status."""

    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except GlimpseError as exc:
            status = status_for(exc)
            return JSONResponse({"error": {"httpCode": status, "message": str(exc)}}, status_code=status)

    return answer


def jaeger_routes(connect: Connect) -> list[Route]:
    """Every route of the facade, under :data:`JAEGER_PREFIX`."""
    legacy = _LegacyApi(connect)
    v3 = _ApiV3(connect)
    routes = {
        "/api/services": _legacy(legacy.services),
        "/api/services/{service}/operations": _legacy(legacy.service_operations),
        "/api/operations": _legacy(legacy.operations),
        "/api/traces": _legacy(legacy.search),
        "/api/traces/{trace_id}": _legacy(legacy.trace),
        "/api/dependencies": _legacy(legacy.dependencies),
        "/api/v3/services": _v3(v3.services),
        "/api/v3/operations": _v3(v3.operations),
        "/api/v3/traces": _v3(v3.search),
        "/api/v3/traces/{trace_id}": _v3(v3.trace),
    }
    return [Route(JAEGER_PREFIX + path, handler, methods=["GET"]) for path, handler in routes.items()]


class _LegacyApi:
    def __init__(self, connect: Connect) -> None:
        self.connect = connect

    async def services(self, _: Request) -> Response:
        names = await query(self.connect, services)
        return JSONResponse(_envelope(names, total=len(names)))

    async def service_operations(self, request: Request) -> Response:
        found = await query(self.connect, operations, request.path_params["service"])
        names = list(dict.fromkeys(row["name"] for row in found))
        return JSONResponse(_envelope(names, total=len(names)))

    async def operations(self, request: Request) -> Response:
        service = request.query_params.get("service")
        if not service:
            raise InvalidQueryError("parameter 'service' is required")
        kind = request.query_params.get("spanKind") or None
        if kind is not None and kind not in _KINDS:
            raise InvalidQueryError(f"unsupported span kind {kind!r}: one of {', '.join(_KINDS)}")
        found = await query(self.connect, operations, service, kind=_KINDS[kind] if kind else None)
        data = [{"name": row["name"], "spanKind": span_kind_name(row["kind"])} for row in found]
        return JSONResponse(_envelope(data, total=len(data)))

    async def search(self, request: Request) -> Response:
        search = jaeger_search(request.query_params)
        errors = []
        if search.trace_ids:
            traces = await query(self.connect, export_traces, search.trace_ids)
            found = {trace["trace_id"] for trace in traces}
            errors = [
                {"msg": TRACE_NOT_FOUND, "traceID": jaeger_id(trace_id)}
                for trace_id in search.trace_ids
                if trace_id not in found
            ]
        else:
            traces = await query(self.connect, _searched, search)
        return JSONResponse(_envelope([jaeger_trace(trace) for trace in traces], errors=errors))

    async def trace(self, request: Request) -> Response:
        trace_id = jaeger_trace_id(request.path_params["trace_id"])
        for name in ("start", "end"):  # a narrowing hint to Jaeger; the trace index needs none
            epoch_ns(request.query_params.get(name), name)
        _flag(request.query_params.get("raw"), "raw")
        traces = await query(self.connect, export_traces, [trace_id])
        if not traces:
            raise NotFoundError(TRACE_NOT_FOUND)
        return JSONResponse(_envelope([jaeger_trace(traces[0])]))

    async def dependencies(self, request: Request) -> Response:
        params = request.query_params
        try:
            end_ts = int(params.get("endTs", ""))
        except ValueError:
            raise InvalidQueryError(f"unable to parse endTs: not an integer: {params.get('endTs', '')!r}") from None
        lookback_text = params.get("lookback") or str(24 * 3600 * 1000)
        if not re.fullmatch(r"\d+", lookback_text):
            raise InvalidQueryError(f"unable to parse lookback: not an integer: {lookback_text!r}")
        links = await query(self.connect, jaeger_dependencies, end_ts_ms=end_ts, lookback_ms=int(lookback_text) or 1)
        service = params.get("service")
        if service:
            links = [link for link in links if service in (link["parent"], link["child"])]
        return JSONResponse(_envelope(links))


def _searched(con: Any, search: JaegerSearch) -> list[dict[str, Any]]:
    """The traces a search finds, whole (search and export on one connection)."""
    found = search_traces(
        con,
        since_ns=search.since_ns,
        until_ns=search.until_ns,
        service=search.service,
        operation=search.operation,
        span_filter=search.span_filter,
        limit=search.limit,
    )
    return export_traces(con, [trace["trace_id"] for trace in found["traces"]])


def _flag(text: str | None, name: str) -> bool:
    if text is None or text == "":
        return False
    lowered = text.lower()
    if lowered not in ("1", "t", "true", "0", "f", "false"):
        raise InvalidQueryError(f"unable to parse param '{name}': not a boolean: {text!r}")
    return lowered in ("1", "t", "true")


def _rfc3339_ns(text: str | None, name: str) -> int | None:
    if not text:
        return None
    # an unencoded "+01:00" arrives as " 01:00" (Grafana sends these times unencoded)
    value = re.sub(r" (\d\d:\d\d)$", r"+\1", text.strip()) if " " in text.strip() else text.strip()
    if not re.match(r"\d{4}-\d\d-\d\dT", value):
        raise InvalidQueryError(f"malformed parameter {name}: not an RFC 3339 time: {text!r}")
    try:
        return parse_time_ns(value)
    except InvalidQueryError as exc:
        raise InvalidQueryError(f"malformed parameter {name}: {exc}") from None


class _ApiV3:
    def __init__(self, connect: Connect) -> None:
        self.connect = connect

    async def services(self, _: Request) -> Response:
        return JSONResponse({"services": await query(self.connect, services)})

    async def operations(self, request: Request) -> Response:
        service = request.query_params.get("service")
        if not service:
            raise InvalidQueryError("malformed parameter service: required")
        kind = request.query_params.get("span_kind") or None
        if kind is not None and kind not in _KINDS:
            raise InvalidQueryError(f"malformed parameter span_kind: one of {', '.join(_KINDS)}")
        found = await query(self.connect, operations, service, kind=_KINDS[kind] if kind else None)
        return JSONResponse({"operations": [{"name": r["name"], "spanKind": span_kind_name(r["kind"])} for r in found]})

    async def trace(self, request: Request) -> Response:
        trace_id = jaeger_trace_id(request.path_params["trace_id"])
        for name in ("start_time", "end_time"):
            _rfc3339_ns(request.query_params.get(name), name)
        _flag(request.query_params.get("raw_traces"), "raw_traces")
        return self._traces(await query(self.connect, export_traces, [trace_id]))

    async def search(self, request: Request) -> Response:
        params = request.query_params
        since_ns = _rfc3339_ns(params.get("query.start_time_min"), "query.start_time_min")
        until_ns = _rfc3339_ns(params.get("query.start_time_max"), "query.start_time_max")
        if since_ns is None or until_ns is None:
            raise InvalidQueryError("query.start_time_min and query.start_time_max are required")
        limit_text = params.get("query.search_depth") or params.get("query.num_traces") or str(DEFAULT_LIMIT)
        if not re.fullmatch(r"\d+", limit_text):
            raise InvalidQueryError(f"malformed parameter query.search_depth: not an integer: {limit_text!r}")
        tags = {}
        if params.get("query.attributes"):
            try:
                tags = {str(k): str(v) for k, v in json.loads(params["query.attributes"]).items()}
            except (ValueError, AttributeError):
                raise InvalidQueryError("malformed parameter query.attributes: a JSON object of key: value") from None
        parts: list[SpanFilter] = [tag_filter(key, value) for key, value in tags.items()]
        for name, op in (("query.duration_min", ">="), ("query.duration_max", "<=")):
            if params.get(name):
                parts.append(Comparison(Intrinsic("duration"), op, go_duration_ns(params[name], f"parameter {name}")))
        search = JaegerSearch(
            service=params.get("query.service_name") or None,
            operation=params.get("query.operation_name") or None,
            since_ns=since_ns,
            until_ns=until_ns,
            span_filter=AllOf(tuple(parts)) if parts else None,
            limit=min(max(int(limit_text), 1), MAX_LIMIT),
        )
        return self._traces(await query(self.connect, _searched, search))

    @staticmethod
    def _traces(traces: list[dict[str, Any]]) -> Response:
        if not traces:
            return JSONResponse({"error": {"httpCode": 404, "message": "No traces found"}}, status_code=404)
        return JSONResponse({"result": otlp_json(traces_data(traces))})
