"""Metrics (all five point types) and logs through real OTLP exporters round-trip exactly."""

from __future__ import annotations

import json
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as METRICS_SERVICE_PB2
from opentelemetry.proto.common.v1 import common_pb2 as COMMON_PB2
from opentelemetry.proto.metrics.v1 import metrics_pb2 as METRICS_PB2
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ExponentialHistogram as ExpHistogram
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    InMemoryMetricReader,
    MetricExportResult,
    Sum,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import NonRecordingSpan, SpanContext, set_span_in_context

from tests.conftest import Running
from tests.otlp_clients import PROTOCOLS, log_exporter, metric_exporter
from tracing.attributes import decode_attributes_json

RESOURCE = Resource({"service.name": "inventory", "k8s.pod.name": "inventory-0"})


def _collect_metrics() -> Any:
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        metric_readers=[reader],
        resource=RESOURCE,
        views=[View(instrument_name="payload.size", aggregation=ExponentialBucketHistogramAggregation())],
    )
    meter = provider.get_meter("glimpse.tests", "1.0")
    meter.create_counter("requests", unit="{request}", description="served").add(7, {"route": "/a"})
    meter.create_up_down_counter("in.flight").add(-3)
    meter.create_histogram("latency", unit="ms").record(12.5, {"route": "/a"})
    meter.create_histogram("payload.size", unit="By").record(300)
    meter.create_gauge("temperature").set(21.25, {"room": "b"})
    meter.create_gauge("big.int").set(2**62 + 1)
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


