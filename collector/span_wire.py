"""The fast path for OTLP/protobuf trace exports: request bytes -> the rows to store.

``collector/_spanwire.c`` reads the request's wire format once, in C and with the GIL
released, and returns each column as buffers; this module wraps them as Arrow arrays
without copying. It takes plain well-formed OTLP only: for anything else (bad wire
format, invalid UTF-8, a key repeated in one attribute map, a span with an invalid id,
...) it returns None and the caller runs the reference decoder,
:func:`collector.decode.decode_traces`, which gives the exact answer or error. Both
produce identical tables (tests/test_span_wire.py).

The extension is built by ``pip install``; without it (no C compiler) every request
takes the reference decoder, which is correct but several times slower. The same
extension decodes log exports (collector/log_wire.py); both wrap its buffers with
collector/wire_arrays.py.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

import pyarrow as pa

from collector.decode import UNKNOWN_SERVICE, Decoded, span_batch
from collector.wire_arrays import fixed_array, nullable_array, string_array
from storage.columns import EVENT_TYPE, LINK_TYPE
from tracing.semconv import INTEGER_COLUMNS, RESOURCE_PROMOTED, SPAN_PROMOTED

try:
    import collector._spanwire as _spanwire
except ImportError:  # pragma: no cover - a build without a C compiler
    _spanwire = None

__all__ = ["AVAILABLE", "decode_traces_wire"]

AVAILABLE = _spanwire is not None

_STRING_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "trace_state",
    "span_name",
    "span_kind",
    "status_code",
    "status_message",
    "span_attributes",
)
_TIMESTAMP = pa.timestamp("ns")


def _key_spec(columns: Mapping[str, tuple[str, ...]]) -> list[tuple[str, int, int, bool]]:
    """(attribute key, column index, rank, integer column?) for the C promotion table."""
    return [
        (key, index, rank, name in INTEGER_COLUMNS)
        for index, (name, keys) in enumerate(columns.items())
        for rank, key in enumerate(keys)
    ]


if _spanwire is not None:
    _spanwire.configure(_key_spec(SPAN_PROMOTED), _key_spec(RESOURCE_PROMOTED))


def decode_traces_wire(body: bytes, stored_resources: Container[int] = frozenset()) -> Decoded | None:
    """``ExportTraceServiceRequest`` bytes -> the rows to store; None: use the reference decoder.

    ``stored_resources``: the keys of the resources the store already holds, whose rows
    the batch leaves out (:func:`collector.decode.span_batch`).
    """
    if _spanwire is None:
        return None
    raw = _spanwire.decode(body)
    if raw is None:
        return None
    rows: int = raw["spans"]
    own = {
        "timestamp": fixed_array(_TIMESTAMP, rows, raw["timestamp"]),
        "duration": fixed_array(pa.int64(), rows, raw["duration"]),
        "flags": fixed_array(pa.uint32(), rows, raw["flags"]),
        "events": _events(rows, raw["events"]),
        "links": _links(rows, raw["links"]),
    }
    for name in ("dropped_attributes_count", "dropped_events_count", "dropped_links_count"):
        own[name] = fixed_array(pa.uint32(), rows, raw[name])
    for name in _STRING_COLUMNS:
        own[name] = string_array(rows, raw[name])
    for name, buffers in zip(SPAN_PROMOTED, raw["promoted"], strict=True):
        own[name] = _integers(rows, buffers) if name in INTEGER_COLUMNS else string_array(rows, buffers)
    blocks, counts = _blocks(raw["resources"], raw["blocks"])
    batch = span_batch(own, blocks, counts, stored_resources)
    return Decoded(batch, rows, 0, "")  # requests with invalid spans go to the reference decoder


def _integers(length: int, buffers: tuple[bytes | None, bytes]) -> pa.Array:
    return nullable_array(pa.int64(), length, buffers)


def _list_of(rows: int, offsets: bytes, items: pa.StructArray, kind: pa.DataType) -> pa.Array:
    return pa.ListArray.from_arrays(fixed_array(pa.int32(), rows + 1, offsets), items, type=pa.list_(kind))


def _events(rows: int, parts: tuple[Any, ...]) -> pa.Array:
    offsets, times, names, attributes, dropped = parts
    count = len(dropped) // 4
    children = [
        fixed_array(_TIMESTAMP, count, times),
        string_array(count, names),
        string_array(count, attributes),
        fixed_array(pa.uint32(), count, dropped),
    ]
    return _list_of(rows, offsets, pa.StructArray.from_arrays(children, fields=list(EVENT_TYPE)), EVENT_TYPE)


def _links(rows: int, parts: tuple[Any, ...]) -> pa.Array:
    offsets, trace_ids, span_ids, states, attributes, dropped, flags = parts
    count = len(dropped) // 4
    children = [
        string_array(count, trace_ids),
        string_array(count, span_ids),
        string_array(count, states),
        string_array(count, attributes),
        fixed_array(pa.uint32(), count, dropped),
        fixed_array(pa.uint32(), count, flags),
    ]
    return _list_of(rows, offsets, pa.StructArray.from_arrays(children, fields=list(LINK_TYPE)), LINK_TYPE)


def _blocks(resources: list[tuple[Any, ...]], blocks: list[tuple[Any, ...]]) -> tuple[list[dict[str, Any]], list[int]]:
    """The resource and scope values of each run of spans, as the reference decoder builds them."""
    shared = []
    for service, attributes, schema_url, dropped, promoted in resources:
        values = {
            "service_name": service or UNKNOWN_SERVICE,
            "resource_attributes": attributes,
            "resource_schema_url": schema_url,
            "resource_dropped_attributes_count": dropped,
        }
        values.update(zip(RESOURCE_PROMOTED, promoted, strict=True))
        shared.append(values)
    out = []
    counts = []
    for resource, name, version, attributes, schema_url, count in blocks:
        scope = {"scope_name": name, "scope_version": version, "scope_attributes": attributes}
        out.append({**shared[resource], **scope, "scope_schema_url": schema_url})
        counts.append(count)
    return out, counts
