"""The Jaeger query API under /jaeger, as Jaeger's query service answers it and Grafana's Jaeger
data source asks: traces sent through the real OpenTelemetry SDK come back span for span,
in Jaeger's JSON model (legacy API) and as OTLP/JSON (api_v3)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from tests.conftest import Running, serving
from tests.sdk_shop import MS, RESOURCES, SCOPE, Shop, send_shop

KINDS = {SpanKind.SERVER: "server", SpanKind.CLIENT: "client", SpanKind.INTERNAL: "internal"}
OTLP_KINDS = {SpanKind.INTERNAL: 1, SpanKind.SERVER: 2, SpanKind.CLIENT: 3}


@pytest.fixture(scope="module")
def shop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Shop]]:
    with serving(tmp_path_factory.mktemp("jaeger") / "glimpse.duckdb") as running:
        yield running, send_shop(running)


def get(running: Running, path: str, params: Any = None, status: int = 200) -> Any:
    response = httpx.get(f"{running.api_url}/jaeger{path}", params=params, timeout=30)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def jaeger_value(value: Any) -> tuple[str, Any]:
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, int):
        return "int64", value
    if isinstance(value, float):
        return "float64", value
    if isinstance(value, tuple):
        return "string", json.dumps(list(value), separators=(",", ":"))
    return "string", value


def expected_tags(span: ReadableSpan) -> list[dict[str, Any]]:
    """The tags Jaeger's OTLP translation writes for an SDK span, in its order."""
    tags = [("otel.scope.name", SCOPE[0]), ("otel.scope.version", SCOPE[1]), *span.attributes.items()]
    tags.append(("span.kind", KINDS[span.kind]))
    if span.status.status_code is StatusCode.OK:
        tags.append(("otel.status_code", "OK"))
    if span.status.status_code is StatusCode.ERROR:
        tags += [("otel.status_code", "ERROR"), ("error", True)]
    if span.status.description:
        tags.append(("otel.status_description", span.status.description))
    return [{"key": key, "type": jaeger_value(value)[0], "value": jaeger_value(value)[1]} for key, value in tags]


