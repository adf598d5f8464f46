"""A full write queue answers UNAVAILABLE/503 with a retry hint, and SDK retries land every span."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.conftest import Running, serving, start_server
from tests.otlp_clients import PROTOCOLS, span_exporter
from tests.spans import raw_request, sdk_spans

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture
def small_queue(db_path: Path) -> Iterator[Running]:
    server = start_server(db_path, max_queued_rows=10)
    assert server.info is not None
    try:
        yield Running(server, server.info, str(db_path))
    finally:
        server.stop()


def _wait_until(predicate: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def _fill_queue(running: Running) -> threading.Thread:
    """Queue one request while commits are held, so that the next one finds the queue full."""
    body, _ = raw_request(10, seed=99)

    def send() -> None:
        with grpc.insecure_channel(running.grpc_endpoint) as channel:
            channel.unary_unary(TRACE_EXPORT)(body, timeout=30)

    sender = threading.Thread(target=send)
    sender.start()
    assert running.server is not None and running.server.writer is not None
    writer = running.server.writer
    _wait_until(lambda: writer.queued_rows == 10)
    return sender


def test_full_queue_answers_unavailable_with_retry_info_and_503_with_retry_after(small_queue: Running) -> None:
    assert small_queue.server is not None and small_queue.server.writer is not None
    body, _ = raw_request(5, seed=1)
    with small_queue.server.writer.hold():
        sender = _fill_queue(small_queue)
        with grpc.insecure_channel(small_queue.grpc_endpoint) as channel, pytest.raises(grpc.RpcError) as caught:
            channel.unary_unary(TRACE_EXPORT)(body, timeout=10)
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
        status = rpc_status.from_call(caught.value)
        assert status is not None
        retry = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(retry) and retry.retry_delay.seconds >= 1

        response = httpx.post(
            f"{small_queue.http_url}/v1/traces", content=body, headers={"content-type": "application/x-protobuf"}
        )
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        assert status_pb2.Status.FromString(response.content).message.startswith("write queue full")
    sender.join(30)
    assert small_queue.scalar("SELECT count(*) FROM otel_traces") == 10
    assert small_queue.server.stats()["rejected_full"] == 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sdk_retries_land_every_span_after_overload(small_queue: Running, protocol: str) -> None:
    assert small_queue.server is not None and small_queue.server.writer is not None
    spans = sdk_spans(50, seed=7)
    results: list[SpanExportResult] = []
    exporter = span_exporter(protocol, small_queue, timeout=30)
    with small_queue.server.writer.hold():
        sender = _fill_queue(small_queue)
        exporting = threading.Thread(target=lambda: results.append(exporter.export(spans)))
        exporting.start()
        _wait_until(lambda: small_queue.server.stats()["rejected_full"] >= 1)  # type: ignore[union-attr]
    exporting.join(60)
    sender.join(30)
    exporter.shutdown()
    assert results == [SpanExportResult.SUCCESS]
    assert small_queue.scalar("SELECT count(*) FROM otel_traces WHERE service_name = 'load'") == 50


@pytest.mark.parametrize("media", ["application/x-protobuf", "application/json"])
def test_exports_past_the_http_listeners_limit_get_an_otlp_retry_later(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, media: str
) -> None:
    monkeypatch.setattr("collector.http_app.OTLP_HTTP_CONCURRENCY", 0)  # every export is one too many
    with serving(db_path) as running:
        body, _ = raw_request(3, seed=5)
        response = httpx.post(f"{running.http_url}/v1/traces", content=body, headers={"content-type": media})
        stored = running.scalar("SELECT count(*) FROM otel_spans")
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == media  # an OTLP status, not the server's plain 503
    if media == "application/json":
        assert response.json()["code"] == 14  # UNAVAILABLE
    else:
        assert status_pb2.Status.FromString(response.content).code == 14
    assert stored == 0
