"""Read queries behind the service dependency graph (SQL in queries/graph/)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import duckdb
import numpy as np

from storage.named_queries import run_query
from storage.rows import CallHistogramRow, OperationEdgeRow, Quantiles, ServiceEdgeRow, ServiceNodeRow
from storage.sizes import memory_limit_bytes
from storage.window import END_OF_TIME_NS, SpanWindow

__all__ = [
    "bucket_quantiles",
    "call_histogram_rows",
    "operation_edge_rows",
    "resolve_window",
    "service_edge_rows",
    "service_edge_samples",
    "service_node_rows",
    "window_slices",
]

_SERVICE_KEYS = "client, server, server_kind, connection_type"
_OPERATION_KEYS = "client, client_op, server, server_op, server_kind, connection_type"

# The join that pairs calls holds every span of its window in DuckDB's memory: past about
# this many bytes of that memory a span, the window is cut into slices and the slices'
# calls added up (at a server's 128 MiB, 3.4 million spans took one query, 6.4 million
# ran out of memory; 2026-12-07).
JOIN_BYTES_PER_SPAN = 64
# What answers a slice's calls is looked for this far around it: the longest span of the
# window, at most MAX_REACH_NS, and SKEW_NS for clocks that disagree.
MAX_REACH_NS = 5 * 60 * 1_000_000_000
SKEW_NS = 1_000_000_000
# A sliced window's quantiles come from histograms of the durations with this many buckets
# to a factor of e (each about 1 % wide, so a quantile is within 1 % of the exact one).
BUCKETS_PER_LN = 100
QUANTILES = (0.5, 0.95, 0.99)


def resolve_window(con: duckdb.DuckDBPyConnection, since_ns: int | None, until_ns: int | None) -> SpanWindow:
    """Fill an open bound from the data: the first span's start, or just after the last span's start."""
    if since_ns is not None and until_ns is not None:
        return SpanWindow(since_ns, until_ns)
    bounds = run_query(con, "window_bounds")[0]
    first, last = bounds["first_ns"], bounds["last_ns"]
    since = since_ns if since_ns is not None else (first if first is not None else 0)
    until = until_ns if until_ns is not None else (last + 1 if last is not None else since + 1)
    return SpanWindow(since, min(max(until, since), END_OF_TIME_NS))


def service_edge_rows(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, *, max_spans: int | None = None
) -> list[ServiceEdgeRow]:
    """One row per (client, server, connection_type): calls, errors, latency quantiles (ns).

    A window of more than ``max_spans`` spans (by default, what DuckDB's memory limit holds:
    see :data:`JOIN_BYTES_PER_SPAN`) is read in slices: the counts stay exact, the quantiles
    come from histograms (within 1 %)."""
    return cast(list[ServiceEdgeRow], _edge_rows(con, window, _SERVICE_KEYS, max_spans))


def operation_edge_rows(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, *, max_spans: int | None = None
) -> list[OperationEdgeRow]:
    """As service_edge_rows, one row per (client, client_op, server, server_op, connection_type)."""
    return cast(list[OperationEdgeRow], _edge_rows(con, window, _OPERATION_KEYS, max_spans))


def _edge_rows(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, keys: str, max_spans: int | None
) -> list[dict[str, Any]]:
    slices = window_slices(con, window, max_spans)
    if slices is None:
        return run_query(
            con, "graph/service_calls", "graph/call_statistics", params=_call_params(window), parts={"keys": keys}
        )
    sums: dict[tuple[Any, ...], _EdgeSums] = {}
    names = [name.strip() for name in keys.split(",")]
    for part, reach in slices:
        params = {**_call_params(part, reach), "per_ln": BUCKETS_PER_LN}
        for row in run_query(con, "graph/service_calls", "graph/call_parts", params=params, parts={"keys": keys}):
            sums.setdefault(tuple(row[name] for name in names), _EdgeSums()).add(row)
    return [{**dict(zip(names, key, strict=True)), **sums[key].row()} for key in sorted(sums, key=_nulls_last)]


def window_slices(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, max_spans: int | None = None
) -> list[tuple[SpanWindow, SpanWindow]] | None:
    """The window cut into slices of at most ``max_spans`` spans each (a cell of the window
    with more is a slice of its own), each with where what answers its calls is looked for;
    None when the window needs no cutting (or ``con`` is not DuckDB's)."""
    if max_spans is None:
        limit = memory_limit_bytes(con)
        if limit is None:
            return None
        max_spans = limit // JOIN_BYTES_PER_SPAN
    cells = run_query(con, "graph/slice_cells", params={**window.params, "cell": window.cell_ns})
    if sum(cell["spans"] for cell in cells) <= max_spans:
        return None
    margin = min(max(max(cell["longest_ns"] for cell in cells), 0), MAX_REACH_NS) + SKEW_NS
    return [
        (part, SpanWindow(max(window.since_ns, part.since_ns - margin), min(window.until_ns, part.until_ns + margin)))
        for part in window.slices(((cell["cell"], cell["spans"]) for cell in cells), max_spans)
    ]


def _call_params(window: SpanWindow, reach: SpanWindow | None = None) -> dict[str, int]:
    """service_calls.sql's parameters: the window, and where answers are looked for."""
    reach = reach or window
    return {**window.params, "reach_since": reach.since_ns, "reach_until": reach.until_ns}


def _nulls_last(key: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    return tuple((value is None, "" if value is None else value) for value in key)


@dataclass
class _EdgeSums:
    """One edge's call_parts.sql rows added up over the slices."""

    calls: int = 0
    errors: int = 0
    client_buckets: dict[int, int] = field(default_factory=dict)
    server_buckets: dict[int, int] = field(default_factory=dict)
    gap_ns_sum: int = 0
    gaps: int = 0
    handoff_ns_sum: int = 0
    handoffs: int = 0
    first_seen_ns: int | None = None
    last_seen_ns: int | None = None

    def add(self, row: Mapping[str, Any]) -> None:
        self.calls += row["calls"]
        self.errors += row["errors"]
        for total, part in ((self.client_buckets, row["client_buckets"]), (self.server_buckets, row["server_buckets"])):
            for bucket, count in (part or {}).items():
                total[bucket] = total.get(bucket, 0) + count
        self.gap_ns_sum += row["gap_ns_sum"] or 0
        self.gaps += row["gaps"]
        self.handoff_ns_sum += row["handoff_ns_sum"] or 0
        self.handoffs += row["handoffs"]
        first, last = row["first_seen_ns"], row["last_seen_ns"]
        self.first_seen_ns = first if self.first_seen_ns is None else min(self.first_seen_ns, first)
        self.last_seen_ns = last if self.last_seen_ns is None else max(self.last_seen_ns, last)

    def row(self) -> dict[str, Any]:
        """The edge's columns as call_statistics.sql gives them."""
        return {
            "calls": self.calls,
            "errors": self.errors,
            "client_ns_quantiles": bucket_quantiles(self.client_buckets.items()),
            "server_ns_quantiles": bucket_quantiles(self.server_buckets.items()),
            "gap_ns_mean": self.gap_ns_sum / self.gaps if self.gaps else None,
            "handoff_ns_mean": self.handoff_ns_sum / self.handoffs if self.handoffs else None,
            "first_seen_ns": self.first_seen_ns,
            "last_seen_ns": self.last_seen_ns,
        }


def bucket_quantiles(buckets: Iterable[tuple[int, int]], quantiles: Iterable[float] = QUANTILES) -> Quantiles:
    """quantile_cont's quantiles of durations known by their histogram over
    :data:`BUCKETS_PER_LN` buckets to a factor of e (bucket b holds [e^(b/N), e^((b+1)/N))),
    taking a bucket's durations as spread evenly (in log) across it; None for no durations.

    >>> [round(q) for q in bucket_quantiles([(460, 1), (690, 3)], [0.0, 0.5, 1.0])]
    [100, 996, 1001]
    """
    ordered = sorted(buckets)
    if not ordered:
        return None
    edges = np.array([bucket for bucket, _ in ordered], dtype=np.float64)
    counts = np.array([count for _, count in ordered], dtype=np.int64)
    ends = np.cumsum(counts)  # the rank after each bucket's last duration

    def nth(rank: np.ndarray) -> np.ndarray:  # the rank-th smallest duration (0-based)
        at = np.searchsorted(ends, rank, side="right")
        within = rank - (ends[at] - counts[at])
        values: np.ndarray = np.exp((edges[at] + (within + 0.5) / counts[at]) / BUCKETS_PER_LN)
        return values

    ranks = (ends[-1] - 1) * np.asarray(list(quantiles), dtype=np.float64)
    low = np.floor(ranks)
    below, above = nth(low), nth(np.minimum(low + 1, ends[-1] - 1))
    return [float(v) for v in below + (ranks - low) * (above - below)]


def service_node_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow, *, sample: int = 1) -> list[ServiceNodeRow]:
    """One row per service: span count, requests, request errors, server latency quantiles
    (of one trace in ``sample``, by trace-id hash), platform."""
    params = {**window.params, "sample": sample}
    return cast(list[ServiceNodeRow], run_query(con, "graph/service_nodes", params=params))


def service_edge_samples(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, *, per_edge: int = 500, max_spans: int | None = None
) -> dict[tuple[str, str], list[int]]:
    """Per (client, server): up to ``per_edge`` call durations (client side, else server side), in ns,
    the same sample whether the window is read whole or in slices (see service_edge_rows)."""
    picked: dict[tuple[str, str], list[tuple[int, int | None]]] = {}
    for part, reach in window_slices(con, window, max_spans) or [(window, window)]:
        params = {**_call_params(part, reach), "per_edge": per_edge}
        for row in run_query(con, "graph/service_calls", "graph/edge_samples", params=params):
            picked.setdefault((row["client"], row["server"]), []).extend((s["key"], s["ns"]) for s in row["sample"])
    return {
        edge: [int(ns) for _, ns in sorted(sample, key=lambda call: call[0])[:per_edge] if ns is not None]
        for edge, sample in picked.items()
    }


def call_histogram_rows(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, bounds_ns: list[int]
) -> list[CallHistogramRow]:
    """The calls of :func:`service_edge_rows` (the same pairing) per (client, server,
    connection type, failed), with client- and server-side duration buckets over
    ``bounds_ns`` (``client_buckets``/``server_buckets``: bucket index -> count)."""
    params = {**_call_params(window), "bounds_ns": bounds_ns}
    return cast(list[CallHistogramRow], run_query(con, "graph/service_calls", "graph/call_histograms", params=params))
