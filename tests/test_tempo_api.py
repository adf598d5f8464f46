"""Tempo's HTTP API under /tempo, as Grafana's Tempo data source asks it: traces sent through the
real OpenTelemetry SDK come back span for span as OTLP protobuf (decoded here with
opentelemetry-proto, v2 inside Tempo's TraceByIDResponse) or OTLP/JSON; TraceQL and tag search;
tag names and values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.common.v1 import common_pb2 as COMMON_PB2
from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2
from opentelemetry.sdk.trace import ReadableSpan

from tests.conftest import Running, serving
from tests.sdk_shop import MS, RESOURCES, SCOPE, Shop, send_shop
from tests.test_jaeger_api import OTLP_KINDS


@pytest.fixture(scope="module")
def shop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Shop]]:
    with serving(tmp_path_factory.mktemp("tempo") / "glimpse.duckdb") as running:
        yield running, send_shop(running)


def tempo(running: Running, path: str, params: Any = None, status: int = 200, **headers: str) -> httpx.Response:
    response = httpx.get(f"{running.api_url}/tempo{path}", params=params, headers=headers, timeout=30)
    assert response.status_code == status, response.text
    return response


def _trace_by_id_response() -> Any:
    """Tempo's TraceByIDResponse (tempopb: field 1 a Trace of repeated ResourceSpans), built
    here from its field numbers so that the test decodes independently of glimpse."""
    file = descriptor_pb2.FileDescriptorProto(
        name="tests/tempo_trace_by_id.proto",
        package="tests.tempopb",
        syntax="proto3",
        dependency=["opentelemetry/proto/trace/v1/trace.proto"],
    )
    trace = file.message_type.add(name="Trace")
    trace.field.add(
        name="resource_spans",
        number=1,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
        type_name=".opentelemetry.proto.trace.v1.ResourceSpans",
    )
    response = file.message_type.add(name="TraceByIDResponse")
    response.field.add(
        name="trace", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE, type_name=".tests.tempopb.Trace"
    )
    response.field.add(name="message", number=4, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING)
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(file.name)
    except KeyError:
        pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tests.tempopb.TraceByIDResponse"))


def any_value(value: Any) -> COMMON_PB2.AnyValue:
    if isinstance(value, bool):
        return COMMON_PB2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return COMMON_PB2.AnyValue(int_value=value)
    if isinstance(value, float):
        return COMMON_PB2.AnyValue(double_value=value)
    if isinstance(value, tuple):
        return COMMON_PB2.AnyValue(array_value=COMMON_PB2.ArrayValue(values=[any_value(v) for v in value]))
    return COMMON_PB2.AnyValue(string_value=value)


def key_values(attributes: Any) -> list[COMMON_PB2.KeyValue]:
    return [COMMON_PB2.KeyValue(key=key, value=any_value(value)) for key, value in attributes.items()]


def expected_span(sdk: ReadableSpan) -> TRACE_PB2.Span:
    """The OTLP span the SDK's exporter sent."""
    return TRACE_PB2.Span(
        trace_id=sdk.context.trace_id.to_bytes(16, "big"),
        span_id=sdk.context.span_id.to_bytes(8, "big"),
        parent_span_id=sdk.parent.span_id.to_bytes(8, "big") if sdk.parent else b"",
        name=sdk.name,
        kind=OTLP_KINDS[sdk.kind],  # type: ignore[arg-type]
        start_time_unix_nano=sdk.start_time,
        end_time_unix_nano=sdk.end_time,
        attributes=key_values(sdk.attributes),
        events=[
            TRACE_PB2.Span.Event(time_unix_nano=e.timestamp, name=e.name, attributes=key_values(e.attributes))
            for e in sdk.events
        ],
        links=[
            TRACE_PB2.Span.Link(
                trace_id=link.context.trace_id.to_bytes(16, "big"),
                span_id=link.context.span_id.to_bytes(8, "big"),
                attributes=key_values(link.attributes),
            )
            for link in sdk.links
        ],
        status=TRACE_PB2.Status(code=sdk.status.status_code.value, message=sdk.status.description or ""),  # type: ignore[arg-type]
    )


def assert_same_trace(
    data: TRACE_PB2.TracesData, sdk_spans: list[ReadableSpan], stored_flags: dict[bytes, int]
) -> None:
    """Span for span what the SDK sent; the flags as stored (which bits an exporter sets
    there depends on its version)."""
    got = {}
    for resource_spans in data.resource_spans:
        resource = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            assert (scope_spans.scope.name, scope_spans.scope.version) == SCOPE
            for span in scope_spans.spans:
                got[span.span_id] = (resource, span)
    assert len(got) == len(sdk_spans)
    for sdk in sdk_spans:
        resource, span = got[sdk.context.span_id.to_bytes(8, "big")]
        assert resource == RESOURCES[sdk.resource.attributes["service.name"]]
        assert span.flags == stored_flags[span.span_id]
        for link in span.links:  # as the span's, a link's flags are the exporter's to set
            link.flags = 0
        span.flags = 0
        assert span == expected_span(sdk)


