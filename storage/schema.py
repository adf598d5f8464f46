"""Schema versions and migrations.

Each ``sql/NNN_name.sql`` file is one migration; ``glimpse_schema_version`` records
the highest applied. Opening a store applies the missing ones in order, in one
transaction each.
"""

from __future__ import annotations

import logging
import re
from importlib import resources

import duckdb

from storage.errors import SchemaError

__all__ = ["SCHEMA_VERSION", "apply_migrations", "migrations"]

logger = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str]]:
    """All migrations shipped with this code, as (version, SQL text), in order."""
    found = []
    for entry in resources.files("storage").joinpath("sql").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


SCHEMA_VERSION = migrations()[-1][0]


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open database (0 for an empty one)."""
    has_table = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'glimpse_schema_version'"
    ).fetchone()
    if not has_table or not has_table[0]:
        if con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() != (0,):
            raise SchemaError("the database has tables but is not a glimpse store")
        return 0
    row = con.execute("SELECT max(version) FROM glimpse_schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def apply_migrations(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the schema up to :data:`SCHEMA_VERSION`; return the version reached."""
    version = current_version(con)
    if version > SCHEMA_VERSION:
        raise SchemaError(f"the database has schema version {version}, newer than this glimpse ({SCHEMA_VERSION})")
    for number, sql in migrations():
        if number <= version:
            continue
        logger.info("applying schema migration %03d", number)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                "CREATE TABLE IF NOT EXISTS glimpse_schema_version "
                "(version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
            )
            con.execute(sql)
            con.execute("INSERT INTO glimpse_schema_version (version) VALUES (?)", [number])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        version = number
    return version
