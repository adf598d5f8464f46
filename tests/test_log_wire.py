"""The C fast path for log exports against the reference decoder.

``collector.log_wire.decode_logs_wire`` (``decode_logs`` of ``collector/_spanwire.c``)
turns the bytes of an ``ExportLogsServiceRequest`` straight into the rows of
``otel_logs``. Its contract, as for spans (tests/test_span_wire.py, whose wire helpers and
random values this reuses): for every request it accepts, the table and the accepted count
are identical to those of the reference decoder, ``collector.decode.decode_logs``;
whatever it does not reproduce exactly (malformed wire format, invalid UTF-8, a repeated
key, a merged message field, deep nesting, timestamps past 2**63, a record whose trace or
span id has the wrong length, which the reference rejects with partial success) it
declines with None.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as LOGS_SERVICE_PB2
from opentelemetry.proto.common.v1 import common_pb2 as COMMON_PB2
from opentelemetry.proto.logs.v1 import logs_pb2 as LOGS_PB2
from opentelemetry.proto.resource.v1 import resource_pb2 as RESOURCE_PB2

from collector.decode import Decoded, decode_logs
from collector.log_wire import decode_logs_wire
from collector.signals import SIGNALS
from tests.test_span_wire import (
    ANY_ARRAY,
    ANY_INT,
    ANY_KVLIST,
    ANY_STRINDEX,
    ANY_STRING,
    DOUBLES,
    ESCAPED,
    INVALID_UTF8,
    TAGGED,
    UNKNOWN_FIELDS,
    VALUES,
    RandomRequests,
    _has_repeated_key,
    _mutate,
    _value_has_repeated_key,
    difference,
    field_bytes,
    field_fixed32,
    field_fixed64,
    field_varint,
    many_keys,
    nested_arrays,
    nested_kvlists,
    pylist,
    tag,
    varint,
    wire_key_value,
)
from tests.trace_builder import Attributes, any_value, key_values

Request = LOGS_SERVICE_PB2.ExportLogsServiceRequest

TRACE_ID = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
SPAN_ID = bytes.fromhex("b7ad6b7169203331")
TIME = 1_700_000_000_123_456_789

# field numbers of opentelemetry/proto/logs/v1/logs.proto
LOG_TIME, LOG_SEVERITY, LOG_SEVERITY_TEXT, LOG_BODY, LOG_ATTRIBUTES = 1, 2, 3, 5, 6
LOG_DROPPED, LOG_FLAGS, LOG_TRACE_ID, LOG_SPAN_ID, LOG_OBSERVED, LOG_EVENT_NAME = 7, 8, 9, 10, 11, 12


# ---------------------------------------------------------------- building requests


def make_record(attributes: Attributes = (), body: object = "GET /cart served", **fields: Any) -> LOGS_PB2.LogRecord:
    """A record with trace context; ``body=None`` leaves the body out (an empty AnyValue is
    ``COMMON_PB2.AnyValue()``)."""
    base: dict[str, Any] = {
        "time_unix_nano": TIME,
        "observed_time_unix_nano": TIME + 150_000,
        "severity_number": LOGS_PB2.SEVERITY_NUMBER_INFO,
        "severity_text": "INFO",
        "trace_id": TRACE_ID,
        "span_id": SPAN_ID,
        "flags": 1,
    }
    record = LOGS_PB2.LogRecord(**{**base, **fields})
    if body is not None:
        record.body.CopyFrom(any_value(body))
    record.attributes.extend(key_values(attributes))
    return record


def scope_logs(
    *records: LOGS_PB2.LogRecord,
    name: str = "lib",
    version: str = "1.0",
    attributes: Attributes = (),
    schema_url: str = "",
) -> LOGS_PB2.ScopeLogs:
    scope = COMMON_PB2.InstrumentationScope(name=name, version=version, attributes=key_values(attributes))
    return LOGS_PB2.ScopeLogs(scope=scope, log_records=records, schema_url=schema_url)


def resource_logs(
    attributes: Attributes, *scopes: LOGS_PB2.ScopeLogs, schema_url: str = "", dropped: int = 0
) -> LOGS_PB2.ResourceLogs:
    resource = RESOURCE_PB2.Resource(attributes=key_values(attributes), dropped_attributes_count=dropped)
    return LOGS_PB2.ResourceLogs(resource=resource, scope_logs=scopes, schema_url=schema_url)


def make_request(*records: LOGS_PB2.LogRecord, resource: Attributes = (("service.name", "checkout"),)) -> Request:
    return Request(resource_logs=[resource_logs(resource, scope_logs(*records))])


def wire_record(*fields: bytes) -> bytes:
    """A LogRecord payload with trace context and ``fields`` after it."""
    return field_bytes(LOG_TRACE_ID, TRACE_ID) + field_bytes(LOG_SPAN_ID, SPAN_ID) + b"".join(fields)


def wire_request(*records: bytes, scope: bytes | None = None, resource: bytes | None = None) -> bytes:
    """One resource with one scope holding ``records`` (raw LogRecord payloads)."""
    scope_part = (b"" if scope is None else field_bytes(1, scope)) + b"".join(field_bytes(2, r) for r in records)
    resource_part = (b"" if resource is None else field_bytes(1, resource)) + field_bytes(2, scope_part)
    return field_bytes(1, resource_part)


def wire_attribute(key: bytes, value: bytes) -> bytes:
    """A record attribute (LogRecord field 6) with a raw AnyValue payload."""
    return field_bytes(LOG_ATTRIBUTES, wire_key_value(key, value))


# ---------------------------------------------------------------- comparing the decoders


def reference_decode(body: bytes) -> Decoded:
    return decode_logs(Request.FromString(body))


def assert_same_body(body: bytes) -> Decoded:
    """Run both decoders on ``body``: the fast one must accept it and agree exactly."""
    fast = decode_logs_wire(body)
    assert fast is not None, "the fast decoder declined a request it should take"
    problem = difference(fast, reference_decode(body))
    assert problem is None, problem
    return fast


def assert_same(request: Request) -> Decoded:
    return assert_same_body(request.SerializeToString())


def assert_declined(body: bytes) -> None:
    fast = decode_logs_wire(body)
    assert fast is None, f"the fast decoder took it: accepted {fast.accepted}"


def column(decoded: Decoded, name: str) -> list[Any]:
    return pylist(decoded.batch.tables["otel_logs"].column(name))


# ---------------------------------------------------------------- wiring and empty requests


def test_both_receivers_use_the_fast_path_for_protobuf_logs() -> None:
    # gRPC and HTTP/protobuf exports both go through Ingestor.export -> Signal.decode_wire
    assert SIGNALS["logs"].decode_wire is decode_logs_wire


def test_empty_request_and_empty_containers_match() -> None:
    assert_same(Request())
    assert_same(Request(resource_logs=[LOGS_PB2.ResourceLogs()]))
    assert_same(Request(resource_logs=[LOGS_PB2.ResourceLogs(scope_logs=[LOGS_PB2.ScopeLogs()])]))
    decoded = assert_same_body(b"")
    assert (decoded.accepted, decoded.rejected, decoded.message) == (0, 0, "")
    assert decoded.batch.tables["otel_logs"].num_rows == 0


def test_a_plain_record_matches_column_by_column() -> None:
    decoded = assert_same(make_request(make_record({"code.line.number": 88, "enduser.id": "u1"}, event_name="e")))
    assert column(decoded, "trace_id") == [TRACE_ID.hex()]
    assert column(decoded, "span_id") == [SPAN_ID.hex()]
    assert column(decoded, "timestamp") == [TIME]
    assert column(decoded, "body") == ['"GET /cart served"']
    assert json.loads(column(decoded, "log_attributes")[0]) == {"code.line.number": 88, "enduser.id": "u1"}
    assert column(decoded, "service_name") == ["checkout"]
    assert column(decoded, "event_name") == ["e"]


# ---------------------------------------------------------------- bodies and attribute values


def _everywhere(value: object) -> Request:
    """``value`` as the body and at every level of every attribute map of a request."""
    attributes = {
        "top": value,
        "in-array": [value],
        "in-kvlist": {"x": value},
        "deep": {"l1": [{"l2": {"l3": [value, {"l4": value}]}}]},
    }
    records = [
        make_record(attributes, body=value),
        make_record(body=[value, {"k": value}]),
        make_record(body={"k": value}),
    ]
    scope = scope_logs(*records, attributes=attributes)
    return Request(resource_logs=[resource_logs({"service.name": "svc", **attributes}, scope, dropped=2)])


@pytest.mark.parametrize("value", list(VALUES.values()), ids=list(VALUES))
def test_value_type_as_body_and_at_every_level_matches(value: object) -> None:
    assert_same(_everywhere(value))


@pytest.mark.parametrize("value", list(TAGGED.values()), ids=list(TAGGED))
def test_kvlist_that_looks_like_a_tag_matches(value: object) -> None:
    assert_same(_everywhere(value))


def test_missing_body_is_null_and_empty_body_is_json_null() -> None:
    decoded = assert_same(make_request(make_record(body=None), make_record(body=COMMON_PB2.AnyValue()), make_record()))
    assert column(decoded, "body") == [None, "null", '"GET /cart served"']


@pytest.mark.parametrize("x", DOUBLES, ids=[repr(x) for x in DOUBLES])
def test_double_bodies_and_attributes_match(x: float) -> None:
    decoded = assert_same(make_request(make_record({"d": x, "a": [x]}, body=x)))
    if math.isfinite(x):
        assert isinstance(json.loads(column(decoded, "body")[0]), float)


@pytest.mark.parametrize("char", ESCAPED, ids=[f"U+{ord(c):04X}" for c in ESCAPED])
def test_string_with_special_character_matches_everywhere(char: str) -> None:
    text = f"a{char}b{char}"
    record = make_record(
        {f"key{char}": text, "array": [text, char], "kvlist": {char: text}},
        body=text,
        severity_text=text,
        event_name=text,
    )
    scope = scope_logs(record, make_record(body={char: [text]}), name=text, version=char, attributes={char: char})
    resource = resource_logs({"service.name": f"svc{char}", char: [char]}, scope, schema_url=text)
    decoded = assert_same(Request(resource_logs=[resource]))
    assert json.loads(column(decoded, "body")[0]) == text


def test_long_bodies_and_many_records_match() -> None:
    long_text = "".join(ESCAPED) * 300 + "x" * 70_000  # past one buffer growth step, and past 16 KiB
    attributes = {f"key-{i}": ESCAPED[i % len(ESCAPED)] * i if i % 2 else i for i in range(128)}  # 128: the most
    records = [make_record(attributes, body=f"line {i}", span_id=(i + 1).to_bytes(8, "big")) for i in range(600)]
    records.append(make_record({"long": long_text}, body=long_text, severity_text=long_text))
    assert_same(make_request(*records))


# ---------------------------------------------------------------- the record's own fields


@pytest.mark.parametrize(
    ("trace_id", "span_id"),
    [(TRACE_ID, SPAN_ID), (b"", b""), (TRACE_ID, b""), (b"", SPAN_ID), (bytes(16), bytes(8))],
    ids=["both", "none", "trace-only", "span-only", "all-zero"],
)
def test_trace_context_present_missing_or_zero_matches(trace_id: bytes, span_id: bytes) -> None:
    decoded = assert_same(make_request(make_record(trace_id=trace_id, span_id=span_id)))
    assert column(decoded, "trace_id") == [trace_id.hex()]
    assert column(decoded, "span_id") == [span_id.hex()]


@pytest.mark.parametrize("time", [0, 1, TIME, 2**63 - 1])
def test_timestamps_match_and_zero_is_null(time: int) -> None:
    decoded = assert_same(make_request(make_record(time_unix_nano=time, observed_time_unix_nano=time)))
    expected = None if time == 0 else time
    assert column(decoded, "timestamp") == column(decoded, "observed_timestamp") == [expected]


def test_record_scalars_match_including_unknown_enum_values() -> None:
    records = [
        make_record(
            severity_number=LOGS_PB2.SeverityNumber.ValueType(number),
            flags=flags,
            dropped_attributes_count=dropped,
            severity_text=text,
            event_name=name,
        )
        for number, flags, dropped, text, name in [
            (0, 0, 0, "", ""),
            (24, 0x101, 3, "FATAL", "exception"),
            (-1, 2**32 - 1, 2**32 - 1, "weird", "browser.page_view"),
            (2**31 - 1, 7, 1, "", ""),
            (-(2**31), 0, 0, "x", "y"),
        ]
    ]
    decoded = assert_same(make_request(*records))
    assert column(decoded, "severity_number") == [0, 24, -1, 2**31 - 1, -(2**31)]


def test_severity_varint_past_int32_keeps_the_low_bits_as_protobuf_does() -> None:
    for raw in (2**32 + 5, 2**63 + 17, 2**64 - 1):
        assert_same_body(wire_request(wire_record(field_varint(LOG_SEVERITY, raw), field_varint(LOG_DROPPED, raw))))


def test_last_value_of_a_repeated_scalar_field_wins_as_in_protobuf() -> None:
    record = wire_record(
        field_fixed64(LOG_TIME, 5),
        field_fixed64(LOG_TIME, 6),
        field_bytes(LOG_SEVERITY_TEXT, b"a"),
        field_bytes(LOG_SEVERITY_TEXT, b"b"),
        field_bytes(LOG_TRACE_ID, bytes(range(1, 17))),
        field_fixed32(LOG_FLAGS, 1),
        field_fixed32(LOG_FLAGS, 2),
    )
    decoded = assert_same_body(wire_request(record))
    assert column(decoded, "timestamp") == [6]
    assert column(decoded, "trace_id") == [bytes(range(1, 17)).hex()]


def test_several_resources_and_scopes_match() -> None:
    def record(i: int) -> LOGS_PB2.LogRecord:
        return make_record({"i": i}, body=f"record {i}", span_id=bytes([i + 1]) * 8)

    request = Request(
        resource_logs=[
            resource_logs(
                {"service.name": "a", "k8s.pod.name": "a-0"},
                scope_logs(record(0), record(1), name="s1", version="1"),
                scope_logs(),  # a scope without records adds nothing
                scope_logs(record(2), name="s2", attributes={"x": 1}, schema_url="https://s2"),
                schema_url="https://a",
                dropped=3,
            ),
            resource_logs({}, scope_logs(record(3))),  # no service.name
            resource_logs({"service.name": "a", "k8s.pod.name": "a-0"}, scope_logs(record(4), name="s1", version="1")),
            resource_logs({"service.name": "c"}),  # a resource without scopes
            resource_logs({"service.name": 5}, scope_logs(record(5), record(6))),  # not a string
        ]
    )
    decoded = assert_same(request)
    unknown = "unknown_service"
    assert column(decoded, "service_name") == ["a", "a", "a", unknown, "a", unknown, unknown]
    assert column(decoded, "scope_name") == ["s1", "s1", "s2", "lib", "s1", "lib", "lib"]


def test_unknown_fields_everywhere_are_ignored() -> None:
    def message(payload: bytes) -> bytes:  # unknown fields before and after the known ones
        return UNKNOWN_FIELDS + payload + UNKNOWN_FIELDS

    value = message(field_bytes(ANY_STRING, b"v"))
    record = message(
        wire_record(
            field_fixed64(LOG_TIME, TIME),
            field_bytes(
                LOG_BODY, message(field_bytes(ANY_KVLIST, message(field_bytes(1, wire_key_value(b"k", value)))))
            ),
            wire_attribute(b"a", message(field_bytes(ANY_ARRAY, message(field_bytes(1, value))))),
            field_varint(4, 9),  # LogRecord field 4 is reserved: unknown
        )
    )
    scope = message(field_bytes(1, b"lib") + field_bytes(3, message(wire_key_value(b"s", value))))
    resource = message(field_bytes(1, message(wire_key_value(b"service.name", value))))
    scope_part = message(field_bytes(1, scope) + field_bytes(2, record))
    body = message(field_bytes(1, message(field_bytes(1, resource) + field_bytes(2, scope_part))))
    decoded = assert_same_body(body)
    assert column(decoded, "body") == ['{"k":"v"}']


def test_nesting_and_map_size_at_the_limits_match() -> None:
    assert_same_body(wire_request(wire_record(field_bytes(LOG_BODY, nested_arrays(20)))))
    assert_same_body(wire_request(wire_record(field_bytes(LOG_BODY, nested_kvlists(20)))))
    assert_same_body(wire_request(wire_record(field_bytes(LOG_BODY, field_bytes(ANY_KVLIST, many_keys(128))))))
    assert_same(make_request(make_record({f"k{i}": i for i in range(128)})))


# ---------------------------------------------------------------- requests left to the reference decoder

REJECTED = {
    "trace-id-short": {"trace_id": TRACE_ID[:15]},
    "trace-id-long": {"trace_id": TRACE_ID + b"\x01"},
    "span-id-short": {"span_id": SPAN_ID[:7]},
    "span-id-16": {"span_id": TRACE_ID},
}


@pytest.mark.parametrize("fields", list(REJECTED.values()), ids=list(REJECTED))
def test_request_with_an_invalid_record_goes_to_the_reference_decoder(fields: dict[str, Any]) -> None:
    body = make_request(make_record(), make_record(**fields), make_record()).SerializeToString()
    assert_declined(body)
    reference = reference_decode(body)
    assert (reference.accepted, reference.rejected) == (2, 1)
    assert reference.message == "rejected 1 log records: trace_id or span_id has the wrong length (1)"


def _utf8_declines() -> dict[str, bytes]:
    cases: dict[str, bytes] = {}
    for label, bad in INVALID_UTF8.items():
        cases[f"body-{label}"] = wire_request(wire_record(field_bytes(LOG_BODY, field_bytes(ANY_STRING, bad))))
    bad = INVALID_UTF8["ff"]
    string = field_bytes(ANY_STRING, bad)
    cases.update(
        {
            "severity-text": wire_request(wire_record(field_bytes(LOG_SEVERITY_TEXT, bad))),
            "event-name": wire_request(wire_record(field_bytes(LOG_EVENT_NAME, bad))),
            "attribute-key": wire_request(wire_record(wire_attribute(bad, field_varint(ANY_INT, 1)))),
            "attribute-value": wire_request(wire_record(wire_attribute(b"k", string))),
            "body-array-item": wire_request(
                wire_record(field_bytes(LOG_BODY, field_bytes(ANY_ARRAY, field_bytes(1, string))))
            ),
            "body-kvlist-key": wire_request(
                wire_record(field_bytes(LOG_BODY, field_bytes(ANY_KVLIST, field_bytes(1, wire_key_value(bad, b"")))))
            ),
            "scope-name": wire_request(wire_record(), scope=field_bytes(1, bad)),
            "resource-attribute": wire_request(wire_record(), resource=field_bytes(1, wire_key_value(b"k", string))),
            "resource-entity-ref": wire_request(wire_record(), resource=field_bytes(3, field_bytes(2, bad))),
            "resource-schema-url": field_bytes(1, field_bytes(2, field_bytes(2, wire_record())) + field_bytes(3, bad)),
            "scope-schema-url": field_bytes(1, field_bytes(2, field_bytes(2, wire_record()) + field_bytes(3, bad))),
            "scope-without-records": field_bytes(1, field_bytes(2, field_bytes(1, field_bytes(1, bad)))),
            "rejected-record-body": wire_request(
                field_bytes(LOG_TRACE_ID, b"\x01") + field_bytes(LOG_BODY, field_bytes(ANY_STRING, bad))
            ),
        }
    )
    return {f"utf8-{name}": body for name, body in cases.items()}


VALID_BODY = make_request(make_record({"a": [1, {"b": 2.5}]}), make_record(body=b"\x01")).SerializeToString()

# bytes protobuf itself rejects (DecodeError): the reference decoder answers with the error
DECLINED_MALFORMED: dict[str, bytes] = {
    "truncated-by-1": VALID_BODY[:-1],
    "truncated-by-5": VALID_BODY[:-5],
    "truncated-to-1": VALID_BODY[:1],
    "length-past-end": tag(1, 2) + varint(50) + b"\x00" * 10,
    "bad-varint-11-bytes": wire_request(wire_record(tag(99, 0) + b"\xff" * 11)),
    "wire-type-6": wire_request(wire_record(tag(99, 6))),
    "field-zero": wire_request(wire_record(field_varint(0, 1))),
    "unterminated-group": wire_request(wire_record(tag(99, 3) + field_varint(1, 1))),
    "body-truncated-double": wire_request(wire_record(field_bytes(LOG_BODY, tag(4, 1) + b"\x00\x00"))),
    "body-kvlist-past-recursion-limit": wire_request(wire_record(field_bytes(LOG_BODY, nested_kvlists(33)))),
    **_utf8_declines(),
}

# valid protobuf the fast path leaves to the reference decoder
DECLINED_WELL_FORMED: dict[str, bytes] = {
    "group-in-record": wire_request(wire_record(tag(99, 3) + field_varint(1, 1) + tag(99, 4))),
    "wrong-wire-type-known-field": wire_request(wire_record(field_varint(LOG_SEVERITY_TEXT, 1))),
    "wrong-wire-type-time": wire_request(wire_record(field_varint(LOG_TIME, 1))),
    "body-twice": wire_request(
        wire_record(field_bytes(LOG_BODY, field_bytes(ANY_STRING, b"a")), field_bytes(LOG_BODY, b""))
    ),
    "body-two-values": wire_request(wire_record(field_bytes(LOG_BODY, field_bytes(1, b"s") + field_varint(3, 1)))),
    "body-strindex": wire_request(wire_record(field_bytes(LOG_BODY, field_varint(ANY_STRINDEX, 3)))),
    "duplicate-key-attributes": make_request(make_record([("k", 1), ("k", 2)])).SerializeToString(),
    "duplicate-key-body": make_request(
        make_record(body=COMMON_PB2.AnyValue(kvlist_value=COMMON_PB2.KeyValueList(values=key_values([("a", 1)] * 2))))
    ).SerializeToString(),
    "duplicate-key-resource": make_request(
        make_record(), resource=[("service.name", "a"), ("service.name", "b")]
    ).SerializeToString(),
    "duplicate-key-scope": Request(
        resource_logs=[resource_logs({}, scope_logs(make_record(), attributes=[("x", 1), ("x", 1)]))]
    ).SerializeToString(),
    "resource-twice": field_bytes(
        1, field_bytes(1, b"") + field_bytes(1, b"") + field_bytes(2, field_bytes(2, wire_record()))
    ),
    "scope-twice": field_bytes(
        1, field_bytes(2, field_bytes(1, b"") + field_bytes(1, b"") + field_bytes(2, wire_record()))
    ),
    "body-array-depth-33": wire_request(wire_record(field_bytes(LOG_BODY, nested_arrays(33)))),
    "body-kvlist-129-keys": wire_request(wire_record(field_bytes(LOG_BODY, field_bytes(ANY_KVLIST, many_keys(129))))),
    "record-129-keys": make_request(make_record({f"k{i}": i for i in range(129)})).SerializeToString(),
    "time-2**63": wire_request(wire_record(field_fixed64(LOG_TIME, 2**63))),
    "observed-2**64-1": wire_request(wire_record(field_fixed64(LOG_OBSERVED, 2**64 - 1))),
}


@pytest.mark.parametrize("body", list(DECLINED_MALFORMED.values()), ids=list(DECLINED_MALFORMED))
def test_malformed_request_is_declined_and_protobuf_rejects_it(body: bytes) -> None:
    assert_declined(body)
    with pytest.raises(DecodeError):
        Request.FromString(body)


@pytest.mark.parametrize("body", list(DECLINED_WELL_FORMED.values()), ids=list(DECLINED_WELL_FORMED))
def test_unusual_request_is_declined_for_the_reference_decoder(body: bytes) -> None:
    assert_declined(body)
    Request.FromString(body)  # protobuf parses it: the reference decoder gives the answer (or a clear error)


# ---------------------------------------------------------------- random requests


class RandomLogRequests(RandomRequests):
    """Random log export requests: the span tests' random values, in log records."""

    def record(self) -> LOGS_PB2.LogRecord:
        rng = self.rng
        record = LOGS_PB2.LogRecord(
            time_unix_nano=self.timestamp(),
            observed_time_unix_nano=self.timestamp(),
            severity_number=LOGS_PB2.SeverityNumber.ValueType(rng.choice((0, 5, 9, 13, 17, 24, -3, 99))),
            severity_text=self.text(5),
            attributes=self.attributes(),
            dropped_attributes_count=rng.choice((0, 1, rng.getrandbits(32))),
            flags=rng.choice((0, 1, rng.getrandbits(32))),
            event_name=rng.choice(("", self.text(8))),
        )
        roll = rng.random()
        if roll < 0.85:
            record.trace_id, record.span_id = self.id(16), self.id(8)
        elif roll < 0.95:
            record.trace_id = rng.choice((b"", bytes(16)))
        if rng.random() < 0.9:
            record.body.CopyFrom(any_value(self.text(40)) if rng.random() < 0.5 else self.value(0))
        return record

    def request(self) -> Request:  # type: ignore[override]
        rng = self.rng
        request = Request()
        for _ in range(rng.randint(0, 3)):
            resource = request.resource_logs.add(schema_url=self.text(4))
            resource.resource.attributes.extend(self.attributes())
            if rng.random() < 0.6 and "service.name" not in {kv.key for kv in resource.resource.attributes}:
                resource.resource.attributes.add(key="service.name", value=self.value(3))
            resource.resource.dropped_attributes_count = rng.choice((0, 7))
            for _ in range(rng.randint(0, 3)):
                scope = resource.scope_logs.add(schema_url=self.text(4))
                scope.scope.name = self.text(5)
                scope.scope.version = self.text(3)
                scope.scope.attributes.extend(self.attributes(most=3))
                lowest = 1 if self.valid_only else 0
                scope.log_records.extend(self.record() for _ in range(rng.randint(lowest, 5)))
        return request


