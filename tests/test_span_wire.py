"""The C fast path for trace exports against the reference decoder.

``collector.span_wire.decode_traces_wire`` (``collector/_spanwire.c``) turns the bytes of
an ``ExportTraceServiceRequest`` straight into the rows glimpse stores. Its contract:
for every request it accepts, the otel_spans and otel_resources tables and the accepted
count are identical to those of the reference decoder, ``collector.decode.decode_traces``;
whatever it does not reproduce exactly (malformed wire format, invalid UTF-8, a repeated
key or value, a merged message field, deep nesting, huge maps, timestamps past 2**63, a
span with an invalid id, which the reference rejects with partial success) it declines
with None.

Checked here with hand-built requests (every value type at every level, JSON escapes,
doubles, promoted semantic-convention columns, the span structure, unknown fields,
requests with rejected spans), requests it must decline, a seeded random property test over random
attribute trees, random byte mutations of valid requests, and typed-JSON round trips.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import random
import struct
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pytest
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2
from opentelemetry.proto.common.v1 import common_pb2 as COMMON_PB2
from opentelemetry.proto.resource.v1 import resource_pb2 as RESOURCE_PB2
from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2

from collector import span_wire
from collector.decode import Decoded, decode_traces
from collector.span_wire import decode_traces_wire
from tests.trace_builder import Attributes, any_value, key_values
from tracing.attributes import decode_attributes_json
from tracing.semconv import INTEGER_COLUMNS, RESOURCE_PROMOTED, SPAN_PROMOTED

Request = TRACE_SERVICE_PB2.ExportTraceServiceRequest

TRACE_ID = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
SPAN_ID = bytes.fromhex("b7ad6b7169203331")
PARENT_ID = bytes.fromhex("00f067aa0ba902b7")
START = 1_700_000_000_123_456_789
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


# ---------------------------------------------------------------- protobuf wire format


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 values take ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def tag(field: int, wire_type: int) -> bytes:
    return varint(field << 3 | wire_type)


def field_bytes(field: int, payload: bytes) -> bytes:
    return tag(field, 2) + varint(len(payload)) + payload


def field_varint(field: int, value: int) -> bytes:
    return tag(field, 0) + varint(value)


def field_fixed64(field: int, value: int) -> bytes:
    return tag(field, 1) + struct.pack("<Q", value)


def field_fixed32(field: int, value: int) -> bytes:
    return tag(field, 5) + struct.pack("<I", value)


# field numbers of opentelemetry/proto/trace/v1/trace.proto and common.proto used below
SPAN_START, SPAN_END, SPAN_ATTRIBUTES, SPAN_EVENTS, SPAN_LINKS, SPAN_STATUS = 7, 8, 9, 11, 13, 15
ANY_STRING, ANY_INT, ANY_ARRAY, ANY_KVLIST, ANY_STRINDEX = 1, 3, 5, 6, 8

# unknown fields of every skippable wire type, to append to (or put before) any message
UNKNOWN_FIELDS = (
    field_varint(99, 12345)
    + field_fixed64(98, 7)
    + field_bytes(97, b"\xff\x00 not UTF-8, never read")
    + field_fixed32(96, 5)
    + field_varint(2**29 - 1, 1)
)


def wire_key_value(key: bytes, value: bytes) -> bytes:
    return field_bytes(1, key) + field_bytes(2, value)


def wire_attribute(key: bytes, value: bytes) -> bytes:
    """A span attribute (Span field 9) with a raw AnyValue payload."""
    return field_bytes(SPAN_ATTRIBUTES, wire_key_value(key, value))


def wire_span(*fields: bytes, trace_id: bytes = TRACE_ID, span_id: bytes = SPAN_ID) -> bytes:
    return field_bytes(1, trace_id) + field_bytes(2, span_id) + field_bytes(5, b"op") + b"".join(fields)


def wire_request(*spans: bytes, scope: bytes | None = None, resource: bytes | None = None) -> bytes:
    """One resource with one scope holding ``spans`` (raw Span payloads)."""
    scope_spans = (b"" if scope is None else field_bytes(1, scope)) + b"".join(field_bytes(2, s) for s in spans)
    resource_spans = (b"" if resource is None else field_bytes(1, resource)) + field_bytes(2, scope_spans)
    return field_bytes(1, resource_spans)


def nested_arrays(depth: int) -> bytes:
    """An AnyValue of ``depth`` arrays, each holding the next, around an int."""
    value = field_varint(ANY_INT, 1)
    for _ in range(depth):
        value = field_bytes(ANY_ARRAY, field_bytes(1, value))
    return value


def nested_kvlists(depth: int) -> bytes:
    """An AnyValue of ``depth`` kvlists, each holding the next under key "a"."""
    value = field_varint(ANY_INT, 1)
    for _ in range(depth):
        value = field_bytes(ANY_KVLIST, field_bytes(1, wire_key_value(b"a", value)))
    return value


def many_keys(count: int) -> bytes:
    """A KeyValueList payload with ``count`` distinct keys."""
    return b"".join(field_bytes(1, wire_key_value(b"k%d" % i, field_varint(ANY_INT, i))) for i in range(count))


# ---------------------------------------------------------------- protobuf messages


def kvlist(*pairs: tuple[str, object]) -> COMMON_PB2.AnyValue:
    """A kvlist AnyValue that may repeat a key."""
    return COMMON_PB2.AnyValue(kvlist_value=COMMON_PB2.KeyValueList(values=key_values(pairs)))


def make_span(attributes: Attributes = (), **fields: Any) -> TRACE_PB2.Span:
    base: dict[str, Any] = {
        "trace_id": TRACE_ID,
        "span_id": SPAN_ID,
        "name": "GET /cart",
        "start_time_unix_nano": START,
        "end_time_unix_nano": START + 1_500_000,
    }
    span = TRACE_PB2.Span(**{**base, **fields})
    span.attributes.extend(key_values(attributes))
    return span


def make_event(name: str = "exception", attributes: Attributes = (), **fields: Any) -> TRACE_PB2.Span.Event:
    event = TRACE_PB2.Span.Event(**{"name": name, "time_unix_nano": START + 10, **fields})
    event.attributes.extend(key_values(attributes))
    return event


def make_link(attributes: Attributes = (), **fields: Any) -> TRACE_PB2.Span.Link:
    base: dict[str, Any] = {"trace_id": bytes(range(1, 17)), "span_id": bytes(range(1, 9))}
    link = TRACE_PB2.Span.Link(**{**base, **fields})
    link.attributes.extend(key_values(attributes))
    return link


def scope_spans(
    *spans: TRACE_PB2.Span, name: str = "lib", version: str = "1.0", attributes: Attributes = (), schema_url: str = ""
) -> TRACE_PB2.ScopeSpans:
    scope = COMMON_PB2.InstrumentationScope(name=name, version=version, attributes=key_values(attributes))
    return TRACE_PB2.ScopeSpans(scope=scope, spans=spans, schema_url=schema_url)


def resource_spans(
    attributes: Attributes, *scopes: TRACE_PB2.ScopeSpans, schema_url: str = "", dropped: int = 0
) -> TRACE_PB2.ResourceSpans:
    resource = RESOURCE_PB2.Resource(attributes=key_values(attributes), dropped_attributes_count=dropped)
    return TRACE_PB2.ResourceSpans(resource=resource, scope_spans=scopes, schema_url=schema_url)


def make_request(
    *spans: TRACE_PB2.Span, resource: Attributes = (("service.name", "checkout"),), scope_name: str = "lib"
) -> Request:
    return Request(resource_spans=[resource_spans(resource, scope_spans(*spans, name=scope_name))])


def make_span_request(attributes: Attributes) -> Request:
    return make_request(make_span(attributes))


# ---------------------------------------------------------------- comparing the decoders


def difference(fast: Decoded, reference: Decoded) -> str | None:
    """None when both decoders produced the same rows and figures, else the first difference."""
    for figure in ("accepted", "rejected", "message"):
        if getattr(fast, figure) != getattr(reference, figure):
            return f"{figure}: fast {getattr(fast, figure)!r} != reference {getattr(reference, figure)!r}"
    if fast.batch.tables.keys() != reference.batch.tables.keys():
        return f"tables: fast {sorted(fast.batch.tables)} != reference {sorted(reference.batch.tables)}"
    for table_name, expected in reference.batch.tables.items():
        got = fast.batch.tables[table_name]
        if not got.schema.equals(expected.schema, check_metadata=True):
            fields = [
                f"{a} vs {b}" for a, b in itertools.zip_longest(got.schema, expected.schema) if a is None or a != b
            ]
            return f"{table_name} schema differs (fast vs reference): {fields[:3]}"
        if got.num_rows != expected.num_rows:
            return f"{table_name}: fast has {got.num_rows} rows, reference {expected.num_rows}"
        for column in expected.column_names:
            if got.column(column).equals(expected.column(column)):
                continue
            left, right = pylist(got.column(column)), pylist(expected.column(column))
            for row, (a, b) in enumerate(zip(left, right, strict=True)):
                if a != b:
                    return f"{table_name}.{column} row {row}: fast {a!r} != reference {b!r}"
            return f"{table_name}.{column}: same values, different Arrow layout"
        if not got.equals(expected):
            return f"{table_name}: tables differ"
    return None


def reference_decode(body: bytes) -> Decoded:
    return decode_traces(Request.FromString(body))


def assert_same_body(body: bytes) -> Decoded:
    """Run both decoders on ``body``: the fast one must accept it and agree exactly."""
    fast = decode_traces_wire(body)
    assert fast is not None, "the fast decoder declined a request it should take"
    problem = difference(fast, reference_decode(body))
    assert problem is None, problem
    return fast


def assert_declined(body: bytes) -> None:
    fast = decode_traces_wire(body)
    assert fast is None, f"the fast decoder took it: accepted {fast.accepted}, rejected {fast.rejected}"


def assert_same(request: Request) -> Decoded:
    return assert_same_body(request.SerializeToString())


def _plain_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(kind):
        return pa.int64()
    if pa.types.is_list(kind):
        return pa.list_(_plain_type(kind.value_type))
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(field.name, _plain_type(field.type)) for field in kind])
    return kind


def pylist(values: pa.ChunkedArray) -> list[Any]:
    """A column's Python values, timestamps as int nanoseconds (a datetime cannot hold them)."""
    return list(values.cast(_plain_type(values.type)).to_pylist())


