"""The lake as Spark SQL views, and the store's named queries run on them.

One text per query: the ``.sql`` files of ``storage/queries`` are DuckDB's dialect, and
:func:`spark_dialect` rewrites the few constructs Spark spells differently (listed in
:data:`_REWRITES`; each is the same operation, not an approximation). Percentiles stay
exact: DuckDB's ``quantile_cont`` and Spark's ``percentile`` both interpolate linearly
between the two nearest ranks (the last binary digit of the result can differ: the two
engines order the interpolation's arithmetic differently). Differences are documented
rather than hidden: the 64-bit hash that pairs spans is ``xxhash64`` in Spark (DuckDB's own
``hash`` elsewhere); either makes a false pair only on a hash collision inside one window,
but the traces a large diagnosis samples by ``hash(trace_id) % n`` are other traces on
Spark. ``list(DISTINCT x ...)`` leaves NULL out (DuckDB keeps one): the columns it lists
are never NULL. JSON values are read with ``get_json_object`` (a string as it is, anything
else as its JSON text, which Spark writes compactly). Regular expressions are Java's in
Spark, RE2 in DuckDB: the store's (the log masks) use only what both read the same.
Unsigned 64-bit counts (a histogram's buckets), decimals in Spark, are read as longs.

In the lake's views ``timestamp`` columns are integers (unix ns): Spark reads Parquet's
nanosecond timestamps as longs (``spark.sql.legacy.parquet.nanosAsLong``), so the
store's ``make_timestamp_ns($x)`` and ``epoch_ns(x)`` become ``:x`` and ``x``.

A :class:`SparkLake` answers :func:`storage.named_queries.run_query` (and the ``cursor``/
``close`` a query-service function calls on its connection), so the query service's own
functions run on it unchanged. pyspark is imported by the caller that makes the session;
nothing here imports it.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from storage.lake import HOUR_NS, LAKE_TABLES, LakeError, lake_partitions, lake_root
from storage.named_queries import load_query
from tracing.semconv import INTEGER_COLUMNS, SPAN_DERIVED

__all__ = ["SparkLake", "spark_dialect"]

logger = logging.getLogger(__name__)

_REWRITES: tuple[tuple[str, str | Callable[[re.Match[str]], str]], ...] = (
    (r"\bAS NOT MATERIALIZED \(", "AS ("),  # a planner hint DuckDB alone has
    (r"\bmake_timestamp_ns\(", "("),  # timestamps are unix ns already
    (r"\bepoch_ns\(", "("),
    # an interval of x microseconds added to a timestamp: x * 1000 ns
    (r"\bto_microseconds\(([^()]*)\)", r"((\1) * 1000)"),
    (r"\bhash\(", "xxhash64("),
    (r"(?<!LEFT )\bANTI JOIN\b", "LEFT ANTI JOIN"),
    (r"(?<!LEFT )\bSEMI JOIN\b", "LEFT SEMI JOIN"),
    (r"\bunnest\(", "explode("),
    (r"\blen\(", "size("),  # of a list
    (r"\bquantile_cont\(([^,]+), \[([^\]]+)\]\)", r"percentile(\1, array(\2))"),
    # string_agg(DISTINCT x, ',' ORDER BY x): the distinct values, sorted, joined (NULL when
    # none). Spark's own string_agg ... WITHIN GROUP fails to plan with DISTINCT (4.x).
    (
        r"\bstring_agg\(DISTINCT (.*?), ('[^']*') ORDER BY (.*?)\) AS ",
        r"nullif(array_join(array_sort(collect_set(\1)), \2), '') AS ",
    ),
    # integer division: both truncate toward zero (-7 // 2 = -7 div 2 = -3)
    (r"\s//\s", " div "),
    (r"\* EXCLUDE \(", "* EXCEPT ("),
    (r"::VARCHAR\b", "::STRING"),
    # Spark has no unsigned integers (its xxhash64 is signed already); DuckDB's UBIGINT
    # keeps `hash(x) % $n` out of 128-bit arithmetic
    (r"::UBIGINT\b", "::BIGINT"),
    # arg_max(x, key[, n]): the same function (n: the top n, best first; NULL over no rows)
    (r"\barg_max\(", "max_by("),
    (r"\barg_min\(", "min_by("),
    # the most frequent value, the least of those on a tie
    (r"\bmode\(([\w.]+) ORDER BY \1\)", r"mode(\1, true)"),
    # list(DISTINCT x ORDER BY x) [FILTER ...]: the distinct values sorted, NULL over no rows;
    # NULL values are left out (DuckDB keeps one, last): the columns it lists are never NULL
    (
        r"\blist\(DISTINCT ([\w.]+) ORDER BY \1\)( FILTER \(WHERE [^()]*\))?",
        r"nullif(array_sort(collect_set(\1)\2), array())",
    ),
    (r",\s*'g'\)", ")"),  # regexp_replace's flag: Spark's replaces every match
    (r"\bjson_extract_string\((\w+), \[([^\]]*)\]\)", lambda m: _json_list(m[1], m[2])),
    (r"\bjson_extract_string\((\w+), ('[^']*')\)", lambda m: _json_value(m[1], m[2])),
    (r"([\w.]+)\s*->>\s*('[^']*'|[\w.]+)", lambda m: _json_value(m[1], m[2])),
    # lists are indexed from 1, Spark's arrays from 0: element_at counts from 1 (NULL out of range)
    (r"\b([A-Za-z_][\w.]*)\[(\d+)\]", r"try_element_at(\1, \2)"),
    (r"--[^\n]*|'[^']*'", lambda m: _raw_literal(m[0])),
    (r"\$(\w+)", r":\1"),  # named parameters
)
_COMPILED = tuple((re.compile(pattern), replacement) for pattern, replacement in _REWRITES)


def _json_path(path: str) -> str:
    r"""A DuckDB JSON path or key (a SQL literal or expression) as Spark's JSONPath text.

    >>> print(_json_path("'$.\"k8s.pod.name\"'"), _json_path("'state'"), _json_path("m.attribute"))
    "$['k8s.pod.name']" "$['state']" concat("$['", m.attribute, "']")
    """
    if not path.startswith("'"):
        return f'concat("$[\'", {path}, "\']")'
    text = path[1:-1]
    if text == "$":
        return "'$'"
    key = re.fullmatch(r'\$\."([^"]+)"', text)
    return f"\"$['{key[1] if key else text}']\""


def _json_value(column: str, path: str) -> str:
    """``x ->> path`` and ``json_extract_string(x, path)``: the value at the path as text (a
    string as it is, anything else as its JSON)."""
    return f"get_json_object({column}, {_json_path(path)})"


def _json_list(column: str, paths: str) -> str:
    """``json_extract_string(x, [p1, p2, ...])``: the list of the values at each path."""
    values = (_json_value(column, p.strip()) for p in re.findall(r"'[^']*'", paths))
    return f"array({', '.join(values)})"


def _raw_literal(token: str) -> str:
    """A literal with a backslash (a regular expression) as a raw literal: DuckDB's literals
    have no escapes, Spark's do unless raw. Comments pass as they are."""
    return f"r{token}" if token.startswith("'") and "\\" in token else token