def expected_logs(span: ReadableSpan) -> list[dict[str, Any]]:
    logs = []
    for event in span.events:
        fields = [{"key": "event", "type": "string", "value": event.name}]
        fields += [
            {"key": k, "type": jaeger_value(v)[0], "value": jaeger_value(v)[1]} for k, v in event.attributes.items()
        ]
        logs.append({"timestamp": event.timestamp // 1000, "fields": fields})
    return logs


def assert_jaeger_trace(trace: dict[str, Any], sdk_spans: list[ReadableSpan], shop: Shop) -> None:
    by_id = {span["spanID"]: span for span in trace["spans"]}
    assert set(by_id) == {f"{s.context.span_id:016x}" for s in sdk_spans}
    assert trace["warnings"] is None
    for sdk in sdk_spans:
        span = by_id[f"{sdk.context.span_id:016x}"]
        trace_id = f"{sdk.context.trace_id:032x}"
        assert span["traceID"] == trace["traceID"] == trace_id
        assert span["operationName"] == sdk.name
        assert span["startTime"] == sdk.start_time // 1000 and isinstance(span["startTime"], int)
        assert span["duration"] == (sdk.end_time - sdk.start_time) // 1000
        references = (
            [{"refType": "CHILD_OF", "traceID": trace_id, "spanID": f"{sdk.parent.span_id:016x}"}] if sdk.parent else []
        )
        references += [
            {
                "refType": "FOLLOWS_FROM",
                "traceID": f"{link.context.trace_id:032x}",
                "spanID": f"{link.context.span_id:016x}",
            }
            for link in sdk.links
        ]
        assert span["references"] == references
        assert span["tags"] == expected_tags(sdk)
        process = trace["processes"][span["processID"]]
        service = sdk.resource.attributes["service.name"]
        assert process["serviceName"] == service
        assert process["tags"] == [
            {"key": key, "type": "string", "value": value}
            for key, value in RESOURCES[service].items()
            if key != "service.name"
        ]
        events = [log for log in span["logs"] if log["fields"][0]["value"] != "log"]
        assert events == expected_logs(sdk)
    record_logs = [log for span in trace["spans"] for log in span["logs"] if log["fields"][0]["value"] == "log"]
    if trace["traceID"] == shop.checkout_id:  # the payment server's log record, on that span
        (record,) = record_logs
        assert record in by_id[f"{shop.span('POST /pay', 'payment').context.span_id:016x}"]["logs"]
        assert record == {
            "timestamp": (shop.base_ns + 95 * MS) // 1000,
            "fields": [
                {"key": "event", "type": "string", "value": "log"},
                {"key": "level", "type": "string", "value": "WARN"},
                {"key": "message", "type": "string", "value": shop.log_body},
                {"key": "card.brand", "type": "string", "value": "visa"},
            ],
        }
    else:
        assert record_logs == []


def test_trace_by_id_comes_back_span_for_span(shop_server: tuple[Running, Shop]) -> None:
    running, shop = shop_server
    answer = get(running, f"/api/traces/{shop.checkout_id}")
    assert answer["total"] == 0 and answer["limit"] == 0 and answer["offset"] == 0 and answer["errors"] is None
    (trace,) = answer["data"]
    assert_jaeger_trace(trace, shop.of_trace(shop.checkout_id), shop)
    assert sorted(p["serviceName"] for p in trace["processes"].values()) == ["frontend", "payment"]
    exception = [log for span in trace["spans"] for log in span["logs"] if log["fields"][0]["value"] == "exception"]
    assert {f["key"]: f["value"] for f in exception[0]["fields"]}["exception.type"] == "ValueError"
    # Grafana's request: start and end in milliseconds (Jaeger's are microseconds); both read
    for unit in (1_000_000, 1_000):
        window = {"start": (shop.base_ns - 10**9) // unit, "end": (shop.base_ns + 10**9) // unit}
        assert get(running, f"/api/traces/{shop.checkout_id}", params=window)["data"] == answer["data"]
    assert get(running, f"/api/traces/{shop.checkout_id.upper()}", params={"raw": "true"})["data"] == answer["data"]


def test_several_trace_ids_at_once_with_the_missing_ones_named(shop_server: tuple[Running, Shop]) -> None:
    running, shop = shop_server
    missing = "00000000000000000000000000abcdef"
    answer = get(
        running,
        "/api/traces",
        params=[("traceID", shop.checkout_id), ("traceID", shop.health_id), ("traceID", missing)],
    )
    assert [trace["traceID"] for trace in answer["data"]] == [shop.checkout_id, shop.health_id]
    assert answer["errors"] == [
        {"msg": "trace not found", "traceID": "0000000000abcdef"}
    ]  # Jaeger drops a zero high half
    assert_jaeger_trace(answer["data"][1], shop.of_trace(shop.health_id), shop)


def test_services_and_operations(shop_server: tuple[Running, Shop]) -> None:
    running, _ = shop_server
    assert get(running, "/api/services") == {
        "data": ["frontend", "payment"],
        "total": 2,
        "limit": 0,
        "offset": 0,
        "errors": None,
    }
    assert get(running, "/api/services/frontend/operations")["data"] == ["GET /checkout", "GET /health", "POST /pay"]
    assert get(running, "/api/services/payment/operations")["total"] == 2
    answer = get(running, "/api/operations", params={"service": "payment"})
    assert answer["data"] == [{"name": "POST /pay", "spanKind": "server"}, {"name": "charge", "spanKind": "internal"}]
    servers = get(running, "/api/operations", params={"service": "frontend", "spanKind": "server"})
    assert servers["data"] == [
        {"name": "GET /checkout", "spanKind": "server"},
        {"name": "GET /health", "spanKind": "server"},
    ]
    assert get(running, "/api/services/nobody/operations")["data"] == []


def search(running: Running, **params: Any) -> list[str]:
    answer = get(running, "/api/traces", params=params)
    assert answer["total"] == 0 and answer["errors"] is None
    return [trace["traceID"] for trace in answer["data"]]


def test_search_by_service_operation_tags_durations_and_time(shop_server: tuple[Running, Shop]) -> None:
    running, shop = shop_server
    both = [shop.health_id, shop.checkout_id]  # newest first
    assert search(running, service="frontend") == both
    assert search(running, service="payment") == [shop.checkout_id]
    assert search(running, service="frontend", operation="GET /health") == [shop.health_id]
    assert search(running, service="frontend", tags=json.dumps({"error": "true"})) == [shop.checkout_id]
    assert search(running, service="frontend", tags=json.dumps({"http.response.status_code": "200"})) == [
        shop.checkout_id
    ]
    assert search(running, service="payment", tag="span.kind:internal") == [shop.checkout_id]
    assert search(running, service="frontend", tag="host.name:web-1") == both  # a process (resource) tag
    assert search(running, service="frontend", tag="host.name:pay-1") == []
    # durations are the matching span's (frontend's spans: 120, 100 and 3 ms)
    assert search(running, service="frontend", minDuration="100ms") == [shop.checkout_id]
    assert search(running, service="frontend", maxDuration="3ms") == [shop.health_id]
    assert search(running, service="payment", minDuration="85ms", maxDuration="1m") == [shop.checkout_id]
    # start/end in microseconds; lookback ignored when start is given
    micros = shop.base_ns // 1000
    assert search(running, service="frontend", start=micros + 150_000, end=micros + 10**6, lookback="1h") == [
        shop.health_id
    ]
    assert search(running, service="frontend", start=micros - 10**6, end=micros + 100_000) == [shop.checkout_id]
    assert search(running, service="frontend", limit=1) == [shop.health_id]
    found = get(running, "/api/traces", params={"service": "payment"})["data"]
    assert_jaeger_trace(found[0], shop.of_trace(shop.checkout_id), shop)  # whole traces


def test_dependencies(shop_server: tuple[Running, Shop]) -> None:
    running, shop = shop_server
    end_ms = shop.base_ns // MS + 1000
    answer = get(running, "/api/dependencies", params={"endTs": end_ms, "lookback": 5000})
    assert {"parent": "frontend", "child": "payment", "callCount": 1} in answer["data"]
    only = get(running, "/api/dependencies", params={"endTs": end_ms, "lookback": 5000, "service": "payment"})
    assert only["data"] == [{"parent": "frontend", "child": "payment", "callCount": 1}]
    assert (
        get(running, "/api/dependencies", params={"endTs": shop.base_ns // MS - 10_000, "lookback": 1000})["data"] == []
    )


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/traces", {}, 400, "parameter 'service' is required"),
        ("/api/traces", {"service": "frontend", "minDuration": "ten"}, 400, "cannot not parse minDuration"),
        (
            "/api/traces",
            {"service": "frontend", "minDuration": "2s", "maxDuration": "1s"},
            400,
            "'maxDuration' should be greater than 'minDuration'",
        ),
        ("/api/traces", {"service": "frontend", "tags": "{not json"}, 400, "malformed 'tags' parameter"),
        ("/api/traces", {"service": "frontend", "tag": "nocolon"}, 400, "malformed 'tag' parameter"),
        ("/api/traces", {"service": "frontend", "start": "yesterday"}, 400, "start must be an integer"),
        ("/api/traces", {"traceID": "xyz"}, 400, "cannot parse traceID"),
        ("/api/traces/not-hex", {}, 400, "cannot parse traceID"),
        ("/api/traces/0af7651916cd43dd8448eb211c80319c", {}, 404, "trace not found"),
        ("/api/traces/0af7651916cd43dd8448eb211c80319c", {"raw": "maybe"}, 400, "raw"),
        ("/api/operations", {}, 400, "parameter 'service' is required"),
        ("/api/operations", {"service": "frontend", "spanKind": "sideways"}, 400, "unsupported span kind"),
        ("/api/dependencies", {}, 400, "unable to parse endTs"),
    ],
)
def test_errors_answer_in_jaegers_shape(
    shop_server: tuple[Running, Shop], path: str, params: Any, status: int, message: str
) -> None:
    running, _ = shop_server
    answer = get(running, path, params=params, status=status)
    assert answer["data"] is None and answer["total"] == 0 and answer["limit"] == 0 and answer["offset"] == 0
    (error,) = answer["errors"]
    assert error["code"] == status and message in error["msg"]


def rfc3339(ns: int, offset_hours: int = 0) -> str:
    zone = dt.timezone(dt.timedelta(hours=offset_hours))
    return dt.datetime.fromtimestamp(ns / 1e9, tz=zone).isoformat(timespec="microseconds")


def assert_otlp_span(span: dict[str, Any], sdk: ReadableSpan) -> None:
    assert span["traceId"] == f"{sdk.context.trace_id:032x}" and span["spanId"] == f"{sdk.context.span_id:016x}"
    assert span.get("parentSpanId", "") == (f"{sdk.parent.span_id:016x}" if sdk.parent else "")
    assert span["name"] == sdk.name and span["kind"] == OTLP_KINDS[sdk.kind]
    assert span["startTimeUnixNano"] == str(sdk.start_time) and span["endTimeUnixNano"] == str(sdk.end_time)
    assert span.get("status", {}).get("code", 0) == sdk.status.status_code.value
    assert [event["name"] for event in span.get("events", [])] == [event.name for event in sdk.events]
    assert [link["spanId"] for link in span.get("links", [])] == [f"{link.context.span_id:016x}" for link in sdk.links]


def test_api_v3_trace_and_search_in_otlp_json(shop_server: tuple[Running, Shop]) -> None:
    running, shop = shop_server
    # Grafana sends RFC 3339 times unencoded: a "+" of an offset arrives as a space
    window = f"start_time={rfc3339(shop.base_ns - 10**9, 2)}&end_time={rfc3339(shop.base_ns + 10**9, 2)}"
    response = httpx.get(f"{running.api_url}/jaeger/api/v3/traces/{shop.checkout_id}?{window}", timeout=30)
    assert response.status_code == 200, response.text
    resources = response.json()["result"]["resourceSpans"]
    services = [
        {a["key"]: a["value"]["stringValue"] for a in r["resource"]["attributes"]}["service.name"] for r in resources
    ]
    assert sorted(services) == ["frontend", "payment"]
    spans = {s["spanId"]: s for r in resources for scope in r["scopeSpans"] for s in scope["spans"]}
    for sdk in shop.of_trace(shop.checkout_id):
        assert_otlp_span(spans[f"{sdk.context.span_id:016x}"], sdk)
    root = spans[f"{shop.span('GET /checkout', 'frontend').context.span_id:016x}"]
    assert {a["key"]: a["value"] for a in root["attributes"]} == {
        "http.request.method": {"stringValue": "GET"},
        "http.response.status_code": {"intValue": "200"},
        "ratio": {"doubleValue": 0.5},
        "cached": {"boolValue": True},
        "path.parts": {"arrayValue": {"values": [{"stringValue": "cart"}, {"stringValue": "checkout"}]}},
    }
    query = (
        f"query.service_name=payment&query.start_time_min={rfc3339(shop.base_ns - 10**9, 1)}"
        f"&query.start_time_max={rfc3339(shop.base_ns + 10**9)}&query.duration_min=50ms"
    )
    found = httpx.get(f"{running.api_url}/jaeger/api/v3/traces?{query}", timeout=30).json()["result"]["resourceSpans"]
    assert {s["traceId"] for r in found for scope in r["scopeSpans"] for s in scope["spans"]} == {shop.checkout_id}
    assert get(running, "/api/v3/services") == {"services": ["frontend", "payment"]}
    assert get(running, "/api/v3/operations", params={"service": "payment", "span_kind": "internal"}) == {
        "operations": [{"name": "charge", "spanKind": "internal"}]
    }


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/v3/traces/0af7651916cd43dd8448eb211c80319c", 404, "No traces found"),
        ("/api/v3/traces/zz", 400, "cannot parse traceID"),
        ("/api/v3/traces/0af7651916cd43dd8448eb211c80319c?start_time=yesterday", 400, "malformed parameter start_time"),
        (
            "/api/v3/traces?query.service_name=payment",
            400,
            "query.start_time_min and query.start_time_max are required",
        ),
        ("/api/v3/operations", 400, "malformed parameter service"),
    ],
)
def test_api_v3_errors_answer_in_its_shape(
    shop_server: tuple[Running, Shop], path: str, status: int, message: str
) -> None:
    running, _ = shop_server
    response = httpx.get(f"{running.api_url}/jaeger{path}", timeout=30)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["httpCode"] == status and message in error["message"]


def test_binary_attributes_and_a_zero_high_half_as_jaeger_writes_them(tmp_path: Path) -> None:
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2
    from opentelemetry.proto.common.v1 import common_pb2 as COMMON_PB2
    from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2

    span = TRACE_PB2.Span(
        trace_id=bytes(8) + bytes.fromhex("00000000000000ff"),
        span_id=bytes.fromhex("00000000000000aa"),
        name="blob",
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_000_001_000_000,
        attributes=[COMMON_PB2.KeyValue(key="raw", value=COMMON_PB2.AnyValue(bytes_value=b"\x00\xff"))],
    )
    request = TRACE_SERVICE_PB2.ExportTraceServiceRequest(
        resource_spans=[TRACE_PB2.ResourceSpans(scope_spans=[TRACE_PB2.ScopeSpans(spans=[span])])]
    )
    with serving(tmp_path / "g.duckdb") as running:
        sent = httpx.post(
            f"{running.http_url}/v1/traces",
            content=request.SerializeToString(),
            headers={"content-type": "application/x-protobuf"},
        )
        assert sent.status_code == 200
        (trace,) = get(running, "/api/traces/ff")["data"]  # a short id is left-padded
    assert trace["traceID"] == "00000000000000ff"
    (tag,) = trace["spans"][0]["tags"]
    assert tag == {"key": "raw", "type": "binary", "value": base64.b64encode(b"\x00\xff").decode()}
    assert "span.kind" not in json.dumps(trace)  # unspecified kind: no tag


def test_the_facade_sits_behind_the_api_tokens(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("s3cret-token-for-tests\n")
    tokens.chmod(0o600)
    with serving(tmp_path / "g.duckdb", token_file=str(tokens)) as running:
        for path in ("/jaeger/api/services", "/tempo/api/echo", "/metrics/spans"):
            refused = httpx.get(f"{running.api_url}{path}", timeout=30)
            assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        allowed = httpx.get(
            f"{running.api_url}/jaeger/api/services", headers={"authorization": "Bearer s3cret-token-for-tests"}
        )
        assert allowed.status_code == 200 and allowed.json()["data"] == []
