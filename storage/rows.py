"""The rows that read queries return: the storage-to-analyzer contract, typed.

Each query module (``graph_queries``, ``trace_queries``, ``service_queries``,
``incident_queries``, ``resource_queries``) returns lists of these. Durations and times
are in nanoseconds (``_ns``) unless a name says otherwise; quantile lists hold p50, p95
and p99 in that order, and are None when no span counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
import pyarrow as pa

__all__ = [
    "CallHistogramRow",
    "DataExtent",
    "EvidenceRow",
    "HistogramPointRow",
    "InstanceHostRow",
    "LogGroupRow",
    "LogRecordRow",
    "LogSeriesRow",
    "MatchedSpanRow",
    "OperationEdgeRow",
    "OperationRedRow",
    "RedSeriesRow",
    "ResourceMetricRow",
    "ResourceRedRow",
    "ServiceEdgeRow",
    "ServiceNodeRow",
    "ServiceRedRow",
    "SpanDetailRow",
    "SpanExportRow",
    "SpanHistogramRow",
    "SpectrumRow",
    "TraceLogRow",
    "TraceSpanRow",
    "TraceSummaryRow",
    "TransitionRow",
    "VersionRow",
    "WindowSpans",
]

Quantiles = list[float] | None


class _CallStatistics(TypedDict):
    calls: int
    errors: int
    client_ns_quantiles: Quantiles
    server_ns_quantiles: Quantiles
    gap_ns_mean: float | None
    handoff_ns_mean: float | None
    first_seen_ns: int
    last_seen_ns: int


class ServiceEdgeRow(_CallStatistics):
    """Calls from ``client`` to ``server`` (a service or a virtual peer) in a window."""

    client: str
    server: str
    server_kind: str  # service, database, messaging, external, ...
    connection_type: str  # http, rpc, messaging, database, virtual_node or ''


class OperationEdgeRow(ServiceEdgeRow):
    """As ServiceEdgeRow, per calling and called operation."""

    client_op: str | None
    server_op: str | None


class ServiceNodeRow(TypedDict):
    """One service in a window: all its spans, its requests and where it runs."""

    service: str
    span_count: int
    requests: int
    request_errors: int
    server_ns_quantiles: Quantiles
    namespace: str | None
    instances: str | None  # comma-separated, sorted
    hosts: str | None
    zones: str | None


class ServiceRedRow(TypedDict):
    """A service's requests in the whole window (``bucket`` None) or in one time bucket."""

    service: str
    bucket: int | None
    span_count: int
    requests: int
    errors: int
    ns_quantiles: Quantiles


class OperationRedRow(TypedDict):
    """One (operation, span kind) of a service: all its spans."""

    operation: str
    kind: str
    requests: int
    errors: int
    ns_quantiles: Quantiles


class DataExtent(TypedDict):
    """The span-time extent of the store (times None when it is empty)."""

    first_ns: int | None
    last_ns: int | None
    spans: int
    service_names: list[str]


class TraceSpanRow(TypedDict):
    """One span of a trace, named as ``tracing.trace.Span`` names its fields."""

    span_id: str
    parent_span_id: str
    service: str
    name: str
    kind: str
    start_ns: int
    end_ns: int
    error: bool


class TraceSummaryRow(TypedDict):
    """A trace found by a search."""

    trace_id: str
    root_service: str
    root_operation: str
    start_ns: int
    duration_ns: int
    span_count: int
    error_count: int
    services: list[str]


class SpanDetailRow(TraceSpanRow):
    """What the waterfall shows of a span: its timing (read with it, in one scan) and more."""

    trace_state: str
    flags: int
    scope_name: str
    scope_version: str
    resource_attributes: str  # typed JSON text
    span_attributes: str
    status_code: str
    status_message: str
    events: list[dict[str, Any]]
    links: list[dict[str, Any]]
    dropped_attributes_count: int
    dropped_events_count: int
    dropped_links_count: int


class SpanExportRow(TypedDict):
    """Every stored field of a span (``queries/traces/export.sql``): attribute maps as typed
    JSON text; events and links with theirs."""

    trace_id: str
    span_id: str
    parent_span_id: str
    trace_state: str
    flags: int
    name: str
    kind: str  # Unspecified|Internal|Server|Client|Producer|Consumer
    start_ns: int
    end_ns: int
    service: str
    resource_attributes: str
    resource_schema_url: str
    resource_dropped_attributes_count: int
    scope_name: str
    scope_version: str
    scope_attributes: str
    scope_schema_url: str
    span_attributes: str
    status_code: str  # Unset|Ok|Error
    status_message: str
    events: list[dict[str, Any]]  # time_ns, name, attributes, dropped_attributes_count
    links: list[dict[str, Any]]  # trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags
    dropped_attributes_count: int
    dropped_events_count: int
    dropped_links_count: int


class MatchedSpanRow(TypedDict):
    """A span that satisfied a search's span filter (``queries/traces/matched_spans.sql``)."""

    trace_id: str
    span_id: str
    name: str
    service: str
    start_ns: int
    duration_ns: int
    matched: int  # spans of the trace that satisfy the filter


