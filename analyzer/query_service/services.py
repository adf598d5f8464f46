"""Rate, errors and duration (RED) of services and their operations, and the store's extent."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import duckdb

from analyzer.errors import InvalidQueryError
from storage.graph_queries import resolve_window
from storage.incident_queries import span_counts
from storage.service_queries import data_extent, operation_red_rows, service_red_rows, window_span_count
from storage.window import SpanWindow

__all__ = [
    "CONSOLE_SPANS",
    "NICE_BUCKETS_S",
    "QUANTILE_SPANS",
    "choose_bucket_s",
    "data_overview",
    "default_range",
    "quantile_sample",
    "service_red",
]

# Sparkline buckets: the smallest of these that gives at most MAX_BUCKETS points.
NICE_BUCKETS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
MAX_BUCKETS = 60
# Past this many spans in the window, the quantiles are of a sample of whole traces (counts
# stay exact): DuckDB holds every duration an exact quantile reads. The 50-million-span
# growth store's 21 days ran out of a server's 128 MiB; sampled, they take 2 s (2026-12-07).
QUANTILE_SPANS = 2_000_000
# The console starts on all data up to this many spans; past it, on a recent window (the
# graph, anomalies and insights of weeks of data take tens of seconds).
CONSOLE_SPANS = 2_000_000
# its presets (glimpse/console/static/js/components/window-picker.js) and their seconds,
# longest first: each a whole number of PRESET_BUCKET_NS
CONSOLE_PRESETS = (("24h", 86400), ("6h", 21600), ("1h", 3600), ("15m", 900), ("5m", 300))
PRESET_BUCKET_NS = 300 * 1_000_000_000


def choose_bucket_s(window_s: float, *, max_buckets: int = MAX_BUCKETS) -> int:
    """A round bucket length (seconds) that cuts ``window_s`` into at most ``max_buckets``.

    >>> choose_bucket_s(3600), choose_bucket_s(600), choose_bucket_s(10)
    (60, 10, 1)
    """
    for bucket in NICE_BUCKETS_S:
        if window_s / bucket <= max_buckets:
            return bucket
    return math.ceil(window_s / max_buckets)


def quantile_sample(con: duckdb.DuckDBPyConnection, window: SpanWindow, service: str | None = None) -> int:
    """k such that one trace in k (by trace-id hash) gives at most about :data:`QUANTILE_SPANS`
    spans of the window (1: every trace)."""
    return max(1, math.ceil(window_span_count(con, window, service) / QUANTILE_SPANS))


def data_overview(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The span-time extent of the store: what the console's time picker offers, and the
    window it starts on: all data while the store holds at most :data:`CONSOLE_SPANS`, else
    :func:`default_range` of the spans in each preset before the newest span."""
    extent = data_extent(con)
    last = extent["last_ns"]
    start = "all"
    if last is not None and extent["spans"] > CONSOLE_SPANS:
        start = default_range(_preset_span_counts(con, last + 1))
    return {**extent, "default_range": start}


