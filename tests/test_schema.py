"""Schema versions: migrations apply once, newer or foreign databases are refused."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from storage.errors import SchemaError
from storage.schema import SCHEMA_VERSION, migrations
from storage.store import open_read_only, open_writable

TABLES = {
    "otel_spans",
    "otel_resources",
    "otel_logs",
    "otel_metrics_gauge",
    "otel_metrics_sum",
    "otel_metrics_histogram",
    "otel_metrics_exponential_histogram",
    "otel_metrics_summary",
}


def test_new_database_gets_every_table_and_the_current_version(tmp_path: Path) -> None:
    con = open_writable(tmp_path / "a.duckdb")
    try:
        tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        views = {row[0] for row in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        versions = con.execute("SELECT version FROM glimpse_schema_version").fetchall()
    finally:
        con.close()
    assert tables >= TABLES
    assert {"otel_traces", "otel_trace_summary", "otel_calls"} <= views
    assert versions == [(v,) for v, _ in migrations()]
    assert versions[-1] == (SCHEMA_VERSION,)


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "b.duckdb"
    open_writable(path).close()
    con = open_writable(path)
    try:
        assert con.execute("SELECT count(*) FROM glimpse_schema_version").fetchone() == (len(migrations()),)
    finally:
        con.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    con = open_writable(path)
    con.close()
    raw = duckdb.connect(str(path))
    raw.execute("INSERT INTO glimpse_schema_version (version) VALUES (?)", [SCHEMA_VERSION + 1])
    raw.close()
    with pytest.raises(SchemaError, match="newer than this glimpse"):
        open_writable(path)
    with pytest.raises(SchemaError, match="schema version"):
        open_read_only(path)


def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.duckdb"
    raw = duckdb.connect(str(path))
    raw.execute("CREATE TABLE customers (id INT)")
    raw.close()
    with pytest.raises(SchemaError, match="not a glimpse store"):
        open_writable(path)
