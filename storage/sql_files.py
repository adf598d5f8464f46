"""The read queries' shared plumbing: SQL text from queries/*.sql, rows as dicts."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import duckdb

__all__ = ["fetch_dicts", "load_query"]


@cache
def load_query(name: str) -> str:
    """The text of ``storage/queries/<name>.sql`` (read once)."""
    return resources.files("storage").joinpath("queries", f"{name}.sql").read_text(encoding="utf-8")


def fetch_dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """All rows of an executed query, as column -> value dicts."""
    columns = [d[0] for d in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