def spark_dialect(sql: str) -> str:
    """The DuckDB text of a store query in Spark SQL.

    >>> spark_dialect("SELECT quantile_cont(d, [0.5, 0.9]) FROM t WHERE ts >= make_timestamp_ns($since)")
    'SELECT percentile(d, array(0.5, 0.9)) FROM t WHERE ts >= (:since)'
    """
    for pattern, replacement in _COMPILED:
        sql = pattern.sub(replacement, sql)
    return sql


class SparkLake:
    """The Parquet lake at ``path`` as views of the Spark session ``session`` (a
    ``pyspark.sql.SparkSession``), one per store table, with the store's columns.

    With a window, only the hour partitions that can hold it are read (partition pruning
    by path); inside a file, Parquet's row-group statistics skip the rest.
    """

    def __init__(
        self, session: Any, path: str | Path, *, since_ns: int | None = None, until_ns: int | None = None
    ) -> None:
        self.session = session
        self.root = lake_root(path)
        self.partitions = [p for p in lake_partitions(self.root) if _overlaps(p.hour_ns, since_ns, until_ns)]
        if not any(p.table == "otel_spans" for p in self.partitions):
            where = "" if since_ns is None and until_ns is None else " in this window"
            raise LakeError(f"the lake at {self.root} holds no spans{where}")
        self.tables = sorted({p.table for p in self.partitions})
        for table in LAKE_TABLES:
            if table in self.tables:
                self._register(table)
            else:  # as in a store, a table with no rows (no logs exported, say) reads as empty
                empty = self.session.createDataFrame([], self._empty_schema(table))
                _counts_as_longs(empty).createOrReplaceTempView(table)
        self._register_traces()

    def _register(self, table: str) -> None:
        paths = [str(Path(p.path).parent) for p in self.partitions if p.table == table]
        frame = self.session.read.option("basePath", str(self.root / table)).parquet(*paths)
        frame = frame.drop("date", "hour", "node")  # the partition columns: the store has none
        if table == "otel_resources":  # every node exports the resources its spans name
            frame = frame.dropDuplicates(["resource_key"])
        _counts_as_longs(frame).createOrReplaceTempView(table)

    def _empty_schema(self, table: str) -> Any:
        """The Spark schema a lake file of ``table`` would have: the store's own columns, as
        the export writes them, read back from a file of none of their rows (on the driver)."""
        with tempfile.TemporaryDirectory(prefix="glimpse-schema-") as folder:
            path = Path(folder) / "empty.parquet"
            pq.write_table(_empty_table(table), path)
            return self.session.read.parquet(str(path)).schema

    def _register_traces(self) -> None:
        """``otel_traces`` as the store defines it: each span with its resource's columns."""
        from_resource = set(self.session.table("otel_resources").columns) - {"resource_key", "service_name"}
        columns = ", ".join(_trace_column(name, from_resource) for name in _trace_columns())
        self.session.sql(
            f"SELECT {columns} FROM otel_spans AS s JOIN otel_resources AS r ON r.resource_key = s.resource_key"
        ).createOrReplaceTempView("otel_traces")

    def run_named_query(
        self, names: tuple[str, ...], params: Mapping[str, Any] | None, parts: Mapping[str, str] | None
    ) -> list[dict[str, Any]]:
        """Rows of the named store queries (see storage.named_queries.run_query), on Spark."""
        started = time.perf_counter()
        rows = [row.asDict(recursive=True) for row in self.frame(names, params, parts).collect()]
        logger.debug("spark query %s: %d rows in %.1f ms", "+".join(names), len(rows), _ms(started))
        return rows

    def frame(
        self, names: tuple[str, ...], params: Mapping[str, Any] | None = None, parts: Mapping[str, str] | None = None
    ) -> Any:
        """The Spark DataFrame of the named store queries (not yet run)."""
        text = "\n".join(load_query(name) for name in names)
        if parts:
            text = text.format(**parts)
        return self.session.sql(spark_dialect(text), args=dict(params or {}))

    def sql(self, text: str, *, max_rows: int) -> tuple[list[str], list[str], list[list[Any]], bool]:
        """A user's Spark SQL over the views: columns, types, up to ``max_rows`` rows, truncated."""
        frame = self.session.sql(text)
        table: pa.Table = frame.limit(max_rows + 1).toArrow()
        truncated = table.num_rows > max_rows
        table = table.slice(0, max_rows)
        columns = list(table.column_names)
        types = [str(field.type) for field in table.schema]
        rows = [list(row.values()) for row in table.to_pylist()]
        return columns, types, rows, truncated

    # what a query-service function calls on its connection
    def cursor(self) -> SparkLake:
        return self

    def close(self) -> None:
        """Nothing to close: the session belongs to the caller."""


