"""Opening a glimpse database, for the one writer or for read-only use."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from storage.errors import QueryMemoryError, SchemaError, StorageError
from storage.journal import journal_dir, pending_segments
from storage.schema import SCHEMA_VERSION, apply_migrations, current_version
from storage.writer import TableStore, WriterStats, replay_journal

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_MEMORY_LIMIT_BYTES",
    "memory_by_tag",
    "on_connection",
    "open_read_only",
    "open_writable",
    "replay_pending",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# DuckDB checkpoints by itself past this WAL size; glimpse's writer checkpoints earlier,
# by its own WAL threshold, so this is only the backstop.
_AUTOCHECKPOINT = "1GB"


DEFAULT_MEMORY_LIMIT_BYTES = 256 * 10**6
DEFAULT_MEMORY_LIMIT = f"{DEFAULT_MEMORY_LIMIT_BYTES}B"
# analysis queries (window functions over millions of spans) get more, but not the machine
READ_MEMORY_LIMIT = "1GB"


def open_writable(path: str | Path, *, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the database for the server: migrate, lock down SQL.

    External access (files, network, extensions) is disabled after migration: every
    connection derived from this one, including those that run users' SQL, inherits it.
    Spans and metric batches still load, through registered Arrow tables.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise StorageError(f"cannot open {path}: {exc}") from exc
    try:
        apply_migrations(con)
        con.execute(f"SET checkpoint_threshold = '{_AUTOCHECKPOINT}'")
        con.execute(f"SET memory_limit = '{_checked_size(memory_limit)}'")
        # The writer's row-group INSERTs then run on all of DuckDB's threads (measured:
        # 0.5 s a chunk against 0.8 s, the same row groups and bytes); glimpse's queries
        # never rely on rows coming back in insertion order without an ORDER BY.
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except Exception:
        con.close()
        raise
    return con


def open_read_only(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open an existing database read-only with external access disabled.

    Batches a server acknowledged but had not committed when it died are committed
    first (which needs write access once).
    """
    if not Path(path).exists():
        raise StorageError(f"no database at {path}")
    if pending_segments(journal_dir(path)):
        replay_pending(path)
    try:
        # DuckDB's allocator keeps what an analysis query freed (hash tables, sorts) unless its
        # background threads hand it back: with them, `python -m bench.bottlenecks` (1.5 million
        # spans) peaked at 888 - 925 MiB instead of 918 - 983, in the same time (2026-12-07)
        con = duckdb.connect(
            str(path),
            read_only=True,
            config={
                "enable_external_access": False,
                "memory_limit": READ_MEMORY_LIMIT,
                "allocator_background_threads": True,
            },
        )
    except duckdb.Error as exc:
        raise StorageError(f"cannot open {path} read-only: {exc}") from exc
    version = current_version(con)
    if version != SCHEMA_VERSION:
        con.close()
        raise SchemaError(
            f"{path} has schema version {version}; this glimpse reads version {SCHEMA_VERSION}"
            " (run `glimpse serve` once to migrate it)"
        )
    return con


def memory_by_tag(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Bytes DuckDB holds now, by what for (its ``duckdb_memory()`` tags with any in use):
    ``BASE_TABLE`` is cached blocks of the file, ``IN_MEMORY_TABLE`` rows not checkpointed yet."""
    cursor = con.cursor()  # the caller's thread, not the writer's
    try:
        rows = cursor.execute(
            "SELECT tag, memory_usage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0 ORDER BY tag"
        ).fetchall()
    finally:
        cursor.close()
    return {str(tag): int(used) for tag, used in rows}


def replay_pending(path: str | Path) -> int:
    """Commit what the ingest journal beside ``path`` still holds; return the batches."""
    con = open_writable(path)
    try:
        return replay_journal(TableStore(con, WriterStats(), wal_path=None), journal_dir(path))
    except (duckdb.Error, OSError) as exc:
        raise StorageError(f"cannot commit the acknowledged batches journaled beside {path}: {exc}") from exc
    finally:
        con.close()


def _checked_size(text: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", text.strip()):
        raise StorageError(f"invalid memory limit {text!r}: use a size such as 512MB or 2GB")
    return text.strip()


def on_connection(
    connect: Callable[[], duckdb.DuckDBPyConnection], function: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """``function(connection, *args, **kwargs)`` on a connection of its own, closed after.

    DuckDB running out of its memory becomes a :class:`QueryMemoryError` that says what to do.
    """
    con = connect()
    try:
        return function(con, *args, **kwargs)
    except duckdb.OutOfMemoryException as exc:
        raise QueryMemoryError(_out_of_memory(con)) from exc
    finally:
        con.close()


def _out_of_memory(con: duckdb.DuckDBPyConnection) -> str:
    limit = ""
    with suppress(duckdb.Error):
        row = con.execute("SELECT current_setting('memory_limit')").fetchone()
        limit = f" ({row[0]})" if row else ""
    return (
        f"the query needed more memory than DuckDB may use in this process{limit}: ask for a shorter"
        " time window (a server gives DuckDB an eighth of its --memory-limit, up to 256 MB)"
    )