class CallHistogramRow(TypedDict):
    """Calls of one (client, server, connection type, failed) in a window, with the bucket
    counts of their client- and server-side durations (``queries/graph/call_histograms.sql``)."""

    client: str
    server: str
    connection_type: str
    failed: bool
    calls: int
    client_buckets: dict[int, int] | None  # bucket index (past the last bound: overflow) -> count
    client_sum_ns: int
    client_missing: int  # calls without a client span (from outside)
    server_buckets: dict[int, int] | None
    server_sum_ns: int
    server_missing: int  # calls no instrumented server answered


class SpanHistogramRow(TypedDict):
    """Spans of one (service, name, kind, status) in a window, with their duration buckets
    (``queries/services/span_histograms.sql``)."""

    service: str
    name: str
    kind: str
    status_code: str
    calls: int
    buckets: dict[int, int]  # bucket index (past the last bound: overflow) -> count
    sum_ns: int


class LogRecordRow(TypedDict):
    """One log record found by a search (``queries/logs/search.sql``)."""

    time_ns: int
    service: str
    instance: str  # the pod, else the service instance; '' when the resource names neither
    severity_text: str
    severity_number: int
    message: str  # the body as text
    location: str  # code location from the code.* attributes; '' when none
    trace_id: str  # '' when the record is not tied to a trace
    span_id: str


class LogGroupRow(TypedDict):
    """Log records of one masked message, service and severity in a window."""

    masked: str
    service: str
    severity_number: int
    severity_text: str  # upper case
    records: int
    first_ns: int
    last_ns: int
    example: str  # the earliest record's message
    example_location: str


class TraceLogRow(TypedDict):
    """One log record of a trace, for the waterfall."""

    time_ns: int | None
    span_id: str
    service: str
    instance: str  # the pod, else the service instance; '' when the resource names neither
    severity_text: str
    severity_number: int
    event_name: str
    message: str
    attributes: str  # typed JSON text
    masked: str | None  # None when the record has no time


class RedSeriesRow(TypedDict):
    """Requests of one entity in one time bucket; ``level`` is service, operation,
    instance, host or edge (``caller -> peer``)."""

    level: str
    entity: str
    service: str | None
    bucket: int
    requests: int
    errors: int
    latency_ms: list[float]  # p50, p95, p99


class EvidenceRow(TypedDict):
    """How one entity behaved on one signal in the baseline or the incident window."""

    signal: str
    kind: str
    name: str
    service: str | None
    incident: bool
    n: int
    exceeded: int
    errors: int
    p50_ns: float
    p90_ns: float
    instances: list[str] | None
    callers: list[str] | None
    slow_traces: list[str] | None
    error_traces: list[str] | None


class SpectrumRow(TypedDict):
    """Anomalous (``ef``) and normal (``ep``) incident traces through an entity."""

    kind: str
    name: str
    ef: int
    ep: int
    anomalous_traces: int
    traces: int


class LogSeriesRow(TypedDict):
    """One time bucket of a service that logs: requests served, log records and error records."""

    service: str
    bucket: int
    requests: int
    records: int
    errors: int


class TransitionRow(TypedDict):
    """How often one event followed another inside the spans of one operation, in one window.

    An event is a span's start or end (``*_kind`` 'start' / 'end') or a log record ('log'),
    named by its code location, else by its masked message.
    """

    incident: bool
    service: str
    instance: str  # the pod, else the service instance, of the span ('' when none)
    operation: str
    from_kind: str
    from_location: str
    from_masked: str
    to_kind: str
    to_location: str
    to_masked: str
    n: int
    callee_errors: int  # transitions in spans during which another service of the trace logged an error
    erring_callee: str  # the service that did most often ('' when none)
    severity: str
    example: str
    trace_ids: list[str]  # up to three, the earliest


class VersionRow(TypedDict):
    """A service version with requests in the baseline or the incident window."""

    service: str
    version: str | None
    spans: int
    first_seen_ns: int


class InstanceHostRow(TypedDict):
    service: str
    instance: str
    host: str


class HistogramPointRow(TypedDict):
    instance: str
    service: str
    metric_name: str
    metric_unit: str
    series: str  # the point's attributes as JSON text
    time_ns: int
    temporality: str
    bucket_counts: list[int]
    explicit_bounds: list[float]


class ResourceMetricRow(TypedDict):
    """One normalised resource signal of one resource in one time bucket."""

    resource: str  # the resource's attributes as JSON text
    signal: str
    bucket: int
    value: float


class ResourceRedRow(TypedDict):
    """Spans and requests of one (service, resource) in a window."""

    service: str
    resource: str
    spans: int
    requests: int
    errors: int
    p95_ns: float | None
    last_seen_ns: int


@dataclass(frozen=True)
class WindowSpans:
    """Spans of many traces as parallel integer arrays, sorted by (trace_no, idx).

    ``trace_ids[n]`` is trace n's id; ``operations[op]`` is (service, span name).
    """

    trace_no: np.ndarray
    parent_idx: np.ndarray
    start_ns: np.ndarray
    end_ns: np.ndarray
    producer: np.ndarray
    consumer: np.ndarray
    client: np.ndarray
    error: np.ndarray
    op: np.ndarray
    trace_ids: list[str]
    operations: dict[int, tuple[str, str]]
    span_ids: pa.ChunkedArray  # read lazily: only evidence needs them

    def span_id(self, index: int) -> str:
        return str(self.span_ids[index].as_py())

    @property
    def span_count(self) -> int:
        return len(self.trace_no)
