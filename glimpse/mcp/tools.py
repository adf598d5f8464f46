"""glimpse's MCP tools: each one a thin call into the analyses the CLI and the API run.

A tool takes JSON-schema'd arguments (the type hints below, with their limits), asks a
:class:`glimpse.client.GlimpseClient` (the database file, a running server, or the server's
own connections) the same question ``glimpse ... --json`` would, and hands the answer on in
the agent's shape (:mod:`glimpse.mcp.shape`) within a byte budget (:mod:`glimpse.mcp.budget`).
Nothing here analyses anything. A glimpse error becomes a tool error whose message says
what was wrong and what to do; arguments outside their schema are refused before a call.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from analyzer.errors import NotFoundError
from glimpse.client import GlimpseClient
from glimpse.mcp.budget import DEFAULT_MAX_BYTES, Answer
from glimpse.mcp.shape import (
    SPAN_COLUMNS,
    agent_units,
    ms,
    rfc3339,
    select_spans,
    span_lines,
    span_texts,
    without_empty,
)
from tracing.errors import GlimpseError

__all__ = ["TOOL_NAMES", "GlimpseTools"]

TOOL_NAMES = (
    "list_services",
    "search_traces",
    "get_trace",
    "get_critical_path",
    "get_service_graph",
    "get_bottlenecks",
    "find_anomalies",
    "rank_root_causes",
    "search_logs",
    "list_log_templates",
    "query_sql",
    "list_alerts",
)

Since = Annotated[
    str | None,
    Field(description="Window start: RFC 3339 (2026-05-01T10:00:00Z) or unix nanoseconds. Default: the first span."),
]
Until = Annotated[
    str | None, Field(description="Window end, exclusive: RFC 3339 or unix nanoseconds. Default: past the last span.")
]
Service = Annotated[str | None, Field(description="A service.name, as list_services names it.")]
TraceId = Annotated[str, Field(description="32 hex digits, as search_traces or an evidence item gives it.")]

F = TypeVar("F", bound=Callable[..., str])

SERVICES_SHOWN = 20  # services named per trace (service_count says how many it has)


def _tool(hint: str) -> Callable[[F], F]:
    """Turn a glimpse error into a tool error with ``hint`` (what to try instead)."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def run(*args: Any, **kwargs: Any) -> str:
            try:
                return method(*args, **kwargs)
            except GlimpseError as exc:
                raise ToolError(f"{_agent_words(str(exc))}. Hint: {hint}.") from None

        return run  # type: ignore[return-value]

    return decorate


def _agent_words(message: str) -> str:
    """A message written for the CLI in the tools' words: ``--baseline-since`` -> ``baseline_since``.

    >>> _agent_words("no incident found; give --since/--until to analyse a window")
    'no incident found; give since/until to analyse a window'
    """
    return re.sub(r"--([a-z][a-z-]*)", lambda match: match.group(1).replace("-", "_"), message).rstrip(".")


