"""Per-service trends, forecasts and capacity hints of a window."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np

from analyzer.anomaly import pick_bucket_ns
from analyzer.insights import ServiceSeries, service_insights
from analyzer.query_service.services import quantile_sample
from storage.graph_queries import resolve_window
from storage.incident_queries import red_series_rows

__all__ = ["insights"]


def insights(
    con: duckdb.DuckDBPyConnection,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    service: str | None = None,
    horizon_s: float | None = None,
) -> dict[str, Any]:
    window = resolve_window(con, since_ns, until_ns)
    length = window.until_ns - window.since_ns
    bucket_ns = pick_bucket_ns(length, target_points=60)
    buckets = max(1, -(-length // bucket_ns))
    horizon = max(1, round((horizon_s * 1e9 if horizon_s else length / 4) / bucket_ns))
    per_service: dict[str, ServiceSeries] = {}
    for row in red_series_rows(con, window, bucket_ns=bucket_ns, sample=quantile_sample(con, window)):
        if row["level"] != "service" or (service is not None and row["entity"] != service):
            continue
        entry = per_service.get(row["entity"])
        if entry is None:
            entry = ServiceSeries(
                row["entity"], bucket_ns / 1e9, np.zeros(buckets), np.full(buckets, np.nan), np.full(buckets, np.nan)
            )
            per_service[row["entity"]] = entry
        b = int(row["bucket"])
        entry.throughput[b] = row["requests"] / entry.bucket_s
        entry.error_rate[b] = row["errors"] / row["requests"]
        if row["requests"] >= 5:
            entry.latency_p95_ms[b] = row["latency_ms"][1]
    return {
        "window": {"since": window.since_ns, "until": window.until_ns, "bucket_ns": bucket_ns},
        "services": [service_insights(s, horizon) for _, s in sorted(per_service.items())],
    }
