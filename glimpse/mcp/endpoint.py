"""``/mcp`` on the API port, with the MCP SDK loaded by the first request to it.

The SDK and its protocol models cost a server 37 MiB of memory (measured: importing
``glimpse.server`` took 156 MiB with it, 119 without), which a server nobody asks through
MCP need not hold. This module imports none of it: the API app's lifespan keeps a task
group open, and the first request to ``/mcp`` builds the endpoint (:func:`glimpse.mcp.server.mcp_http`)
and starts its session manager in that group.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from glimpse.client import GlimpseClient

__all__ = ["MCP_PATH", "McpEndpoint"]

MCP_PATH = "/mcp"

# the endpoint's ASGI app, and its session manager's run() (a context manager)
McpParts = tuple[ASGIApp, Callable[[], contextlib.AbstractAsyncContextManager[Any]]]


class McpEndpoint:
    """The ``/mcp`` route and the lifespan to run it in, for :func:`glimpse.web.api.build_api_app`."""

    def __init__(self, client: GlimpseClient, *, host: str) -> None:
        self._client = client
        self._host = host
        self._app: ASGIApp | None = None
        self._starting = anyio.Lock()
        self._tasks: TaskGroup | None = None

    @property
    def route(self) -> Route:
        return Route(MCP_PATH, self)  # an object, not a method: Starlette passes it every method

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Any) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                yield
            finally:
                self._tasks = None
                tasks.cancel_scope.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app or await self._start()
        await app(scope, receive, send)

    async def _start(self) -> ASGIApp:
        async with self._starting:
            if self._app is None:
                if self._tasks is None:
                    raise RuntimeError("the MCP endpoint needs the API app's lifespan")
                app, run_sessions = await anyio.to_thread.run_sync(self._build)  # the imports block
                await self._tasks.start(_keep_running, run_sessions)
                self._app = app
            return self._app

    def _build(self) -> McpParts:
        from glimpse.mcp.server import mcp_http  # lazily: the point of this module

        return mcp_http(self._client, host=self._host)


async def _keep_running(
    run_sessions: Callable[[], contextlib.AbstractAsyncContextManager[Any]],
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    async with run_sessions():
        task_status.started()
        await anyio.sleep_forever()