def _trace_column(name: str, from_resource: set[str]) -> str:
    """One column of ``otel_traces`` in Spark SQL: a span's or its resource's, or, for the
    columns the store reads from the span's attributes (``SPAN_DERIVED``), the first key
    present whose value fits, as ``storage/sql/005_derived_columns.sql`` does. Spark has no
    JSON type test: a text column takes an array, a map, bytes or a non-finite double as
    its JSON text (and stops there) where DuckDB gives NULL and goes on to an older key
    (docs/schema.md)."""
    keys = SPAN_DERIVED.get(name)
    if keys is None:
        return f"{'r' if name in from_resource else 's'}.{name}"
    values = [_json_value("s.span_attributes", f"'$.\"{key}\"'") for key in keys]
    if name in INTEGER_COLUMNS:
        # a whole-value match: Java's $ also matches before a final newline
        whole = "CASE WHEN regexp_extract({0}, '^[+-]?[0-9]+', 0) = {0} THEN try_cast({0} AS BIGINT) END"
        values = [whole.format(v) for v in values]
    return f"coalesce({', '.join(values)}) AS {name}"


@cache
def _trace_columns() -> tuple[str, ...]:
    """The columns of the store's ``otel_traces`` view, in order (from the schema's own DDL)."""
    return tuple(_empty_table("otel_traces").column_names)


@cache
def _empty_table(table: str) -> pa.Table:
    """No rows of the store's ``table``, with its columns and types as Arrow gives them (the
    export's types: JSON as strings, nanosecond timestamps)."""
    import duckdb

    from storage.schema import apply_migrations

    con = duckdb.connect(":memory:")
    try:
        apply_migrations(con)
        empty: pa.Table = con.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table()
        return empty
    finally:
        con.close()


# Spark reads Parquet's unsigned 64-bit integers as decimal(20,0); the store's are integers
_UNSIGNED = {"decimal(20,0)": "bigint", "array<decimal(20,0)>": "array<bigint>"}


def _counts_as_longs(frame: Any) -> Any:
    """``frame`` with its unsigned 64-bit counts (a histogram's ``count`` and ``bucket_counts``)
    as longs, as Python reads them from the store. ``resource_key``, a hash that uses all 64
    bits, stays as it is: it is only joined on."""
    for field in frame.schema.fields:
        target = _UNSIGNED.get(field.dataType.simpleString())
        if target is not None and field.name != "resource_key":
            frame = frame.withColumn(field.name, frame[field.name].cast(target))
    return frame


def _overlaps(hour_ns: int, since_ns: int | None, until_ns: int | None) -> bool:
    return (since_ns is None or hour_ns + HOUR_NS > since_ns) and (until_ns is None or hour_ns < until_ns)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