def column(decoded: Decoded, name: str, table: str = "otel_spans") -> list[Any]:
    return pylist(decoded.batch.tables[table].column(name))


def attributes_of(decoded: Decoded, row: int = 0) -> dict[str, Any]:
    return dict(json.loads(column(decoded, "span_attributes")[row]))


# ---------------------------------------------------------------- known bugs, for the random tests


# ---------------------------------------------------------------- the extension is there


def test_extension_is_built_and_loaded() -> None:
    assert span_wire.AVAILABLE is True


def test_the_promotion_tables_are_configured_once() -> None:
    # decodes read the tables without the GIL: changing them under a running decode would race
    assert span_wire._spanwire is not None
    with pytest.raises(RuntimeError, match="once"):
        span_wire._spanwire.configure(span_wire._key_spec(SPAN_PROMOTED), span_wire._key_spec(RESOURCE_PROMOTED))


def test_empty_request_and_empty_containers_match() -> None:
    assert_same(Request())
    assert_same(Request(resource_spans=[TRACE_PB2.ResourceSpans()]))
    assert_same(Request(resource_spans=[TRACE_PB2.ResourceSpans(scope_spans=[TRACE_PB2.ScopeSpans()])]))
    decoded = assert_same_body(b"")
    assert (decoded.accepted, decoded.rejected, decoded.message) == (0, 0, "")


# ---------------------------------------------------------------- attribute values

VALUES: dict[str, object] = {
    "string": "text",
    "empty-string": "",
    "true": True,
    "false": False,
    "zero": 0,
    "negative": -42,
    "int64-min": INT64_MIN,
    "int64-max": INT64_MAX,
    "double": 1.5,
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "bytes": b"\x00\xff\x10",
    "empty-bytes": b"",
    "empty-anyvalue": None,
    "empty-array": [],
    "empty-kvlist": {},
    "array": [1, "a", 2.0, None, True, b"x", [], {}],
    "kvlist": {"a": 1, "b": [1.0, math.nan], "c": {"d": None, "e": b"\x01"}},
}


def _everywhere(value: object) -> Request:
    """``value`` at the top level, in arrays and in kvlists, in every attribute map of a request."""
    attributes = {
        "top": value,
        "in-array": [value],
        "in-array-twice": [value, value],
        "in-kvlist": {"x": value},
        "deep": {"l1": [{"l2": {"l3": [value, {"l4": value}]}}]},
    }
    span = make_span(attributes, events=[make_event(attributes=attributes)], links=[make_link(attributes)])
    return Request(
        resource_spans=[
            resource_spans({"service.name": "svc", **attributes}, scope_spans(span, attributes=attributes), dropped=2)
        ]
    )


@pytest.mark.parametrize("value", list(VALUES.values()), ids=list(VALUES))
def test_value_type_at_every_level_matches(value: object) -> None:
    assert_same(_everywhere(value))


ESCAPED = [
    "\x00",
    "\x01",
    "\x1f",
    "\b",
    "\f",
    "\n",
    "\r",
    "\t",
    "\x0b",
    "\x7f",
    '"',
    "\\",
    "/",
    "\u00e9",
    "\U0001f600",
    "\u2028",
    "\u2029",
    "\u07ff",
    "\u0800",
    "\ufeff",
    "\uffff",
    "\U0010ffff",
]


@pytest.mark.parametrize("char", ESCAPED, ids=[f"U+{ord(c):04X}" for c in ESCAPED])
def test_string_with_special_character_matches_everywhere(char: str) -> None:
    text = f"a{char}b{char}"
    attributes = {
        f"key{char}": text,
        "only": char,
        "array": [text, char],
        "kvlist": {char: text, f"{char}{char}": [char]},
        "http.route": text,
        "server.address": char,
    }
    span = make_span(
        attributes,
        name=text,
        trace_state=f"k={text}",
        status=TRACE_PB2.Status(message=text, code=TRACE_PB2.Status.STATUS_CODE_ERROR),
        events=[make_event(text, {char: char})],
        links=[make_link({text: text}, trace_state=text)],
    )
    resource = {"service.name": f"svc{char}", "host.name": text, char: [char]}
    scope = scope_spans(span, name=text, version=char, attributes={char: char}, schema_url=text)
    decoded = assert_same(Request(resource_spans=[resource_spans(resource, scope, schema_url=text)]))
    assert attributes_of(decoded)[f"key{char}"] == text


def test_long_strings_and_many_spans_match() -> None:
    long_text = "".join(ESCAPED) * 300 + "x" * 70_000  # past one buffer growth step, and past 16 KiB
    attributes = {f"key-{i}": ESCAPED[i % len(ESCAPED)] * i if i % 2 else i for i in range(128)}  # 128: the most
    spans = [make_span(attributes, span_id=bytes([i + 1]) * 8, name=str(i)) for i in range(40)]
    spans.append(make_span({"long": long_text, long_text: [long_text]}, name=long_text))
    assert_same(make_request(*spans))


TAGGED: dict[str, object] = {
    "bytesValue-alone": {"bytesValue": "not base64"},
    "doubleValue-alone": {"doubleValue": 1.0},
    "kvlistValue-alone": {"kvlistValue": {}},
    "tag-with-other-key": {"bytesValue": "x", "other": 1},
    "other-key-then-tag": {"other": 1, "doubleValue": "NaN"},
    "tag-in-array": [{"doubleValue": "Infinity"}, {"kvlistValue": {"bytesValue": b"\x01"}}],
    "tag-in-tag": {"kvlistValue": {"kvlistValue": {"bytesValue": b"\x01"}}},
    "almost-tags": [{"BytesValue": 1}, {"bytesValue ": 1}, {"stringValue": "s"}, {"intValue": 1}],
}


