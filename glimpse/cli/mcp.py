"""``glimpse mcp``: glimpse's analyses as tools for AI agents, over the Model Context Protocol."""

from __future__ import annotations

import contextlib
from pathlib import Path

from glimpse.cli.app import DbOption, ServerOption, app, client, fail

__all__ = ["mcp_command"]


@app.command("mcp")
def mcp_command(db: DbOption = None, server: ServerOption = None) -> None:
    """Serve glimpse's analyses to AI agents over the Model Context Protocol, on stdio.

    The agent (Claude Code, Claude Desktop, ...) starts this command itself: docs/agents.md.
    Read-only tools with answers capped in size; `glimpse serve` serves them at /mcp too."""
    from glimpse.mcp.server import run_stdio

    first = client(db, server)  # fail now, in the agent's log, rather than at every call
    if first.server_url is None and not Path(first.db_path).exists():
        raise fail(f"no database at {first.db_path} and no server on it: pass --db PATH or --server URL")
    with contextlib.suppress(KeyboardInterrupt):  # the agent stops it
        run_stdio(lambda: client(db, server))
