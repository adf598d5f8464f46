"""Emit simulated requests through the real OpenTelemetry SDK, one set of providers per instance.

Every instance (pod) has its own ``TracerProvider``, ``MeterProvider`` and (with logs on)
``LoggerProvider`` with a full resource (service, Kubernetes, host, cloud). Spans and log
records are created with explicit timestamps, each record in the context of its span (trace
id, span id, flags), so the same code serves both clocks:

- **live**: the SDK's ``BatchSpanProcessor``, ``BatchLogRecordProcessor`` and
  ``PeriodicExportingMetricReader`` export in the background, as in any instrumented service;
- **history** (accelerated): synchronous batching processors export every 2,048 spans or log
  records (the SDK's batch processors would drop them when generation outruns export), and
  each instance's metrics are collected once per simulated interval and exported with their
  timestamps moved to simulated time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import queue
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from opentelemetry import trace
from opentelemetry._logs import Logger, SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from tracing.errors import GlimpseError
from tracing.simulator.engine import SimSpan
from tracing.simulator.faults import Instance
from tracing.simulator.topology import Topology

__all__ = ["Emitter", "ExportError", "Exporters", "InstanceState", "instance_resource"]

SCOPE = "glimpse.simulator"
SEVERITIES = {"INFO": SeverityNumber.INFO, "WARN": SeverityNumber.WARN, "ERROR": SeverityNumber.ERROR}
KINDS = {
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
}
CLOUD_PLATFORMS = {"aws": "aws_eks", "gcp": "gcp_kubernetes_engine", "azure": "azure_aks"}
HISTORY_BATCH = 2048
# the semantic conventions' advice for request durations, with finer steps below 5 ms
DURATION_BUCKETS_S = [
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
]


@dataclasses.dataclass(frozen=True)
class Exporters:
    """The exporters of a history run, in place of OTLP/gRPC to one endpoint: a run can then
    feed anything an SDK exporter can (several glimpse nodes split by trace id, say)."""

    spans: SpanExporter
    logs: LogRecordExporter
    metrics: MetricExporter


class ExportError(GlimpseError):
    """The OTLP exporter could not deliver simulated telemetry (glimpse not reachable?)."""


class SeededIds(IdGenerator):
    """Reproducible trace and span ids (the SDK's default draws from the OS)."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def generate_span_id(self) -> int:
        with self._lock:
            return self._random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        with self._lock:
            return self._random.getrandbits(128) or 1


T = TypeVar("T")


class SyncBatcher(Generic[T]):
    """Exports items in batches on one thread; blocks the producer instead of dropping.

    At most two batches wait for the exporter, so generation overlaps with glimpse's commit
    of the previous batch but never runs unboundedly ahead of it.
    """

    def __init__(self, export: Callable[[list[T]], bool], what: str, batch_size: int = HISTORY_BATCH) -> None:
        self.export = export  # True when glimpse took the batch
        self.what = what
        self.batch_size = batch_size
        self._items: list[T] = []
        self._queue: queue.Queue[list[T] | None] = queue.Queue(maxsize=2)
        self._failure: str | None = None
        self._thread = threading.Thread(target=self._export_loop, name=f"simulator-export-{what}", daemon=True)
        self._thread.start()

    def add(self, item: T) -> None:
        self._items.append(item)
        if len(self._items) >= self.batch_size:
            self._hand_over()

    def _hand_over(self) -> None:
        items, self._items = self._items, []
        if items:
            self._queue.put(items)
        if self._failure is not None:
            raise ExportError(self._failure)

    def _export_loop(self) -> None:
        while (items := self._queue.get()) is not None:
            try:
                if not self.export(items):
                    self._failure = f"could not export {len(items)} {self.what} to glimpse"
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def flush(self) -> None:
        self._hand_over()
        self._queue.join()
        if self._failure is not None:
            raise ExportError(self._failure)

    def shutdown(self) -> None:
        if self._thread.is_alive():
            self.flush()
            self._queue.put(None)
            self._thread.join()


class SyncBatchProcessor(SpanProcessor):
    """History clock: finished spans exported in batches by a :class:`SyncBatcher`."""

    def __init__(self, exporter: SpanExporter, batch_size: int = HISTORY_BATCH) -> None:
        self._batcher = SyncBatcher[ReadableSpan](
            lambda spans: exporter.export(spans) is SpanExportResult.SUCCESS, "spans", batch_size
        )

    def on_end(self, span: ReadableSpan) -> None:
        self._batcher.add(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self._batcher.flush()
        return True

    def shutdown(self) -> None:
        self._batcher.shutdown()


class SyncBatchLogProcessor(LogRecordProcessor):
    """History clock: log records exported in batches by a :class:`SyncBatcher`."""

    def __init__(self, exporter: LogRecordExporter, batch_size: int = HISTORY_BATCH) -> None:
        self._batcher = SyncBatcher[ReadableLogRecord](
            lambda records: exporter.export(records) is LogRecordExportResult.SUCCESS, "log records", batch_size
        )

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        resource = log_record.resource or Resource.get_empty()
        self._batcher.add(
            ReadableLogRecord(log_record.log_record, resource, log_record.instrumentation_scope, log_record.limits)
        )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self._batcher.flush()
        return True

    def shutdown(self) -> None:
        self._batcher.shutdown()


@dataclasses.dataclass
class InstanceState:
    """What an instance's gauges report at the next collection."""

    cpu_utilization: float = 0.05
    memory_bytes: float = 0.0
    memory_limit_bytes: float = 1.0
    requests: int = 0


class _HashedResource(Resource):
    """A resource that hashes once: the OTLP encoders hash the resource of every span and log record."""

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource.attributes, resource.schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


def instance_resource(topology: Topology, instance: Instance) -> Resource:
    return _HashedResource(_instance_resource(topology, instance))


def _instance_resource(topology: Topology, instance: Instance) -> Resource:
    deployment = instance.service
    pod_uid = hashlib.sha1(instance.pod.encode()).hexdigest()
    return Resource.create(
        {
            "service.name": instance.service,
            "service.namespace": topology.namespace,
            "service.version": instance.version,
            "service.instance.id": instance.instance_id,
            "deployment.environment.name": "production",
            "k8s.cluster.name": topology.cluster,
            "k8s.namespace.name": topology.namespace,
            "k8s.deployment.name": deployment,
            "k8s.pod.name": instance.pod,
            "k8s.pod.uid": f"{pod_uid[:8]}-{pod_uid[8:12]}-{pod_uid[12:16]}-{pod_uid[16:20]}-{pod_uid[20:32]}",
            "k8s.node.name": instance.node,
            "host.name": instance.node,
            "cloud.provider": topology.cloud_provider,
            "cloud.platform": CLOUD_PLATFORMS.get(topology.cloud_provider, "kubernetes"),
            "cloud.region": topology.region,
            "cloud.availability_zone": instance.zone,
        }
    )


class _InstanceTelemetry:
    """One instance's tracer, meter, loggers and instruments."""

    def __init__(
        self,
        topology: Topology,
        instance: Instance,
        ids: IdGenerator,
        span_processor: SpanProcessor,
        reader: MetricReader,
        log_processor: LogRecordProcessor | None,
    ) -> None:
        resource = instance_resource(topology, instance)
        self.state = InstanceState()
        self.tracer_provider = TracerProvider(resource=resource, id_generator=ids)
        self.tracer_provider.add_span_processor(span_processor)
        self.tracer = self.tracer_provider.get_tracer(SCOPE, "1.0.0")
        self.logger_provider: LoggerProvider | None = None
        if log_processor is not None:
            self.logger_provider = LoggerProvider(resource=resource)
            self.logger_provider.add_log_record_processor(log_processor)
        self._loggers: dict[str, Logger] = {}
        self.reader = reader
        self.meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        meter = self.meter_provider.get_meter(SCOPE, "1.0.0")
        protocol = topology.services[instance.service].protocol
        name = "http.server.request.duration" if protocol == "http" else "rpc.server.call.duration"
        self.duration = meter.create_histogram(
            name,
            unit="s",
            description="Duration of inbound requests",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS_S,
        )
        meter.create_observable_gauge(
            "k8s.pod.cpu_limit_utilization", [self._cpu], unit="1", description="CPU use relative to the pod's limit"
        )
        meter.create_observable_gauge(
            "k8s.pod.memory_limit_utilization", [self._memory_ratio], unit="1", description="Memory use / limit"
        )
        meter.create_observable_gauge("k8s.pod.memory.usage", [self._memory], unit="By", description="Memory in use")

    def _cpu(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.state.cpu_utilization)]

    def _memory_ratio(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.state.memory_bytes / self.state.memory_limit_bytes)]

    def _memory(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(int(self.state.memory_bytes))]

    def logger(self, name: str) -> Logger:
        """The logger ``name`` (a class, as a logging appender names its scope)."""
        if (logger := self._loggers.get(name)) is None:
            assert self.logger_provider is not None
            logger = self._loggers[name] = self.logger_provider.get_logger(name)
        return logger

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        if self.logger_provider is not None:
            self.logger_provider.shutdown()