def _by_name(data: Any) -> dict[str, Any]:
    return {
        metric.name: metric
        for resource_metrics in data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sdk_metrics_round_trip(running: Running, protocol: str) -> None:
    data = _collect_metrics()
    exporter = metric_exporter(protocol, running)
    assert exporter.export(data) is MetricExportResult.SUCCESS
    exporter.shutdown()
    sent = _by_name(data)

    requests = running.sql("SELECT *, epoch_ns(time_unix) AS t FROM otel_metrics_sum WHERE metric_name = 'requests'")
    (row,) = requests
    point = sent["requests"].data.data_points[0]
    assert isinstance(sent["requests"].data, Sum)
    assert row["value_int"] == 7 and row["value"] == 7.0
    assert row["is_monotonic"] is True and row["aggregation_temporality"] == "Cumulative"
    assert row["metric_unit"] == "{request}" and row["metric_description"] == "served"
    assert row["attributes"] == {"route": "/a"} and row["t"] == point.time_unix_nano
    assert row["service_name"] == "inventory" and row["scope_name"] == "glimpse.tests"
    (in_flight,) = running.sql("SELECT * FROM otel_metrics_sum WHERE metric_name = 'in.flight'")
    assert in_flight["value_int"] == -3 and in_flight["is_monotonic"] is False

    (hist,) = running.sql("SELECT * FROM otel_metrics_histogram")
    sent_hist = sent["latency"].data.data_points[0]
    assert isinstance(sent["latency"].data, Histogram)
    assert hist["count"] == 1 and hist["sum"] == 12.5 and hist["min"] == 12.5 and hist["max"] == 12.5
    assert hist["bucket_counts"] == list(sent_hist.bucket_counts)
    assert hist["explicit_bounds"] == [float(b) for b in sent_hist.explicit_bounds]

    (exp,) = running.sql("SELECT * FROM otel_metrics_exponential_histogram")
    sent_exp = sent["payload.size"].data.data_points[0]
    assert isinstance(sent["payload.size"].data, ExpHistogram)
    assert exp["count"] == 1 and exp["sum"] == 300
    assert exp["scale"] == sent_exp.scale
    assert exp["positive_offset"] == sent_exp.positive.offset
    assert exp["positive_bucket_counts"] == list(sent_exp.positive.bucket_counts)
    assert exp["zero_count"] == 0

    gauges = {r["metric_name"]: r for r in running.sql("SELECT * FROM otel_metrics_gauge")}
    assert isinstance(sent["temperature"].data, Gauge)
    assert gauges["temperature"]["value"] == 21.25 and gauges["temperature"]["value_int"] is None
    assert gauges["big.int"]["value_int"] == 2**62 + 1  # exact, beyond a double's 53 bits


def _summary_request() -> bytes:
    point = METRICS_PB2.SummaryDataPoint(
        start_time_unix_nano=1_700_000_000_000_000_000,
        time_unix_nano=1_700_000_060_000_000_001,
        count=4,
        sum=10.5,
        quantile_values=[
            METRICS_PB2.SummaryDataPoint.ValueAtQuantile(quantile=0.5, value=2.0),
            METRICS_PB2.SummaryDataPoint.ValueAtQuantile(quantile=0.99, value=4.25),
        ],
        attributes=[COMMON_PB2.KeyValue(key="q", value=COMMON_PB2.AnyValue(string_value="x"))],
    )
    gauge_point = METRICS_PB2.NumberDataPoint(
        time_unix_nano=1_700_000_060_000_000_001,
        as_double=1.0,
        exemplars=[
            METRICS_PB2.Exemplar(
                time_unix_nano=1_700_000_059_000_000_000,
                as_int=9,
                trace_id=bytes.fromhex("0af7651916cd43dd8448eb211c80319c"),
                span_id=bytes.fromhex("b7ad6b7169203331"),
                filtered_attributes=[COMMON_PB2.KeyValue(key="user", value=COMMON_PB2.AnyValue(int_value=3))],
            )
        ],
    )
    request = METRICS_SERVICE_PB2.ExportMetricsServiceRequest(
        resource_metrics=[
            METRICS_PB2.ResourceMetrics(
                scope_metrics=[
                    METRICS_PB2.ScopeMetrics(
                        metrics=[
                            METRICS_PB2.Metric(name="rpc.duration", summary=METRICS_PB2.Summary(data_points=[point])),
                            METRICS_PB2.Metric(
                                name="with.exemplar", gauge=METRICS_PB2.Gauge(data_points=[gauge_point])
                            ),
                        ]
                    )
                ]
            )
        ]
    )
    return bytes(request.SerializeToString())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_summary_points_and_exemplars_round_trip(running: Running, protocol: str) -> None:
    body = _summary_request()
    if protocol == "grpc":
        with grpc.insecure_channel(running.grpc_endpoint) as channel:
            export = channel.unary_unary("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")
            export(body, timeout=10)
    else:
        response = httpx.post(
            f"{running.http_url}/v1/metrics", content=body, headers={"content-type": "application/x-protobuf"}
        )
        assert response.status_code == 200
    (row,) = running.sql("SELECT *, epoch_ns(time_unix) AS t, epoch_ns(start_time_unix) AS s FROM otel_metrics_summary")
    assert row["count"] == 4 and row["sum"] == 10.5
    assert row["value_at_quantiles"] == [{"quantile": 0.5, "value": 2.0}, {"quantile": 0.99, "value": 4.25}]
    assert row["t"] == 1_700_000_060_000_000_001 and row["s"] == 1_700_000_000_000_000_000
    assert row["service_name"] == "unknown_service"
    (gauge,) = running.sql("SELECT exemplars FROM otel_metrics_gauge")
    (exemplar,) = gauge["exemplars"]
    assert exemplar["value_int"] == 9 and exemplar["value"] == 9.0
    assert exemplar["trace_id"] == "0af7651916cd43dd8448eb211c80319c" and exemplar["span_id"] == "b7ad6b7169203331"
    assert json.loads(exemplar["filtered_attributes"]) == {"user": 3}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sdk_logs_round_trip(running: Running, protocol: str) -> None:
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter(protocol, running)))
    logger = provider.get_logger("glimpse.tests.logs", "2.0")
    span_context = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=False)
    context = set_span_in_context(NonRecordingSpan(span_context))
    body = {"message": "stock low", "items": [1, 2], "raw": b"\x01", "ok": False}
    logger.emit(
        LogRecord(
            timestamp=1_700_000_000_000_000_123,
            observed_timestamp=1_700_000_000_000_000_456,
            context=context,
            severity_text="WARN",
            severity_number=SeverityNumber.WARN,
            body=body,
            attributes={"sku": "A-1", "count": 3},
            event_name="inventory.low",
        )
    )
    provider.shutdown()
    (row,) = running.sql(
        "SELECT *, epoch_ns(timestamp) AS t, epoch_ns(observed_timestamp) AS o, body::VARCHAR AS body_text "
        "FROM otel_logs"
    )
    assert row["t"] == 1_700_000_000_000_000_123 and row["o"] == 1_700_000_000_000_000_456
    assert row["trace_id"] == "0af7651916cd43dd8448eb211c80319c" and row["span_id"] == "b7ad6b7169203331"
    assert row["severity_text"] == "WARN" and row["severity_number"] == SeverityNumber.WARN.value
    assert row["event_name"] == "inventory.low"
    assert row["log_attributes"] == {"sku": "A-1", "count": 3}
    assert decode_attributes_json(json.dumps({"body": json.loads(row["body_text"])}))["body"] == body
    assert row["scope_name"] == "glimpse.tests.logs" and row["scope_version"] == "2.0"
    assert row["resource_attributes"]["k8s.pod.name"] == "inventory-0"
