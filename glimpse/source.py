"""Where an analysis command reads: a running server's API, or the database file read-only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import duckdb
import httpx

from glimpse.server import read_server_info
from storage.errors import QueryError
from storage.store import open_read_only

__all__ = ["api_get", "as_query_params", "fetch_analysis", "server_url_for", "with_read_only"]

T = TypeVar("T")


def server_url_for(db_path: str, server_url: str | None) -> str | None:
    """An explicit ``--server`` wins; otherwise the live server on ``db_path``, if any."""
    if server_url is not None:
        return server_url
    info = read_server_info(db_path)
    return info.api_url if info else None


def with_read_only(db_path: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    con: duckdb.DuckDBPyConnection = open_read_only(db_path)
    try:
        return function(con, *args, **kwargs)
    finally:
        con.close()


def as_query_params(params: dict[str, Any]) -> dict[str, str]:
    """CLI values as the query parameters the API would receive (None left out)."""
    return {key: str(value) for key, value in params.items() if value is not None}


def api_get(url: str, path: str, params: dict[str, Any], *, timeout_s: float = 120.0) -> httpx.Response:
    """GET an API path; an error answer becomes a QueryError with the server's message."""
    try:
        response = httpx.get(f"{url.rstrip('/')}{path}", params=as_query_params(params), timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise QueryError(f"cannot reach the glimpse server at {url}: {exc}") from exc
    if response.status_code != 200:
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        raise QueryError(str(message))
    return response


def fetch_analysis(
    db_path: str,
    server: str | None,
    path: str,
    function: Callable[..., dict[str, Any]],
    options: Callable[[dict[str, str]], dict[str, Any]],
    params: dict[str, Any],
) -> dict[str, Any]:
    """An analysis through the server's API ``path`` when one serves the database, else on the file.

    ``options`` turns the query parameters into ``function``'s keywords, as the API does.
    """
    url = server_url_for(db_path, server)
    if url is not None:
        return dict(api_get(url, path, params).json())
    return with_read_only(db_path, function, **options(as_query_params(params)))