class GlimpseTools:
    """The tools, over ``client()``: a fresh client per call (it finds a server started since)."""

    def __init__(self, client: Callable[[], GlimpseClient], *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.client = client
        self.max_bytes = max_bytes

    @_tool("list_services without arguments shows the time span of the data and every service")
    def list_services(
        self,
        since: Since = None,
        until: Until = None,
        service: Annotated[str | None, Field(description="One service: its operations too.")] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="Services (and operations) to return.")] = 50,
    ) -> str:
        """Start here. Rate, errors and duration (RED) per service in a window, the services with
        the most errors first, and the time span of the data (use it to choose windows). With
        service=, that service's operations too."""
        source = self.client()
        extent = source.analysis("extent", {})
        red = source.analysis("services", {"since": since, "until": until, "service": service})
        if service is not None and not red["services"]:
            raise ToolError(f"no requests of a service named {service!r} in this window: list_services names them")
        answer = Answer(
            "pass service= for one service, a shorter window, or a lower limit",
            window=agent_units(red["window"]),
            data={
                "first_span": rfc3339(extent["first_ns"]),
                "last_span": rfc3339(extent["last_ns"]),
                "spans": extent.get("spans", 0),
            },
        )
        ranked = sorted(red["services"], key=lambda s: (-s["errors"], -s["requests"], s["service"]))
        answer.put("services", [_red(item) for item in ranked], limit)
        if service is not None:
            answer.put("operations", [_red(item) for item in red.get("operations", [])], limit)
        return answer.text(trim=["operations", "services"], max_bytes=self.max_bytes)

    @_tool("list_services shows the time span of the data and the service names")
    def search_traces(
        self,
        since: Since = None,
        until: Until = None,
        service: Annotated[str | None, Field(description="Traces with a span of this service.")] = None,
        operation: Annotated[str | None, Field(description="Traces with a span of this name.")] = None,
        attributes: Annotated[
            dict[str, str] | None,
            Field(description='Span attributes that must all match, e.g. {"http.response.status_code": "500"}.'),
        ] = None,
        min_duration_ms: Annotated[float | None, Field(ge=0, description="Traces at least this long.")] = None,
        max_duration_ms: Annotated[float | None, Field(ge=0, description="Traces at most this long.")] = None,
        errors_only: Annotated[bool, Field(description="Only traces with an error span.")] = False,
        limit: Annotated[int, Field(ge=1, le=100, description="Traces to return, the newest first.")] = 20,
    ) -> str:
        """Find traces (newest first) by service, operation, span attributes, duration and errors:
        each with its root, start, duration, span and error counts and services."""
        params = {
            "since": since,
            "until": until,
            "service": service,
            "operation": operation,
            "attr": [f"{key}={value}" for key, value in (attributes or {}).items()] or None,
            "min_duration": _duration(min_duration_ms),
            "max_duration": _duration(max_duration_ms),
            "status": "error" if errors_only else None,
            "limit": limit,
        }
        found = self.client().analysis("traces", params)
        answer = Answer("add filters (service, operation, attributes, durations), a shorter window or a lower limit")
        answer.fields["window"] = agent_units(found["window"])
        answer.put("traces", [_trace_summary(trace) for trace in found["traces"]], more=found["truncated"])
        return answer.text(trim=["traces"], max_bytes=self.max_bytes)

    @_tool("search_traces finds trace ids")
    def get_trace(
        self,
        trace_id: TraceId,
        span_ids: Annotated[
            list[str] | None,
            Field(max_length=20, description="Span ids (16 hex digits) to detail instead of the topology."),
        ] = None,
        subtree_of: Annotated[str | None, Field(description="Only this span id and the spans under it.")] = None,
        max_depth: Annotated[
            int | None, Field(ge=0, description="Only spans at most this many levels below the top one shown.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="Span lines to return at most.")] = 150,
    ) -> str:
        """One trace as a compact topology: one line per span (path in the tree, span id, service,
        operation, kind, duration, self time, critical-path time, flags: error, logs=N,
        hidden_below=N). Past the limit, the spans on the critical path and in error come first,
        then the shallowest; subtree_of= and max_depth= zoom in. With span_ids=, those spans in
        full instead: attributes, resource, events, links, status and log records."""
        source = self.client()
        if span_ids:
            return self._span_details(source.trace("trace", trace_id), span_ids)
        return self._topology(source.trace("critical_path", trace_id), subtree_of, max_depth, limit)

    def _topology(self, found: dict[str, Any], subtree_of: str | None, max_depth: int | None, limit: int) -> str:
        lines = span_lines(found["spans"])
        pool = lines
        if subtree_of is not None:
            top = next((line for line in lines if line.span["span_id"] == subtree_of.strip().lower()), None)
            if top is None:
                raise ToolError(f"no span {subtree_of!r} in trace {found['trace_id']}: the topology lists span ids")
            pool = lines[top.index : top.index + top.subtree]
        if max_depth is not None and pool:
            top_depth = min(line.depth for line in pool)
            pool = [line for line in pool if line.depth - top_depth <= max_depth]
        services: dict[str, int] = {}
        for span in found["spans"]:
            services[span["service"]] = services.get(span["service"], 0) + 1
        answer = Answer(
            "get_trace with subtree_of=<span id flagged hidden_below> zooms in; max_depth= or a lower limit "
            "shows less; span_ids=[...] details spans",
            trace_id=found["trace_id"],
            start=rfc3339(found["start_ns"]),
            duration_ms=ms(found["end_ns"] - found["start_ns"]),
            span_count=len(lines),
            error_count=sum(1 for span in found["spans"] if span["error"]),
            log_count=found.get("log_count", 0),
            service_count=len(services),
            services=dict(sorted(services.items(), key=lambda item: (-item[1], item[0]))[:SERVICES_SHOWN]),
        )
        if found.get("provisional_roots"):
            answer.fields["spans_with_missing_parent"] = found["provisional_roots"]
        answer.fields["columns"] = SPAN_COLUMNS
        shown = limit
        while True:  # fewer lines until the answer fits: hidden_below must count what is not shown
            chosen = select_spans(pool, shown)
            answer.fields["spans"] = span_texts(chosen)
            answer.note("spans", len(pool) - len(chosen))
            size = answer.size()
            if size <= self.max_bytes or shown == 1:
                return answer.text(max_bytes=self.max_bytes)
            shown = max(1, min(shown - 1, int(len(chosen) * self.max_bytes / size * 0.95)))

    def _span_details(self, found: dict[str, Any], span_ids: list[str]) -> str:
        wanted = [span_id.strip().lower() for span_id in span_ids]
        by_id = {span["span_id"]: span for span in found["spans"]}
        answer = Answer("ask for fewer span_ids at a time", trace_id=found["trace_id"])
        answer.put("spans", [_span_detail(by_id[span_id]) for span_id in wanted if span_id in by_id])
        unknown = [span_id for span_id in wanted if span_id not in by_id]
        if unknown:
            answer.fields["unknown_span_ids"] = unknown
        return answer.text(trim=["spans"], max_bytes=self.max_bytes)

    @_tool("search_traces finds trace ids")
    def get_critical_path(
        self,
        trace_id: TraceId,
        limit: Annotated[int, Field(ge=1, le=500, description="Operations and path sections to return.")] = 30,
    ) -> str:
        """The critical path of one trace (what its duration waited on, Jaeger's algorithm): the
        operations by the critical-path time they hold, and the path's sections in time order."""
        found = self.client().trace("critical_path", trace_id)
        start_ns, total_ns = found["start_ns"], max(found["end_ns"] - found["start_ns"], 1)
        sections = sorted(found["critical_path"], key=lambda s: (s["start_ns"], s["span_id"]))
        held: dict[tuple[str, str], int] = {}
        for section in sections:
            key = (section["service"], section["operation"])
            held[key] = held.get(key, 0) + section["duration_ns"]
        operations = [
            {"service": service, "operation": operation, "critical_ms": ms(nanos), "share": round(nanos / total_ns, 4)}
            for (service, operation), nanos in sorted(held.items(), key=lambda item: (-item[1], item[0]))
        ]
        longest = sorted(sections, key=lambda s: (-s["duration_ns"], s["start_ns"]))[:limit]
        kept = [section for section in sections if section in longest]
        answer = Answer(
            "a lower limit shows fewer sections; get_trace(subtree_of=span_id) shows the spans under one",
            trace_id=found["trace_id"],
            start=rfc3339(start_ns),
            duration_ms=ms(total_ns),
            section_count=len(sections),
        )
        answer.put("by_operation", operations, limit)
        answer.put(
            "sections",
            [
                {
                    "span_id": s["span_id"],
                    "service": s["service"],
                    "operation": s["operation"],
                    "offset_ms": ms(s["start_ns"] - start_ns),
                    "duration_ms": ms(s["duration_ns"]),
                }
                for s in kept
            ],
        )
        answer.note("sections", len(sections) - len(kept))
        return answer.text(trim=["sections", "by_operation"], max_bytes=self.max_bytes)

    @_tool("list_services names the services and shows the time span of the data")
    def get_service_graph(
        self,
        since: Since = None,
        until: Until = None,
        service: Annotated[str | None, Field(description="Only this service's neighbourhood.")] = None,
        depth: Annotated[int, Field(ge=0, le=10, description="Hops around service=.")] = 1,
        limit: Annotated[int, Field(ge=1, le=1000, description="Nodes and edges to return at most.")] = 50,
    ) -> str:
        """The service dependency graph of a window (uninstrumented databases, queues and external
        APIs included): nodes with their rate, errors and latency, the busiest first, and edges
        (caller -> callee) with calls, errors and client/server latency. With service=, only the
        nodes within depth hops of it."""
        params = {"since": since, "until": until, "service": service, "depth": depth}
        document = json.loads(self.client().graph_document("json", params))
        nodes = sorted(document["nodes"], key=lambda node: (-node.get("span_count", 0), node["id"]))
        edges = sorted(document["edges"], key=lambda edge: (-edge.get("calls", 0), edge["source"], edge["target"]))
        answer = Answer(
            "pass service= (and depth=) for one neighbourhood, a shorter window, or a lower limit",
            window={key: rfc3339(value) for key, value in _window_ns(document["graph"]).items()},
            node_count=len(nodes),
            edge_count=len(edges),
        )
        answer.put("nodes", [_graph_node(node) for node in nodes], limit)
        answer.put("edges", [_graph_edge(edge) for edge in edges], limit)
        return answer.text(trim=["edges", "nodes"], max_bytes=self.max_bytes)

    @_tool("search_traces shows root services and operations; list_services names the services")
    def get_bottlenecks(
        self,
        since: Since = None,
        until: Until = None,
        endpoint: Annotated[str | None, Field(description="Only traces whose root span is SERVICE:OPERATION.")] = None,
        service: Annotated[str | None, Field(description="Only this service's operations.")] = None,
        limit: Annotated[int, Field(ge=1, le=50, description="Operations and patterns to return.")] = 10,
    ) -> str:
        """Operations ranked by the critical-path time they cost across the window's traces (what to
        make faster first), with example trace ids, and wasteful call patterns found (N+1 calls,
        retries, sequential calls that could run in parallel, uninstrumented gaps)."""
        params = {"since": since, "until": until, "endpoint": endpoint, "service": service, "limit": limit}
        found = self.client().analysis("bottlenecks", params)
        answer = Answer(
            "pass endpoint= or service=, a shorter window, or a lower limit",
            window=agent_units(found["window"]),
            endpoint=found["endpoint"],
            traces=found["traces"],
            spans=found["spans"],
            sampled_fraction=found["sampled_fraction"],
            critical_ms=ms(found["critical_ns"]),
        )
        answer.put("ranking", [_cost(cost) for cost in found["ranking"]], limit)
        answer.put("patterns", [_pattern(item) for item in found["patterns"]["found"]], limit)
        return answer.text(trim=["patterns", "ranking"], max_bytes=self.max_bytes)

    @_tool("list_services shows the time span of the data")
    def find_anomalies(
        self,
        since: Since = None,
        until: Until = None,
        service: Annotated[str | None, Field(description="Only this service's anomalies and incidents.")] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="Anomalies to return, the strongest first.")] = 20,
    ) -> str:
        """What changed and when: anomalous latency, errors, log and resource signals per service,
        operation, call edge, pod and node (score, baseline and observed values), and the
        incidents they group into, the latest first, with the log changes seen in each."""
        params = {"since": since, "until": until, "service": service, "series": "false", "limit": limit + 1}
        found = self.client().analysis("anomalies", params)
        answer = Answer(
            "pass service=, a shorter window, or a lower limit; rank_root_causes explains an incident",
            window=_anomaly_window(found["window"]),
        )
        answer.put("incidents", [_incident(item) for item in found["incidents"]], 10)
        anomalies = [_anomaly(item) for item in found["anomalies"]]
        answer.put("anomalies", anomalies[:limit], more=len(anomalies) > limit)
        return answer.text(trim=["anomalies", "incidents"], max_bytes=self.max_bytes)

    @_tool("find_anomalies shows incidents and their windows")
    def rank_root_causes(
        self,
        since: Annotated[
            str | None,
            Field(description="Incident start (RFC 3339 or unix ns). Default: the latest incident is found."),
        ] = None,
        until: Until = None,
        baseline_since: Annotated[
            str | None, Field(description="Baseline start. Default: 4 incident-lengths (>= 30 min) before.")
        ] = None,
        baseline_until: Annotated[str | None, Field(description="Baseline end. Default: the incident's start.")] = None,
        service: Annotated[str | None, Field(description="Only traces through this service.")] = None,
        limit: Annotated[int, Field(ge=1, le=20, description="Candidates to return, the most probable first.")] = 5,
    ) -> str:
        """The most probable root causes of an incident (the latest one when no window is given),
        ranked: each a service, operation, pod, host, database, queue, external API or call edge,
        with a score, its evidence (numbers before and during the incident, example trace ids to
        open with get_trace) and a remediation hint."""
        params = {
            "since": since,
            "until": until,
            "baseline_since": baseline_since,
            "baseline_until": baseline_until,
            "service": service,
            "limit": limit,
        }
        try:
            found = self.client().analysis("rca", params)
        except NotFoundError as exc:
            if since is not None:
                raise
            raise ToolError(f"{_agent_words(str(exc))}. Hint: find_anomalies shows what changed and when.") from None
        answer = Answer(
            "a lower limit, or service= for the traces through one service",
            incident=without_empty(agent_units(found["incident"])),
            baseline=agent_units(found["baseline"]),
            service=found["service"],
        )
        answer.put("candidates", [_candidate(item) for item in found["candidates"]], limit)
        return answer.text(trim=["candidates"], max_bytes=self.max_bytes)

    @_tool("list_log_templates shows the templates; trace ids are 32 hex digits, span ids 16")
    def search_logs(
        self,
        since: Since = None,
        until: Until = None,
        service: Service = None,
        severity: Annotated[str | None, Field(description="Minimum level: TRACE ... FATAL, or 1-24.")] = None,
        template: Annotated[
            str | None, Field(description="A template id (see list_log_templates) or a text with <*> wildcards.")
        ] = None,
        trace_id: Annotated[str | None, Field(description="Only this trace's records.")] = None,
        span_id: Annotated[str | None, Field(description="Only this span's records.")] = None,
        text: Annotated[str | None, Field(description="A substring of the message (any case).")] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="Records to return, the newest first.")] = 50,
    ) -> str:
        """Log records (newest first) by service, minimum severity, template, trace, span and text,
        each with its template (the constant part of the message) and trace and span ids."""
        found = self.client().analysis("logs", _log_params(locals()))
        answer = Answer("add filters (severity, service, template, text), a shorter window or a lower limit")
        answer.fields["window"] = agent_units(found["window"])
        answer.put("records", [_log_record(record) for record in found["records"]], more=found["truncated"])
        return answer.text(trim=["records"], max_bytes=self.max_bytes)

    @_tool("list_services shows the time span of the data")
    def list_log_templates(
        self,
        since: Since = None,
        until: Until = None,
        service: Service = None,
        severity: Annotated[str | None, Field(description="Minimum level: TRACE ... FATAL, or 1-24.")] = None,
        text: Annotated[str | None, Field(description="A substring of the message (any case).")] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="Templates to return, the most frequent first.")] = 30,
    ) -> str:
        """The window's log templates (messages with their variable parts masked) with counts per
        severity and service, first and last time and an example: what the logs say, in a page."""
        found = self.client().analysis("log_templates", _log_params(locals()))
        answer = Answer(
            "filter by service or severity, a shorter window, or a lower limit",
            window=agent_units(found["window"]),
            records=found["records"],
            # set when the counts below a level are estimates from a sample of the records
            **without_empty({"record_sample": found.get("record_sample")}),
        )
        templates = [without_empty(agent_units(item)) for item in found["templates"]]
        answer.put("templates", templates, more=found["truncated"])
        return answer.text(trim=["templates"], max_bytes=self.max_bytes)

    @_tool("alerts exist only where glimpse serve runs with --rules (docs/alerting.md)")
    def list_alerts(
        self,
        history: Annotated[bool, Field(description="Also the latest state changes and remediation actions.")] = False,
        limit: Annotated[int, Field(ge=1, le=200, description="State changes and actions to return.")] = 20,
    ) -> str:
        """The alerts glimpse serve's rules keep, firing and pending first, each with its value,
        scope and the root causes ranked when it fired; with history, the latest state changes."""
        found = self.client().analysis("alerts", {"history": "true" if history else None, "limit": limit})
        answer = Answer("set history=false or a lower limit")
        answer.put("alerts", [_alert(row) for row in found["alerts"]])
        for key in ("history", "actions"):
            if key in found:
                answer.put(key, [_alert(row) for row in found[key]], limit)
        return answer.text(trim=["actions", "history", "alerts"], max_bytes=self.max_bytes)

    @_tool("one SELECT over otel_traces, otel_logs or otel_metrics_*; SELECT * FROM otel_traces LIMIT 1 shows columns")
    def query_sql(
        self,
        sql: Annotated[str, Field(description="One read-only SELECT (DuckDB SQL).")],
        max_rows: Annotated[int, Field(ge=1, le=1000, description="Rows to return at most.")] = 100,
    ) -> str:
        """Read-only DuckDB SQL over the store, in the same sandbox as `glimpse sql`: otel_traces (a
        row per span: timestamp, trace_id, span_id, parent_span_id, service_name, span_name,
        span_kind, duration in ns, status_code, span_attributes, ...), otel_logs, otel_metrics_*.
        One SELECT, 30 s at most."""
        found = self.client().sql(sql, max_rows=max_rows)
        answer = Answer(
            "select fewer columns, aggregate, or add WHERE / LIMIT",
            columns=found["columns"],
            types=found["types"],
        )
        answer.put("rows", found["rows"], more=found["truncated"])
        answer.fields["elapsed_ms"] = found["elapsed_ms"]
        return answer.text(trim=["rows"], max_bytes=self.max_bytes)


