"""Read queries for single traces."""

from __future__ import annotations

import re
from typing import Any

import duckdb

__all__ = ["normalise_trace_id", "trace_span_rows"]

_TRACE_ID = re.compile(r"[0-9a-f]{32}")

_SPANS = """
SELECT span_id, parent_span_id, service_name, span_name, span_kind, epoch_ns(timestamp) AS start_ns,
       duration, status_code
FROM otel_traces
WHERE trace_id = $trace_id
ORDER BY timestamp, span_id
"""


def normalise_trace_id(text: str) -> str:
    """Lowercase hex of 32 digits, or ValueError."""
    trace_id = text.strip().lower()
    if not _TRACE_ID.fullmatch(trace_id):
        raise ValueError(f"not a trace id (32 hex digits): {text!r}")
    return trace_id


def trace_span_rows(con: duckdb.DuckDBPyConnection, trace_id: str) -> list[dict[str, Any]]:
    """The spans of one trace (empty when the trace is unknown)."""
    cursor = con.execute(_SPANS, {"trace_id": normalise_trace_id(trace_id)})
    columns = [d[0] for d in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
