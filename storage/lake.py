"""The Parquet lake: closed hours of a store, one file per table, hour and node.

Layout (Hive partitions, so that Spark, DuckDB and most engines read it as it is)::

    LAKE/<table>/date=YYYY-MM-DD/hour=HH/node=<node id>/data.parquet

``<table>`` is a store table with the store's own columns: ``otel_spans`` with
``otel_resources`` beside it (the resources that hour's spans name, keyed by the same
content hash on every node, so a union of all nodes' files joins), ``otel_logs`` and the
five ``otel_metrics_*`` tables. Rows are sorted (spans by service, trace id, start) and
cut into row groups of :data:`ROW_GROUP_ROWS`, so that the min/max statistics of each
row group prune reads by time, service and trace id.

Contract: an export is idempotent and atomic. A partition's file is written aside
(``.data.parquet.<pid>.tmp``, a name no reader globs) and renamed over ``data.parquet``:
a reader sees the old file or the new one, never half of one. Exporting an hour again
rewrites it from the store, so spans that arrived late join their hour at its next
export; a partition whose row count already matches the store is left alone.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from storage.errors import StorageError

__all__ = [
    "HOUR_NS",
    "LAKE_TABLES",
    "ROW_GROUP_ROWS",
    "ExportedPartition",
    "LakeError",
    "LakePartition",
    "check_node_id",
    "export_hours",
    "lake_partitions",
    "lake_root",
    "open_lake",
    "partition_dir",
    "remove_partition",
]

logger = logging.getLogger(__name__)

HOUR_NS = 3_600 * 10**9
ROW_GROUP_ROWS = 122_880  # DuckDB's own row group size: one lake row group per store row group
FILE_NAME = "data.parquet"
_METRIC_TABLES = tuple(
    f"otel_metrics_{kind}" for kind in ("gauge", "sum", "histogram", "exponential_histogram", "summary")
)


@dataclass(frozen=True)
class _Table:
    time: str  # the row's own time, as SQL over the store table
    order: str  # the sort inside a partition: what reads prune by


_TABLES = {
    "otel_spans": _Table("timestamp", "service_name, trace_id, timestamp, span_id"),
    "otel_logs": _Table("coalesce(timestamp, observed_timestamp)", "service_name, trace_id, timestamp"),
    **{table: _Table("time_unix", "service_name, metric_name, time_unix") for table in _METRIC_TABLES},
}
# otel_resources has no time of its own: each span partition takes the resources it names
LAKE_TABLES = (*_TABLES, "otel_resources")
_NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class LakeError(StorageError):
    """The lake cannot be written or read (a missing path, no data, a bad node id)."""


@dataclass(frozen=True)
class LakePartition:
    """One file of the lake: table, hour (unix ns of its start), node, rows and bytes."""

    table: str
    hour_ns: int
    node: str
    rows: int
    bytes: int
    path: str


@dataclass(frozen=True)
class ExportedPartition:
    """What one export did to one partition: ``written`` false when it was already current."""

    table: str
    hour_ns: int
    rows: int
    written: bool


def check_node_id(node: str) -> str:
    """The node id, if it can name a directory (letters, digits, ``.``, ``_``, ``-``).

    >>> check_node_id("ingest-1")
    'ingest-1'
    """
    if not _NODE_ID.match(node):
        raise LakeError(
            f"a node id is 1-63 letters, digits, '.', '_' or '-' (starting with a letter or digit): {node!r}"
        )
    return node


def lake_root(path: str | Path, *, create: bool = False) -> Path:
    """The lake's directory; with ``create`` it is made, otherwise it must exist."""
    root = Path(path)
    if create:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LakeError(f"cannot create the lake directory {root}: {exc.strerror}") from exc
    elif not root.is_dir():
        raise LakeError(f"no lake at {root} (not a directory)")
    return root


