"""The fast path for OTLP/protobuf log exports: request bytes -> the rows of ``otel_logs``.

``decode_logs`` of ``collector/_spanwire.c`` reads the request's wire format once, in C
and with the GIL released (the same wire reader, typed JSON and resource and scope
handling as the trace decoder), and returns every column of ``otel_logs`` as buffers,
each resource's and scope's values repeated over their records; this module wraps them as
Arrow arrays without copying. It takes plain well-formed OTLP only: for anything else (bad
wire format, invalid UTF-8, a key repeated in one attribute map, a record whose trace or
span id has the wrong length, ...) it returns None and the caller runs the reference
decoder, :func:`collector.decode.decode_logs`, which gives the exact answer or error.
Both produce identical tables (tests/test_log_wire.py).
"""

from __future__ import annotations

from collections.abc import Container

import pyarrow as pa
import pyarrow.compute as pc

import collector.span_wire  # noqa: F401 (configures the extension)
from collector.decode import UNKNOWN_SERVICE, Decoded
from collector.wire_arrays import StringBuffers, fixed_array, nullable_array, string_array
from storage.batch import Batch
from storage.columns import LOG_SCHEMA

try:
    import collector._spanwire as _spanwire
except ImportError:  # pragma: no cover - a build without a C compiler
    _spanwire = None

__all__ = ["decode_logs_wire"]

_TIMESTAMP = pa.timestamp("ns")
_STRING_COLUMNS = ("trace_id", "span_id", "severity_text", "body", "event_name", "log_attributes")
# the columns every record of one resource and scope shares, in the C decoder's order
_SHARED_COLUMNS = (
    "service_name",
    "resource_attributes",
    "resource_schema_url",
    "scope_name",
    "scope_version",
    "scope_attributes",
    "scope_schema_url",
)


def decode_logs_wire(body: bytes, stored_resources: Container[int] = frozenset()) -> Decoded | None:
    """``ExportLogsServiceRequest`` bytes -> the rows to store; None: use the reference decoder.

    ``stored_resources`` is there for the signature traces share: log records carry their
    resource's columns themselves.
    """
    if _spanwire is None:
        return None
    raw = _spanwire.decode_logs(body)
    if raw is None:
        return None
    rows: int = raw["records"]
    columns: dict[str, pa.Array] = {
        "timestamp": nullable_array(_TIMESTAMP, rows, raw["timestamp"]),
        "observed_timestamp": nullable_array(_TIMESTAMP, rows, raw["observed_timestamp"]),
        "flags": fixed_array(pa.uint32(), rows, raw["flags"]),
        "severity_number": fixed_array(pa.int32(), rows, raw["severity_number"]),
        "dropped_attributes_count": fixed_array(pa.uint32(), rows, raw["dropped_attributes_count"]),
    }
    for name in _STRING_COLUMNS:
        columns[name] = string_array(rows, raw[name])
    shared: tuple[StringBuffers, ...] = raw["shared"]
    for name, buffers in zip(_SHARED_COLUMNS, shared, strict=True):
        columns[name] = string_array(rows, buffers)
    if columns["service_name"].null_count:  # resources without a service.name
        columns["service_name"] = pc.fill_null(columns["service_name"], UNKNOWN_SERVICE)
    table = pa.Table.from_arrays([columns[name] for name in LOG_SCHEMA.names], schema=LOG_SCHEMA)
    return Decoded(Batch({"otel_logs": table}), rows, 0, "")  # requests with invalid records go to the reference
