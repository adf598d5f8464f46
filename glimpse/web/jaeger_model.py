"""Stored traces in the JSON model of Jaeger's query service (the model its UI and Grafana's
Jaeger data source read), translated as Jaeger's own OTLP translation does.

The input is :func:`analyzer.query_service.traces.export_traces`' answer. For each span:

* ``references``: the parent as ``CHILD_OF`` first, then each link as ``FOLLOWS_FROM``
  (``CHILD_OF`` when the link's ``opentracing.ref_type`` says ``child_of``; a link to the
  parent only sets the parent reference's type);
* ``startTime`` and ``duration`` in microseconds (truncated);
* ``tags``: ``otel.scope.name`` and ``otel.scope.version`` (when set), the span's
  attributes, then ``span.kind`` (``server``, ``client``, ``producer``, ``consumer``,
  ``internal``; none when unspecified), ``otel.status_code`` (``OK``, ``ERROR``; none when
  unset), ``error=true`` for an error, ``otel.status_description`` (the status message,
  when set), ``w3c.tracestate`` (when set). Values keep their type (``string``, ``bool``,
  ``int64``, ``float64``, ``binary`` as base64); arrays and maps become JSON text;
* ``logs``: each event (``timestamp`` in microseconds; field ``event`` with its name,
  unless an attribute has that key, then its attributes) and each of the span's log
  records (fields ``event`` = the event name or ``log``, ``level``, ``message``, then its
  attributes), in time order. Records naming no span of the trace go on its first root;
* ``processID``: one process per distinct service and resource (``p1``, ``p2``, ... in
  order of appearance), its ``tags`` the resource attributes but ``service.name``.

Trace ids print as Jaeger prints them: 16 hex digits when the high half is zero, else 32.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from typing import Any

from tracing.attributes import AttributeValue, decode_attribute_value

__all__ = ["jaeger_id", "jaeger_tag", "jaeger_trace", "span_kind_name"]

_KIND_TAGS = {
    "Server": "server",
    "Client": "client",
    "Producer": "producer",
    "Consumer": "consumer",
    "Internal": "internal",
}
_STATUS_TAGS = {"Ok": "OK", "Error": "ERROR"}


def jaeger_id(trace_id: str) -> str:
    """A trace id as Jaeger prints it: without its high half when that is zero.

    >>> jaeger_id("0000000000000000" + "00000000000000ff"), jaeger_id("1" * 32) == "1" * 32
    ('00000000000000ff', True)
    """
    return trace_id[16:] if trace_id.startswith("0" * 16) else trace_id


def span_kind_name(kind: str) -> str:
    """The ``span.kind`` tag value (and api_v3's ``spanKind``) of a stored kind; '' when unspecified."""
    return _KIND_TAGS.get(kind, "")


def jaeger_trace(trace: Mapping[str, Any]) -> dict[str, Any]:
    """One trace (from export_traces) in Jaeger's JSON model."""
    processes: dict[str, dict[str, Any]] = {}
    process_ids: dict[str, str] = {}
    logs = _records_by_span(trace)
    spans = []
    for span in trace["spans"]:
        process_key = json.dumps([span["service"], span["resource"]["attributes"]], sort_keys=True)
        if process_key not in process_ids:
            process_ids[process_key] = f"p{len(process_ids) + 1}"
            processes[process_ids[process_key]] = _process(span)
        spans.append(_span(span, process_ids[process_key], logs.get(span["span_id"], [])))
    return {"traceID": jaeger_id(trace["trace_id"]), "spans": spans, "processes": processes, "warnings": None}


def _process(span: Mapping[str, Any]) -> dict[str, Any]:
    tags = [jaeger_tag(key, value) for key, value in span["resource"]["attributes"].items() if key != "service.name"]
    return {"serviceName": span["service"], "tags": tags}


def _span(span: Mapping[str, Any], process_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "traceID": jaeger_id(span["trace_id"]),
        "spanID": span["span_id"],
        "operationName": span["name"],
        "references": _references(span),
        "startTime": span["start_ns"] // 1000,
        "duration": (span["end_ns"] - span["start_ns"]) // 1000,
        "tags": _tags(span),
        "logs": sorted([*map(_event_log, span["events"]), *records], key=lambda log: log["timestamp"]),
        "processID": process_id,
        "warnings": None,
    }
    if span["flags"] & 0xFF:
        answer["flags"] = span["flags"] & 0xFF
    return answer


def _references(span: Mapping[str, Any]) -> list[dict[str, str]]:
    references = []
    if span["parent_span_id"]:
        references.append(
            {"refType": "CHILD_OF", "traceID": jaeger_id(span["trace_id"]), "spanID": span["parent_span_id"]}
        )
    for link in span["links"]:
        ref_type = "CHILD_OF" if link["attributes"].get("opentracing.ref_type") == "child_of" else "FOLLOWS_FROM"
        if references and link["trace_id"] == span["trace_id"] and link["span_id"] == span["parent_span_id"]:
            references[0]["refType"] = ref_type
            continue
        references.append({"refType": ref_type, "traceID": jaeger_id(link["trace_id"]), "spanID": link["span_id"]})
    return references


def _tags(span: Mapping[str, Any]) -> list[dict[str, Any]]:
    tags = [
        jaeger_tag(key, value)
        for key, value in (("otel.scope.name", span["scope"]["name"]), ("otel.scope.version", span["scope"]["version"]))
        if value
    ]
    tags += [jaeger_tag(key, value) for key, value in span["attributes"].items()]
    if span["kind"] in _KIND_TAGS:
        tags.append(jaeger_tag("span.kind", _KIND_TAGS[span["kind"]]))
    if span["status_code"] in _STATUS_TAGS:
        tags.append(jaeger_tag("otel.status_code", _STATUS_TAGS[span["status_code"]]))
    if span["status_code"] == "Error":
        tags.append(jaeger_tag("error", True))
    if span["status_message"]:
        tags.append(jaeger_tag("otel.status_description", span["status_message"]))
    if span["trace_state"]:
        tags.append(jaeger_tag("w3c.tracestate", span["trace_state"]))
    return tags


def jaeger_tag(key: str, typed: Any) -> dict[str, Any]:
    """``{"key", "type", "value"}`` of an attribute value in typed JSON (tracing.attributes)."""
    value: AttributeValue = decode_attribute_value(typed)
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float) and math.isfinite(value):
        return {"key": key, "type": "float64", "value": value}
    if isinstance(value, (bytes, bytearray)):
        return {"key": key, "type": "binary", "value": base64.b64encode(value).decode("ascii")}
    if isinstance(value, str):
        return {"key": key, "type": "string", "value": value}
    if isinstance(value, float):  # NaN and the infinities: JSON has no number for them
        return {"key": key, "type": "string", "value": str(value)}
    return {"key": key, "type": "string", "value": json.dumps(typed, separators=(",", ":"), ensure_ascii=False)}


