"""Arrow arrays around the buffers the C wire decoders return (``collector/_spanwire.c``),
without copying: what the trace and the log fast paths share."""

from __future__ import annotations

import pyarrow as pa

__all__ = ["StringBuffers", "fixed_array", "nullable_array", "string_array"]

# a string column: its validity bitmap (None: no nulls), 32-bit offsets and UTF-8 data
StringBuffers = tuple[bytes | None, bytes, bytes]


def fixed_array(kind: pa.DataType, length: int, values: bytes) -> pa.Array:
    """A column of fixed-width values without nulls."""
    return pa.Array.from_buffers(kind, length, [None, pa.py_buffer(values)])


def nullable_array(kind: pa.DataType, length: int, buffers: tuple[bytes | None, bytes]) -> pa.Array:
    """A nullable column of fixed-width values (int64, timestamp) from its validity and values."""
    validity, values = buffers
    return pa.Array.from_buffers(kind, length, [_validity(validity), pa.py_buffer(values)], null_count=-1)


def string_array(length: int, buffers: StringBuffers) -> pa.Array:
    validity, offsets, data = buffers
    return pa.Array.from_buffers(
        pa.string(), length, [_validity(validity), pa.py_buffer(offsets), pa.py_buffer(data)], null_count=-1
    )


def _validity(bitmap: bytes | None) -> pa.Buffer | None:
    return None if bitmap is None else pa.py_buffer(bitmap)
