"""The Parquet lake: closed hours of a store, one file per table, hour and node.

Layout (Hive partitions, so that Spark, DuckDB and most engines read it as it is)::

    LAKE/<table>/date=YYYY-MM-DD/hour=HH/node=<node id>/data.parquet

``LAKE`` is a directory (any shared file system) or an object-store URI that pyarrow's own
file systems open (``s3://bucket/prefix?endpoint_override=...``): every read, listing and
delete goes through a :class:`pyarrow.fs.FileSystem`, local or not.

``<table>`` is a store table with the store's own columns: ``otel_spans`` with
``otel_resources`` beside it (the resources that hour's spans name, keyed by the same
content hash on every node, so a union of all nodes' files joins), ``otel_logs`` and the
five ``otel_metrics_*`` tables. Rows are sorted (spans by service, trace id, start) and
cut into row groups of :data:`ROW_GROUP_ROWS`, so that the min/max statistics of each
row group prune reads by time, service and trace id.

Contract: an export is idempotent and atomic. In a directory a partition's file is written
aside (``.data.parquet.<pid>.tmp``, a name no reader globs) and renamed over
``data.parquet``. An object store has no rename, but replaces an object whole when an
upload completes: the file is written to a local temporary file first and then uploaded
under its final key, so the upload starts only with a whole file. Either way a reader
sees the old file or the new one, never half of one. Exporting an hour again rewrites it
from the store, so spans that arrived late join their hour at its next export; a
partition whose row count already matches the store is left alone.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from storage.errors import StorageError

if TYPE_CHECKING:
    from pyarrow.dataset import Dataset

__all__ = [
    "HOUR_NS",
    "LAKE_TABLES",
    "ROW_GROUP_ROWS",
    "ExportedPartition",
    "LakeError",
    "LakeLocation",
    "LakePartition",
    "check_node_id",
    "export_hours",
    "is_object_store",
    "lake_location",
    "lake_name",
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
_PARTITION = re.compile(r"^date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/node=([^/]+)$")
_NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class LakeError(StorageError):
    """The lake cannot be written or read (a missing path, no data, a bad node id)."""


@dataclass(frozen=True)
class LakePartition:
    """One file of the lake: table, hour (unix ns of its start), node, rows and bytes;
    ``path`` is the file's path in the lake's file system (a local path, or
    ``bucket/key`` on an object store)."""

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


@dataclass(frozen=True)
class LakeLocation:
    """Where a lake lives: a pyarrow file system, the lake's root in it, and its name in
    messages (an object store's URI without credentials or query)."""

    fs: pafs.FileSystem
    root: str
    name: str

    @property
    def local(self) -> bool:
        """True for a directory: files are renamed into place; false for an object store."""
        return isinstance(self.fs, pafs.LocalFileSystem)

    def join(self, *parts: str) -> str:
        return "/".join((self.root, *parts))


def is_object_store(lake: str | Path) -> bool:
    """True when ``lake`` is a URI of a file system other than the local one.

    >>> is_object_store("s3://bucket/lake"), is_object_store("/srv/lake"), is_object_store("file:///srv/lake")
    (True, False, False)
    """
    text = str(lake)
    return not isinstance(lake, Path) and "://" in text and not text.startswith("file://")


def lake_name(lake: str | Path) -> str:
    """The lake as messages show it: a path as given, a URI without credentials or query.

    >>> lake_name("s3://KEY:SECRET@bucket/lake/?endpoint_override=http://127.0.0.1:9000")
    's3://bucket/lake'
    """
    if not is_object_store(lake):
        return str(lake)
    parts = urlsplit(str(lake))
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}".rstrip("/")


def lake_location(lake: str | Path | LakeLocation, *, create: bool = False) -> LakeLocation:
    """The lake's file system and root; with ``create`` the root is made (a directory, or
    on an object store a directory marker in an existing bucket), otherwise it must exist."""
    location = lake if isinstance(lake, LakeLocation) else _locate(lake)
    try:
        kind = location.fs.get_file_info(location.root).type
        if create and kind == pafs.FileType.NotFound:
            location.fs.create_dir(location.root, recursive=True)
            return location
    except (OSError, pa.ArrowException) as exc:
        what = "create" if create else "read"
        raise LakeError(f"cannot {what} the lake {location.name}: {exc}") from exc
    if kind != pafs.FileType.Directory:
        raise LakeError(f"no lake at {location.name} (not a directory)")
    return location


def _locate(lake: str | Path) -> LakeLocation:
    if not is_object_store(lake):
        path = Path(str(lake).removeprefix("file://"))
        return LakeLocation(pafs.LocalFileSystem(), path.as_posix(), str(lake))
    name = lake_name(lake)
    try:
        fs, root = pafs.FileSystem.from_uri(str(lake))
    except (OSError, pa.ArrowException) as exc:
        raise LakeError(f"cannot open the lake {name}: {exc}") from exc
    return LakeLocation(fs, root.rstrip("/"), name)


