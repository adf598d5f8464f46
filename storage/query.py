"""Read-only SQL for people: one SELECT, a row cap, a time limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from storage.errors import QueryError

__all__ = ["DEFAULT_MAX_ROWS", "DEFAULT_TIMEOUT_S", "QueryResult", "run_read_only"]

DEFAULT_MAX_ROWS = 10_000
DEFAULT_TIMEOUT_S = 30.0

_ALLOWED = {"SELECT", "EXPLAIN"}


@dataclass(frozen=True)
class QueryResult:
    """The rows of a query (at most the cap; ``truncated`` says whether more existed)."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    elapsed_ms: float

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=False)) for row in self.rows]


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but a single SELECT (or EXPLAIN) statement."""
    try:
        statements: Sequence[Any] = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"SQL does not parse: {_first_line(exc)}") from exc
    if len(statements) != 1:
        raise QueryError(f"expected exactly one SQL statement, got {len(statements)}")
    kind = statements[0].type.name
    if kind not in _ALLOWED:
        raise QueryError(f"only SELECT queries are allowed (got {kind})")


def run_read_only(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    parameters: Sequence[Any] | None = None,
) -> QueryResult:
    """Run one read-only query on ``con`` (a connection of its own: it may be interrupted)."""
    check_read_only(con, sql)
    timer = threading.Timer(timeout_s, con.interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        cursor = con.execute(sql, parameters or [])
        columns = [d[0] for d in cursor.description or []]
        types = [str(d[1]) for d in cursor.description or []]
        rows = cursor.fetchmany(max_rows + 1)
    except duckdb.InterruptException as exc:
        raise QueryError(f"query exceeded the time limit of {timeout_s:g} s") from exc
    except duckdb.Error as exc:
        raise QueryError(_first_line(exc)) from exc
    finally:
        timer.cancel()
    truncated = len(rows) > max_rows
    return QueryResult(
        columns=columns,
        types=types,
        rows=rows[:max_rows],
        truncated=truncated,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
