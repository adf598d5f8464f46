"""Every bad input gets a clear status, loses nothing else, and the server keeps serving."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2
from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2

from tests.conftest import Running, serving

CAP = 1024 * 1024
TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture
def capped(db_path: Path) -> Iterator[Running]:
    with serving(db_path, max_request_bytes=CAP) as started:
        yield started


def _request(*span_ids: tuple[bytes, bytes], name: str = "op") -> TRACE_SERVICE_PB2.ExportTraceServiceRequest:
    spans = [
        TRACE_PB2.Span(trace_id=trace_id, span_id=span_id, name=name, start_time_unix_nano=1, end_time_unix_nano=2)
        for trace_id, span_id in span_ids
    ]
    return TRACE_SERVICE_PB2.ExportTraceServiceRequest(
        resource_spans=[TRACE_PB2.ResourceSpans(scope_spans=[TRACE_PB2.ScopeSpans(spans=spans)])]
    )


GOOD = (bytes.fromhex("0af7651916cd43dd8448eb211c80319c"), bytes.fromhex("b7ad6b7169203331"))
VALID = _request(GOOD).SerializeToString()
TRUNCATED = VALID[: len(VALID) - 7]
GARBAGE = b"\xff\xff\xff\xff\x07\x00\x01"
INVALID_UTF8 = _request(GOOD, name="AAAA").SerializeToString().replace(b"AAAA", b"\xff\xfe\xfd\xfc")
BOMB = gzip.compress(bytes(8 * CAP))  # 8 MiB of zeros: ~8 KiB compressed
MIXED = _request(
    GOOD,
    (bytes(15), bytes.fromhex("b7ad6b7169203332")),  # trace id too short
    (GOOD[0], bytes(3)),  # span id too short
    (bytes.fromhex("1af7651916cd43dd8448eb211c80319c"), bytes.fromhex("c7ad6b7169203331")),
).SerializeToString()


def _post(
    running: Running, body: bytes, content_type: str = "application/x-protobuf", **headers: str
) -> httpx.Response:
    return httpx.post(f"{running.http_url}/v1/traces", content=body, headers={"content-type": content_type, **headers})


def _status(response: httpx.Response) -> status_pb2.Status:
    assert response.headers["content-type"] == "application/x-protobuf"
    return status_pb2.Status.FromString(response.content)


def _assert_still_serving(running: Running, expected_spans: int) -> None:
    fresh = _request((bytes.fromhex("ffffffffffffffffffffffffffffff01"), bytes.fromhex("ffffffffffffff01")))
    assert _post(running, fresh.SerializeToString()).status_code == 200
    assert running.scalar("SELECT count(*) FROM otel_traces") == expected_spans + 1


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "status", "code"),
    [
        pytest.param(TRUNCATED, "application/x-protobuf", {}, 400, code_pb2.INVALID_ARGUMENT, id="truncated-protobuf"),
        pytest.param(GARBAGE, "application/x-protobuf", {}, 400, code_pb2.INVALID_ARGUMENT, id="random-bytes"),
        pytest.param(INVALID_UTF8, "application/x-protobuf", {}, 400, code_pb2.INVALID_ARGUMENT, id="invalid-utf8"),
        pytest.param(b"{not json", "application/json", {}, 400, code_pb2.INVALID_ARGUMENT, id="malformed-json"),
        pytest.param(b"", "application/json", {}, 400, code_pb2.INVALID_ARGUMENT, id="empty-json"),
        pytest.param(b"[1, 2]", "application/json", {}, 400, code_pb2.INVALID_ARGUMENT, id="json-not-object"),
        pytest.param(
            b'{"resourceSpans": 5}', "application/json", {}, 400, code_pb2.INVALID_ARGUMENT, id="json-wrong-shape"
        ),
        pytest.param(VALID, "text/plain", {}, 415, code_pb2.INVALID_ARGUMENT, id="wrong-content-type"),
        pytest.param(
            VALID,
            "application/x-protobuf",
            {"content-encoding": "br"},
            415,
            code_pb2.INVALID_ARGUMENT,
            id="unknown-encoding",
        ),
        pytest.param(
            b"not gzip",
            "application/x-protobuf",
            {"content-encoding": "gzip"},
            400,
            code_pb2.INVALID_ARGUMENT,
            id="corrupt-gzip",
        ),
        pytest.param(
            BOMB,
            "application/x-protobuf",
            {"content-encoding": "gzip"},
            413,
            code_pb2.RESOURCE_EXHAUSTED,
            id="gzip-bomb",
        ),
        pytest.param(bytes(CAP + 1), "application/x-protobuf", {}, 413, code_pb2.RESOURCE_EXHAUSTED, id="oversized"),
    ],
)
def test_http_rejects_bad_requests_and_keeps_serving(
    capped: Running, body: bytes, content_type: str, headers: dict[str, str], status: int, code: int
) -> None:
    response = _post(capped, body, content_type, **headers)
    assert response.status_code == status
    if content_type == "application/json":
        assert response.headers["content-type"] == "application/json"
        assert response.json()["code"] == code and response.json()["message"]
    else:
        error = _status(response)
        assert error.code == code and error.message
    _assert_still_serving(capped, expected_spans=0)


def test_http_empty_protobuf_request_is_a_successful_no_op(capped: Running) -> None:
    response = _post(capped, b"")
    assert response.status_code == 200
    assert TRACE_SERVICE_PB2.ExportTraceServiceResponse.FromString(response.content).partial_success.rejected_spans == 0
    _assert_still_serving(capped, expected_spans=0)


def test_http_other_methods_are_refused(capped: Running) -> None:
    assert httpx.get(f"{capped.http_url}/v1/traces").status_code == 405
    assert httpx.post(f"{capped.http_url}/v1/unknown", content=VALID).status_code == 404


def test_http_partial_success_keeps_the_valid_spans(capped: Running) -> None:
    response = _post(capped, MIXED)
    assert response.status_code == 200
    partial = TRACE_SERVICE_PB2.ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 2
    assert "trace_id is not 16 bytes" in partial.error_message and "span_id is not 8 bytes" in partial.error_message
    assert capped.sql("SELECT span_id FROM otel_traces ORDER BY span_id") == [
        {"span_id": "b7ad6b7169203331"},
        {"span_id": "c7ad6b7169203331"},
    ]


def _grpc_export(running: Running, body: bytes, **kwargs: object) -> bytes:
    with grpc.insecure_channel(running.grpc_endpoint) as channel:
        export = channel.unary_unary(TRACE_EXPORT)
        return bytes(export(body, timeout=10, **kwargs))


@pytest.mark.parametrize(
    ("body", "compression", "code"),
    [
        pytest.param(TRUNCATED, None, grpc.StatusCode.INVALID_ARGUMENT, id="truncated-protobuf"),
        pytest.param(GARBAGE, None, grpc.StatusCode.INVALID_ARGUMENT, id="random-bytes"),
        pytest.param(INVALID_UTF8, None, grpc.StatusCode.INVALID_ARGUMENT, id="invalid-utf8"),
        pytest.param(bytes(CAP + 1), None, grpc.StatusCode.RESOURCE_EXHAUSTED, id="oversized"),
        pytest.param(bytes(8 * CAP), grpc.Compression.Gzip, grpc.StatusCode.RESOURCE_EXHAUSTED, id="gzip-bomb"),
    ],
)
def test_grpc_rejects_bad_requests_and_keeps_serving(
    capped: Running, body: bytes, compression: grpc.Compression | None, code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        _grpc_export(capped, body, compression=compression)
    assert caught.value.code() == code
    assert caught.value.details()
    _assert_still_serving(capped, expected_spans=0)


def test_grpc_empty_request_and_partial_success(capped: Running) -> None:
    assert (
        TRACE_SERVICE_PB2.ExportTraceServiceResponse.FromString(
            _grpc_export(capped, b"")
        ).partial_success.rejected_spans
        == 0
    )
    response = TRACE_SERVICE_PB2.ExportTraceServiceResponse.FromString(_grpc_export(capped, MIXED))
    assert response.partial_success.rejected_spans == 2
    assert response.partial_success.error_message.startswith("rejected 2 spans")
    assert capped.scalar("SELECT count(*) FROM otel_traces") == 2
    _assert_still_serving(capped, expected_spans=2)
