"""Read-only SQL for people: one SELECT, a row cap, a time limit, one query at a time.

The sandbox, layer by layer (docs/robustness.md lists what each one stops):

* the connection has external access disabled and its configuration locked (set where the
  database is opened, storage/store.py): no files, no network, no extensions, no ``SET``;
* the statement must be exactly one ``SELECT`` (or ``EXPLAIN`` of one), and DuckDB's own
  parser says which: comments and string literals cannot hide a second statement;
* it runs in a ``READ ONLY`` transaction that is rolled back: a write hidden inside a SELECT
  (a data-modifying CTE, ``EXPLAIN ANALYZE`` of a ``DELETE``) fails;
* its syntax tree is checked for table functions that run SQL from a string or write
  (``query``, ``checkpoint``...) and for scalar functions that build one value of a size an
  argument chooses (``repeat``, ``range``...): DuckDB allocates those outside its memory
  limit and does not notice an interrupt meanwhile;
* a time limit (the query is interrupted), a row cap, and one sandbox query at a time:
  DuckDB's memory limit and threads belong to the whole database, shared with the writer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import duckdb

from storage.errors import QueryError

__all__ = ["DEFAULT_MAX_ROWS", "DEFAULT_TIMEOUT_S", "MAX_BUILT_SIZE", "QueryResult", "run_read_only"]

DEFAULT_MAX_ROWS = 10_000
DEFAULT_TIMEOUT_S = 30.0

_ALLOWED = {"SELECT", "EXPLAIN"}

# Table functions that run SQL given as a string (unchecked), write, or tell secrets.
_REFUSED_FUNCTIONS = frozenset(
    {"query", "query_table", "json_execute_serialized_sql", "checkpoint", "force_checkpoint", "duckdb_secrets"}
)
# Scalar functions that build one value whose size an argument chooses. Measured with the
# server's 256 MB limit and a 4 s time limit: range(1e9) took 20 GiB and 31 s, repeat('x',
# 2^31) 4.2 GiB and 22 s. Allowed with constant arguments whose numbers (in format strings
# too) are at most MAX_BUILT_SIZE.
_SIZED_BUILDERS = frozenset(
    {
        "range", "generate_series", "repeat", "lpad", "rpad", "printf", "format", "bar",
        "list_resize", "array_resize", "list_pad", "array_pad",
    }
)  # fmt: skip
MAX_BUILT_SIZE = 100_000
_DIGITS = re.compile(r"\d+")
_EXPLAIN = re.compile(r"\s*EXPLAIN\s+(?:ANALY[SZ]E\s+|\([^)]*\)\s*)?", re.IGNORECASE)

# DuckDB's memory limit and threads are the database's, not a query's: one sandbox query at
# a time leaves the writer the rest (the limit applies across every connection of the server).
_ONE_AT_A_TIME = threading.BoundedSemaphore(1)


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
    select = sql
    if kind == "EXPLAIN":
        prefix = _EXPLAIN.match(sql)
        select = sql[prefix.end() :] if prefix else ""
    _check_functions(con, select)


def _check_functions(con: duckdb.DuckDBPyConnection, select: str) -> None:
    """Refuse the functions the sandbox does not run (see the module docstring)."""
    row = con.execute("SELECT json_serialize_sql(?)", [select]).fetchone()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise QueryError("only SELECT queries are allowed (EXPLAIN too, of a SELECT)")
    table_calls: set[int] = set()  # range() in FROM streams its rows: no value to build
    for node in _nodes(tree):
        if node.get("type") == "TABLE_FUNCTION":
            call = node.get("function", {})
            table_calls.add(id(call))
            name = str(call.get("function_name", "")).lower()
            if name in _REFUSED_FUNCTIONS:
                raise QueryError(f"the table function {name}() is not allowed here")
        elif node.get("class") == "FUNCTION" and id(node) not in table_calls:
            name = str(node.get("function_name", "")).lower()
            if name in _SIZED_BUILDERS:
                _check_sizes(name, node.get("arguments", []))


def _check_sizes(name: str, arguments: list[Any]) -> None:
    for argument in arguments:
        expression = argument.get("expression", {}) if isinstance(argument, dict) else {}
        literal = expression.get("literal") if expression.get("class") == "CONSTANT" else None
        text = str(literal.get("text", "")) if isinstance(literal, dict) else None
        too_big = text is None or len(text) > MAX_BUILT_SIZE
        if not too_big and any(int(digits) > MAX_BUILT_SIZE for digits in _DIGITS.findall(text or "")):
            too_big = True
        if too_big:
            raise QueryError(
                f"{name}() is allowed here with constant arguments up to {MAX_BUILT_SIZE:,} only"
                " (it builds a value of the size they choose, outside the memory limit)"
            )


def _nodes(tree: Any) -> Any:
    """Every JSON object in ``tree``, depth first."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def run_read_only(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    parameters: Sequence[Any] | None = None,
) -> QueryResult:
    """Run one read-only query on ``con`` (a connection of its own: it may be interrupted).

    Waits up to ``timeout_s`` for the sandbox query running before it to finish.
    """
    started = time.perf_counter()
    if not _ONE_AT_A_TIME.acquire(timeout=timeout_s):
        raise QueryError(f"another SQL query was still running after {timeout_s:g} s; try again later")
    try:
        check_read_only(con, sql)
        left_s = timeout_s - (time.perf_counter() - started)
        columns, types, rows = _execute(con, sql, parameters, max_rows, timeout_s=timeout_s, left_s=left_s)
    finally:
        _ONE_AT_A_TIME.release()
    truncated = len(rows) > max_rows
    return QueryResult(
        columns=columns,
        types=types,
        rows=rows[:max_rows],
        truncated=truncated,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def _execute(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    parameters: Sequence[Any] | None,
    max_rows: int,
    *,
    timeout_s: float,
    left_s: float,
) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` in a read-only transaction that is rolled back, interrupted after ``left_s``."""
    timer = threading.Timer(max(0.0, left_s), con.interrupt)
    timer.start()
    try:
        con.execute("BEGIN TRANSACTION READ ONLY")
        cursor = con.execute(sql, parameters or [])
        columns = [d[0] for d in cursor.description or []]
        types = [str(d[1]) for d in cursor.description or []]
        return columns, types, cursor.fetchmany(max_rows + 1)
    except duckdb.InterruptException as exc:
        raise QueryError(f"query exceeded the time limit of {timeout_s:g} s") from exc
    except duckdb.Error as exc:
        raise QueryError(_first_line(exc)) from exc
    finally:
        timer.cancel()
        with suppress(duckdb.Error):
            con.execute("ROLLBACK")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
