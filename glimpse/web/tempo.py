"""Tempo's HTTP API under ``/tempo``: what Grafana's Tempo data source calls (a data source
URL ``http://host:4320/tempo``).

* ``/api/traces/{id}`` and ``/api/v2/traces/{id}``: OTLP protobuf with ``Accept:
  application/protobuf`` (v1 a ``Trace``, which is ``TracesData`` on the wire; v2 Tempo's
  ``TraceByIDResponse`` around it), else OTLP/JSON (v1 ``{"batches": [...]}``, v2
  ``{"trace": {"resourceSpans": [...]}}``);
* ``/api/search``: TraceQL (``q``: one spanset filter, glimpse.traceql) or tags (``tags``,
  logfmt ``key=value`` pairs), ``minDuration``/``maxDuration`` of the trace, ``limit``
  (default 20), ``start``/``end`` (unix seconds), ``spss`` (spans per spanset, default 3);
* ``/api/search/tags``, ``/api/v2/search/tags``, ``/api/search/tag/{tag}/values``,
  ``/api/v2/search/tag/{tag}/values``: names and values from the last hour of data unless
  ``start``/``end`` say otherwise;
* ``/api/echo`` and ``/api/status/buildinfo``: what Grafana's "Test" and version probe read.

Errors answer as Tempo's do: the status and a plain-text message.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from analyzer.errors import InvalidQueryError, NotFoundError
from analyzer.query_service.catalog import attribute_values, attributes
from analyzer.query_service.traces import export_traces, matched_spans, search_traces
from glimpse import __version__
from glimpse.params import epoch_ns, go_duration_ns
from glimpse.traceql import TraceQLFilter, parse_field, parse_traceql
from glimpse.web.common import Connect, query, status_for
from glimpse.web.jaeger import tag_filter
from glimpse.web.otlp_export import otlp_json, tempo_trace_by_id_response, traces_data
from storage.span_filters import AllOf, Attribute, Comparison, Intrinsic, SpanFilter
from tracing.errors import GlimpseError

__all__ = ["TEMPO_API_VERSION", "TEMPO_PREFIX", "tempo_routes", "tempo_search_filter", "tempo_trace_id"]

TEMPO_PREFIX = "/tempo"
# the Tempo version whose API this facade answers like (Grafana reads it to pick features)
TEMPO_API_VERSION = "2.4.0"
PROTOBUF = "application/protobuf"
DEFAULT_SEARCH_LIMIT = 20
MAX_SEARCH_LIMIT = 1000
DEFAULT_SPSS = 3
INTRINSIC_TAGS = ("duration", "kind", "name", "status", "statusMessage")
_JSON_TYPES = {"VARCHAR": "string", "BIGINT": "int", "UBIGINT": "int", "DOUBLE": "float", "BOOLEAN": "bool"}

Handler = Callable[[Request], Awaitable[Response]]


def tempo_trace_id(text: str) -> str:
    """A Tempo trace id (1 to 32 hex digits: Tempo drops leading zeros) as 32 digits."""
    value = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{1,32}", value):
        raise InvalidQueryError(f"invalid trace id {text!r}: not 1 to 32 hex digits")
    return value.rjust(32, "0")


def _shown_id(trace_id: str) -> str:
    return trace_id.lstrip("0") or "0"


def tempo_search_filter(params: Any) -> TraceQLFilter:
    """The span filter and trace-duration bounds of a search: ``q`` (TraceQL) if given, else
    ``tags`` (logfmt: ``service.name`` is the service, ``name`` the span name, others as
    Jaeger's tags), with ``minDuration``/``maxDuration`` (Go durations) on the trace."""
    q = params.get("q")
    found = parse_traceql(q) if q else TraceQLFilter(_tags_filter(params.get("tags") or ""))
    low, high = found.min_trace_ns, found.max_trace_ns
    if params.get("minDuration"):
        bound = go_duration_ns(params["minDuration"], "minDuration")
        low = bound if low is None else max(low, bound)
    if params.get("maxDuration"):
        bound = go_duration_ns(params["maxDuration"], "maxDuration")
        high = bound if high is None else min(high, bound)
    return TraceQLFilter(found.span_filter, low, high)


def _tags_filter(text: str) -> SpanFilter | None:
    try:
        pairs = shlex.split(text)
    except ValueError as exc:
        raise InvalidQueryError(f"invalid tags {text!r}: {exc}") from None
    parts: list[SpanFilter] = []
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise InvalidQueryError(f"invalid tags: {pair!r} is not key=value")
        if key == "service.name":
            parts.append(Comparison(Intrinsic("service"), "=", value))
        elif key == "name":
            parts.append(Comparison(Intrinsic("name"), "=", value))
        else:
            parts.append(tag_filter(key, value))
    return AllOf(tuple(parts)) if parts else None


def _text_errors(endpoint: Handler) -> Handler:
    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except GlimpseError as exc:
            return PlainTextResponse(str(exc), status_code=status_for(exc))

    return answer


def tempo_routes(connect: Connect) -> list[Route]:
    """Every route of the facade, under :data:`TEMPO_PREFIX`."""
    api = _TempoApi(connect)
    routes = {
        "/api/echo": api.echo,
        "/api/status/buildinfo": api.buildinfo,
        "/api/traces/{trace_id}": api.trace_v1,
        "/api/v2/traces/{trace_id}": api.trace_v2,
        "/api/search": api.search,
        "/api/search/tags": api.tags_v1,
        "/api/v2/search/tags": api.tags_v2,
        "/api/search/tag/{tag}/values": api.values_v1,
        "/api/v2/search/tag/{tag}/values": api.values_v2,
    }
    return [Route(TEMPO_PREFIX + path, _text_errors(handler), methods=["GET"]) for path, handler in routes.items()]


def _window(request: Request) -> dict[str, int | None]:
    return {
        "since_ns": epoch_ns(request.query_params.get("start"), "start"),
        "until_ns": epoch_ns(request.query_params.get("end"), "end"),
    }


def _int(request: Request, name: str, default: int, maximum: int) -> int:
    text = request.query_params.get(name) or str(default)
    if not re.fullmatch(r"\d+", text) or int(text) < 1:
        raise InvalidQueryError(f"invalid {name} {text!r}: a positive integer")
    return min(int(text), maximum)


class _TempoApi:
    def __init__(self, connect: Connect) -> None:
        self.connect = connect

    async def echo(self, _: Request) -> Response:
        return PlainTextResponse("echo")

    async def buildinfo(self, _: Request) -> Response:
        return JSONResponse(
            {
                "version": TEMPO_API_VERSION,
                "revision": f"glimpse {__version__}",
                "branch": "",
                "buildUser": "",
                "buildDate": "",
                "goVersion": "",
            }
        )

    async def _trace(self, request: Request) -> list[dict[str, Any]]:
        trace_id = tempo_trace_id(request.path_params["trace_id"])
        _window(request)  # a narrowing hint to Tempo; the trace index needs none
        if (request.query_params.get("q") or "").strip() not in ("", "{}", "{ }", "{true}", "{ true }"):
            raise InvalidQueryError("q (a span filter on a trace by id) is not supported: ask for the whole trace")
        traces: list[dict[str, Any]] = await query(self.connect, export_traces, [trace_id])
        if not traces:
            raise NotFoundError("trace not found")
        return traces

    async def trace_v1(self, request: Request) -> Response:
        data = traces_data(await self._trace(request))
        if _wants_protobuf(request):
            return Response(data.SerializeToString(), media_type=PROTOBUF)
        return JSONResponse({"batches": otlp_json(data).get("resourceSpans", [])})

    async def trace_v2(self, request: Request) -> Response:
        data = traces_data(await self._trace(request))
        if _wants_protobuf(request):
            return Response(tempo_trace_by_id_response(data), media_type=PROTOBUF)
        return JSONResponse({"trace": otlp_json(data), "metrics": {}})

    async def search(self, request: Request) -> Response:
        found = tempo_search_filter(request.query_params)
        limit = _int(request, "limit", DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT)
        spss = _int(request, "spss", DEFAULT_SPSS, 1000)
        answer = await query(self.connect, _searched, found, limit=limit, spss=spss, **_window(request))
        return JSONResponse(answer)

    async def tags_v1(self, request: Request) -> Response:
        scopes = await self._tag_scopes(request)
        names = sorted({name for tags in scopes.values() for name in tags})
        return JSONResponse({"tagNames": names, "metrics": {}})

    async def tags_v2(self, request: Request) -> Response:
        scopes = await self._tag_scopes(request)
        return JSONResponse({"scopes": [{"name": name, "tags": tags} for name, tags in scopes.items()], "metrics": {}})

    async def _tag_scopes(self, request: Request) -> dict[str, list[str]]:
        scope = request.query_params.get("scope") or "all"
        if scope not in ("all", "resource", "span", "intrinsic", "event", "link", "instrumentation"):
            raise InvalidQueryError(f"invalid scope {scope!r}: resource, span, intrinsic or all")
        limit = _int(request, "limit", 1000, 10_000)
        found = await query(self.connect, attributes, limit=limit, **_window(request))
        scopes = {"resource": found["resource"], "span": found["span"], "intrinsic": list(INTRINSIC_TAGS)}
        return {name: tags for name, tags in scopes.items() if scope in ("all", name)}

    async def values_v1(self, request: Request) -> Response:
        tag = request.path_params["tag"]
        field: Intrinsic | Attribute
        if tag in ("service.name", "name"):
            field = Intrinsic("service" if tag == "service.name" else "name")
        else:
            field = Attribute(tag, "any")
        values = await self._values(request, field)
        return JSONResponse({"tagValues": [value["value"] for value in values], "metrics": {}})

    async def values_v2(self, request: Request) -> Response:
        field = parse_field(request.path_params["tag"])
        if field is None:
            raise InvalidQueryError(f"invalid tag {request.path_params['tag']!r}: a TraceQL field such as span.x")
        return JSONResponse({"tagValues": await self._values(request, field), "metrics": {}})

    async def _values(self, request: Request, field: Intrinsic | Attribute) -> list[dict[str, str]]:
        span_filter = None
        with suppress(InvalidQueryError):  # Tempo answers the whole list to a filter it cannot read
            span_filter = parse_traceql(request.query_params.get("q") or "").span_filter
        limit = _int(request, "limit", 1000, 10_000)
        found = await query(
            self.connect, attribute_values, field, span_filter=span_filter, limit=limit, **_window(request)
        )
        if isinstance(field, Intrinsic) and field.name in ("status", "kind"):
            return [{"type": "keyword", "value": value["value"].lower()} for value in found["values"]]
        if isinstance(field, Intrinsic) and field.name == "duration":
            return [{"type": "duration", "value": f"{value['value']}ns"} for value in found["values"]]
        return [
            {"type": _JSON_TYPES.get(value["type"], "string"), "value": value["value"]} for value in found["values"]
        ]


def _wants_protobuf(request: Request) -> bool:
    return PROTOBUF in request.headers.get("accept", "") or "application/x-protobuf" in request.headers.get(
        "accept", ""
    )


def _searched(
    con: Any, found: TraceQLFilter, *, limit: int, spss: int, since_ns: int | None, until_ns: int | None
) -> dict[str, Any]:
    """Tempo's search answer: the traces, newest first, each with its matching spans."""
    result = search_traces(
        con,
        since_ns=since_ns,
        until_ns=until_ns,
        span_filter=found.span_filter,
        min_duration_ns=found.min_trace_ns,
        max_duration_ns=found.max_trace_ns,
        limit=limit,
    )
    trace_ids = [trace["trace_id"] for trace in result["traces"]]
    window = result["window"]
    spansets = matched_spans(
        con,
        trace_ids,
        found.span_filter or AllOf(()),
        since_ns=window["since_ns"],
        until_ns=window["until_ns"],
        per_trace=spss,
    )
    traces = []
    for trace in result["traces"]:
        entry: dict[str, Any] = {
            "traceID": _shown_id(trace["trace_id"]),
            "rootServiceName": trace["root_service"],
            "rootTraceName": trace["root_operation"],
            "startTimeUnixNano": str(trace["start_ns"]),
            "durationMs": int(trace["duration_ns"]) // 1_000_000,
        }
        matched = spansets.get(trace["trace_id"])
        if matched is not None:
            spanset = {"spans": [_spanset_span(span) for span in matched["spans"]], "matched": matched["matched"]}
            entry.update(spanSet=spanset, spanSets=[spanset])
        traces.append(entry)
    metrics = {"inspectedTraces": len(traces), "inspectedBytes": "0", "completedJobs": 1, "totalJobs": 1}
    return {"traces": traces, "metrics": metrics}


def _spanset_span(span: dict[str, Any]) -> dict[str, Any]:
    return {
        "spanID": span["span_id"],
        "name": span["name"],
        "startTimeUnixNano": str(span["start_ns"]),
        "durationNanos": str(span["duration_ns"]),
        "attributes": [{"key": "service.name", "value": {"stringValue": span["service"]}}],
    }
