"""Small builders of SDK spans and raw OTLP requests for tests."""

from __future__ import annotations

import random

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2
from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind

START_NS = 1_700_000_000_000_000_000


def sdk_spans(count: int, *, seed: int, service: str = "load") -> list[ReadableSpan]:
    """``count`` server spans with unique ids (deterministic for a seed)."""
    rng = random.Random(seed)
    resource = Resource({"service.name": service})
    spans = []
    for index in range(count):
        context = SpanContext(rng.getrandbits(128) | 1, rng.getrandbits(64) | 1, is_remote=False)
        spans.append(
            ReadableSpan(
                name=f"op-{index % 7}",
                context=context,
                resource=resource,
                attributes={"index": index, "http.route": f"/r/{index % 5}"},
                kind=SpanKind.SERVER,
                start_time=START_NS + index * 1_000,
                end_time=START_NS + index * 1_000 + 500,
            )
        )
    return spans


def raw_request(count: int, *, seed: int) -> tuple[bytes, list[str]]:
    """A serialized ExportTraceServiceRequest and the hex span ids it carries."""
    rng = random.Random(seed)
    spans = []
    for index in range(count):
        spans.append(
            TRACE_PB2.Span(
                trace_id=rng.getrandbits(128).to_bytes(16, "big"),
                span_id=(rng.getrandbits(64) | 1).to_bytes(8, "big"),
                name="raw",
                kind=TRACE_PB2.Span.SPAN_KIND_SERVER,
                start_time_unix_nano=START_NS + index,
                end_time_unix_nano=START_NS + index + 10,
            )
        )
    request = TRACE_SERVICE_PB2.ExportTraceServiceRequest(
        resource_spans=[TRACE_PB2.ResourceSpans(scope_spans=[TRACE_PB2.ScopeSpans(spans=spans)])]
    )
    return request.SerializeToString(), [span.span_id.hex() for span in spans]