def lake_root(path: str | Path, *, create: bool = False) -> Path:
    """A lake directory; with ``create`` it is made, otherwise it must exist. An object
    store has no local directory: use :func:`lake_location` for any lake."""
    location = lake_location(path, create=create)
    if not location.local:
        raise LakeError(f"the lake {location.name} is an object store, not a directory")
    return Path(location.root)


def partition_dir(root: Path, table: str, hour_ns: int, node: str) -> Path:
    """``root/<table>/date=YYYY-MM-DD/hour=HH/node=<node>``.

    >>> partition_dir(Path("lake"), "otel_spans", 1_700_000_000 * 10**9 // HOUR_NS * HOUR_NS, "a").as_posix()
    'lake/otel_spans/date=2023-11-14/hour=22/node=a'
    """
    return root.joinpath(*_partition_parts(table, hour_ns, node))


def _partition_parts(table: str, hour_ns: int, node: str) -> tuple[str, str, str, str]:
    moment = datetime.fromtimestamp(hour_ns // 10**9, tz=timezone.utc)
    return table, f"date={moment:%Y-%m-%d}", f"hour={moment:%H}", f"node={node}"


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


def export_hours(
    con: duckdb.DuckDBPyConnection,
    lake: str | Path | LakeLocation,
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
    location = lake_location(lake, create=True)
    check_node_id(node)
    done: list[ExportedPartition] = []
    for table, spec in _TABLES.items():
        for hour_ns, rows in _hours(con, table, spec, since_ns, until_ns, closed_before_ns):
            target = location.join(*_partition_parts(table, hour_ns, node))
            if _lake_rows(location.fs, target) == rows:
                done.append(ExportedPartition(table, hour_ns, rows, written=False))
                continue
            _write(con, location, target, _select(table, spec), hour_ns)
            done.append(ExportedPartition(table, hour_ns, rows, written=True))
            if table == "otel_spans":
                resources = location.join(*_partition_parts("otel_resources", hour_ns, node))
                _write(con, location, resources, _RESOURCES_OF_HOUR, hour_ns)
    if any(part.written for part in done):
        logger.info("lake %s: wrote %d partitions", location.name, sum(part.written for part in done))
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


def _write(con: duckdb.DuckDBPyConnection, location: LakeLocation, target: str, sql: str, hour_ns: int) -> None:
    """The rows of ``sql`` for the hour into ``target/data.parquet``: written whole to a
    file aside (beside it in a directory, a local temporary file for an object store), then
    renamed over it or uploaded under its key."""
    final = f"{target}/{FILE_NAME}"
    aside = _aside_file(location, target)
    try:
        _write_parquet(con, sql, hour_ns, aside)
        if location.local:
            location.fs.move(aside, final)  # rename(2): atomic, replaces the old file
        else:  # an upload completes whole or not at all; a failed part leaves the old object
            pafs.copy_files(aside, final, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=location.fs)
    except (duckdb.Error, OSError, pa.ArrowException) as exc:
        raise LakeError(f"cannot write {location.name}{final.removeprefix(location.root)}: {exc}") from exc
    finally:
        Path(aside).unlink(missing_ok=True)


def _aside_file(location: LakeLocation, target: str) -> str:
    if location.local:
        try:
            location.fs.create_dir(target, recursive=True)
        except OSError as exc:
            raise LakeError(f"cannot create {target}: {exc}") from exc
        return f"{target}/.{FILE_NAME}.{os.getpid()}.tmp"
    handle, path = tempfile.mkstemp(prefix="glimpse-lake-", suffix=".parquet")
    os.close(handle)
    return path


def _write_parquet(con: duckdb.DuckDBPyConnection, sql: str, hour_ns: int, path: str) -> None:
    cursor = con.cursor()  # a cursor of its own: the caller's connection may hold a result
    try:
        reader = cursor.sql(sql, params={"hour": hour_ns}).to_arrow_reader(ROW_GROUP_ROWS)
        with pq.ParquetWriter(path, reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
    finally:
        cursor.close()


def _lake_rows(fs: pafs.FileSystem, target: str) -> int | None:
    try:
        return int(pq.read_metadata(f"{target}/{FILE_NAME}", filesystem=fs).num_rows)
    except (OSError, ValueError):  # absent, or not a Parquet file: write it
        return None


def lake_partitions(lake: str | Path | LakeLocation, *, table: str | None = None) -> list[LakePartition]:
    """Every file of the lake (or of one table), by table, hour and node."""
    location = lake_location(lake)
    if table is not None and table not in LAKE_TABLES:
        raise LakeError(f"unknown table {table!r}: the lake holds {', '.join(LAKE_TABLES)}")
    found = []
    for name in [table] if table else LAKE_TABLES:
        for info in _files(location, name):
            day, hour, node = cast(re.Match[str], _PARTITION.match(_partition_of(info.path))).groups()
            start = datetime.fromisoformat(f"{day}T{hour}:00:00+00:00")
            hour_ns = int(start.timestamp()) * 10**9
            rows = _lake_rows(location.fs, info.path.rsplit("/", 1)[0]) or 0
            found.append(LakePartition(name, hour_ns, node, rows, int(info.size or 0), info.path))
    return found


def _files(location: LakeLocation, table: str) -> Iterator[pafs.FileInfo]:
    """The table's ``data.parquet`` files under ``date=*/hour=*/node=*``, by path."""
    selector = pafs.FileSelector(location.join(table), recursive=True, allow_not_found=True)
    try:
        infos = location.fs.get_file_info(selector)
    except (OSError, pa.ArrowException) as exc:
        raise LakeError(f"cannot list the lake {location.name}: {exc}") from exc
    files = [i for i in infos if i.base_name == FILE_NAME and _PARTITION.match(_partition_of(i.path))]
    yield from sorted(files, key=lambda i: i.path)


def _partition_of(path: str) -> str:
    """``date=.../hour=.../node=...`` of a file's path (its last three directories)."""
    return "/".join(path.split("/")[-4:-1])


def open_lake(lake: str | Path | LakeLocation, *, memory_limit: str = "1GB") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose store tables read the lake: every query of storage/queries
    runs on it as on a store file (``otel_traces`` joins resources as in the store).

    Tables the lake has no file of stay empty. Resources come from every node's files,
    each key once. A directory is read by DuckDB's own ``read_parquet``; an object store
    (DuckDB's httpfs is not on PyPI) through pyarrow datasets registered on the connection
    and on every cursor of it.
    """
    from storage.schema import apply_migrations

    location = lake_location(lake)
    files = {table: [info.path for info in _files(location, table)] for table in LAKE_TABLES}
    if not files["otel_spans"]:
        raise LakeError(f"the lake at {location.name} holds no spans (export some with glimpse lake export)")
    con = duckdb.connect(":memory:", config={"memory_limit": memory_limit})
    apply_migrations(con)
    present = {table: paths for table, paths in files.items() if paths}
    for table in present:
        con.execute(f"DROP TABLE {table}")
    if not location.local:
        import pyarrow.dataset as ds  # here only: it loads pandas, which the server must not (test_layout)

        datasets = {
            table: ds.dataset(paths, filesystem=location.fs, format="parquet") for table, paths in present.items()
        }
        return cast(duckdb.DuckDBPyConnection, _LakeConnection(con, datasets))
    for table in present:
        pattern = location.join(table, "date=*", "hour=*", "node=*", FILE_NAME).replace("'", "''")
        # by name: files exported before schema version 5 have the columns it stopped storing
        scan = f"read_parquet('{pattern}', hive_partitioning = false, union_by_name = true)"
        con.execute(f"CREATE VIEW {table} AS {_lake_select(table, scan)}")
    return con


def _lake_select(table: str, scan: str) -> str:
    return f"SELECT DISTINCT ON (resource_key) * FROM {scan}" if table == "otel_resources" else f"SELECT * FROM {scan}"


class _LakeConnection:
    """A DuckDB connection over an object-store lake: each store table is a pyarrow dataset
    registered as a view. Registrations belong to one connection, and the store queries
    open cursors of their own, so each cursor registers them again. Everything else is
    the connection's own."""

    def __init__(self, con: duckdb.DuckDBPyConnection, datasets: dict[str, Dataset]) -> None:
        self._con, self._datasets = con, datasets
        for table, dataset in datasets.items():
            source = f"_lake_{table}"
            con.register(source, dataset)
            con.execute(f"CREATE TEMP VIEW {table} AS {_lake_select(table, source)}")

    def cursor(self) -> _LakeConnection:
        return _LakeConnection(self._con.cursor(), self._datasets)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def __enter__(self) -> _LakeConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()


def remove_partition(partition: LakePartition, lake: str | Path | LakeLocation | None = None) -> None:
    """Delete one partition's directory (lake retention); ``lake`` names the file system
    (a local directory when not given)."""
    fs = lake_location(lake).fs if lake is not None else pafs.LocalFileSystem()
    try:
        fs.delete_dir(partition.path.rsplit("/", 1)[0])
    except FileNotFoundError:
        pass
    except (OSError, pa.ArrowException) as exc:
        raise LakeError(f"cannot delete {partition.path}: {exc}") from exc