@pytest.mark.parametrize("value", list(TAGGED.values()), ids=list(TAGGED))
def test_kvlist_that_looks_like_a_tag_matches(value: object) -> None:
    assert_same(_everywhere(value))


def test_kvlist_with_a_single_tag_key_is_wrapped() -> None:
    decoded = assert_same(make_span_request({"x": {"bytesValue": "s"}, "y": {"bytesValue": "s", "z": 1}}))
    assert attributes_of(decoded) == {"x": {"kvlistValue": {"bytesValue": "s"}}, "y": {"bytesValue": "s", "z": 1}}


def test_attribute_map_named_like_a_tag_is_not_wrapped() -> None:
    tag_like = {"bytesValue": "s"}
    span = make_span(tag_like, events=[make_event(attributes=tag_like)], links=[make_link(tag_like)])
    decoded = assert_same(Request(resource_spans=[resource_spans(tag_like, scope_spans(span, attributes=tag_like))]))
    assert attributes_of(decoded) == tag_like
    assert json.loads(column(decoded, "events")[0][0]["attributes"]) == tag_like
    assert json.loads(column(decoded, "scope_attributes", "otel_resources")[0]) == tag_like


@pytest.mark.parametrize("length", [0, 1, 2, 3, 4, 5, 6, 255])
def test_bytes_values_are_padded_base64(length: int) -> None:
    raw = bytes((7 * i + 250) % 256 for i in range(length))
    decoded = assert_same(_everywhere(raw))
    assert attributes_of(decoded)["top"] == {"bytesValue": base64.b64encode(raw).decode("ascii")}


DOUBLES = [
    0.0,
    -0.0,
    1.0,
    -1.5,
    0.1,
    0.3,
    2 / 3,
    1e16,
    1e15,
    9999999999999998.0,
    1.0000000000000002e16,
    123456789012345.67,
    1e17,
    1e22,
    1e23,
    1.5e-7,
    1e-6,
    9.99e-6,
    0.0001,
    0.00012,
    0.001,
    5e-324,
    2.2250738585072014e-308,
    2.225073858507201e-308,
    1.7976931348623157e308,
    123456789.123,
    9007199254740993.0,
    float(2**53),
    0.5,
    1e300,
    -1e-300,
    math.nan,
    math.inf,
    -math.inf,
]


@pytest.mark.parametrize("x", DOUBLES, ids=[repr(x) for x in DOUBLES])
def test_double_matches_in_json_and_promoted_text(x: float) -> None:
    request = Request(
        resource_spans=[
            resource_spans(
                {"service.name": "svc", "host.name": x, "d": x},
                scope_spans(make_span({"d": x, "a": [x, {"d": x}], "url.full": x, "server.address": x})),
            )
        ]
    )
    decoded = assert_same(request)
    if math.isfinite(x):
        assert column(decoded, "url_full") == [str(x)]
        assert column(decoded, "host_name", "otel_resources") == [str(x)]
        stored = attributes_of(decoded)["d"]
        assert isinstance(stored, float)
        assert stored == x
        assert math.copysign(1.0, stored) == math.copysign(1.0, x)
    else:
        assert column(decoded, "url_full") == [None]


@pytest.mark.parametrize("x", [1e-5, 1.5e-5, 9.5e-05, -2.5e-5, 1.2345678901234567e-5])
def test_double_between_1e_5_and_1e_4_matches(x: float) -> None:
    assert_same(make_span_request({"d": x}))


@pytest.mark.parametrize("x", [2.0**-24, 2.0**-44, 2.0**89, 2.0**-1017], ids=["2**-24", "2**-44", "2**89", "2**-1017"])
def test_double_with_asymmetric_rounding_interval_matches(x: float) -> None:
    decoded = decode_traces_wire(make_span_request({"url.full": x}).SerializeToString())
    assert decoded is not None
    assert column(decoded, "url_full") == [str(x)]  # the promoted column alone shows the bug too
    assert_same(make_span_request({"d": x, "url.full": x}))


def test_random_doubles_from_bit_patterns_match() -> None:
    rng = random.Random(20240611)
    values: list[float] = []
    while len(values) < 400:
        (x,) = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))
        values.append(x)
    attributes = {f"d{i}": x for i, x in enumerate(values)}
    spans = [make_span(dict(itertools.islice(attributes.items(), i, i + 100))) for i in range(0, 400, 100)]
    spans += [make_span({"url.full": x, "server.address": x}, span_id=struct.pack("<d", 1.0)) for x in values]
    assert_same(make_request(*spans))


def test_random_short_decimals_match() -> None:
    """Decimals of up to 17 digits at every scale: the printf-free path and its hand-off."""
    rng = random.Random(20261126)
    values: list[float] = [1e15 - 1, 1e15, 1e15 + 1, 999999999999999.9, 0.1 + 0.2, 1e-22, 123e-22, -0.0]
    while len(values) < 600:
        digits = rng.randint(1, 17)
        values.append(rng.choice((1, -1)) * rng.randrange(10**digits) / 10 ** rng.randint(0, 24))
    spans = [make_span({"url.full": x, "server.address": x, "d": x, "a": [x]}) for x in values]
    decoded = assert_same(make_request(*spans))
    assert column(decoded, "url_full") == [str(x) for x in values]


@pytest.mark.parametrize("position", range(17))
@pytest.mark.parametrize("special", ['"', "\\", "\n", "\x00", "\x1f", "\x7f", "\u00e9"])
def test_escapes_at_every_position_of_a_word_match(position: int, special: str) -> None:
    text = "abcdefghijklmnop"[:position] + special + "qrstuvwxyz0123456"[position:]
    decoded = assert_same(make_span_request({"k": text, text: [text]}))
    assert attributes_of(decoded)["k"] == text


@pytest.mark.parametrize("value", [INT64_MIN, INT64_MIN + 1, -1, 0, 1, 2**31, 2**32, 2**53 + 1, INT64_MAX, True, False])
def test_integers_and_bools_match(value: int) -> None:
    decoded = assert_same(_everywhere(value))
    assert attributes_of(decoded)["top"] == value


# ---------------------------------------------------------------- promoted columns


def _promoted_cases() -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (scope, name, keys)
        for scope, columns in (("span", SPAN_PROMOTED), ("resource", RESOURCE_PROMOTED))
        for name, keys in columns.items()
    ]


def _promotion_request(scope: str, attributes: Attributes) -> Request:
    if scope == "span":
        return make_span_request(attributes)
    return make_request(make_span(), resource=attributes)


@pytest.mark.parametrize(("scope", "name", "keys"), _promoted_cases(), ids=[c[1] for c in _promoted_cases()])
def test_promoted_column_takes_the_newest_key_in_any_order(scope: str, name: str, keys: tuple[str, ...]) -> None:
    table = "otel_spans" if scope == "span" else "otel_resources"
    integer = name in INTEGER_COLUMNS

    def value_of(rank: int) -> int | str:
        return 8000 + rank if integer else f"value-{rank}"

    for order in itertools.permutations(range(len(keys))):
        attributes = [(keys[rank], value_of(rank)) for rank in order]
        for present in range(1, len(order) + 1):  # every prefix: the best key present wins
            subset = attributes[:present]
            decoded = assert_same(_promotion_request(scope, subset))
            assert column(decoded, name, table) == [value_of(min(rank for rank in order[:present]))]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (200, 200),
        ("200", 200),
        ("+7", 7),
        ("-1", -1),
        ("007", 7),
        ("-0", 0),
        ("0000000000000000000000000000042", 42),
        ("9223372036854775807", INT64_MAX),
        ("-9223372036854775808", INT64_MIN),
        (INT64_MIN, INT64_MIN),
        (INT64_MAX, INT64_MAX),
        (" 200", None),
        ("200 ", None),
        ("200\n", None),
        ("2_00", None),
        ("1.5", None),
        ("1e3", None),
        ("0x10", None),
        ("", None),
        ("+", None),
        ("-", None),
        ("+-1", None),
        ("9223372036854775808", None),
        ("-9223372036854775809", None),
        ("99999999999999999999", None),
        ("\u0663", None),
        ("\uff12\uff10\uff10", None),
        (True, None),
        (False, None),
        (200.0, None),
        (b"200", None),
        ([200], None),
        ({"a": 200}, None),
        (None, None),
    ],
    ids=repr,
)
def test_integer_column_takes_ints_and_plain_decimals(value: object, expected: int | None) -> None:
    decoded = assert_same(make_span_request({"network.peer.port": value, "net.sock.peer.port": value}))
    assert column(decoded, "network_peer_port") == [expected]


