"""Rate, errors and duration of spans and of the calls between services in a window, counted
the way the OpenTelemetry Collector's ``spanmetrics`` and ``servicegraph`` connectors count
them: counts and duration histograms over fixed bucket bounds.

The calls are the service graph's own (``storage/queries/graph/service_calls.sql``, the
pairing ``glimpse graph`` reads), so that a window's call counts are the graph's edge
counts, and a window's span counts its nodes' span counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb

from analyzer.errors import InvalidQueryError
from storage.graph_queries import call_histogram_rows, resolve_window
from storage.service_queries import span_histogram_rows

__all__ = ["DEFAULT_BOUNDS_S", "span_metrics"]

# the connectors' default explicit bounds (2 ms ... 15 s), in seconds
DEFAULT_BOUNDS_S = (0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.4, 2.0, 5.0, 10.0, 15.0)


def span_metrics(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    bounds_s: Sequence[float] = DEFAULT_BOUNDS_S,
) -> dict[str, Any]:
    """The window's spans and calls, counted with duration buckets.

    Returns ``{"window", "bounds_s", "spans", "calls"}``. ``spans``: per (``service``,
    ``name``, ``kind``, ``status_code``) the ``calls`` and a ``duration`` histogram.
    ``calls``: per (``client``, ``server``, ``connection_type``, ``failed``) the ``calls``
    and a ``client_duration`` and a ``server_duration`` histogram of that side's spans, with
    ``missing``: the calls that had no span on that side (a request from outside has no
    client span; an uninstrumented peer no server span). A histogram is ``{"buckets":
    [count per bound, then past the last], "sum_ns"}``, not cumulative; a duration goes
    in the first bucket whose bound it does not exceed (Prometheus's ``le``).
    """
    if list(bounds_s) != sorted(set(bounds_s)) or not bounds_s or bounds_s[0] <= 0:
        raise InvalidQueryError("bucket bounds must be positive and increasing")
    window = resolve_window(con, since_ns, until_ns)
    bounds_ns = [round(bound * 1e9) for bound in bounds_s]
    size = len(bounds_ns) + 1
    spans = [
        {
            "service": row["service"],
            "name": row["name"],
            "kind": row["kind"],
            "status_code": row["status_code"],
            "calls": int(row["calls"]),
            "duration": {"buckets": _buckets(row["buckets"], size), "sum_ns": int(row["sum_ns"])},
        }
        for row in span_histogram_rows(con, window, bounds_ns)
    ]
    calls = [
        {
            "client": row["client"],
            "server": row["server"],
            "connection_type": row["connection_type"],
            "failed": bool(row["failed"]),
            "calls": int(row["calls"]),
            "client_duration": _side(row["client_buckets"], row["client_sum_ns"], row["client_missing"], size),
            "server_duration": _side(row["server_buckets"], row["server_sum_ns"], row["server_missing"], size),
        }
        for row in call_histogram_rows(con, window, bounds_ns)
    ]
    return {"window": window.as_dict(), "bounds_s": list(bounds_s), "spans": spans, "calls": calls}


def _buckets(counts: Mapping[int, int] | None, size: int) -> list[int]:
    buckets = [0] * size
    for index, count in (counts or {}).items():
        buckets[int(index)] += int(count)
    return buckets


def _side(counts: Mapping[int, int] | None, sum_ns: int, missing: int, size: int) -> dict[str, Any]:
    return {"buckets": _buckets(counts, size), "sum_ns": int(sum_ns), "missing": int(missing)}
