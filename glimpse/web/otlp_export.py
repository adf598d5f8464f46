"""Stored traces back to OTLP: ``TracesData`` protobuf, OTLP/JSON, and Tempo's envelope.

The input is :func:`analyzer.query_service.traces.export_traces`' answer. Spans are grouped
under their resource and scope as they came (one ``ResourceSpans`` per distinct resource,
one ``ScopeSpans`` per scope within it, in order of first appearance); every stored field
goes back, attribute values with their OTLP types (tracing.attributes).

OTLP/JSON follows the spec's JSON encoding: ids as lowercase hex, enums as integers,
64-bit integers as decimal strings, lowerCamelCase keys.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.common.v1 import common_pb2 as COMMON_PB2
from opentelemetry.proto.resource.v1 import resource_pb2 as RESOURCE_PB2
from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2

from tracing.attributes import AttributeValue, decode_attribute_value

__all__ = ["any_value", "otlp_json", "tempo_trace_by_id_response", "traces_data"]

SPAN_KINDS = {"Unspecified": 0, "Internal": 1, "Server": 2, "Client": 3, "Producer": 4, "Consumer": 5}
STATUS_CODES = {"Unset": 0, "Ok": 1, "Error": 2}
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})


def traces_data(traces: Iterable[Mapping[str, Any]]) -> TRACE_PB2.TracesData:
    """One ``TracesData`` holding the spans of ``traces`` (export_traces' answer)."""
    data = TRACE_PB2.TracesData()
    resources: dict[str, TRACE_PB2.ResourceSpans] = {}
    scopes: dict[tuple[str, str], TRACE_PB2.ScopeSpans] = {}
    for trace in traces:
        for span in trace["spans"]:
            resource_key = json.dumps(span["resource"], sort_keys=True)
            if resource_key not in resources:
                resources[resource_key] = data.resource_spans.add(
                    resource=_resource(span["resource"]), schema_url=span["resource"]["schema_url"]
                )
            scope_key = (resource_key, json.dumps(span["scope"], sort_keys=True))
            if scope_key not in scopes:
                scopes[scope_key] = resources[resource_key].scope_spans.add(
                    scope=_scope(span["scope"]), schema_url=span["scope"]["schema_url"]
                )
            scopes[scope_key].spans.append(_span(span))
    return data


def _resource(resource: Mapping[str, Any]) -> RESOURCE_PB2.Resource:
    return RESOURCE_PB2.Resource(
        attributes=key_values(resource["attributes"]),
        dropped_attributes_count=resource["dropped_attributes_count"],
    )


def _scope(scope: Mapping[str, Any]) -> COMMON_PB2.InstrumentationScope:
    return COMMON_PB2.InstrumentationScope(
        name=scope["name"], version=scope["version"], attributes=key_values(scope["attributes"])
    )


def _span(span: Mapping[str, Any]) -> TRACE_PB2.Span:
    return TRACE_PB2.Span(
        trace_id=bytes.fromhex(span["trace_id"]),
        span_id=bytes.fromhex(span["span_id"]),
        trace_state=span["trace_state"],
        parent_span_id=bytes.fromhex(span["parent_span_id"]),
        flags=span["flags"],
        name=span["name"],
        kind=SPAN_KINDS.get(span["kind"], 0),  # type: ignore[arg-type]
        start_time_unix_nano=span["start_ns"],
        end_time_unix_nano=span["end_ns"],
        attributes=key_values(span["attributes"]),
        dropped_attributes_count=span["dropped_attributes_count"],
        events=[
            TRACE_PB2.Span.Event(
                time_unix_nano=event["time_ns"] or 0,
                name=event["name"] or "",
                attributes=key_values(event["attributes"]),
                dropped_attributes_count=event["dropped_attributes_count"] or 0,
            )
            for event in span["events"]
        ],
        dropped_events_count=span["dropped_events_count"],
        links=[
            TRACE_PB2.Span.Link(
                trace_id=bytes.fromhex(link["trace_id"] or ""),
                span_id=bytes.fromhex(link["span_id"] or ""),
                trace_state=link["trace_state"] or "",
                attributes=key_values(link["attributes"]),
                dropped_attributes_count=link["dropped_attributes_count"] or 0,
                flags=link["flags"] or 0,
            )
            for link in span["links"]
        ],
        dropped_links_count=span["dropped_links_count"],
        status=TRACE_PB2.Status(
            code=STATUS_CODES.get(span["status_code"], 0),  # type: ignore[arg-type]
            message=span["status_message"],
        ),
    )


def key_values(typed: Mapping[str, Any]) -> list[COMMON_PB2.KeyValue]:
    """An attribute map in typed JSON (tracing.attributes) as OTLP key-values."""
    return [
        COMMON_PB2.KeyValue(key=key, value=any_value(decode_attribute_value(value))) for key, value in typed.items()
    ]


def any_value(value: AttributeValue) -> COMMON_PB2.AnyValue:
    """A decoded attribute value as an ``AnyValue`` of its own type (None: an empty one)."""
    if value is None:
        return COMMON_PB2.AnyValue()
    if isinstance(value, bool):
        return COMMON_PB2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return COMMON_PB2.AnyValue(int_value=value)
    if isinstance(value, float):
        return COMMON_PB2.AnyValue(double_value=value)
    if isinstance(value, str):
        return COMMON_PB2.AnyValue(string_value=value)
    if isinstance(value, (bytes, bytearray)):
        return COMMON_PB2.AnyValue(bytes_value=bytes(value))
    if isinstance(value, list):
        return COMMON_PB2.AnyValue(array_value=COMMON_PB2.ArrayValue(values=[any_value(item) for item in value]))
    return COMMON_PB2.AnyValue(
        kvlist_value=COMMON_PB2.KeyValueList(
            values=[COMMON_PB2.KeyValue(key=key, value=any_value(item)) for key, item in value.items()]
        )
    )


def otlp_json(message: Any) -> dict[str, Any]:
    """A protobuf message as OTLP/JSON (ids in hex, enums as integers)."""
    document: dict[str, Any] = json_format.MessageToDict(message, use_integers_for_enums=True)
    _ids_to_hex(document)
    return document


def _ids_to_hex(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _ids_to_hex(value)
    elif isinstance(node, list):
        for item in node:
            _ids_to_hex(item)


def tempo_trace_by_id_response(data: TRACE_PB2.TracesData) -> bytes:
    """Tempo's ``TraceByIDResponse`` (``/api/v2/traces``) around ``data``: its field 1 is a
    ``Trace``, whose field 1 is the repeated ``ResourceSpans``, as ``TracesData``'s is; so
    the envelope is field 1 (length-delimited) holding ``data``'s bytes. Status
    ``COMPLETE`` (0) and no metrics are proto3 defaults, not written."""
    inner: bytes = data.SerializeToString()
    return b"\x0a" + _varint(len(inner)) + inner


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