def test_trace_by_id_as_protobuf_v1_and_v2(shop_server: tuple[Running, Shop]) -> None:
    running, shop = shop_server
    sdk_spans = shop.of_trace(shop.checkout_id)
    rows = running.sql(f"SELECT span_id, flags FROM otel_spans WHERE trace_id = '{shop.checkout_id}'")
    flags = {bytes.fromhex(row["span_id"]): row["flags"] for row in rows}
    v1 = tempo(running, f"/api/traces/{shop.checkout_id}", accept="application/protobuf")
    assert v1.headers["content-type"] == "application/protobuf"
    assert_same_trace(TRACE_PB2.TracesData.FromString(v1.content), sdk_spans, flags)
    # Grafana's request: v2, start and end in unix seconds, Accept: application/protobuf
    window = {"start": shop.base_ns // 10**9 - 60, "end": shop.base_ns // 10**9 + 60}
    v2 = tempo(running, f"/api/v2/traces/{shop.checkout_id}", params=window, accept="application/protobuf")
    envelope = _trace_by_id_response().FromString(v2.content)
    inner = TRACE_PB2.TracesData.FromString(envelope.trace.SerializeToString())
    assert_same_trace(inner, sdk_spans, flags)
    assert envelope.message == ""


def test_trace_by_id_as_otlp_json(shop_server: tuple[Running, Shop]) -> None:
    running, shop = shop_server
    v1 = tempo(running, f"/api/traces/{shop.health_id}").json()
    (batch,) = v1["batches"]
    (span,) = batch["scopeSpans"][0]["spans"]
    sdk = shop.span("GET /health", "frontend")
    assert span["traceId"] == shop.health_id and span["spanId"] == f"{sdk.context.span_id:016x}"
    assert span["kind"] == 2 and span["startTimeUnixNano"] == str(sdk.start_time) and span["status"] == {"code": 1}
    v2 = tempo(running, f"/api/v2/traces/{shop.health_id.lstrip('0')}").json()  # Tempo's ids drop leading zeros
    assert v2["trace"]["resourceSpans"] == v1["batches"]


def test_unknown_and_malformed_trace_ids(shop_server: tuple[Running, Shop]) -> None:
    running, _ = shop_server
    missing = tempo(running, "/api/v2/traces/0af7651916cd43dd8448eb211c80319c", status=404)
    assert missing.text == "trace not found" and missing.headers["content-type"].startswith("text/plain")
    tempo(running, "/api/traces/0af7651916cd43dd8448eb211c80319c", status=404)
    assert "invalid trace id" in tempo(running, "/api/traces/nothex", status=400).text
    assert "start must be an integer" in tempo(running, f"/api/traces/{'1' * 32}", {"start": "x"}, status=400).text


def search(running: Running, **params: Any) -> list[dict[str, Any]]:
    answer = tempo(running, "/api/search", params=params).json()
    assert answer["metrics"]["inspectedTraces"] == len(answer["traces"])
    return list(answer["traces"])


def ids(traces: list[dict[str, Any]]) -> list[str]:
    return [trace["traceID"].rjust(32, "0") for trace in traces]


def test_traceql_search(shop_server: tuple[Running, Shop]) -> None:
    running, shop = shop_server
    (found,) = search(running, q='{ resource.service.name = "payment" && status = error }')
    payment = shop.span("POST /pay", "payment")
    assert found["traceID"] == shop.checkout_id.lstrip("0")
    assert found["rootServiceName"] == "frontend" and found["rootTraceName"] == "GET /checkout"
    assert found["startTimeUnixNano"] == str(shop.base_ns) and found["durationMs"] == 120
    spanset = {
        "spans": [
            {
                "spanID": f"{payment.context.span_id:016x}",
                "name": "POST /pay",
                "startTimeUnixNano": str(shop.base_ns + 15 * MS),
                "durationNanos": str(90 * MS),
                "attributes": [{"key": "service.name", "value": {"stringValue": "payment"}}],
            }
        ],
        "matched": 1,
    }
    assert found["spanSet"] == spanset and found["spanSets"] == [spanset]
    both = [shop.health_id, shop.checkout_id]
    assert ids(search(running, q='{ name =~ "GET .*" }')) == both
    assert ids(search(running, q="{ duration > 95ms && kind = client }")) == [shop.checkout_id]
    assert ids(search(running, q='{ name = "GET /health" || span.http.response.status_code = 200 }')) == both
    assert ids(search(running, q="{ span.cached = true && span.ratio < 0.6 }")) == [shop.checkout_id]
    assert ids(search(running, q='{ .host.name = "pay-1" }')) == [shop.checkout_id]
    assert ids(search(running, q="{ traceDuration > 100ms }")) == [shop.checkout_id]
    everything = search(running, q="{}", spss=10)
    assert [trace["spanSet"]["matched"] for trace in everything] == [1, 4]
    assert len(search(running, q="{}", spss=2)[1]["spanSet"]["spans"]) == 2
    assert ids(search(running, q="{}", limit=1)) == [shop.health_id]


def test_tag_search_durations_and_time(shop_server: tuple[Running, Shop]) -> None:
    running, shop = shop_server
    assert ids(search(running, tags="service.name=payment")) == [shop.checkout_id]
    assert ids(search(running, tags='name="GET /health"')) == [shop.health_id]
    assert ids(search(running, tags="http.response.status_code=200 service.name=frontend")) == [shop.checkout_id]
    assert ids(search(running, minDuration="100ms")) == [shop.checkout_id]
    assert ids(search(running, maxDuration="5ms")) == [shop.health_id]
    seconds = shop.base_ns // 10**9
    assert ids(search(running, start=seconds - 60, end=seconds + 60)) == [shop.health_id, shop.checkout_id]
    assert search(running, start=seconds - 600, end=seconds - 60) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('{ name = "a" } | count() > 1', "pipelines"),
        ('{ name = "a" } && { name = "b" }', "operations between spansets"),
        ('{ rootServiceName = "x" }', "is not a field glimpse supports"),
        ("{ status = 500 }", "status compares with"),
    ],
)
def test_other_traceql_is_refused_clearly(shop_server: tuple[Running, Shop], query: str, message: str) -> None:
    running, _ = shop_server
    refused = tempo(running, "/api/search", {"q": query}, status=400)
    assert refused.headers["content-type"].startswith("text/plain")
    assert message in refused.text and "glimpse supports one spanset filter" in refused.text


