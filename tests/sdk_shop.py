"""A small shop, traced with the real OpenTelemetry SDK and sent through its OTLP exporters.

Two services, ``frontend`` (exported over gRPC) and ``payment`` (over HTTP), each with its
own resource; the SDK's finished spans are kept too (an in-memory exporter beside the OTLP
one), so that a test compares what comes back with what the SDK sent, span for span.

Trace ``checkout`` (times from ``base_ns``, in ms)::

    frontend  SERVER   GET /checkout   0-120   attributes of every type, event "cache miss"
    frontend  CLIENT   POST /pay      10-110   ERROR "card declined", a link to health's root
    payment   SERVER   POST /pay      15-105   ERROR, an exception event, a log record
    payment   INTERNAL charge         20-100   OK

Trace ``health``: ``frontend SERVER GET /health`` 200-203, OK.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from tests.otlp_clients import log_exporter, span_exporter

MS = 1_000_000
RESOURCES = {
    "frontend": {"service.name": "frontend", "deployment.environment": "test", "host.name": "web-1"},
    "payment": {"service.name": "payment", "service.version": "2.1", "host.name": "pay-1"},
}
PROTOCOL = {"frontend": "grpc", "payment": "http"}
SCOPE = ("shop.instrumentation", "1.2.3")


@dataclass
class Shop:
    """What the SDK finished and sent: every span, the two trace ids, the log record's body."""

    spans: list[ReadableSpan]
    checkout_id: str
    health_id: str
    base_ns: int
    log_body: str = "card 4242 declined"

    def span(self, name: str, service: str) -> ReadableSpan:
        (found,) = [s for s in self.spans if s.name == name and s.resource.attributes["service.name"] == service]
        return found

    def of_trace(self, trace_id: str) -> list[ReadableSpan]:
        return [s for s in self.spans if f"{s.context.trace_id:032x}" == trace_id]


def _providers(running: object, memory: InMemorySpanExporter) -> dict[str, TracerProvider]:
    providers = {}
    for service, attributes in RESOURCES.items():
        provider = TracerProvider(resource=Resource(attributes))
        provider.add_span_processor(SimpleSpanProcessor(span_exporter(PROTOCOL[service], running)))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        providers[service] = provider
    return providers


def send_shop(running: object, *, base_ns: int | None = None) -> Shop:
    """Trace the shop into the server ``running`` (anything with grpc_endpoint and http_url)."""
    base = base_ns if base_ns is not None else time.time_ns() // MS * MS
    memory = InMemorySpanExporter()
    providers = _providers(running, memory)
    front = providers["frontend"].get_tracer(*SCOPE)
    pay = providers["payment"].get_tracer(*SCOPE)

    health = front.start_span("GET /health", kind=SpanKind.SERVER, start_time=base + 200 * MS)
    health.set_status(Status(StatusCode.OK))
    health.end(end_time=base + 203 * MS)

    root = front.start_span(
        "GET /checkout",
        kind=SpanKind.SERVER,
        start_time=base,
        attributes={
            "http.request.method": "GET",
            "http.response.status_code": 200,
            "ratio": 0.5,
            "cached": True,
            "path.parts": ["cart", "checkout"],
        },
    )
    root.add_event("cache miss", {"cache.key": "cart:42"}, timestamp=base + 5 * MS)
    root_context = trace.set_span_in_context(root)
    client = front.start_span(
        "POST /pay",
        context=root_context,
        kind=SpanKind.CLIENT,
        start_time=base + 10 * MS,
        attributes={"server.address": "payment"},
        links=[Link(health.get_span_context(), {"link.reason": "retry"})],
    )
    server = pay.start_span(
        "POST /pay", context=trace.set_span_in_context(client), kind=SpanKind.SERVER, start_time=base + 15 * MS
    )
    server.record_exception(ValueError("card declined"), timestamp=base + 90 * MS)
    charge = pay.start_span("charge", context=trace.set_span_in_context(server), start_time=base + 20 * MS)
    charge.set_status(Status(StatusCode.OK))
    charge.end(end_time=base + 100 * MS)
    _log(running, server.get_span_context(), base + 95 * MS)
    server.set_status(Status(StatusCode.ERROR, "declined"))
    server.end(end_time=base + 105 * MS)
    client.set_status(Status(StatusCode.ERROR, "card declined"))
    client.end(end_time=base + 110 * MS)
    root.end(end_time=base + 120 * MS)

    for provider in providers.values():
        provider.shutdown()
    return Shop(
        spans=list(memory.get_finished_spans()),
        checkout_id=f"{root.get_span_context().trace_id:032x}",
        health_id=f"{health.get_span_context().trace_id:032x}",
        base_ns=base,
    )


def _log(running: object, context: trace.SpanContext, time_ns: int) -> None:
    provider = LoggerProvider(resource=Resource(RESOURCES["payment"]))
    provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter("grpc", running)))
    provider.get_logger(*SCOPE).emit(
        LogRecord(
            timestamp=time_ns,
            trace_id=context.trace_id,
            span_id=context.span_id,
            trace_flags=context.trace_flags,
            severity_number=SeverityNumber.WARN,
            severity_text="WARN",
            body="card 4242 declined",
            attributes={"card.brand": "visa"},
        )
    )
    provider.shutdown()
