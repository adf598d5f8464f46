"""What the API and its Jaeger and Tempo facades share: the read connection they query
through, and the one place errors map to an HTTP status."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import duckdb
from starlette.concurrency import run_in_threadpool

from analyzer.errors import InvalidQueryError, NotFoundError
from storage.errors import QueryError, QueryMemoryError
from storage.store import on_connection
from tracing.errors import GlimpseError

__all__ = ["Connect", "query", "status_for"]

Connect = Callable[[], duckdb.DuckDBPyConnection]


def status_for(exc: GlimpseError) -> int:
    """The HTTP status of an error: 404 for nothing found, 400 for a bad question, 503 for a
    question too large for the server's memory, else 500."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, QueryMemoryError):
        return 503
    if isinstance(exc, (InvalidQueryError, QueryError)):
        return 400
    return 500


async def query(connect: Connect, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(connection, *args, **kwargs)`` on a fresh read connection, off the event loop."""
    return await run_in_threadpool(partial(on_connection, connect, function, *args, **kwargs))