def test_integer_column_skips_an_unusable_newer_key() -> None:
    decoded = assert_same(make_span_request({"network.peer.port": "abc", "net.sock.peer.port": 404}))
    assert column(decoded, "network_peer_port") == [404]
    decoded = assert_same(make_span_request({"net.sock.peer.port": "8080", "network.peer.port": 1.0}))
    assert column(decoded, "network_peer_port") == [8080]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("GET", "GET"),
        ("", ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (INT64_MIN, str(INT64_MIN)),
        (1.0, "1.0"),
        (1e16, "1e+16"),
        (1.5e-7, "1.5e-07"),
        (-0.0, "-0.0"),
        (math.nan, None),
        (math.inf, None),
        (b"GET", None),
        (["GET"], None),
        ({"m": "GET"}, None),
        (None, None),
    ],
    ids=repr,
)
def test_text_column_takes_the_string_form_of_scalars(value: object, expected: str | None) -> None:
    decoded = assert_same(make_span_request({"http.request.method": value, "service.peer.name": value}))
    assert column(decoded, "http_request_method") == [expected]
    assert column(decoded, "peer_service") == [expected]
    decoded = assert_same(make_request(make_span(), resource={"host.name": value, "service.version": value}))
    assert column(decoded, "host_name", "otel_resources") == [expected]


def test_text_column_skips_an_unusable_newer_key() -> None:
    decoded = assert_same(make_span_request({"http.request.method": [1], "http.method": 7}))
    assert column(decoded, "http_request_method") == ["7"]


# ---------------------------------------------------------------- span structure


def test_events_and_links_with_attributes_match() -> None:
    span = make_span(
        {"k": "v"},
        events=[
            make_event("first", {"a": 1, "b": [1.5]}, dropped_attributes_count=3),
            make_event("", time_unix_nano=0),
            make_event("last", time_unix_nano=2**63 - 1),
        ],
        links=[
            make_link({"l": b"\x00"}, trace_state="a=b", dropped_attributes_count=4, flags=0x301),
            make_link(flags=2**32 - 1),
        ],
        dropped_attributes_count=5,
        dropped_events_count=6,
        dropped_links_count=2**32 - 1,
    )
    decoded = assert_same(make_request(span, make_span(span_id=PARENT_ID)))
    assert [len(events) for events in column(decoded, "events")] == [3, 0]
    assert [len(links) for links in column(decoded, "links")] == [2, 0]


@pytest.mark.parametrize("parent", [b"", PARENT_ID, bytes(8)], ids=["empty", "set", "all-zero"])
def test_parent_span_id_matches(parent: bytes) -> None:
    decoded = assert_same(make_request(make_span(parent_span_id=parent)))
    assert column(decoded, "parent_span_id") == [parent.hex()]


KINDS = [0, 1, 2, 3, 4, 5, 6, 9, -1, -5, 2**31 - 1, -(2**31)]


@pytest.mark.parametrize("kind", KINDS)
def test_span_kinds_and_status_codes_match_including_unknown_values(kind: int) -> None:
    span = make_span(
        kind=TRACE_PB2.Span.SpanKind.ValueType(kind),
        status=TRACE_PB2.Status(code=TRACE_PB2.Status.StatusCode.ValueType(kind), message="m"),
    )
    decoded = assert_same(make_request(span))
    kinds = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
    assert column(decoded, "span_kind") == [kinds[kind] if 0 <= kind < 6 else "Unspecified"]
    assert column(decoded, "status_code") == [("Unset", "Ok", "Error")[kind] if 0 <= kind < 3 else "Unset"]


def test_span_scalars_match() -> None:
    spans = [
        make_span(trace_state="rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", flags=0x101),
        make_span(flags=2**32 - 1, start_time_unix_nano=0, end_time_unix_nano=0),
        make_span(start_time_unix_nano=INT64_MAX, end_time_unix_nano=0),  # negative duration
        make_span(start_time_unix_nano=0, end_time_unix_nano=INT64_MAX),
        make_span(name="", status=TRACE_PB2.Status()),
    ]
    decoded = assert_same(make_request(*spans))
    assert column(decoded, "duration")[2:4] == [-INT64_MAX, INT64_MAX]


def test_several_resources_and_scopes_match() -> None:
    def span(i: int) -> TRACE_PB2.Span:
        return make_span({"i": i}, span_id=bytes([i + 1]) * 8)

    request = Request(
        resource_spans=[
            resource_spans(
                {"service.name": "a", "deployment.environment": "prod"},
                scope_spans(span(0), span(1), name="s1", attributes={"x": 1}, schema_url="https://s/1"),
                scope_spans(),  # a scope with no spans: no otel_resources row
                scope_spans(span(2), name="s2", version=""),
                schema_url="https://r/1",
                dropped=3,
            ),
            resource_spans({}),  # no scopes at all
            resource_spans({"service.name": "b"}, scope_spans(span(3), name="s1", attributes={"x": 1})),
            resource_spans({"service.name": "a", "deployment.environment": "prod"}, scope_spans(span(4), name="s1")),
        ]
    )
    decoded = assert_same(request)
    assert column(decoded, "service_name") == ["a", "a", "a", "b", "a"]
    assert decoded.batch.tables["otel_resources"].num_rows == 4


@pytest.mark.parametrize(
    ("resource", "service"),
    [
        ({}, "unknown_service"),
        ({"host.name": "h"}, "unknown_service"),
        ({"service.name": ""}, "unknown_service"),
        ({"service.name": 5}, "unknown_service"),
        ({"service.name": True}, "unknown_service"),
        ({"service.name": b"svc"}, "unknown_service"),
        ({"service.name": ["svc"]}, "unknown_service"),
        ({"service.name": None}, "unknown_service"),
        ({"service.name": "svc \u00e9\U0001f600"}, "svc \u00e9\U0001f600"),
        ({"service.namespace": "ns", "service.name": "svc"}, "svc"),
    ],
    ids=repr,
)
def test_service_name_matches(resource: dict[str, object], service: str) -> None:
    decoded = assert_same(make_request(make_span(), resource=resource))
    assert column(decoded, "service_name") == [service]
    assert column(decoded, "service_name", "otel_resources") == [service]


