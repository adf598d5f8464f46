"""Where ``glimpse sql`` runs a query: a running server's API, or the file read-only."""

from __future__ import annotations

from typing import Any

import httpx

from glimpse.jsonable import jsonable_rows
from glimpse.server import read_server_info
from storage.errors import QueryError
from storage.query import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, run_read_only
from storage.store import open_read_only

__all__ = ["query"]


def query(
    sql: str,
    *,
    db_path: str,
    server_url: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """Run ``sql`` and return the API's JSON shape: columns, types, rows, truncated."""
    if server_url is None:
        info = read_server_info(db_path)
        server_url = info.api_url if info else None
    if server_url is not None:
        return _query_server(server_url, sql, max_rows, timeout_s)
    con = open_read_only(db_path)
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


def _query_server(url: str, sql: str, max_rows: int, timeout_s: float) -> dict[str, Any]:
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/api/sql",
            json={"sql": sql, "max_rows": max_rows, "timeout_s": timeout_s},
            timeout=timeout_s + 10,
        )
    except httpx.HTTPError as exc:
        raise QueryError(f"cannot reach the glimpse server at {url}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        raise QueryError(f"the server at {url} answered {response.status_code} without JSON") from None
    if response.status_code != 200:
        raise QueryError(str(body.get("error", body)))
    return dict(body)
