"""A second-language client: the OpenTelemetry JS SDK (NodeSDK) sends a trace over OTLP gRPC and HTTP/protobuf.

``tests/node_client/send.js`` builds a small trace (SERVER root, INTERNAL child, CLIENT and PRODUCER
grandchildren, typed attributes, events, an ERROR status), exports it to a real glimpse server and prints
the spans as the SDK finished them. The test reads them back from ``otel_traces`` and compares.

The npm packages are pinned in ``tests/node_client/package-lock.json`` and installed with ``npm ci`` the
first time (and again whenever the lock file is newer than the installed tree). Without ``node`` or ``npm``
on PATH the tests skip; an npm failure fails them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tracing.attributes import decode_attributes_json

if TYPE_CHECKING:  # only for the annotation: `pytest` without `python -m` cannot import `tests`
    from tests.conftest import Running

CLIENT_DIR = Path(__file__).parent / "node_client"
NPM_CI_TIMEOUT_S = 600
SEND_TIMEOUT_S = 60

RESOURCE = {
    "service.name": "node-checkout",
    "service.namespace": "shop",
    "service.version": "2.4.1",
    "service.instance.id": "node-checkout-0",
    "k8s.pod.name": "node-checkout-6f7c9d-abcde",
    "host.name": "node-host-a",
}
# The same values as CLIENT_ATTRIBUTES in send.js, with the Python type each must read back as.
CLIENT_ATTRIBUTES: dict[str, Any] = {
    "db.system.name": "postgresql",
    "db.query.text": "SELECT * FROM orders WHERE id = $1",
    "server.address": "db.internal",
    "server.port": 5432,
    "unicode": "héllo ✓",
    "int.max_safe": 2**53 - 1,
    "int.negative": -7,
    "double.ratio": 0.25,
    "double.negative": -1.5e-3,
    "bool.true": True,
    "bool.false": False,
    "array.strings": ["a", "b", "c"],
    "array.ints": [1, 2, 3],
    "array.doubles": [0.5, 1.5],
    "array.bools": [True, False],
}
# name -> (kind as stored, parent name, status as stored)
SHAPE: dict[str, tuple[str, str | None, str]] = {
    "GET /orders/{id}": ("Server", None, "Unset"),
    "load order": ("Internal", "GET /orders/{id}", "Unset"),
    "SELECT orders": ("Client", "load order", "Ok"),
    "publish order": ("Producer", "load order", "Error"),
}
SDK_KINDS = {
    "INTERNAL": "Internal",
    "SERVER": "Server",
    "CLIENT": "Client",
    "PRODUCER": "Producer",
    "CONSUMER": "Consumer",
}
SDK_STATUSES = {"UNSET": "Unset", "OK": "Ok", "ERROR": "Error"}


@pytest.fixture(scope="session")
def node_client() -> Path:
    """``tests/node_client`` with its npm packages installed; skips when node or npm is missing."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not on PATH: the Node.js client test needs Node.js 20 and npm")
    installed = CLIENT_DIR / "node_modules" / ".package-lock.json"
    lock = CLIENT_DIR / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        npm = shutil.which("npm")
        assert npm is not None
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=CLIENT_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT_S,
            env={**os.environ, "npm_config_update_notifier": "false"},
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci failed in {CLIENT_DIR} ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return CLIENT_DIR


def _send(client_dir: Path, endpoint: str, protocol: str) -> dict[str, Any]:
    """Run send.js and return the JSON it prints (the spans as the JS SDK finished them)."""
    node = shutil.which("node")
    assert node is not None
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    result = subprocess.run(
        [node, "send.js", endpoint, protocol],
        cwd=client_dir,
        capture_output=True,
        text=True,
        timeout=SEND_TIMEOUT_S,
        env=env,
        check=False,
    )
    assert result.returncode == 0, f"send.js failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    lines = result.stdout.strip().splitlines()
    assert lines, f"send.js printed nothing:\n{result.stderr}"
    sent: dict[str, Any] = json.loads(lines[-1])
    return sent


def _types(value: Any) -> Any:
    """The type structure of a decoded attribute value: ``[1, 2.5]`` -> ``["int", "float"]``."""
    if isinstance(value, list):
        return [_types(item) for item in value]
    if isinstance(value, dict):
        return {key: _types(item) for key, item in value.items()}
    return type(value).__name__