def partition_dir(root: Path, table: str, hour_ns: int, node: str) -> Path:
    """``root/<table>/date=YYYY-MM-DD/hour=HH/node=<node>``.

    >>> partition_dir(Path("lake"), "otel_spans", 1_700_000_000 * 10**9 // HOUR_NS * HOUR_NS, "a").as_posix()
    'lake/otel_spans/date=2023-11-14/hour=22/node=a'
    """
    moment = datetime.fromtimestamp(hour_ns // 10**9, tz=timezone.utc)
    return root / table / f"date={moment:%Y-%m-%d}" / f"hour={moment:%H}" / f"node={node}"


def export_hours(
    con: duckdb.DuckDBPyConnection,
    lake: str | Path,
    node: str,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    closed_before_ns: int | None = None,
) -> list[ExportedPartition]:
    """Export every hour with data in [since_ns, until_ns) that ends by ``closed_before_ns``.

    Hours are whole: a bound inside an hour takes the whole hour. A partition is rewritten
    only when the store's row count for it differs from the lake's (new or late rows).
    Runs on any connection, external file access off or on: rows stream out through Arrow
    and pyarrow writes the files.
    """
    root = lake_root(lake, create=True)
    check_node_id(node)
    done: list[ExportedPartition] = []
    for table, spec in _TABLES.items():
        for hour_ns, rows in _hours(con, table, spec, since_ns, until_ns, closed_before_ns):
            target = partition_dir(root, table, hour_ns, node)
            if _lake_rows(target) == rows:
                done.append(ExportedPartition(table, hour_ns, rows, written=False))
                continue
            _write(con, target, _select(table, spec), hour_ns)
            done.append(ExportedPartition(table, hour_ns, rows, written=True))
            if table == "otel_spans":
                resources = partition_dir(root, "otel_resources", hour_ns, node)
                _write(con, resources, _RESOURCES_OF_HOUR, hour_ns)
    if any(part.written for part in done):
        logger.info("lake %s: wrote %d partitions", root, sum(part.written for part in done))
    return done


def _hours(
    con: duckdb.DuckDBPyConnection,
    table: str,
    spec: _Table,
    since_ns: int | None,
    until_ns: int | None,
    closed_before_ns: int | None,
) -> list[tuple[int, int]]:
    """(hour start ns, rows) of the table's hours in the bounds (whole hours)."""
    since = since_ns // HOUR_NS * HOUR_NS if since_ns is not None else None
    until = -(-until_ns // HOUR_NS) * HOUR_NS if until_ns is not None else None
    sql = f"""
        SELECT epoch_ns(date_trunc('hour', {spec.time})) AS hour_ns, count(*) AS n FROM {table}
        WHERE {spec.time} IS NOT NULL
          AND ($since::BIGINT IS NULL OR {spec.time} >= make_timestamp_ns($since::BIGINT))
          AND ($until::BIGINT IS NULL OR {spec.time} < make_timestamp_ns($until::BIGINT))
        GROUP BY ALL ORDER BY hour_ns
    """
    rows = con.execute(sql, {"since": since, "until": until}).fetchall()
    return [(int(hour), int(n)) for hour, n in rows if closed_before_ns is None or hour + HOUR_NS <= closed_before_ns]


def _select(table: str, spec: _Table) -> str:
    return f"""
        SELECT * FROM {table}
        WHERE {spec.time} >= make_timestamp_ns($hour) AND {spec.time} < make_timestamp_ns($hour + {HOUR_NS})
        ORDER BY {spec.order}
    """


_RESOURCES_OF_HOUR = f"""
    SELECT * FROM otel_resources WHERE resource_key IN (
        SELECT DISTINCT resource_key FROM otel_spans
        WHERE timestamp >= make_timestamp_ns($hour) AND timestamp < make_timestamp_ns($hour + {HOUR_NS})
    )
    ORDER BY resource_key
"""


def _write(con: duckdb.DuckDBPyConnection, target: Path, sql: str, hour_ns: int) -> None:
    """The rows of ``sql`` for the hour into ``target/data.parquet``, written aside then renamed."""
    target.mkdir(parents=True, exist_ok=True)
    aside = target / f".{FILE_NAME}.{os.getpid()}.tmp"
    cursor = con.cursor()  # a cursor of its own: the caller's connection may hold a result
    try:
        reader = cursor.sql(sql, params={"hour": hour_ns}).to_arrow_reader(ROW_GROUP_ROWS)
        with pq.ParquetWriter(aside, reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
        os.replace(aside, target / FILE_NAME)
    except (duckdb.Error, OSError) as exc:
        aside.unlink(missing_ok=True)
        raise LakeError(f"cannot write {target / FILE_NAME}: {exc}") from exc
    finally:
        cursor.close()


def _lake_rows(target: Path) -> int | None:
    try:
        return int(pq.read_metadata(target / FILE_NAME).num_rows)
    except (OSError, ValueError):  # absent, or not a Parquet file: write it
        return None


_PARTITION = re.compile(r"^date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/node=([^/]+)$")


def lake_partitions(lake: str | Path, *, table: str | None = None) -> list[LakePartition]:
    """Every file of the lake (or of one table), by table, hour and node."""
    root = lake_root(lake)
    if table is not None and table not in LAKE_TABLES:
        raise LakeError(f"unknown table {table!r}: the lake holds {', '.join(LAKE_TABLES)}")
    found = []
    for name in [table] if table else LAKE_TABLES:
        for path in sorted((root / name).glob(f"date=*/hour=*/node=*/{FILE_NAME}")):
            match = _PARTITION.match(path.parent.relative_to(root / name).as_posix())
            if not match:
                continue
            day, hour, node = match.groups()
            start = datetime.fromisoformat(f"{day}T{hour}:00:00+00:00")
            hour_ns = int(start.timestamp()) * 10**9
            rows = _lake_rows(path.parent) or 0
            found.append(LakePartition(name, hour_ns, node, rows, path.stat().st_size, str(path)))
    return found


def _files(root: Path, table: str) -> Iterator[Path]:
    yield from sorted((root / table).glob(f"date=*/hour=*/node=*/{FILE_NAME}"))


def open_lake(lake: str | Path, *, memory_limit: str = "1GB") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose store tables read the lake: every query of storage/queries
    runs on it as on a store file (``otel_traces`` joins resources as in the store).

    Tables the lake has no file of stay empty. Resources come from every node's files,
    each key once.
    """
    from storage.schema import apply_migrations

    root = lake_root(lake)
    if not any(True for _ in _files(root, "otel_spans")):
        raise LakeError(f"the lake at {root} holds no spans (export some with glimpse lake export)")
    con = duckdb.connect(":memory:", config={"memory_limit": memory_limit})
    apply_migrations(con)
    for table in LAKE_TABLES:
        if not any(True for _ in _files(root, table)):
            continue
        pattern = (root / table / "date=*" / "hour=*" / "node=*" / FILE_NAME).as_posix().replace("'", "''")
        scan = f"read_parquet('{pattern}', hive_partitioning = false)"
        select = (
            f"SELECT DISTINCT ON (resource_key) * FROM {scan}" if table == "otel_resources" else f"SELECT * FROM {scan}"
        )
        con.execute(f"DROP TABLE {table}")
        con.execute(f"CREATE VIEW {table} AS {select}")
    return con


def remove_partition(partition: LakePartition) -> None:
    """Delete one partition's directory (lake retention)."""
    shutil.rmtree(Path(partition.path).parent, ignore_errors=True)