def _event_log(event: Mapping[str, Any]) -> dict[str, Any]:
    fields = []
    if event["name"] and "event" not in event["attributes"]:
        fields.append(jaeger_tag("event", event["name"]))
    fields += [jaeger_tag(key, value) for key, value in event["attributes"].items()]
    return {"timestamp": (event["time_ns"] or 0) // 1000, "fields": fields}


def _records_by_span(trace: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The trace's log records as Jaeger logs, by the span they belong to."""
    spans = trace["spans"]
    span_ids = {span["span_id"] for span in spans}
    roots = [span for span in spans if span["parent_span_id"] not in span_ids] or spans
    fallback = min(roots, key=lambda span: span["start_ns"])
    by_span: dict[str, list[dict[str, Any]]] = {}
    for record in trace["logs"]:
        owner = record["span_id"] if record["span_id"] in span_ids else fallback["span_id"]
        time_ns = record["time_ns"] if record["time_ns"] is not None else fallback["start_ns"]
        fields = [
            jaeger_tag("event", record["event_name"] or "log"),
            jaeger_tag("level", record["severity"]),
            jaeger_tag("message", record["message"]),
            *(jaeger_tag(key, value) for key, value in record["attributes"].items()),
        ]
        by_span.setdefault(owner, []).append({"timestamp": time_ns // 1000, "fields": fields})
    return by_span
