"""Read queries behind anomaly detection and root-cause ranking (SQL in queries/incidents/).

Evidence and spectrum compare a baseline window with an incident window; the series
queries cut one window into time buckets.
"""

from __future__ import annotations

from typing import cast

import duckdb

from storage.named_queries import run_query
from storage.rows import (
    EvidenceRow,
    HistogramPointRow,
    InstanceHostRow,
    LogSeriesRow,
    RedSeriesRow,
    SpectrumRow,
    TransitionRow,
    VersionRow,
)
from storage.window import SpanWindow

__all__ = [
    "diagnosis_span_count",
    "evidence_rows",
    "histogram_point_rows",
    "instance_host_rows",
    "log_series_rows",
    "red_series_rows",
    "span_counts",
    "spectrum_rows",
    "transition_rows",
    "version_rows",
]


def _params(baseline: SpanWindow, incident: SpanWindow) -> dict[str, int]:
    return {
        "b_since": baseline.since_ns,
        "b_until": baseline.until_ns,
        "i_since": incident.since_ns,
        "i_until": incident.until_ns,
    }


def span_counts(con: duckdb.DuckDBPyConnection, window: SpanWindow, *, bucket_ns: int) -> dict[int, int]:
    """Spans per ``bucket_ns``-wide bucket of the window, by bucket number from its start
    (incidents/span_buckets.sql; buckets without spans left out)."""
    rows = run_query(con, "incidents/span_buckets", params={**window.params, "bucket": bucket_ns})
    return {int(row["bucket"]): int(row["spans"]) for row in rows}


def diagnosis_span_count(con: duckdb.DuckDBPyConnection, baseline: SpanWindow, incident: SpanWindow) -> int:
    """Spans in the baseline and the incident windows together (incidents/span_count.sql)."""
    return int(run_query(con, "incidents/span_count", params=_params(baseline, incident))[0]["spans"])


def evidence_rows(
    con: duckdb.DuckDBPyConnection,
    baseline: SpanWindow,
    incident: SpanWindow,
    service: str | None = None,
    *,
    sample: int = 1,
) -> list[EvidenceRow]:
    """Per (signal, entity kind, entity, window): counts, exceedances, originating errors
    (incidents/evidence.sql), over one trace in ``sample`` (by trace-id hash)."""
    params = {**_params(baseline, incident), "service": service, "sample": sample}
    rows = run_query(con, "incidents/evidence", params=params)
    for row in rows:
        row["p50_ns"], row["p90_ns"] = (float(value) for value in row.pop("p50_p90_ns"))
    return cast(list[EvidenceRow], rows)


def version_rows(con: duckdb.DuckDBPyConnection, baseline: SpanWindow, incident: SpanWindow) -> list[VersionRow]:
    """Per (service, service.version) in either window: request spans and when the version was first seen."""
    return cast(list[VersionRow], run_query(con, "incidents/versions", params=_params(baseline, incident)))


def red_series_rows(
    con: duckdb.DuckDBPyConnection, window: SpanWindow, *, bucket_ns: int, sample: int = 1
) -> list[RedSeriesRow]:
    """Per (level, entity, bucket): requests, errors, latency p50/p95/p99 in ms of one trace
    in ``sample`` (incidents/red_levels.sql, red_series.sql)."""
    params = {**window.params, "bucket": bucket_ns, "sample": sample}
    rows = run_query(con, "incidents/red_levels", "incidents/red_series", params=params)
    return cast(list[RedSeriesRow], rows)


def log_series_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow, *, bucket_ns: int) -> list[LogSeriesRow]:
    """Per (service that logs, bucket): requests, log records, error records (logs/series.sql)."""
    rows = run_query(con, "logs/series", params={**window.params, "bucket": bucket_ns})
    return cast(list[LogSeriesRow], rows)


def instance_host_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> list[InstanceHostRow]:
    """Which host each service instance ran on in the window."""
    return cast(list[InstanceHostRow], run_query(con, "incidents/instance_hosts", params=window.params))


def spectrum_rows(
    con: duckdb.DuckDBPyConnection, baseline: SpanWindow, incident: SpanWindow, *, sample: int = 1
) -> list[SpectrumRow]:
    """Per (kind, entity): anomalous and normal incident traces through it (incidents/spectrum.sql),
    over one trace in ``sample`` (by trace-id hash)."""
    params = {**_params(baseline, incident), "sample": sample}
    return cast(list[SpectrumRow], run_query(con, "incidents/spectrum", params=params))


def histogram_point_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> list[HistogramPointRow]:
    """Every explicit-bucket histogram point in the window, per resource instance and series, in time order."""
    return cast(list[HistogramPointRow], run_query(con, "incidents/histogram_points", params=window.params))


def transition_rows(
    con: duckdb.DuckDBPyConnection,
    baseline: SpanWindow,
    incident: SpanWindow,
    service: str | None = None,
    *,
    sample: int = 1,
) -> list[TransitionRow]:
    """Per (window, service, operation, event, next event) inside spans: counts, an example
    (logs/transitions.sql), over one trace in ``sample`` (by trace-id hash); with ``service``,
    of the traces through it only."""
    params = {
        **_params(baseline, incident),
        "since": min(baseline.since_ns, incident.since_ns),
        "until": max(baseline.until_ns, incident.until_ns),
        "sample": sample,
        "service": service,
    }
    return cast(list[TransitionRow], run_query(con, "logs/transitions", params=params))
