"""Traffic for the lake tests: a small shop traced with the real OpenTelemetry SDK, its spans
exported over OTLP to two glimpse nodes split by trace id (as the Collector's
load-balancing exporter routes them) and, whole, to a third node that holds everything.

Each trace (seeded, so the same every run)::

    frontend SERVER  GET /checkout
      frontend CLIENT  GET /cart    -> cart SERVER GET /cart
      frontend CLIENT  POST /pay    -> payment SERVER POST /pay (an error in ~1 of 10)
        payment CLIENT  SELECT      -> postgres (not instrumented: a database node)

Traces start ``GAP_S`` apart from ``base_ns``, so a few hundred cover more than one hour.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from tests.otlp_clients import span_exporter

MS = 1_000_000
GAP_S = 30
SERVICES = ("frontend", "cart", "payment")


class SplitByTraceId(SpanExporter):
    """Each span to ``exporters[trace_id % len(exporters)]``, as the load-balancing exporter
    routes by trace id, so every node holds whole traces."""

    def __init__(self, exporters: Sequence[SpanExporter]) -> None:
        self.exporters = list(exporters)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        results = []
        for index, exporter in enumerate(self.exporters):
            mine = [s for s in spans if s.context is not None and s.context.trace_id % len(self.exporters) == index]
            if mine:
                results.append(exporter.export(mine))
        ok = all(result is SpanExportResult.SUCCESS for result in results)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        for exporter in self.exporters:
            exporter.shutdown()


def send_shop_traffic(nodes: Sequence[Any], whole: Any, *, base_ns: int, traces: int, seed: int = 7) -> list[str]:
    """``traces`` checkout traces, split over ``nodes`` by trace id and all of them to
    ``whole``; frontend exports over gRPC, the others over HTTP. Returns the trace ids."""
    rng = random.Random(seed)
    providers = {}
    for service in SERVICES:
        protocol = "grpc" if service == "frontend" else "http"
        provider = TracerProvider(resource=Resource({"service.name": service, "host.name": f"{service}-host"}))
        split = SplitByTraceId([span_exporter(protocol, node) for node in nodes])
        provider.add_span_processor(SimpleSpanProcessor(split))
        provider.add_span_processor(SimpleSpanProcessor(span_exporter(protocol, whole)))
        providers[service] = provider
    tracers = {service: provider.get_tracer("shop") for service, provider in providers.items()}
    ids = []
    for number in range(traces):
        start = base_ns + number * GAP_S * 10**9
        ids.append(_checkout(tracers, rng, start))
    for provider in providers.values():
        provider.shutdown()
    return ids


def _checkout(tracers: dict[str, Any], rng: random.Random, start: int) -> str:
    front, cart, pay = tracers["frontend"], tracers["cart"], tracers["payment"]
    cart_ms, pay_ms, db_ms = rng.randint(5, 40), rng.randint(20, 120), rng.randint(2, 60)
    failed = rng.random() < 0.1
    root = front.start_span(
        "GET /checkout", kind=SpanKind.SERVER, start_time=start, attributes={"http.request.method": "GET"}
    )
    ctx = set_span_in_context(root)
    t = start + 2 * MS
    call = front.start_span("GET /cart", context=ctx, kind=SpanKind.CLIENT, start_time=t,
                            attributes={"http.request.method": "GET"})  # fmt: skip
    served = cart.start_span("GET /cart", context=set_span_in_context(call), kind=SpanKind.SERVER, start_time=t + MS)
    served.end(end_time=t + (cart_ms + 1) * MS)
    call.end(end_time=t + (cart_ms + 2) * MS)
    t += (cart_ms + 3) * MS
    call = front.start_span("POST /pay", context=ctx, kind=SpanKind.CLIENT, start_time=t,
                            attributes={"http.request.method": "POST"})  # fmt: skip
    served = pay.start_span("POST /pay", context=set_span_in_context(call), kind=SpanKind.SERVER, start_time=t + MS)
    query = pay.start_span(
        "SELECT payments",
        context=set_span_in_context(served),
        kind=SpanKind.CLIENT,
        start_time=t + 2 * MS,
        attributes={"db.system.name": "postgresql", "server.address": "postgres"},
    )
    query.end(end_time=t + (2 + db_ms) * MS)
    if failed:
        served.set_status(Status(StatusCode.ERROR, "card declined"))
        call.set_status(Status(StatusCode.ERROR))
    served.end(end_time=t + (db_ms + pay_ms) * MS)
    call.end(end_time=t + (db_ms + pay_ms + 1) * MS)
    root.end(end_time=t + (db_ms + pay_ms + 4) * MS)
    return f"{root.get_span_context().trace_id:032x}"