def test_tag_names_and_values(shop_server: tuple[Running, Shop]) -> None:
    running, shop = shop_server
    window = {"start": shop.base_ns // 10**9 - 60, "end": shop.base_ns // 10**9 + 60}
    scopes = {s["name"]: s["tags"] for s in tempo(running, "/api/v2/search/tags", window).json()["scopes"]}
    assert scopes["resource"] == ["deployment.environment", "host.name", "service.name", "service.version"]
    assert scopes["span"] == [
        "cached",
        "http.request.method",
        "http.response.status_code",
        "path.parts",
        "ratio",
        "server.address",
    ]
    assert "status" in scopes["intrinsic"] and "duration" in scopes["intrinsic"]
    names = tempo(running, "/api/search/tags", {"scope": "span"}).json()["tagNames"]
    assert names == scopes["span"]  # without a window: the last hour of data
    values = tempo(running, "/api/v2/search/tag/resource.service.name/values").json()["tagValues"]
    assert values == [{"type": "string", "value": "frontend"}, {"type": "string", "value": "payment"}]
    codes = tempo(running, "/api/v2/search/tag/span.http.response.status_code/values").json()["tagValues"]
    assert codes == [{"type": "int", "value": "200"}]
    statuses = tempo(running, "/api/v2/search/tag/status/values").json()["tagValues"]
    assert statuses == [{"type": "keyword", "value": v} for v in ("error", "ok", "unset")]
    filtered = tempo(running, "/api/v2/search/tag/name/values", {"q": '{ resource.service.name = "payment" }'})
    assert filtered.json()["tagValues"] == [
        {"type": "string", "value": "POST /pay"},
        {"type": "string", "value": "charge"},
    ]
    unfiltered = tempo(running, "/api/v2/search/tag/resource.service.name/values", {"q": "{ resource.cluster = }"})
    assert len(unfiltered.json()["tagValues"]) == 2  # a filter Tempo cannot read gives the whole list
    assert tempo(running, "/api/search/tag/service.name/values").json()["tagValues"] == ["frontend", "payment"]


def test_echo_and_buildinfo(shop_server: tuple[Running, Shop]) -> None:
    running, _ = shop_server
    assert tempo(running, "/api/echo").text == "echo"
    info = tempo(running, "/api/status/buildinfo").json()
    assert info["version"].split(".")[0] == "2" and info["revision"].startswith("glimpse ")