class Emitter:
    """Turns :class:`SimSpan` trees into OpenTelemetry spans, log records and metrics, per instance."""

    def __init__(
        self, topology: Topology, endpoint: str | Exporters, *, live: bool, seed: int, logs: bool = True
    ) -> None:
        if isinstance(endpoint, Exporters) and live:
            raise ValueError("a live run exports over OTLP/gRPC to an endpoint")
        self.topology = topology
        self.live = live
        self._ids = SeededIds(seed)
        exporters = endpoint if isinstance(endpoint, Exporters) else _otlp_exporters(endpoint)
        self._span_exporter = exporters.spans
        self._metric_exporter = exporters.metrics
        self._processor: SpanProcessor = (
            BatchSpanProcessor(self._span_exporter, max_queue_size=65_536, schedule_delay_millis=1000)
            if live
            else SyncBatchProcessor(self._span_exporter)
        )
        self._log_processor = _log_processor(exporters.logs, live) if logs else None
        self._endpoint = endpoint if isinstance(endpoint, str) else ""
        self._telemetry: dict[str, _InstanceTelemetry] = {}
        self.spans = 0
        self.logs = 0
        self.metric_points = 0

    def add_instances(self, instances: Sequence[Instance]) -> None:
        for instance in instances:
            if instance.pod not in self._telemetry:
                self._telemetry[instance.pod] = _InstanceTelemetry(
                    self.topology, instance, self._ids, self._processor, self._reader(), self._log_processor
                )

    def _reader(self) -> MetricReader:
        if self.live:
            exporter = OTLPMetricExporter(endpoint=self._endpoint, insecure=True)
            return PeriodicExportingMetricReader(exporter, export_interval_millis=5000)
        return InMemoryMetricReader()

    def state(self, pod: str) -> InstanceState:
        return self._telemetry[pod].state

    def emit(self, root: SimSpan) -> None:
        self._emit(root, None)

    def _emit(self, sim: SimSpan, parent: trace.Span | None) -> None:
        telemetry = self._telemetry[sim.instance.pod]
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = telemetry.tracer.start_span(
            sim.name, context=context, kind=KINDS[sim.kind], attributes=sim.attributes, start_time=sim.start_ns
        )
        for event in sim.events:
            span.add_event(event.name, event.attributes, timestamp=event.time_ns)
        if sim.logs and telemetry.logger_provider is not None:
            self._emit_logs(telemetry, sim, span)
        if sim.error is not None:
            span.set_status(Status(StatusCode.ERROR, sim.error))
        for child in sim.children:
            self._emit(child, span)
        span.end(end_time=sim.end_ns)
        self.spans += 1
        if sim.kind in ("server", "consumer"):
            telemetry.state.requests += 1
            telemetry.duration.record((sim.end_ns - sim.start_ns) / 1e9, _metric_attributes(sim))

    def _emit_logs(self, telemetry: _InstanceTelemetry, sim: SimSpan, span: trace.Span) -> None:
        context = trace.set_span_in_context(span)  # ties each record to the span: trace id, span id, flags
        for log in sim.logs:
            telemetry.logger(log.logger).emit(
                timestamp=log.time_ns,
                observed_timestamp=log.time_ns,
                context=context,
                severity_number=SEVERITIES[log.severity],
                severity_text=log.severity,
                body=log.body,
                attributes=log.attributes,
            )
        self.logs += len(sim.logs)

    def export_metrics(self, pods: Iterable[str], start_ns: int, time_ns: int) -> None:
        """History clock: collect each instance's metrics now and export them stamped ``time_ns``."""
        for pod in pods:
            reader = self._telemetry[pod].reader
            assert isinstance(reader, InMemoryMetricReader)
            data = reader.get_metrics_data()
            if data is None:
                continue
            data = _restamp(data, start_ns, time_ns)
            self.metric_points += _point_count(data)
            if self._metric_exporter.export(data) is not MetricExportResult.SUCCESS:
                raise ExportError("could not export simulated metrics to glimpse")

    def flush(self) -> None:
        self._processor.force_flush()
        if self._log_processor is not None:
            self._log_processor.force_flush()

    def close(self) -> None:
        self.flush()
        for telemetry in self._telemetry.values():
            telemetry.shutdown()
        self._processor.shutdown()
        if self._log_processor is not None:
            self._log_processor.shutdown()
        self._metric_exporter.shutdown()


