"""The one chokepoint for read queries: a named ``queries/<domain>/<name>.sql``, its parameters, rows.

Every read query glimpse runs lives in a ``.sql`` file under ``storage/queries``, named by
domain (``graph/service_nodes``, ``traces/search``, ...). :func:`run_query` loads it,
fills in the shared fragments (the request rule ``{requests}``, see ``queries/requests.sql``,
a window's log records ``{log_records}``, see ``queries/logs/records.sql``, or those of one
trace in ``$sample`` ``{sampled_log_records}``, or its records below a level sampled
``{level_sampled_log_records}``, and the spans a
diagnosis compares ``{compared_spans}``, see ``queries/incidents/compared_spans.sql``, and when
one trace's spans started ``{trace_bounds}``, see ``queries/traces/bounds.sql``, the
traces of a window ``{window_trace_ids}``, see ``queries/traces/window_trace_ids.sql``, and
whether a row's trace is in a sample ``{in_trace_sample}``, see ``queries/in_trace_sample.sql``) and any
query-specific text parts, runs it with named parameters, and logs the elapsed time at
DEBUG on the ``storage.named_queries`` logger, so that glimpse's own queries can be traced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import duckdb
import pyarrow as pa

__all__ = ["load_query", "run_query", "run_query_arrow"]

logger = logging.getLogger(__name__)

# shared CTE fragments a query names in braces -> the file that defines them
_FRAGMENTS = {
    "{requests}": "requests",
    "{log_records}": "logs/records",
    "{sampled_log_records}": "logs/records",  # with its trace sample, see _SAMPLES
    "{level_sampled_log_records}": "logs/records",  # with its record sample, see _SAMPLES
    "{masked_message}": "logs/masked_message",  # after log_records, which names it
    "{compared_spans}": "incidents/compared_spans",
    "{trace_bounds}": "traces/bounds",
    "{window_trace_ids}": "traces/window_trace_ids",
    "{in_trace_sample}": "in_trace_sample",
}
# the conditions logs/records.sql puts on a record before the records are deduplicated:
# every record, except in the fragments named here. {sampled_log_records}: one trace in
# $sample; {level_sampled_log_records}: every record at or above the severity $kept_from (by
# its number, else its text: $kept_texts) and one in $record_sample of the others.
_EVERY_RECORD = {"{trace_sample}": "TRUE", "{record_sample}": "TRUE"}
_SAMPLES = {
    "{sampled_log_records}": {"{trace_sample}": "($sample = 1 OR hash(l.trace_id) % $sample::UBIGINT = 0)"},
    "{level_sampled_log_records}": {
        "{record_sample}": "($record_sample = 1 OR l.severity_number >= $kept_from"
        " OR (l.severity_number = 0 AND list_contains($kept_texts, upper(trim(l.severity_text))))"
        " OR hash(coalesce(l.timestamp, l.observed_timestamp), l.body) % $record_sample::UBIGINT = 0)"
    },
}


@cache
def _read(name: str) -> str:
    return resources.files("storage").joinpath("queries", f"{name}.sql").read_text(encoding="utf-8")


@cache
def load_query(name: str) -> str:
    """The text of ``storage/queries/<name>.sql`` with the shared fragments filled in (read once)."""
    text = _read(name)
    for name_in_braces, fragment in _FRAGMENTS.items():
        fragment_text = _read(fragment).strip()
        for placeholder, condition in _SAMPLES.get(name_in_braces, {}).items():
            fragment_text = fragment_text.replace(placeholder, condition)
        text = text.replace(name_in_braces, fragment_text)
    for placeholder, condition in _EVERY_RECORD.items():
        text = text.replace(placeholder, condition)
    return text


def _text(names: tuple[str, ...], parts: Mapping[str, str] | None) -> str:
    sql = "\n".join(load_query(name) for name in names)
    return sql.format(**parts) if parts else sql


def run_query(
    con: duckdb.DuckDBPyConnection,
    *names: str,
    params: Mapping[str, Any] | None = None,
    parts: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Rows (column -> value) of the named queries' text joined in order (a CTE chain and the
    SELECT that ends it), with ``parts`` filled into ``{placeholders}``.

    ``con`` may be a :class:`storage.spark_lake.SparkLake` (anything with ``run_named_query``):
    the same queries then run as Spark SQL over the Parquet lake."""
    remote = getattr(con, "run_named_query", None)
    if remote is not None:
        rows: list[dict[str, Any]] = remote(names, params, parts)
        return rows
    started = time.perf_counter()
    cursor = con.execute(_text(names, parts), dict(params or {}))
    columns = [d[0] for d in cursor.description or []]
    rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    _log(names, len(rows), started)
    return rows


def run_query_arrow(con: duckdb.DuckDBPyConnection, *names: str, params: Mapping[str, Any] | None = None) -> pa.Table:
    """As :func:`run_query`, the result as an Arrow table (on a cursor of its own: the
    caller's connection may hold a result)."""
    started = time.perf_counter()
    cursor = con.cursor()
    try:
        table: pa.Table = cursor.sql(_text(names, None), params=dict(params or {})).to_arrow_table()
    finally:
        cursor.close()
    _log(names, table.num_rows, started)
    return table


def _log(names: tuple[str, ...], rows: int, started: float) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug("query %s: %d rows in %.1f ms", "+".join(names), rows, elapsed_ms)
