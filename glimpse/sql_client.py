"""Where ``glimpse sql`` runs a query: a running server's API, or the file read-only."""

from __future__ import annotations

from typing import Any

import httpx

from glimpse.jsonable import query_payload
from glimpse.source import server_url_for, with_read_only
from storage.errors import QueryError
from storage.query import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, run_read_only

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
    url = server_url_for(db_path, server_url)
    if url is not None:
        return _query_server(url, sql, max_rows, timeout_s)
    return query_payload(with_read_only(db_path, run_read_only, sql, max_rows=max_rows, timeout_s=timeout_s))


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