# ---- shapes of the query service's items --------------------------------------------------


def _trace_summary(trace: dict[str, Any]) -> dict[str, Any]:
    services = list(trace.get("services", []))
    shaped = agent_units({**trace, "services": services[:SERVICES_SHOWN]})
    shaped["service_count"] = len(services)
    return dict(without_empty(shaped))


def _duration(milliseconds: float | None) -> str | None:
    return None if milliseconds is None else f"{milliseconds}ms"


def _red(item: dict[str, Any]) -> dict[str, Any]:
    return dict(without_empty({key: value for key, value in item.items() if key != "series"}))


def _window_ns(graph: dict[str, Any]) -> dict[str, Any]:
    return {"since": graph.get("since_ns"), "until": graph.get("until_ns")}


def _graph_node(node: dict[str, Any]) -> dict[str, Any]:
    shaped = {"name": node["id"], "kind": node.get("kind")}
    for key in ("span_count", "error_rate", "p50_ms", "p95_ms", "p99_ms", "namespace"):
        shaped[key] = node.get(key)
    shaped["rate_per_s"] = node.get("request_rate")
    for key in ("instances", "hosts"):
        if node.get(key):
            shaped[key] = len(str(node[key]).split(","))
    return dict(without_empty(shaped))


def _graph_edge(edge: dict[str, Any]) -> dict[str, Any]:
    skipped = {"source", "target", "connection_type", "first_seen", "last_seen"}
    shaped = {"caller": edge["source"], "callee": edge["target"], "type": edge.get("connection_type")}
    shaped.update({key: value for key, value in edge.items() if key not in skipped})
    return dict(without_empty(shaped))


