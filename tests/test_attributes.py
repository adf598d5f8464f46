"""Typed JSON keeps every attribute value type recoverable; semconv keys normalise."""

from __future__ import annotations

import math

import pytest

from tracing.attributes import decode_attributes_json, encode_attributes_json
from tracing.semconv import RESOURCE_PROMOTED, SPAN_DERIVED, SPAN_PROMOTED, promote

# stored and derived span columns follow one rule (the view reads the derived ones the same way)
SPAN_COLUMNS = {**SPAN_PROMOTED, **SPAN_DERIVED}


@pytest.mark.parametrize(
    "value",
    [
        "text",
        "",
        True,
        False,
        0,
        -(2**63),
        2**63 - 1,
        1.0,
        -0.5,
        1e300,
        b"",
        b"\x00\xff",
        [1, "a", 2.0, None],
        {"nested": {"deeper": [b"\x01", {"x": 1}]}},
        {"bytesValue": "looks like a tag"},
        {"doubleValue": 1},
        {"kvlistValue": {"a": 1}},
        None,
    ],
)
def test_every_value_type_round_trips(value: object) -> None:
    decoded = decode_attributes_json(encode_attributes_json({"k": value}))["k"]
    assert decoded == value
    assert type(decoded) is type(value)


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_non_finite_doubles_round_trip(value: float) -> None:
    assert decode_attributes_json(encode_attributes_json({"k": value}))["k"] == value


def test_nan_round_trips() -> None:
    assert math.isnan(decode_attributes_json(encode_attributes_json({"k": math.nan}))["k"])  # type: ignore[arg-type]


def test_doubles_never_read_back_as_integers() -> None:
    assert encode_attributes_json({"a": 1.0, "b": 1}) == '{"a":1.0,"b":1}'


def test_new_key_wins_over_old_key() -> None:
    promoted = promote({"http.method": "POST", "http.request.method": "GET", "http.status_code": "503"}, SPAN_COLUMNS)
    assert promoted["http_request_method"] == "GET"
    assert promoted["http_response_status_code"] == 503


@pytest.mark.parametrize(
    ("attributes", "column", "expected"),
    [
        ({"db.system": "redis"}, "db_system_name", "redis"),
        ({"db.statement": "SELECT 1"}, "db_query_text", "SELECT 1"),
        ({"peer.service": "billing"}, "peer_service", "billing"),
        ({"service.peer.name": "billing-v2", "peer.service": "billing"}, "peer_service", "billing-v2"),
        ({"messaging.destination": "orders"}, "messaging_destination_name", "orders"),
        ({"net.peer.port": "not a port"}, "server_port", None),
        ({"server.port": True}, "server_port", None),
        ({"rpc.method": ["not", "scalar"]}, "rpc_method", None),
    ],
)
def test_old_keys_fill_promoted_columns(attributes: dict[str, object], column: str, expected: object) -> None:
    assert promote(attributes, SPAN_COLUMNS)[column] == expected


def test_resource_promotion() -> None:
    promoted = promote({"deployment.environment": "prod", "k8s.node.name": "n1"}, RESOURCE_PROMOTED)
    assert promoted["deployment_environment"] == "prod" and promoted["k8s_node_name"] == "n1"
    assert promoted["k8s_pod_name"] is None
