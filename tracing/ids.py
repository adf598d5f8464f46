"""Trace and span ids: OTLP sends bytes, glimpse stores lowercase hex."""

from __future__ import annotations

__all__ = ["is_valid_span_id", "is_valid_trace_id"]

_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)


def is_valid_trace_id(raw: bytes) -> bool:
    """A trace id is 16 bytes and not all zero (W3C Trace Context)."""
    return len(raw) == 16 and raw != _ZERO_TRACE


def is_valid_span_id(raw: bytes) -> bool:
    """A span id is 8 bytes and not all zero."""
    return len(raw) == 8 and raw != _ZERO_SPAN
