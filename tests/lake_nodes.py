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
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from tests.otlp_clients import log_exporter, metric_exporter, span_exporter
from tracing.simulator.emit import Exporters
from tracing.simulator.faults import Fault
from tracing.simulator.runner import SimulationResult, run_history

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


class SplitLogsByTraceId(LogRecordExporter):
    """Each log record to ``exporters[trace_id % len(exporters)]``, with the spans of its trace."""

    def __init__(self, exporters: Sequence[LogRecordExporter]) -> None:
        self.exporters = list(exporters)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        ok = True
        for index, exporter in enumerate(self.exporters):
            mine = [r for r in batch if (r.log_record.trace_id or 0) % len(self.exporters) == index]
            if mine:
                ok = exporter.export(mine) is LogRecordExportResult.SUCCESS and ok
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        for exporter in self.exporters:
            exporter.shutdown()


class SplitMetricsByService(MetricExporter):
    """Each resource's metrics to one exporter, by a hash of its ``service.name`` (as the
    load-balancing exporter routes metrics with ``routing_key: service``)."""

    def __init__(self, exporters: Sequence[MetricExporter]) -> None:
        super().__init__()
        self.exporters = list(exporters)

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        ok = True
        for index, exporter in enumerate(self.exporters):
            mine = [
                rm for rm in metrics_data.resource_metrics if _service_slot(rm.resource, len(self.exporters)) == index
            ]
            if mine:
                ok = exporter.export(MetricsData(mine)) is MetricExportResult.SUCCESS and ok
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        for exporter in self.exporters:
            exporter.shutdown()


def _service_slot(resource: Resource, slots: int) -> int:
    return zlib.crc32(str(resource.attributes.get("service.name", "")).encode()) % slots


class Tee(SpanExporter, LogRecordExporter, MetricExporter):
    """Every batch to each of ``exporters`` (all of one signal): the split nodes and the whole one."""

    def __init__(self, *exporters: Any) -> None:
        MetricExporter.__init__(self)
        self.exporters = exporters

    def export(self, batch: Any, *args: Any, **kwargs: Any) -> Any:
        results = [exporter.export(batch) for exporter in self.exporters]
        failed = [result for result in results if result.name != "SUCCESS"]
        return failed[0] if failed else results[0]

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        return True

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        for exporter in self.exporters:
            exporter.shutdown()


def simulate_into(
    nodes: Sequence[Any],
    whole: Any,
    *,
    start_ns: int,
    duration_s: float,
    seed: int,
    faults: list[Any],
    rate_per_s: float,
) -> SimulationResult:
    """The simulator's shop, with its faults, through the SDK's OTLP/gRPC exporters: spans and
    log records split over ``nodes`` by trace id, metrics by service, and everything to ``whole``."""
    exporters = Exporters(
        Tee(SplitByTraceId([span_exporter("grpc", n) for n in nodes]), span_exporter("grpc", whole)),
        Tee(SplitLogsByTraceId([log_exporter("grpc", n) for n in nodes]), log_exporter("grpc", whole)),
        Tee(SplitMetricsByService([metric_exporter("grpc", n) for n in nodes]), metric_exporter("grpc", whole)),
    )
    return run_history(
        "shop", exporters, start_ns=start_ns, duration_s=duration_s, seed=seed, faults=faults, rate_per_s=rate_per_s
    )


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
    # read back through otel_traces's derived columns (the newer key, and the older as a string)
    served.set_attribute("http.status_code", "402" if failed else "200")
    root.set_attributes({"http.route": "/checkout", "http.response.status_code": 502 if failed else 200})
    if failed:
        served.set_status(Status(StatusCode.ERROR, "card declined"))
        call.set_status(Status(StatusCode.ERROR))
    served.end(end_time=t + (db_ms + pay_ms) * MS)
    call.end(end_time=t + (db_ms + pay_ms + 1) * MS)
    root.end(end_time=t + (db_ms + pay_ms + 4) * MS)
    return f"{root.get_span_context().trace_id:032x}"


def build_fault_lake(root: Path, fault: Fault, *, start_ns: int, duration_s: float = 240) -> SimulationResult:
    """Two nodes (``root/a.duckdb``, ``root/b.duckdb``) writing ``root/lake`` and a third,
    ``root/whole.duckdb``, with everything: the simulator's shop, with ``fault``, fed to them
    by :func:`simulate_into`. Stopping the nodes exports their hours."""
    from tests.conftest import serving

    settings = {"lake": str(root / "lake"), "lake_delay_s": 0.0, "lake_interval_s": 3600.0}
    with (
        serving(root / "a.duckdb", node_id="node-a", **settings) as a,
        serving(root / "b.duckdb", node_id="node-b", **settings) as b,
        serving(root / "whole.duckdb") as whole,
    ):
        return simulate_into(
            [a, b], whole, start_ns=start_ns, duration_s=duration_s, seed=11, faults=[fault], rate_per_s=4
        )
