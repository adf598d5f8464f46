"""Spans through the real SDK exporters (gRPC and HTTP/protobuf) round-trip exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from tests.conftest import Running, start_server
from tests.otlp_clients import PROTOCOLS, span_exporter
from tracing.attributes import decode_attributes_json

TRACE_ID = 0x5B8EFFF798038103D269B633813FC60C
ROOT_ID = 0xEEE19B7EC3C1B174
CHILD_ID = 0xEEE19B7EC3C1B173
LINKED_TRACE = 0x0AF7651916CD43DD8448EB211C80319C
START = 1_700_000_000_123_456_789

ATTRIBUTES: dict[str, Any] = {
    "http.request.method": "GET",
    "flag": True,
    "big": 2**62 + 7,
    "negative": -5,
    "ratio": 1.5,
    "whole.double": 1.0,
    "raw": b"\x00\xff\x10",
    "names": ["a", "b"],
    "numbers": [1, 2, 3],
    "nested": {"inner": {"list": [1, "x", True]}, "n": 2.5},
    "unicode": "héllo ✓",
}


def _spans() -> list[ReadableSpan]:
    resource = Resource(
        {"service.name": "checkout", "service.version": "1.2.3", "k8s.pod.name": "checkout-7d9", "host.name": "node-a"},
        schema_url="https://opentelemetry.io/schemas/1.26.0",
    )
    scope = InstrumentationScope("glimpse.tests", "0.9", schema_url="https://example.com/scope", attributes={"s": 1})
    root_context = SpanContext(
        TRACE_ID, ROOT_ID, is_remote=False, trace_flags=TraceFlags(1), trace_state=TraceState([("vendor", "v1")])
    )
    # one attribute over the limit: the SDK drops the oldest and counts it
    attributes = BoundedAttributes(maxlen=len(ATTRIBUTES), attributes={"dropped.first": 0, **ATTRIBUTES})
    events = BoundedList(maxlen=1)
    events.append(Event("dropped.event", {}, timestamp=START + 500))  # the oldest goes when the list is full
    events.append(Event("cache.miss", {"key": "user:1", "attempt": 2}, timestamp=START + 1_000))
    links = [Link(SpanContext(LINKED_TRACE, 0x00F067AA0BA902B7, is_remote=True), {"link.kind": "follows"})]
    root = ReadableSpan(
        name="GET /checkout",
        context=root_context,
        parent=None,
        resource=resource,
        attributes=attributes,
        events=events,
        links=links,
        kind=SpanKind.SERVER,
        status=Status(StatusCode.ERROR, "payment declined"),
        start_time=START,
        end_time=START + 987_654_321,
        instrumentation_scope=scope,
    )
    child = ReadableSpan(
        name="SELECT orders",
        context=SpanContext(TRACE_ID, CHILD_ID, is_remote=False),
        parent=root_context,
        resource=resource,
        attributes={"db.system": "postgresql", "db.name": "orders", "net.peer.name": "db", "net.peer.port": 5432},
        kind=SpanKind.CLIENT,
        status=Status(StatusCode.OK),
        start_time=START + 10,
        end_time=START + 20,
        instrumentation_scope=scope,
    )
    return [root, child]


def _sent_flags() -> dict[int, int]:
    """The span flags exactly as the SDK's encoder puts them on the wire."""
    request = encode_spans(_spans())
    return {
        int.from_bytes(span.span_id, "big"): span.flags
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_span_field_round_trips(running: Running, protocol: str) -> None:
    _assert_round_trip(running, protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_round_trip_through_decode_worker_processes(db_path: Path, protocol: str) -> None:
    server = start_server(db_path, decode_workers=2)
    assert server.info is not None
    try:
        _assert_round_trip(Running(server, server.info, str(db_path)), protocol)
    finally:
        server.stop()


def _assert_round_trip(running: Running, protocol: str) -> None:
    exporter = span_exporter(protocol, running)
    assert exporter.export(_spans()) is SpanExportResult.SUCCESS
    exporter.shutdown()

    rows = running.sql(
        "SELECT *, epoch_ns(timestamp) AS start_ns, "
        "list_transform(events, lambda e: epoch_ns(e.timestamp)) AS event_ns "
        "FROM otel_traces ORDER BY span_id DESC"
    )
    assert len(rows) == 2
    root, child = rows
    assert root["trace_id"] == f"{TRACE_ID:032x}"
    assert root["span_id"] == f"{ROOT_ID:016x}"
    assert root["parent_span_id"] == ""
    assert root["trace_state"] == "vendor=v1"
    assert root["flags"] == _sent_flags()[ROOT_ID]
    assert root["span_name"] == "GET /checkout"
    assert root["span_kind"] == "Server"
    assert root["start_ns"] == START
    assert root["duration"] == 987_654_321
    assert root["status_code"] == "Error"
    assert root["status_message"] == "payment declined"
    assert root["service_name"] == "checkout"
    assert root["scope_name"] == "glimpse.tests" and root["scope_version"] == "0.9"
    assert root["scope_schema_url"] == "https://example.com/scope"
    assert root["scope_attributes"] == {"s": 1}
    assert root["resource_schema_url"] == "https://opentelemetry.io/schemas/1.26.0"
    assert root["resource_attributes"]["k8s.pod.name"] == "checkout-7d9"
    assert root["k8s_pod_name"] == "checkout-7d9" and root["host_name"] == "node-a"
    assert root["service_version"] == "1.2.3"

    stored = decode_attributes_json(json.dumps(root["span_attributes"]))
    assert stored == ATTRIBUTES
    assert type(stored["whole.double"]) is float and type(stored["big"]) is int
    assert stored["raw"] == b"\x00\xff\x10"
    assert root["dropped_attributes_count"] == 1
    assert root["dropped_events_count"] == 1
    assert root["dropped_links_count"] == 0

    (event,) = root["events"]
    assert event["name"] == "cache.miss"
    assert json.loads(event["attributes"]) == {"key": "user:1", "attempt": 2}
    assert root["event_ns"] == [START + 1_000]
    (link,) = root["links"]
    assert link["trace_id"] == f"{LINKED_TRACE:032x}" and link["span_id"] == "00f067aa0ba902b7"
    assert json.loads(link["attributes"]) == {"link.kind": "follows"}

    assert child["parent_span_id"] == f"{ROOT_ID:016x}"
    assert child["span_kind"] == "Client" and child["status_code"] == "Ok"
    assert child["duration"] == 10


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_old_and_new_semantic_conventions_fill_the_same_columns(running: Running, protocol: str) -> None:
    exporter = span_exporter(protocol, running)
    assert exporter.export(_spans()) is SpanExportResult.SUCCESS
    exporter.shutdown()
    child = running.sql(f"SELECT * FROM otel_traces WHERE span_id = '{CHILD_ID:016x}'")[0]
    # sent with old keys: db.system, db.name, net.peer.name, net.peer.port
    assert child["db_system_name"] == "postgresql"
    assert child["db_namespace"] == "orders"
    assert child["server_address"] == "db"
    assert child["server_port"] == 5432
    assert child["span_attributes"] == {
        "db.system": "postgresql",
        "db.name": "orders",
        "net.peer.name": "db",
        "net.peer.port": 5432,
    }
    root = running.sql(f"SELECT * FROM otel_traces WHERE span_id = '{ROOT_ID:016x}'")[0]
    assert root["http_request_method"] == "GET"  # sent with the new key


def test_a_duplicate_span_is_stored_once(running: Running) -> None:
    for protocol in PROTOCOLS:
        for _ in range(2):
            exporter = span_exporter(protocol, running)
            assert exporter.export(_spans()) is SpanExportResult.SUCCESS
            exporter.shutdown()
    assert running.scalar("SELECT count(*) FROM otel_traces") == 2


def test_views_summarise_traces_and_calls(running: Running) -> None:
    exporter = span_exporter("grpc", running)
    assert exporter.export(_spans()) is SpanExportResult.SUCCESS
    exporter.shutdown()
    (summary,) = running.sql("SELECT * FROM otel_trace_summary")
    assert summary["trace_id"] == f"{TRACE_ID:032x}"
    assert summary["root_service"] == "checkout"
    assert summary["root_operation"] == "GET /checkout"
    assert summary["span_count"] == 2 and summary["error_count"] == 1
    assert summary["duration"] == 987_654_321
    assert summary["services"] == ["checkout"]


def test_duplicates_inside_one_request_are_stored_once(running: Running) -> None:
    spans = _spans()
    exporter = span_exporter("grpc", running)
    assert exporter.export([*spans, spans[1], spans[0]]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert running.scalar("SELECT count(*) FROM otel_traces") == 2
    assert running.server is not None
    assert running.server.stats()["duplicate_spans"] == 2


def test_a_duplicate_at_the_start_of_a_request_keeps_every_other_span(running: Running) -> None:
    spans = _spans()
    exporter = span_exporter("grpc", running)
    assert exporter.export([spans[0], spans[0], spans[0], spans[1]]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    stored = running.sql("SELECT span_id FROM otel_traces ORDER BY span_id")
    assert sorted(row["span_id"] for row in stored) == sorted(f"{s.context.span_id:016x}" for s in spans)


def _json_trace(span_id: str) -> bytes:
    span = {"traceId": "ab" * 16, "spanId": span_id, "name": "json", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()


def test_decode_workers_start_on_first_use_and_a_dead_one_is_replaced(db_path: Path) -> None:
    import httpx
    import psutil

    def workers() -> list[psutil.Process]:
        children = psutil.Process().children(recursive=True)
        return [child for child in children if "spawn_main" in " ".join(child.cmdline())]

    def post(span_id: str) -> int:
        url = f"{running.http_url}/v1/traces"
        return httpx.post(url, content=_json_trace(span_id), headers={"content-type": "application/json"}).status_code

    server = start_server(db_path, decode_workers=1)
    assert server.info is not None
    running = Running(server, server.info, str(db_path))
    try:
        exporter = span_exporter("grpc", running)  # protobuf traces: the C fast path, no worker
        assert exporter.export(_spans()) is SpanExportResult.SUCCESS
        exporter.shutdown()
        assert workers() == []
        assert post("00000000000000a1") == 200  # OTLP/JSON goes to the decode worker
        [worker] = workers()
        worker.kill()
        worker.wait(10)
        statuses = [post("00000000000000a2") for _ in range(2)]  # the first meets the dead pool
        assert statuses in ([200, 200], [503, 200])
        assert len(workers()) == 1 and workers()[0].pid != worker.pid
        assert running.scalar("SELECT count(*) FROM otel_traces") == 4  # the second a2 is a duplicate
    finally:
        server.stop()