def _preset_span_counts(con: duckdb.DuckDBPyConnection, until_ns: int) -> dict[str, int]:
    """Spans that started in each preset's window before ``until_ns``: the longest one's
    spans per PRESET_BUCKET_NS, added up from the newest bucket back."""
    longest_ns = CONSOLE_PRESETS[0][1] * 1_000_000_000
    counts = span_counts(con, SpanWindow(until_ns - longest_ns, until_ns), bucket_ns=PRESET_BUCKET_NS)
    newest_first = [counts.get(bucket, 0) for bucket in reversed(range(longest_ns // PRESET_BUCKET_NS))]
    return {name: sum(newest_first[: seconds * 1_000_000_000 // PRESET_BUCKET_NS]) for name, seconds in CONSOLE_PRESETS}


def default_range(spans_by_preset: Mapping[str, int]) -> str:
    """The longest preset (:data:`CONSOLE_PRESETS`) that holds at most :data:`CONSOLE_SPANS`
    spans, or the shortest.

    >>> default_range({"24h": 2_400_000, "6h": 600_000, "1h": 100_000, "15m": 25_000, "5m": 8_000})
    '6h'
    >>> default_range({"24h": 9e7, "6h": 9e7, "1h": 9e7, "15m": 9e7, "5m": 3_000_000})
    '5m'
    """
    for preset, _ in CONSOLE_PRESETS:
        if spans_by_preset[preset] <= CONSOLE_SPANS:
            return preset
    return CONSOLE_PRESETS[-1][0]


def _ms(nanos: float | None) -> float | None:
    return None if nanos is None else round(nanos / 1e6, 3)


def _quantiles(values: list[float] | None) -> dict[str, float | None]:
    p50, p95, p99 = values or (None, None, None)
    return {"p50_ms": _ms(p50), "p95_ms": _ms(p95), "p99_ms": _ms(p99)}


def service_red(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    bucket_s: float | None = None,
    service: str | None = None,
) -> dict[str, Any]:
    """Rate, errors and duration (RED) of every service's requests, with a series per bucket.

    Requests are counted as on the service graph's nodes (storage/queries/requests.sql). ``bucket_s``
    defaults to a round length giving at most 60 buckets. With ``service``, only that
    service, plus its operations (all span kinds). Past :data:`QUANTILE_SPANS` spans, the
    quantiles are of a deterministic sample of whole traces (``quantile_sampled_fraction``).
    """
    window = resolve_window(con, since_ns, until_ns)
    bucket = bucket_s if bucket_s is not None else choose_bucket_s(window.seconds)
    if bucket <= 0:
        raise InvalidQueryError("the bucket must be a positive number of seconds")
    bucket_ns = max(int(bucket * 1e9), 1)
    buckets = max(1, math.ceil((window.until_ns - window.since_ns) / bucket_ns))
    if buckets > 10_000:
        raise InvalidQueryError(f"{buckets} buckets: choose a longer bucket or a shorter window")
    sample = quantile_sample(con, window, service)
    services: dict[str, dict[str, Any]] = {}
    for row in service_red_rows(con, window, bucket_ns=bucket_ns, service=service, sample=sample):
        name = row["service"]
        if row["bucket"] is None:
            requests = int(row["requests"])
            services[name] = {
                "service": name,
                "span_count": int(row["span_count"]),
                "requests": requests,
                "errors": int(row["errors"]),
                "rate_per_s": round(requests / window.seconds, 6),
                "error_rate": round(int(row["errors"]) / requests, 6) if requests else 0.0,
                **_quantiles(row["ns_quantiles"]),
                "series": _empty_series(window, bucket_ns, buckets),
            }
            continue
        index = int(row["bucket"])
        if not 0 <= index < buckets:
            continue
        series = services[name]["series"]
        requests = int(row["requests"])
        series["requests"][index] = requests
        series["rate_per_s"][index] = round(requests / (bucket_ns / 1e9), 6)
        series["error_rate"][index] = round(int(row["errors"]) / requests, 6) if requests else None
        for key, value in _quantiles(row["ns_quantiles"]).items():
            series[key][index] = value
    answer: dict[str, Any] = {
        "window": window.as_dict(),
        "bucket_s": bucket_ns / 1e9,
        "quantile_sampled_fraction": round(1 / sample, 6),
        "services": list(services.values()),
    }
    if service is not None:
        answer["operations"] = [
            {
                "operation": row["operation"],
                "kind": row["kind"],
                "requests": int(row["requests"]),
                "errors": int(row["errors"]),
                "rate_per_s": round(int(row["requests"]) / window.seconds, 6),
                "error_rate": round(int(row["errors"]) / int(row["requests"]), 6) if row["requests"] else 0.0,
                **_quantiles(row["ns_quantiles"]),
            }
            for row in operation_red_rows(con, window, service, sample=sample)
        ]
    return answer


def _empty_series(window: SpanWindow, bucket_ns: int, buckets: int) -> dict[str, list[Any]]:
    return {
        "t": [window.since_ns + i * bucket_ns for i in range(buckets)],
        "requests": [0] * buckets,
        "rate_per_s": [0.0] * buckets,
        "error_rate": [None] * buckets,
        "p50_ms": [None] * buckets,
        "p95_ms": [None] * buckets,
        "p99_ms": [None] * buckets,
    }
