"""glimpse's HTTP API (the CLI and the console use the same endpoints)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from glimpse import __version__
from glimpse.jsonable import jsonable_rows
from storage.errors import QueryError
from storage.query import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, run_read_only
from storage.schema import SCHEMA_VERSION

__all__ = ["build_api_app"]

MAX_ROWS_LIMIT = 100_000


def build_api_app(connect: Callable[[], duckdb.DuckDBPyConnection], stats: Callable[[], dict[str, Any]]) -> Starlette:
    """``connect`` returns a fresh read connection for each query."""

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__, "schema_version": SCHEMA_VERSION})

    async def server_stats(_: Request) -> JSONResponse:
        return JSONResponse(stats())

    async def sql(request: Request) -> JSONResponse:
        try:
            payload = await request.json()
        except ValueError:
            return _bad_request('the body must be a JSON object like {"sql": "SELECT ..."}')
        if not isinstance(payload, dict) or not isinstance(payload.get("sql"), str):
            return _bad_request('the body must be a JSON object with a string field "sql"')
        max_rows = payload.get("max_rows", DEFAULT_MAX_ROWS)
        timeout_s = payload.get("timeout_s", DEFAULT_TIMEOUT_S)
        if not isinstance(max_rows, int) or not 1 <= max_rows <= MAX_ROWS_LIMIT:
            return _bad_request(f"max_rows must be an integer from 1 to {MAX_ROWS_LIMIT}")
        if not isinstance(timeout_s, (int, float)) or not 0 < timeout_s <= 300:
            return _bad_request("timeout_s must be a number of seconds from 0 to 300")
        try:
            body = await run_in_threadpool(_run, connect, payload["sql"], max_rows, float(timeout_s))
        except QueryError as exc:
            return _bad_request(str(exc))
        return JSONResponse(body)

    return Starlette(
        routes=[
            Route("/api/health", health, methods=["GET"]),
            Route("/api/stats", server_stats, methods=["GET"]),
            Route("/api/sql", sql, methods=["POST"]),
        ]
    )


def _run(connect: Callable[[], duckdb.DuckDBPyConnection], sql: str, max_rows: int, timeout_s: float) -> dict[str, Any]:
    con = connect()
    try:
        result = run_read_only(con, sql, max_rows=max_rows, timeout_s=timeout_s)
    finally:
        con.close()
    return {
        "columns": result.columns,
        "types": result.types,
        "rows": jsonable_rows(result.rows, result.types),
        "truncated": result.truncated,
        "elapsed_ms": round(result.elapsed_ms, 3),
    }


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)
