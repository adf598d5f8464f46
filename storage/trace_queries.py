"""Read queries for single traces."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from storage.sql_files import fetch_dicts, load_query

__all__ = [
    "WindowSpans",
    "count_traces",
    "normalise_trace_id",
    "sampled_window_spans",
    "trace_span_rows",
    "window_spans",
]

_TRACE_ID = re.compile(r"[0-9a-f]{32}")

_SPANS = """
SELECT span_id, parent_span_id, service_name, span_name, span_kind, epoch_ns(timestamp) AS start_ns,
       duration, status_code
FROM otel_spans
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
    return fetch_dicts(con.execute(_SPANS, {"trace_id": normalise_trace_id(trace_id)}))


@dataclass(frozen=True)
class WindowSpans:
    """Spans of many traces as parallel integer arrays, sorted by (trace_no, idx).

    ``trace_ids[n]`` is trace n's id; ``operations[op]`` is (service, span name).
    """

    trace_no: np.ndarray
    parent_idx: np.ndarray
    start_ns: np.ndarray
    end_ns: np.ndarray
    producer: np.ndarray
    consumer: np.ndarray
    client: np.ndarray
    error: np.ndarray
    op: np.ndarray
    trace_ids: list[str]
    operations: dict[int, tuple[str, str]]
    span_ids: pa.ChunkedArray  # read lazily: only evidence needs them

    def span_id(self, index: int) -> str:
        return str(self.span_ids[index].as_py())

    @property
    def span_count(self) -> int:
        return len(self.trace_no)


def window_spans(
    con: duckdb.DuckDBPyConnection,
    since_ns: int,
    until_ns: int,
    *,
    root_service: str | None = None,
    root_operation: str | None = None,
    sample_per_million: int = 1_000_000,
) -> WindowSpans:
    """Spans of the traces with a span in the window (optionally one endpoint, or a sample)."""
    sql = load_query("trace_window_spans")
    params = {
        "since": since_ns,
        "until": until_ns,
        "root_service": root_service,
        "root_operation": root_operation,
        "sample_per_million": sample_per_million,
    }
    cursor = con.cursor()  # a relation of its own: the caller's connection may hold a result
    try:
        table: pa.Table = cursor.sql(sql, params=params).to_arrow_table()
    finally:
        cursor.close()
    ops = table.group_by("op").aggregate([("service_name", "min"), ("span_name", "min")])
    operations = {
        int(op): (service, name)
        for op, service, name in zip(
            ops.column("op").to_pylist(),
            ops.column("service_name_min").to_pylist(),
            ops.column("span_name_min").to_pylist(),
            strict=True,
        )
    }
    trace_ids = pc.drop_null(table.column("trace_id")).to_pylist()

    def ints(name: str) -> np.ndarray:
        values: np.ndarray = table.column(name).to_numpy()
        return values

    return WindowSpans(
        trace_no=ints("trace_no"),
        parent_idx=ints("parent_idx"),
        start_ns=ints("start_ns"),
        end_ns=ints("end_ns"),
        producer=ints("producer"),
        consumer=ints("consumer"),
        client=ints("client"),
        error=ints("error"),
        op=ints("op"),
        trace_ids=trace_ids,
        operations=operations,
        span_ids=table.column("span_id"),
    )


def count_traces(con: duckdb.DuckDBPyConnection, since_ns: int, until_ns: int) -> int:
    """Traces with at least one span starting in the window."""
    row = con.execute(
        "SELECT count(DISTINCT trace_id) FROM otel_spans "
        "WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)",
        {"since": since_ns, "until": until_ns},
    ).fetchone()
    return int(row[0]) if row else 0


def sampled_window_spans(
    con: duckdb.DuckDBPyConnection,
    since_ns: int,
    until_ns: int,
    max_traces: int,
    *,
    root_service: str | None = None,
    root_operation: str | None = None,
) -> tuple[WindowSpans, float]:
    """:func:`window_spans` of at most about ``max_traces`` of the window's traces, and the
    fraction taken: past the limit, a deterministic sample (the traces whose id hashes
    below the fraction, the same traces every time)."""
    total = count_traces(con, since_ns, until_ns)
    fraction = 1.0 if total <= max_traces else max_traces / total
    spans = window_spans(
        con,
        since_ns,
        until_ns,
        root_service=root_service,
        root_operation=root_operation,
        sample_per_million=max(1, int(fraction * 1_000_000)),
    )
    return spans, fraction