def test_unknown_fields_everywhere_are_ignored() -> None:
    def message(payload: bytes) -> bytes:  # unknown fields before and after the known ones
        return UNKNOWN_FIELDS + payload + UNKNOWN_FIELDS

    leaf = message(field_bytes(ANY_STRING, b"v"))
    array = message(field_bytes(ANY_ARRAY, message(field_bytes(1, leaf) + field_bytes(1, leaf))))
    kvs = message(field_bytes(ANY_KVLIST, message(field_bytes(1, message(wire_key_value(b"n", array))))))
    attribute = message(wire_key_value(b"k", kvs))
    event = message(make_event().SerializeToString() + field_bytes(3, attribute))
    link = message(make_link().SerializeToString() + field_bytes(4, attribute))
    status = message(TRACE_PB2.Status(code=TRACE_PB2.Status.STATUS_CODE_OK, message="m").SerializeToString())
    span = message(
        make_span({"http.route": "/r"}).SerializeToString()
        + field_bytes(SPAN_ATTRIBUTES, attribute)
        + field_bytes(SPAN_EVENTS, event)
        + field_bytes(SPAN_LINKS, link)
        + field_bytes(SPAN_STATUS, status)
    )
    scope = message(field_bytes(1, b"lib") + field_bytes(3, attribute))
    resource = message(field_bytes(1, wire_key_value(b"service.name", message(field_bytes(ANY_STRING, b"svc")))))
    scope_spans_bytes = message(field_bytes(1, scope) + field_bytes(2, span))
    body = message(field_bytes(1, message(field_bytes(1, resource) + field_bytes(2, scope_spans_bytes))))
    decoded = assert_same_body(body)
    assert attributes_of(decoded) == {"http.route": "/r", "k": {"n": ["v", "v"]}}
    # the same request without the unknown fields gives the same rows
    clean = make_span(
        {"http.route": "/r", "k": {"n": ["v", "v"]}},
        events=[make_event(attributes={"k": {"n": ["v", "v"]}})],
        links=[make_link({"k": {"n": ["v", "v"]}})],
        status=TRACE_PB2.Status(code=TRACE_PB2.Status.STATUS_CODE_OK, message="m"),
    )
    clean_request = Request(
        resource_spans=[
            resource_spans({"service.name": "svc"}, scope_spans(clean, version="", attributes={"k": {"n": ["v", "v"]}}))
        ]
    )
    assert difference(decoded, assert_same(clean_request)) is None


def test_last_value_of_a_repeated_scalar_field_wins_as_in_protobuf() -> None:
    span = wire_span(
        field_bytes(5, b"first"),
        field_bytes(5, b"second"),
        field_varint(6, 1),
        field_varint(6, 3),
        field_fixed64(SPAN_START, 5),
        field_fixed64(SPAN_START, 7),
        field_bytes(3, b"a=1"),
        field_bytes(3, b"b=2"),
        field_varint(10, 2**32 + 5),  # uint32 fields keep the low 32 bits
        field_varint(6, 2**32 + 2),
    )
    decoded = assert_same_body(wire_request(span))
    assert column(decoded, "span_name") == ["second"]
    assert column(decoded, "dropped_attributes_count") == [5]


def test_anyvalue_oddities_protobuf_accepts_match() -> None:
    spans = [
        wire_span(wire_attribute(b"bool-2", field_varint(2, 2))),  # any non-zero varint is true
        wire_span(wire_attribute(b"no-value", b"")),
        wire_span(field_bytes(SPAN_ATTRIBUTES, field_bytes(1, b"no-value-field"))),
        wire_span(field_bytes(SPAN_ATTRIBUTES, field_bytes(2, field_varint(ANY_INT, 1)))),  # no key: ""
        wire_span(wire_attribute(b"negative-int", field_varint(ANY_INT, -5))),
        wire_span(field_bytes(SPAN_ATTRIBUTES, wire_key_value(b"k", b"") + field_varint(3, 7))),  # key_strindex
    ]
    for span in spans:
        assert_same_body(wire_request(span))


def test_nesting_and_map_size_at_the_limits_match() -> None:
    assert_same_body(wire_request(wire_span(wire_attribute(b"a", nested_arrays(20)))))
    assert_same_body(wire_request(wire_span(wire_attribute(b"k", nested_kvlists(19)))))
    assert_declined(wire_request(wire_span(wire_attribute(b"a", nested_arrays(21)))))
    assert_same_body(wire_request(wire_span(wire_attribute(b"k", field_bytes(ANY_KVLIST, many_keys(128))))))
    most = {f"k{i}": i for i in range(128)}
    span = make_span(most, events=[make_event(attributes=most)], links=[make_link(most)])
    assert_same(Request(resource_spans=[resource_spans(most, scope_spans(span, attributes=most))]))


# ---------------------------------------------------------------- rejected spans (partial success)

BAD_TRACE = "trace_id is not 16 bytes (or is all zero)"
BAD_SPAN = "span_id is not 8 bytes (or is all zero)"
BAD_PARENT = "parent_span_id is neither empty nor 8 bytes"
BAD_LINK = "a link's trace_id or span_id is invalid"

REJECTED: dict[str, tuple[dict[str, Any], str]] = {
    "trace-empty": ({"trace_id": b""}, BAD_TRACE),
    "trace-15": ({"trace_id": TRACE_ID[:15]}, BAD_TRACE),
    "trace-17": ({"trace_id": TRACE_ID + b"\x01"}, BAD_TRACE),
    "trace-zero": ({"trace_id": bytes(16)}, BAD_TRACE),
    "trace-and-span-bad": ({"trace_id": b"", "span_id": b""}, BAD_TRACE),
    "span-empty": ({"span_id": b""}, BAD_SPAN),
    "span-7": ({"span_id": SPAN_ID[:7]}, BAD_SPAN),
    "span-9": ({"span_id": SPAN_ID + b"\x01"}, BAD_SPAN),
    "span-zero": ({"span_id": bytes(8)}, BAD_SPAN),
    "parent-3": ({"parent_span_id": b"\x01\x02\x03"}, BAD_PARENT),
    "parent-16": ({"parent_span_id": TRACE_ID}, BAD_PARENT),
    "link-trace-zero": ({"links": [make_link(trace_id=bytes(16))]}, BAD_LINK),
    "link-trace-missing": ({"links": [make_link(trace_id=b"")]}, BAD_LINK),
    "link-span-3": ({"links": [make_link(), make_link(span_id=b"\x01\x02\x03")]}, BAD_LINK),
    "link-span-zero": ({"links": [make_link(span_id=bytes(8))]}, BAD_LINK),
}


@pytest.mark.parametrize(("fields", "reason"), list(REJECTED.values()), ids=list(REJECTED))
def test_request_with_an_invalid_span_goes_to_the_reference_decoder(fields: dict[str, Any], reason: str) -> None:
    bad = make_span({"http.route": "/x"}, events=[make_event(attributes={"a": 1})], **fields)
    body = make_request(make_span(), bad, make_span(span_id=PARENT_ID)).SerializeToString()
    assert_declined(body)
    decoded = reference_decode(body)
    assert (decoded.accepted, decoded.rejected) == (2, 1)
    assert decoded.message == f"rejected 1 spans: {reason} (1)"


def test_rejection_message_counts_reasons_with_ties_in_first_seen_order() -> None:
    def bad(reason: str) -> TRACE_PB2.Span:
        return make_span(**next(fields for fields, why in REJECTED.values() if why == reason))

    request = Request(
        resource_spans=[
            resource_spans({"service.name": "a"}, scope_spans(bad(BAD_LINK), make_span(), bad(BAD_PARENT))),
            resource_spans({"service.name": "b"}, scope_spans(bad(BAD_TRACE)), scope_spans(make_span())),
            resource_spans({"service.name": "c"}, scope_spans(bad(BAD_SPAN), bad(BAD_TRACE), bad(BAD_PARENT))),
        ]
    )
    body = request.SerializeToString()
    assert_declined(body)
    decoded = reference_decode(body)
    assert (decoded.accepted, decoded.rejected) == (2, 6)
    assert decoded.message == f"rejected 6 spans: {BAD_PARENT} (2); {BAD_TRACE} (2); {BAD_LINK} (1); {BAD_SPAN} (1)"
    assert column(decoded, "service_name") == ["a", "b"]


# ---------------------------------------------------------------- requests the fast path declines

VALID_BODY = make_request(make_span({"k": "v"}, events=[make_event()], links=[make_link()])).SerializeToString()
INVALID_UTF8 = {
    "ff": b"\xff",
    "lone-continuation": b"a\x80",
    "overlong-nul": b"\xc0\x80",
    "overlong-3": b"\xe0\x80\xaf",
    "surrogate": b"\xed\xa0\x80",
    "above-10ffff": b"\xf4\x90\x80\x80",
    "five-byte": b"\xf8\x88\x80\x80\x80",
    "truncated-3": b"x\xe2\x82",
    "truncated-4-mid-chunk": b"abcdefg\xf0\x9f\x98",
}