def may_be_declined(request: Request) -> bool:
    """Whether ``request`` holds something the fast path declines (a repeated key, a time
    >= 2**63, an id of the wrong length)."""
    for resource in request.resource_logs:
        if _has_repeated_key(resource.resource.attributes):
            return True
        for scope in resource.scope_logs:
            if _has_repeated_key(scope.scope.attributes):
                return True
            for record in scope.log_records:
                if max(record.time_unix_nano, record.observed_time_unix_nano) >= 2**63:
                    return True
                if _has_repeated_key(record.attributes) or _value_has_repeated_key(record.body):
                    return True
                if len(record.trace_id) not in (0, 16) or len(record.span_id) not in (0, 8):
                    return True
    return False


def test_random_requests_match_the_reference() -> None:
    generator = RandomLogRequests(seed=2718)
    outcomes = {"same": 0, "declined": 0}
    for index in range(300):
        request = generator.request()
        body = request.SerializeToString()
        fast = decode_logs_wire(body)
        if fast is None:
            assert may_be_declined(request), f"request {index} was declined for no reason we know of: {request}"
            outcomes["declined"] += 1
            continue
        problem = difference(fast, reference_decode(body))
        assert problem is None, f"request {index}: {problem}"
        outcomes["same"] += 1
    # the generator really exercises both paths
    assert outcomes["same"] > 100
    assert outcomes["declined"] > 5


def test_random_byte_mutations_never_crash_and_never_differ() -> None:
    generator = RandomLogRequests(seed=4243, valid_only=True)
    bodies = [generator.request().SerializeToString() for _ in range(12)]
    bodies = [body for body in bodies if len(body) > 40]
    assert len(bodies) >= 6
    rng = random.Random(98)
    outcomes = {"taken": 0, "declined": 0}
    for index in range(400):
        body = _mutate(rng, rng.choice(bodies))
        fast = decode_logs_wire(body)
        if fast is None:
            outcomes["declined"] += 1
            continue
        try:
            reference = reference_decode(body)
        except DecodeError:
            pytest.fail(f"mutation {index}: the fast path took bytes protobuf rejects: {body.hex()}")
        problem = difference(fast, reference)
        assert problem is None, f"mutation {index} ({body.hex()}): {problem}"
        outcomes["taken"] += 1
    assert outcomes["taken"] > 20
    assert outcomes["declined"] > 20


def test_the_benchmark_workload_matches() -> None:
    from bench.logs_ingest import LogWorkload

    workload = LogWorkload(seed=3)
    for _ in range(3):
        decoded = assert_same_body(workload.request(TIME))
        assert decoded.accepted >= 512