def _otlp_exporters(endpoint: str) -> Exporters:
    return Exporters(
        OTLPSpanExporter(endpoint=endpoint, insecure=True),
        OTLPLogExporter(endpoint=endpoint, insecure=True),
        OTLPMetricExporter(endpoint=endpoint, insecure=True),
    )


def _log_processor(exporter: LogRecordExporter, live: bool) -> LogRecordProcessor:
    if live:
        return BatchLogRecordProcessor(exporter, max_queue_size=65_536, schedule_delay_millis=1000)
    return SyncBatchLogProcessor(exporter)


def _metric_attributes(sim: SimSpan) -> dict[str, Any]:
    attrs = sim.attributes
    if "rpc.method" in attrs:
        return {k: attrs[k] for k in ("rpc.system", "rpc.service", "rpc.method", "rpc.grpc.status_code")}
    keep = ("http.request.method", "http.route", "http.response.status_code", "messaging.destination.name")
    return {k: attrs[k] for k in keep if k in attrs}


def _restamp(data: MetricsData, start_ns: int, time_ns: int) -> MetricsData:
    """``data`` with every point's times moved to simulated time (the SDK stamps wall-clock time)."""
    resource_metrics = []
    for rm in data.resource_metrics:
        scopes = []
        for sm in rm.scope_metrics:
            metrics = []
            for metric in sm.metrics:
                points = [
                    dataclasses.replace(p, start_time_unix_nano=start_ns, time_unix_nano=time_ns)
                    for p in metric.data.data_points
                ]
                data_with_points: Any = dataclasses.replace(metric.data, data_points=points)  # type: ignore[arg-type]
                metrics.append(dataclasses.replace(metric, data=data_with_points))
            scopes.append(dataclasses.replace(sm, metrics=metrics))
        resource_metrics.append(dataclasses.replace(rm, scope_metrics=scopes))
    return MetricsData(resource_metrics=resource_metrics)


def _point_count(data: MetricsData) -> int:
    return sum(len(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics)