def _utf8_declines() -> dict[str, bytes]:
    cases: dict[str, bytes] = {}
    for label, bad in INVALID_UTF8.items():
        cases[f"span-name-{label}"] = wire_request(wire_span(field_bytes(5, bad)))
    bad = INVALID_UTF8["ff"]
    string = field_bytes(ANY_STRING, bad)
    cases.update(
        {
            "trace-state": wire_request(wire_span(field_bytes(3, bad))),
            "status-message": wire_request(wire_span(field_bytes(SPAN_STATUS, field_bytes(2, bad)))),
            "event-name": wire_request(wire_span(field_bytes(SPAN_EVENTS, field_bytes(2, bad)))),
            "link-trace-state": wire_request(
                wire_span(field_bytes(SPAN_LINKS, make_link().SerializeToString() + field_bytes(3, bad)))
            ),
            "attribute-key": wire_request(wire_span(wire_attribute(bad, field_varint(ANY_INT, 1)))),
            "attribute-value": wire_request(wire_span(wire_attribute(b"k", string))),
            "array-item": wire_request(wire_span(wire_attribute(b"k", field_bytes(ANY_ARRAY, field_bytes(1, string))))),
            "kvlist-key": wire_request(
                wire_span(wire_attribute(b"k", field_bytes(ANY_KVLIST, field_bytes(1, wire_key_value(bad, b"")))))
            ),
            "event-attribute": wire_request(
                wire_span(field_bytes(SPAN_EVENTS, field_bytes(3, wire_key_value(b"k", string))))
            ),
            "scope-name": wire_request(wire_span(), scope=field_bytes(1, bad)),
            "scope-version": wire_request(wire_span(), scope=field_bytes(2, bad)),
            "resource-attribute": wire_request(wire_span(), resource=field_bytes(1, wire_key_value(b"k", string))),
            "resource-schema-url": field_bytes(1, field_bytes(2, field_bytes(2, wire_span())) + field_bytes(3, bad)),
            "scope-schema-url": field_bytes(1, field_bytes(2, field_bytes(2, wire_span()) + field_bytes(3, bad))),
        }
    )
    return {f"utf8-{name}": body for name, body in cases.items()}


# bytes protobuf itself rejects (DecodeError): the reference decoder answers with the error
DECLINED_MALFORMED: dict[str, bytes] = {
    "truncated-by-1": VALID_BODY[:-1],
    "truncated-by-5": VALID_BODY[:-5],
    "truncated-to-1": VALID_BODY[:1],
    "truncated-length": field_bytes(1, b"")[:1],
    "length-past-end": tag(1, 2) + varint(50) + b"\x00" * 10,
    "bad-varint-11-bytes": wire_request(wire_span(tag(99, 0) + b"\xff" * 11)),
    "bad-varint-at-top": b"\xff" * 11,
    "varint-unterminated": wire_request(wire_span(tag(99, 0) + b"\x80\x80")),
    "wire-type-6": wire_request(wire_span(tag(99, 6))),
    "wire-type-7": tag(5, 7),
    "field-zero": wire_request(wire_span(field_varint(0, 1))),
    "unterminated-group": wire_request(wire_span(tag(99, 3) + field_varint(1, 1))),
    "stray-end-group": wire_request(wire_span(tag(99, 4))),
    "anyvalue-truncated-double": wire_request(wire_span(wire_attribute(b"k", tag(4, 1) + b"\x00\x00"))),
    "kvlist-depth-33": wire_request(wire_span(wire_attribute(b"k", nested_kvlists(33)))),
    **_utf8_declines(),
}