def _cost(cost: dict[str, Any]) -> dict[str, Any]:
    shaped = agent_units(cost)
    shaped["example_trace_ids"] = shaped.get("example_trace_ids", [])[:3]
    return dict(without_empty(shaped))


def _pattern(item: dict[str, Any]) -> dict[str, Any]:
    shaped = agent_units({key: value for key, value in item.items() if key != "examples"})
    shaped["examples"] = [
        {"trace_id": example["trace_id"], "span_ids": example["span_ids"][:3], "note": example["note"]}
        for example in item["examples"][:2]
    ]
    return dict(without_empty(shaped))


def _anomaly_window(window: dict[str, Any]) -> dict[str, Any]:
    return {"since": rfc3339(window["since"]), "until": rfc3339(window["until"]), "bucket_ms": ms(window["bucket_ns"])}


def _anomaly(item: dict[str, Any]) -> dict[str, Any]:
    shaped = {key: value for key, value in item.items() if key not in ("series", "start", "end")}
    shaped.update(start=rfc3339(item["start"]), end=rfc3339(item["end"]))
    return dict(without_empty(shaped))


def _incident(item: dict[str, Any]) -> dict[str, Any]:
    entities = item.get("entities", [])
    shaped: dict[str, Any] = {
        "id": item["id"],
        "start": rfc3339(item["start"]),
        "end": rfc3339(item["end"]),
        "score": item["score"],
        "services": item["services"],
        "anomalies": item["anomalies"],
        "entities": entities[:20],
    }
    if len(entities) > 20:
        shaped["entities_omitted"] = len(entities) - 20
    shaped["log_changes"] = [
        {
            "service": change["service"],
            "strength": change["strength"],
            "changes": [detail.get("detail") for detail in change.get("changes", [])[:3]],
        }
        for change in item.get("logs", [])[:3]
    ]
    return dict(without_empty(shaped))


