"""OTLP/JSON over HTTP: the encoding rules, written by hand, and the official examples."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Running

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "peer-data" / "opentelemetry-proto" / "examples"


def post_json(running: Running, signal: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        f"{running.http_url}/v1/{signal}", content=content, headers={"content-type": "application/json", **headers}
    )


def _span(trace_id: str, span_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": "op",
        "startTimeUnixNano": "1",
        "endTimeUnixNano": "2",
        **extra,
    }


def test_json_rules_ids_any_case_int64_as_string_or_number_integer_enums_unknown_fields(running: Running) -> None:
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
                "unknownTopLevel": {"ignored": True},
                "scopeSpans": [
                    {
                        "scope": {"name": "hand-written"},
                        "spans": [
                            {
                                "traceId": "5B8EFFF798038103D269B633813FC60C",
                                "spanId": "EEE19B7EC3C1B174",
                                "parentSpanId": "eee19b7ec3c1b173",
                                "name": "upper-case ids",
                                "kind": 3,
                                "startTimeUnixNano": "1544712660000000001",
                                "endTimeUnixNano": 1544712661000000000,
                                "status": {"code": 2, "message": "boom"},
                                "attributes": [
                                    {"key": "int.as.string", "value": {"intValue": "9007199254740993"}},
                                    {"key": "int.as.number", "value": {"intValue": 42}},
                                    {"key": "double", "value": {"doubleValue": 2.5}},
                                    {"key": "bytes", "value": {"bytesValue": "AAE="}},
                                    {
                                        "key": "kv",
                                        "value": {
                                            "kvlistValue": {"values": [{"key": "a", "value": {"boolValue": True}}]}
                                        },
                                    },
                                ],
                                "somethingNew": [1, 2, 3],
                            },
                        ],
                    }
                ],
            }
        ]
    }
    response = post_json(running, "traces", body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    (row,) = running.sql("SELECT *, epoch_ns(timestamp) AS start_ns FROM otel_traces")
    assert row["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert row["span_id"] == "eee19b7ec3c1b174" and row["parent_span_id"] == "eee19b7ec3c1b173"
    assert row["span_kind"] == "Client" and row["status_code"] == "Error" and row["status_message"] == "boom"
    assert row["start_ns"] == 1544712660000000001 and row["duration"] == 999_999_999
    assert row["span_attributes"] == {
        "int.as.string": 9007199254740993,
        "int.as.number": 42,
        "double": 2.5,
        "bytes": {"bytesValue": "AAE="},
        "kv": {"a": True},
    }
    assert row["service_name"] == "json-svc"


def test_json_partial_success_is_answered_in_json(running: Running) -> None:
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            _span("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"),
                            _span("5b8efff798038103d269b633813fc6", "eee19b7ec3c1b175"),  # 15 bytes
                            _span("not-hex-at-all-not-hex-at-all-00", "eee19b7ec3c1b176"),
                        ]
                    }
                ]
            }
        ]
    }
    response = post_json(running, "traces", body)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2"  # int64 as a decimal string, per OTLP/JSON
    assert "trace_id" in partial["errorMessage"]
    assert running.scalar("SELECT count(*) FROM otel_traces") == 1


def test_gzip_json_is_accepted(running: Running) -> None:
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [_span("0" * 31 + "1", "00000000000000a1")]}]}]}
    response = post_json(running, "traces", gzip.compress(json.dumps(body).encode()), **{"content-encoding": "gzip"})
    assert response.status_code == 200
    assert running.scalar("SELECT span_id FROM otel_traces") == "00000000000000a1"


def test_json_metrics_and_logs_with_int64_strings(running: Running) -> None:
    metrics = {
        "resourceMetrics": [
            {
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "hits",
                                "sum": {
                                    "aggregationTemporality": 1,
                                    "isMonotonic": True,
                                    "dataPoints": [
                                        {"asInt": "9223372036854775807", "timeUnixNano": "1700000000000000000"}
                                    ],
                                },
                            },
                            {
                                "name": "h",
                                "histogram": {
                                    "aggregationTemporality": 2,
                                    "dataPoints": [
                                        {
                                            "count": "3",
                                            "sum": 6,
                                            "bucketCounts": ["1", 2],
                                            "explicitBounds": [5],
                                            "timeUnixNano": 5,
                                        }
                                    ],
                                },
                            },
                        ]
                    }
                ]
            }
        ]
    }
    assert post_json(running, "metrics", metrics).status_code == 200
    assert running.sql("SELECT value_int, aggregation_temporality FROM otel_metrics_sum") == [
        {"value_int": 9223372036854775807, "aggregation_temporality": "Delta"}
    ]
    assert running.sql("SELECT count, bucket_counts FROM otel_metrics_histogram") == [
        {"count": 3, "bucket_counts": [1, 2]}
    ]
    logs = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": "1700000000000000000",
                                "severityNumber": 17,
                                "body": {"stringValue": "disk full"},
                                "traceId": "0AF7651916CD43DD8448EB211C80319C",
                                "spanId": "B7AD6B7169203331",
                            }
                        ]
                    }
                ]
            }
        ]
    }
    assert post_json(running, "logs", logs).status_code == 200
    (row,) = running.sql("SELECT trace_id, severity_number, body FROM otel_logs")
    assert row == {"trace_id": "0af7651916cd43dd8448eb211c80319c", "severity_number": 17, "body": "disk full"}


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="the official OTLP examples are not beside this checkout")
def test_official_examples_replay(running: Running) -> None:
    for name, signal in (
        ("trace.json", "traces"),
        ("metrics.json", "metrics"),
        ("logs.json", "logs"),
        ("events.json", "logs"),
    ):
        response = post_json(running, signal, (EXAMPLES / name).read_bytes())
        assert response.status_code == 200, (name, response.text)
        assert response.json() == {}, name
    (span,) = running.sql("SELECT *, epoch_ns(timestamp) AS start_ns FROM otel_traces")
    assert span["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert span["span_id"] == "eee19b7ec3c1b174" and span["parent_span_id"] == "eee19b7ec3c1b173"
    assert span["span_kind"] == "Server" and span["service_name"] == "my.service"
    assert span["start_ns"] == 1544712660000000000 and span["duration"] == 1_000_000_000
    assert span["span_attributes"] == {"my.span.attr": "some value"}
    assert span["scope_name"] == "my.library" and span["scope_version"] == "1.0.0"
    tables = ("otel_metrics_sum", "otel_metrics_gauge", "otel_metrics_histogram", "otel_metrics_exponential_histogram")
    for table in tables:
        assert running.scalar(f"SELECT count(*) FROM {table}") >= 1, table
    assert running.scalar("SELECT count(*) FROM otel_logs") == 2
    assert running.scalar("SELECT count(*) FROM otel_logs WHERE event_name <> ''") == 1
