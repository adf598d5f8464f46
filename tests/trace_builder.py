"""A compact way to write test traces and send them through OTLP/gRPC.

trace = TraceBuilder(seed=1)
root = trace.span("frontend", "GET /", kind="server", start_ms=0, end_ms=100)
call = trace.span("frontend", "GET cart", kind="client", parent=root, start_ms=5, end_ms=60,
                  attributes={"http.request.method": "GET"})
send(running, trace.spans)
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2
from opentelemetry.proto.common.v1 import common_pb2 as COMMON_PB2
from opentelemetry.proto.resource.v1 import resource_pb2 as RESOURCE_PB2
from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2

BASE_NS = 1_700_000_000_000_000_000
KINDS = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5, "unspecified": 0}
TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


Attributes = Union[Mapping[str, object], Sequence[tuple[str, object]]]


def any_value(value: object) -> COMMON_PB2.AnyValue:
    """A Python value as an AnyValue (an AnyValue passes through; None is the empty
    AnyValue; a value of no OTLP type is sent as its string)."""
    if isinstance(value, COMMON_PB2.AnyValue):
        return value
    if value is None:
        return COMMON_PB2.AnyValue()
    if isinstance(value, bool):
        return COMMON_PB2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return COMMON_PB2.AnyValue(int_value=value)
    if isinstance(value, float):
        return COMMON_PB2.AnyValue(double_value=value)
    if isinstance(value, bytes):
        return COMMON_PB2.AnyValue(bytes_value=value)
    if isinstance(value, list):
        return COMMON_PB2.AnyValue(array_value=COMMON_PB2.ArrayValue(values=[any_value(item) for item in value]))
    if isinstance(value, dict):
        return COMMON_PB2.AnyValue(kvlist_value=COMMON_PB2.KeyValueList(values=key_values(value)))
    return COMMON_PB2.AnyValue(string_value=str(value))


def key_values(attributes: Attributes) -> list[COMMON_PB2.KeyValue]:
    """An attribute map as KeyValues; a sequence of pairs may repeat a key."""
    items = attributes.items() if isinstance(attributes, Mapping) else attributes
    return [COMMON_PB2.KeyValue(key=key, value=any_value(value)) for key, value in items]


@dataclass
class SpanSpec:
    service: str
    name: str
    kind: str
    trace_id: bytes
    span_id: bytes
    parent_id: bytes
    start_ns: int
    end_ns: int
    error: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    links: list[tuple[bytes, bytes]] = field(default_factory=list)

    @property
    def span_hex(self) -> str:
        return self.span_id.hex()


class TraceBuilder:
    """Spans of one or more traces; times in milliseconds from a fixed base."""

    def __init__(self, seed: int = 0, base_ns: int = BASE_NS) -> None:
        self._rng = random.Random(seed)
        self.base_ns = base_ns
        self.spans: list[SpanSpec] = []
        self.trace_id = self.new_trace()

    def new_trace(self) -> bytes:
        self.trace_id = self._rng.getrandbits(128).to_bytes(16, "big")
        return self.trace_id

    def span(
        self,
        service: str,
        name: str,
        *,
        kind: str = "internal",
        parent: SpanSpec | None = None,
        start_ms: float = 0,
        end_ms: float = 1,
        error: bool = False,
        attributes: dict[str, Any] | None = None,
        resource: dict[str, Any] | None = None,
        links: list[SpanSpec] | None = None,
        orphan_parent: bool = False,
    ) -> SpanSpec:
        parent_id = (
            parent.span_id if parent else (self._rng.getrandbits(64).to_bytes(8, "big") if orphan_parent else b"")
        )
        spec = SpanSpec(
            service=service,
            name=name,
            kind=kind,
            trace_id=parent.trace_id if parent else self.trace_id,
            span_id=(self._rng.getrandbits(64) | 1).to_bytes(8, "big"),
            parent_id=parent_id,
            start_ns=self.base_ns + int(start_ms * 1_000_000),
            end_ns=self.base_ns + int(end_ms * 1_000_000),
            error=error,
            attributes=attributes or {},
            resource=resource or {},
            links=[(link.trace_id, link.span_id) for link in links or []],
        )
        self.spans.append(spec)
        return spec


def request_for(spans: list[SpanSpec]) -> TRACE_SERVICE_PB2.ExportTraceServiceRequest:
    """One ResourceSpans per (service, resource) so that each span keeps its own service."""
    groups: dict[tuple[str, tuple[tuple[str, Any], ...]], list[SpanSpec]] = {}
    for spec in spans:
        groups.setdefault((spec.service, tuple(sorted(spec.resource.items()))), []).append(spec)
    resource_spans = []
    for (service, resource), specs in groups.items():
        resource_pb = RESOURCE_PB2.Resource(attributes=key_values({"service.name": service, **dict(resource)}))
        spans_pb = [_span_pb(spec) for spec in specs]
        resource_spans.append(
            TRACE_PB2.ResourceSpans(resource=resource_pb, scope_spans=[TRACE_PB2.ScopeSpans(spans=spans_pb)])
        )
    return TRACE_SERVICE_PB2.ExportTraceServiceRequest(resource_spans=resource_spans)


def _span_pb(spec: SpanSpec) -> TRACE_PB2.Span:
    return TRACE_PB2.Span(
        trace_id=spec.trace_id,
        span_id=spec.span_id,
        parent_span_id=spec.parent_id,
        name=spec.name,
        kind=KINDS[spec.kind],
        start_time_unix_nano=spec.start_ns,
        end_time_unix_nano=spec.end_ns,
        attributes=key_values(spec.attributes),
        status=TRACE_PB2.Status(code=TRACE_PB2.Status.STATUS_CODE_ERROR if spec.error else 0),
        links=[TRACE_PB2.Span.Link(trace_id=t, span_id=s) for t, s in spec.links],
    )


def send(grpc_endpoint: str, spans: list[SpanSpec]) -> None:
    with grpc.insecure_channel(grpc_endpoint) as channel:
        channel.unary_unary(TRACE_EXPORT)(request_for(spans).SerializeToString(), timeout=30)