# valid protobuf the fast path leaves to the reference decoder
DECLINED_WELL_FORMED: dict[str, bytes] = {
    "group-in-span": wire_request(wire_span(tag(99, 3) + field_varint(1, 1) + tag(99, 4))),
    "group-at-top": tag(7, 3) + tag(7, 4) + VALID_BODY,
    "wrong-wire-type-known-field": wire_request(wire_span(field_varint(5, 1))),
    "wrong-wire-type-status-code": wire_request(wire_span(field_bytes(SPAN_STATUS, field_bytes(3, b"")))),
    "array-item-not-a-message": wire_request(
        wire_span(wire_attribute(b"k", field_bytes(ANY_ARRAY, field_varint(1, 3))))
    ),
    "duplicate-key-top": make_span_request([("k", 1), ("k", 2)]).SerializeToString(),
    "duplicate-key-same-value": make_span_request([("k", "v"), ("k", "v")]).SerializeToString(),
    "duplicate-key-in-kvlist": make_span_request({"k": kvlist(("a", 1), ("a", 1))}).SerializeToString(),
    "duplicate-key-deep": make_span_request({"k": [{"l": [kvlist(("b", 1), ("c", 2), ("b", 3))]}]}).SerializeToString(),
    "duplicate-key-event": make_request(
        make_span(events=[make_event(attributes=[("a", 1), ("a", 1)])])
    ).SerializeToString(),
    "duplicate-key-link": make_request(make_span(links=[make_link([("a", 1), ("a", 2)])])).SerializeToString(),
    "duplicate-key-resource": make_request(
        make_span(), resource=[("service.name", "a"), ("service.name", "b")]
    ).SerializeToString(),
    "duplicate-key-scope": Request(
        resource_spans=[resource_spans({}, scope_spans(make_span(), attributes=[("x", 1), ("x", 1)]))]
    ).SerializeToString(),
    "two-values-string-int": wire_request(wire_span(wire_attribute(b"k", field_bytes(1, b"s") + field_varint(3, 1)))),
    "two-values-same-field": wire_request(wire_span(wire_attribute(b"k", field_varint(3, 1) + field_varint(3, 1)))),
    "two-values-array-kvlist": wire_request(
        wire_span(wire_attribute(b"k", field_bytes(ANY_ARRAY, b"") + field_bytes(ANY_KVLIST, b"")))
    ),
    "two-values-nested": wire_request(
        wire_span(wire_attribute(b"k", field_bytes(ANY_ARRAY, field_bytes(1, field_varint(2, 1) + field_varint(3, 1)))))
    ),
    "status-twice": wire_request(wire_span(field_bytes(SPAN_STATUS, b"") + field_bytes(SPAN_STATUS, b""))),
    "resource-twice": field_bytes(
        1, field_bytes(1, b"") + field_bytes(1, b"") + field_bytes(2, field_bytes(2, wire_span()))
    ),
    "scope-twice": field_bytes(
        1, field_bytes(2, field_bytes(1, b"") + field_bytes(1, b"") + field_bytes(2, wire_span()))
    ),
    "keyvalue-value-twice": wire_request(
        wire_span(field_bytes(SPAN_ATTRIBUTES, wire_key_value(b"k", b"") + field_bytes(2, field_varint(3, 1))))
    ),
    "keyvalue-key-twice": wire_request(
        wire_span(field_bytes(SPAN_ATTRIBUTES, field_bytes(1, b"a") + wire_key_value(b"b", b"")))
    ),
    "array-depth-33": wire_request(wire_span(wire_attribute(b"a", nested_arrays(33)))),
    "array-depth-40": wire_request(wire_span(wire_attribute(b"a", nested_arrays(40)))),
    "event-array-depth-33": wire_request(
        wire_span(field_bytes(SPAN_EVENTS, field_bytes(3, wire_key_value(b"a", nested_arrays(33)))))
    ),
    "span-129-keys": make_span_request({f"k{i}": i for i in range(129)}).SerializeToString(),
    "kvlist-129-keys": wire_request(wire_span(wire_attribute(b"k", field_bytes(ANY_KVLIST, many_keys(129))))),
    "resource-129-keys": make_request(make_span(), resource={f"k{i}": i for i in range(129)}).SerializeToString(),
    "event-129-keys": make_request(
        make_span(events=[make_event(attributes={f"k{i}": i for i in range(129)})])
    ).SerializeToString(),
    "start-2**63": wire_request(wire_span(field_fixed64(SPAN_START, 2**63))),
    "start-2**64-1": wire_request(wire_span(field_fixed64(SPAN_START, 2**64 - 1))),
    "end-2**63": wire_request(wire_span(field_fixed64(SPAN_END, 2**63))),
    "event-time-2**63": wire_request(wire_span(field_bytes(SPAN_EVENTS, field_fixed64(1, 2**63)))),
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


# ---------------------------------------------------------------- known bugs: accepted where protobuf fails

UNPARSED_BAD = {
    "resource-entity-ref-invalid-utf8": wire_request(wire_span(), resource=field_bytes(3, field_bytes(2, b"\xff"))),
    "scope-without-spans-invalid-utf8": field_bytes(1, field_bytes(2, field_bytes(1, field_bytes(1, b"\xff")))),
    "scope-of-rejected-span-invalid-utf8": wire_request(wire_span(trace_id=b""), scope=field_bytes(1, b"\xff")),
    "rejected-span-attribute-invalid-utf8": wire_request(
        wire_span(wire_attribute(b"k", field_bytes(ANY_STRING, b"\xff")), trace_id=b"")
    ),
    "rejected-span-attribute-truncated": wire_request(wire_span(wire_attribute(b"k", b"\x0a\x05ab"), trace_id=b"")),
    "rejected-span-event-invalid-utf8": wire_request(
        wire_span(field_bytes(SPAN_EVENTS, field_bytes(2, b"\xff")), trace_id=b"")
    ),
    "rejected-span-link-trace-state-invalid-utf8": wire_request(
        wire_span(field_bytes(SPAN_LINKS, make_link().SerializeToString() + field_bytes(3, b"\xff")), span_id=b"")
    ),
}


@pytest.mark.parametrize("body", list(UNPARSED_BAD.values()), ids=list(UNPARSED_BAD))
def test_bytes_protobuf_rejects_are_declined_even_where_not_read(body: bytes) -> None:
    with pytest.raises(DecodeError):
        Request.FromString(body)
    assert_declined(body)


def test_kvlists_nested_past_the_protobuf_recursion_limit_are_declined() -> None:
    body = wire_request(wire_span(wire_attribute(b"k", nested_kvlists(32))))
    with pytest.raises(DecodeError):
        Request.FromString(body)
    assert_declined(body)


@pytest.mark.parametrize(
    "value",
    [field_bytes(ANY_STRING, b"s"), field_varint(ANY_INT, 7), field_varint(2, 1), field_bytes(ANY_ARRAY, b"")],
    ids=["string", "int", "bool", "array"],
)
def test_string_value_strindex_is_left_to_the_reference(value: bytes) -> None:
    assert_declined(wire_request(wire_span(wire_attribute(b"k", value + field_varint(ANY_STRINDEX, 3)))))
    assert_declined(wire_request(wire_span(wire_attribute(b"k", field_varint(ANY_STRINDEX, 3)))))


# ---------------------------------------------------------------- random requests

CHARS = (
    [chr(c) for c in range(0x20, 0x7F)] * 3
    + [chr(c) for c in range(0x20)]
    + ['"', "\\", "\x7f", "\u00e9", "\u00ff", "\u2028", "\u4e2d", "\ufeff", "\U0001f600", "\U0010ffff"]
)
PROMOTED_KEYS = [key for columns in (SPAN_PROMOTED, RESOURCE_PROMOTED) for keys in columns.values() for key in keys]
INTERESTING_DOUBLES = DOUBLES


class RandomRequests:
    """Random export requests built through the protobuf API, from one seed."""

    def __init__(self, seed: int, valid_only: bool = False) -> None:
        self.rng = random.Random(seed)
        self.valid_only = valid_only  # no rejected spans, no repeated keys, no huge timestamps, no empty scopes

    def text(self, longest: int = 10) -> str:
        rng = self.rng
        if rng.random() < 0.3:
            return "".join(rng.choice(CHARS) for _ in range(rng.randint(0, longest)))
        out = []
        for _ in range(rng.randint(0, longest)):
            code = rng.choice((rng.randint(0x20, 0x7E), rng.randint(0, 0x7FF), rng.randint(0, 0x10FFFF)))
            out.append(chr(code) if not 0xD800 <= code <= 0xDFFF else "?")
        return "".join(out)

    def double(self) -> float:
        rng = self.rng
        while True:
            choice = rng.randrange(5)
            if choice == 0:
                x = rng.choice(INTERESTING_DOUBLES)
            elif choice == 1:
                (x,) = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))
            elif choice == 2:
                x = rng.uniform(-1e6, 1e6)
            elif choice == 3:
                x = rng.choice((1, -1)) * 10 ** rng.uniform(-30, 30)
            else:
                x = float(rng.randint(-(10**6), 10**6)) / rng.choice((1, 2, 10, 1000))
            return x

    def key(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.25:
            return rng.choice(PROMOTED_KEYS)
        if roll < 0.3:
            return rng.choice(("bytesValue", "doubleValue", "kvlistValue", "service.name"))
        return self.text(6)

    def scalar_for_promotion(self) -> object:
        rng = self.rng
        return rng.choice(
            (str(rng.randint(-1000, 1000)), f"+{rng.randint(0, 99)}", f"0{rng.randint(0, 9)}", str(2**63), " 1")
        )

    def value(self, depth: int) -> COMMON_PB2.AnyValue:
        rng = self.rng
        kinds = ["string", "bool", "int", "double", "bytes", "empty", "decimal"]
        if depth < 4:
            kinds += ["array", "kvlist"]
        kind = rng.choice(kinds)
        if kind == "string":
            return any_value(self.text())
        if kind == "bool":
            return any_value(rng.random() < 0.5)
        if kind == "int":
            return any_value(rng.choice((rng.randint(INT64_MIN, INT64_MAX), rng.randint(-300, 300), INT64_MIN)))
        if kind == "double":
            return any_value(self.double())
        if kind == "bytes":
            return any_value(rng.randbytes(rng.randint(0, 8)))
        if kind == "decimal":
            return any_value(self.scalar_for_promotion())
        if kind == "array":
            return COMMON_PB2.AnyValue(
                array_value=COMMON_PB2.ArrayValue(values=[self.value(depth + 1) for _ in range(rng.randint(0, 4))])
            )
        if kind == "kvlist":
            return COMMON_PB2.AnyValue(kvlist_value=COMMON_PB2.KeyValueList(values=self.attributes(depth + 1, 4)))
        return COMMON_PB2.AnyValue()

    def attributes(self, depth: int = 0, most: int = 8) -> list[COMMON_PB2.KeyValue]:
        rng = self.rng
        out: list[COMMON_PB2.KeyValue] = []
        seen: set[str] = set()
        for _ in range(rng.randint(0, most)):
            key = self.key()
            if out and not self.valid_only and rng.random() < 0.004:
                key = rng.choice(out).key  # a repeated key: the fast path declines
            elif key in seen:
                continue
            seen.add(key)
            out.append(COMMON_PB2.KeyValue(key=key, value=self.value(depth)))
        return out

    def id(self, length: int) -> bytes:
        rng = self.rng
        if self.valid_only or rng.random() < 0.9:
            return bytes([rng.randint(1, 255)]) + rng.randbytes(length - 1)
        return rng.choice((b"", bytes(length), rng.randbytes(length - 1), rng.randbytes(length + 1)))

    def timestamp(self) -> int:
        rng = self.rng
        if not self.valid_only and rng.random() < 0.003:
            return rng.randint(2**63, 2**64 - 1)
        return rng.choice((0, rng.randint(0, 2**63 - 1), START + rng.randint(0, 10**9)))

    def span(self) -> TRACE_PB2.Span:
        rng = self.rng
        parent = rng.choice((b"", self.id(8), bytes(8)))
        if not self.valid_only and rng.random() < 0.05:
            parent = rng.randbytes(3)
        span = TRACE_PB2.Span(
            trace_id=self.id(16),
            span_id=self.id(8),
            parent_span_id=parent,
            trace_state=self.text(5),
            flags=rng.choice((0, 1, 0x301, rng.getrandbits(32))),
            name=self.text(12),
            kind=TRACE_PB2.Span.SpanKind.ValueType(rng.randint(-2, 8)),
            start_time_unix_nano=self.timestamp(),
            end_time_unix_nano=self.timestamp(),
            attributes=self.attributes(),
            dropped_attributes_count=rng.choice((0, rng.getrandbits(32))),
            dropped_events_count=rng.choice((0, 3)),
            dropped_links_count=rng.choice((0, 2**32 - 1)),
        )
        if rng.random() < 0.7:
            code = TRACE_PB2.Status.StatusCode.ValueType(rng.randint(-1, 4))
            span.status.CopyFrom(TRACE_PB2.Status(code=code, message=self.text(6)))
        for _ in range(rng.choice((0, 0, 1, 2))):
            span.events.add(
                time_unix_nano=self.timestamp(),
                name=self.text(6),
                attributes=self.attributes(most=4),
                dropped_attributes_count=rng.choice((0, 9)),
            )
        for _ in range(rng.choice((0, 0, 1, 2))):
            span.links.add(
                trace_id=self.id(16),
                span_id=self.id(8),
                trace_state=self.text(4),
                attributes=self.attributes(most=3),
                dropped_attributes_count=rng.choice((0, 1)),
                flags=rng.choice((0, 0x100, rng.getrandbits(32))),
            )
        return span

    def request(self) -> Request:
        rng = self.rng
        request = Request()
        for _ in range(rng.randint(0, 3)):
            resource = request.resource_spans.add(schema_url=self.text(4))
            resource.resource.attributes.extend(self.attributes())
            if rng.random() < 0.6:
                resource.resource.attributes.add(key="service.name", value=self.value(3))
                if len({kv.key for kv in resource.resource.attributes}) < len(resource.resource.attributes):
                    del resource.resource.attributes[-1]
            resource.resource.dropped_attributes_count = rng.choice((0, 7))
            for _ in range(rng.randint(0, 3)):
                scope = resource.scope_spans.add(schema_url=self.text(4))
                scope.scope.name = self.text(5)
                scope.scope.version = self.text(3)
                scope.scope.attributes.extend(self.attributes(most=3))
                lowest = 1 if self.valid_only else 0
                scope.spans.extend(self.span() for _ in range(rng.randint(lowest, 4)))
        return request


def _has_repeated_key(key_values: Iterable[COMMON_PB2.KeyValue]) -> bool:
    items = list(key_values)
    if len({kv.key for kv in items}) != len(items):
        return True
    return any(_value_has_repeated_key(kv.value) for kv in items)


def _value_has_repeated_key(value: COMMON_PB2.AnyValue) -> bool:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return any(_value_has_repeated_key(item) for item in value.array_value.values)
    if kind == "kvlist_value":
        return _has_repeated_key(value.kvlist_value.values)
    return False


def _has_invalid_ids(span: TRACE_PB2.Span) -> bool:
    def valid(trace_id: bytes, span_id: bytes) -> bool:
        return len(trace_id) == 16 and any(trace_id) and len(span_id) == 8 and any(span_id)

    return (
        not valid(span.trace_id, span.span_id)
        or len(span.parent_span_id) not in (0, 8)
        or not all(valid(link.trace_id, link.span_id) for link in span.links)
    )


def may_be_declined(request: Request) -> bool:
    """Whether ``request`` holds something the fast path declines (a repeated key, a timestamp >= 2**63,
    a span with an invalid id)."""
    for resource in request.resource_spans:
        if _has_repeated_key(resource.resource.attributes):
            return True
        for scope in resource.scope_spans:
            if _has_repeated_key(scope.scope.attributes):
                return True
            for span in scope.spans:
                times = [span.start_time_unix_nano, span.end_time_unix_nano]
                times += [event.time_unix_nano for event in span.events]
                maps = [span.attributes, *(e.attributes for e in span.events), *(lk.attributes for lk in span.links)]
                if max(times) >= 2**63 or any(_has_repeated_key(kvs) for kvs in maps) or _has_invalid_ids(span):
                    return True
    return False


def test_random_requests_match_the_reference() -> None:
    generator = RandomRequests(seed=1729)
    outcomes = {"same": 0, "declined": 0}
    for index in range(300):
        request = generator.request()
        body = request.SerializeToString()
        fast = decode_traces_wire(body)
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


def _mutate(rng: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        position = rng.randrange(len(data) + 1)
        operation = rng.randrange(6)
        if operation == 0 and position < len(data):
            data[position] ^= 1 << rng.randrange(8)
        elif operation == 1 and position < len(data):
            data[position] = rng.randrange(256)
        elif operation == 2:
            del data[position:]
        elif operation == 3:
            data[position:position] = rng.randbytes(rng.randint(1, 4))
        elif operation == 4:
            del data[position : position + rng.randint(1, 4)]
        else:
            start = rng.randrange(len(data) + 1)
            data[position:position] = data[start : start + rng.randint(1, 16)]
    return bytes(data)


def test_random_byte_mutations_never_crash_and_never_differ() -> None:
    generator = RandomRequests(seed=4242, valid_only=True)
    bodies = [generator.request().SerializeToString() for _ in range(12)]
    bodies = [body for body in bodies if len(body) > 40]
    assert len(bodies) >= 6
    rng = random.Random(99)
    outcomes = {"taken": 0, "declined": 0}
    for index in range(300):
        body = _mutate(rng, rng.choice(bodies))
        fast = decode_traces_wire(body)
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


# ---------------------------------------------------------------- typed JSON round trip


def _same_value(got: object, want: object) -> bool:
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    if type(got) is not type(want):
        return False
    if isinstance(want, float):
        assert isinstance(got, float)
        return got == want and math.copysign(1.0, got) == math.copysign(1.0, want)
    if isinstance(want, list):
        assert isinstance(got, list)
        return len(got) == len(want) and all(_same_value(a, b) for a, b in zip(got, want, strict=True))
    if isinstance(want, dict):
        assert isinstance(got, dict)
        return list(got) == list(want) and all(_same_value(got[k], want[k]) for k in want)
    return got == want


ROUND_TRIP: dict[str, object] = {
    "string": 'caf\u00e9 "quoted" \\ \n\x00\U0001f600\u2028',
    "int": INT64_MIN,
    "bool": True,
    "double": 1.0,
    "double-exp": 1e16,
    "double-tiny": 5e-324,
    "neg-zero": -0.0,
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "bytes": b"\x00\xff\xfe",
    "empty": None,
    "array": [1, 1.0, "1", b"1", None, [], {}],
    "kvlist": {"a": {"b": [math.inf, {"c": b""}]}},
    "tag-kvlist": {"bytesValue": "looks like a tag"},
    "tag-kvlist-double": {"doubleValue": 2.5},
}


def test_attribute_json_round_trips_to_the_original_values() -> None:
    decoded = assert_same(make_span_request(ROUND_TRIP))
    text = column(decoded, "span_attributes")[0]
    assert isinstance(json.loads(text), dict)
    restored = decode_attributes_json(text)
    assert list(restored) == list(ROUND_TRIP)
    for key, want in ROUND_TRIP.items():
        assert _same_value(restored[key], want), f"{key}: {restored[key]!r} != {want!r}"
    for name in ("events", "links"):
        request = make_request(make_span(events=[make_event(attributes=ROUND_TRIP)], links=[make_link(ROUND_TRIP)]))
        item = column(assert_same(request), name)[0][0]
        assert _same_value(decode_attributes_json(item["attributes"]), ROUND_TRIP)
    resources = assert_same(make_request(make_span(), resource=ROUND_TRIP)).batch.tables["otel_resources"]
    assert _same_value(decode_attributes_json(resources.column("resource_attributes")[0].as_py()), ROUND_TRIP)