def _candidate(item: dict[str, Any]) -> dict[str, Any]:
    evidence = []
    for entry in item.get("evidence", []):
        shaped = agent_units(entry)
        if "trace_ids" in shaped:
            shaped["trace_ids"] = shaped["trace_ids"][:3]
        evidence.append(without_empty(shaped))
    return {
        "rank": item["rank"],
        "kind": item["kind"],
        "name": item["name"],
        "service": item["service"],
        "score": item["score"],
        "evidence": evidence,
        "remediation": item["remediation"],
    }


def _span_detail(span: dict[str, Any]) -> dict[str, Any]:
    kept = (
        "span_id",
        "parent_span_id",
        "service",
        "operation",
        "kind",
        "start_ns",
        "offset_ns",
        "duration_ns",
        "self_ns",
        "critical_ns",
        "skew_shift_ns",
        "error",
        "status_code",
        "status_message",
        "scope",
        "attributes",
        "resource",
        "events",
        "links",
    )
    shaped = agent_units({key: span[key] for key in kept if key in span})
    if not span.get("skew_shift_ns"):
        shaped.pop("skew_shift_ms", None)
    shaped["logs"] = [_log_record(record) for record in span.get("logs", [])]
    dropped = {key: count for key, count in (span.get("dropped") or {}).items() if count}
    if dropped:
        shaped["dropped"] = dropped
    return dict(without_empty(shaped))


def _log_record(record: dict[str, Any]) -> dict[str, Any]:
    skipped = {"severity_text", "severity_number", "offset_ns"}
    return dict(without_empty(agent_units({key: value for key, value in record.items() if key not in skipped})))


def _log_params(arguments: dict[str, Any]) -> dict[str, Any]:
    keys = ("since", "until", "service", "severity", "template", "trace_id", "span_id", "text", "limit")
    return {key: arguments.get(key) for key in keys}


ALERT_TIMES = ("active_since", "fired_at", "resolved_at", "evaluated_at", "at", "requested_at")


def _alert(row: dict[str, Any]) -> dict[str, Any]:
    """An alert row in the agent's units: its moments (unix ns) as RFC 3339."""
    converted = {
        key: rfc3339(value) if key in ALERT_TIMES and isinstance(value, int) else value for key, value in row.items()
    }
    shaped: dict[str, Any] = without_empty(converted)
    return shaped