def _typed(json_value: Any) -> dict[str, Any]:
    """Decode a typed-JSON attribute map as returned by ``running.sql`` (parsed or text)."""
    text = json_value if isinstance(json_value, str) else json.dumps(json_value)
    return decode_attributes_json(text)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_node_sdk_trace_arrives_intact(node_client: Path, running: Running, protocol: str) -> None:
    endpoint = f"http://{running.grpc_endpoint}" if protocol == "grpc" else running.http_url
    sent = _send(node_client, endpoint, protocol)

    # What node sent has the intended shape (so the comparisons below check something).
    spans = {span["name"]: span for span in sent["spans"]}
    assert set(spans) == set(SHAPE)
    assert len({span["traceId"] for span in spans.values()}) == 1
    for name, (kind, parent, status) in SHAPE.items():
        assert SDK_KINDS[spans[name]["kind"]] == kind
        assert spans[name]["parentSpanId"] == (spans[parent]["spanId"] if parent else "")
        assert SDK_STATUSES[spans[name]["status"]["code"]] == status
    assert len({span["spanId"] for span in spans.values()}) == len(SHAPE)

    # The server acknowledged every export after committing it: the rows are there now.
    rows = running.sql(
        "SELECT *, epoch_ns(timestamp) AS start_ns, "
        "list_transform(events, lambda e: epoch_ns(e.timestamp)) AS event_ns "
        "FROM otel_traces ORDER BY timestamp"
    )
    stored = {row["span_id"]: row for row in rows}
    assert len(rows) == len(stored) == len(SHAPE)
    assert set(stored) == {span["spanId"] for span in spans.values()}

    for span in spans.values():
        row = stored[span["spanId"]]
        where = f"{protocol} {span['name']!r}"
        assert row["trace_id"] == span["traceId"], where
        assert row["parent_span_id"] == span["parentSpanId"], where
        assert row["span_name"] == span["name"], where
        assert row["span_kind"] == SDK_KINDS[span["kind"]], where
        assert row["start_ns"] == int(span["startTimeUnixNano"]), where
        assert row["duration"] == int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"]), where
        assert row["status_code"] == SDK_STATUSES[span["status"]["code"]], where
        assert row["status_message"] == span["status"]["message"], where
        attributes = _typed(row["span_attributes"])
        assert attributes == span["attributes"], where
        assert _types(attributes) == _types(span["attributes"]), where
        assert [event["name"] for event in row["events"]] == [event["name"] for event in span["events"]], where
        assert row["event_ns"] == [int(event["timeUnixNano"]) for event in span["events"]], where
        for stored_event, sent_event in zip(row["events"], span["events"], strict=True):
            event_attributes = _typed(stored_event["attributes"])
            assert event_attributes == sent_event["attributes"], where
            assert _types(event_attributes) == _types(sent_event["attributes"]), where
        # resource and scope, as the JS SDK built them (set, detected and SDK defaults)
        assert row["resource_attributes"] == sent["resource"], where
        assert row["scope_name"] == sent["scope"]["name"] == "glimpse-node-client", where
        assert row["scope_version"] == sent["scope"]["version"] == "1.0.0", where

    # Values and types exactly as written in send.js, independent of what node reported.
    client = stored[spans["SELECT orders"]["spanId"]]
    attributes = _typed(client["span_attributes"])
    assert attributes == CLIENT_ATTRIBUTES
    assert _types(attributes) == _types(CLIENT_ATTRIBUTES)
    (event,) = client["events"]
    assert event["name"] == "cache.miss"
    event_attributes = _typed(event["attributes"])
    assert event_attributes == {"cache.key": "order:42", "attempt": 2, "ratio": 0.5}
    assert _types(event_attributes) == {"cache.key": "str", "attempt": "int", "ratio": "float"}

    producer = stored[spans["publish order"]["spanId"]]
    assert (producer["status_code"], producer["status_message"]) == ("Error", "broker unavailable")
    (exception,) = producer["events"]
    assert exception["name"] == "exception"
    exception_attributes = _typed(exception["attributes"])
    assert exception_attributes["exception.type"] == "BrokerError"
    assert exception_attributes["exception.message"] == "broker unavailable"
    assert "send.js" in exception_attributes["exception.stacktrace"]

    root = stored[spans["GET /orders/{id}"]["spanId"]]
    assert root["http_request_method"] == "GET" and root["http_route"] == "/orders/{id}"
    assert root["http_response_status_code"] == 200

    resource = root["resource_attributes"]
    assert {key: resource[key] for key in RESOURCE} == RESOURCE
    assert resource["telemetry.sdk.language"] == "nodejs"
    assert resource["process.runtime.name"] == "nodejs"
    assert isinstance(resource["process.pid"], int)
    assert isinstance(resource["process.command_args"], list)
    for row in rows:
        assert row["service_name"] == "node-checkout"
        assert row["service_namespace"] == "shop"
        assert row["service_version"] == "2.4.1"
        assert row["service_instance_id"] == "node-checkout-0"
        assert row["k8s_pod_name"] == "node-checkout-6f7c9d-abcde"
        assert row["host_name"] == "node-host-a"
