"""The MCP server: glimpse's tools and the workflow they serve, over stdio or streamable HTTP.

Built on the official MCP Python SDK (``mcp``). ``glimpse mcp`` runs it over stdio
(:func:`run_stdio`); ``glimpse serve`` serves it at ``/mcp`` on the API port
(:func:`mcp_http`, loaded by the first request, see :mod:`glimpse.mcp.endpoint`), behind
the API's own TLS and bearer tokens. Over HTTP it is stateless and answers in JSON: every
request stands alone, so nothing is kept between calls and any number of agents may ask at
once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations

from glimpse import __version__
from glimpse.client import GlimpseClient
from glimpse.mcp.endpoint import MCP_PATH, McpParts
from glimpse.mcp.tools import TOOL_NAMES, GlimpseTools

__all__ = ["INSTRUCTIONS", "MCP_PATH", "build_mcp_server", "mcp_http", "run_stdio"]


INSTRUCTIONS = """\
glimpse analyses a distributed system's OpenTelemetry traces, logs and metrics. To explain a
problem, go from the overview to the evidence:
1. list_services: rate, errors and latency per service, and the time span of the data.
2. find_anomalies: what changed and when, grouped into incidents.
3. rank_root_causes: the most probable causes of the latest incident (or of a window you
   give), each with evidence (numbers before and during, example trace ids) and a remediation.
4. Check the evidence: get_trace and get_critical_path on the trace ids it names; search_traces
   and search_logs for more examples; get_service_graph for who calls whom; get_bottlenecks for
   where time goes across many requests; query_sql for anything else (read-only DuckDB SQL);
   list_alerts for what glimpse serve's alert rules fired, with their root causes.
Windows are in the data's own time: use the times the answers show (RFC 3339, or unix
nanoseconds). Durations are in milliseconds, ids are lowercase hex. Every answer is capped
in size: when "truncated" is true, "omitted" says what was left out and "narrow" how to ask
a smaller question."""

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def build_mcp_server(tools: GlimpseTools) -> MCPServer[Any]:
    """An MCP server offering every tool of ``tools``, read-only, answering in text (JSON)."""
    server: MCPServer[Any] = MCPServer(
        "glimpse",
        title="glimpse",
        description="Traces, logs and metrics analysed: service graph, critical paths, anomalies, root causes.",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
    )
    for name in TOOL_NAMES:
        tool = getattr(tools, name)
        description = " ".join((tool.__doc__ or "").split())  # the docstring, without its indentation
        server.add_tool(tool, description=description, annotations=READ_ONLY, structured_output=False)
    return server


def run_stdio(client: Callable[[], GlimpseClient]) -> None:
    """Serve the tools over stdin/stdout until the client closes them."""
    server = build_mcp_server(GlimpseTools(client))
    anyio.run(server.run_stdio_async)


def mcp_http(client: GlimpseClient, *, host: str) -> McpParts:
    """Streamable HTTP at :data:`MCP_PATH` for a server listening on ``host``, and its session
    manager's ``run``; on a loopback address, requests must name a loopback host (DNS
    rebinding protection). Served by :class:`glimpse.mcp.endpoint.McpEndpoint`."""
    server = build_mcp_server(GlimpseTools(lambda: client))
    # the SDK's own app is a Starlette app of one route; glimpse's API serves that route, so
    # that the API's TLS and tokens guard it, and runs its sessions from the API's lifespan
    server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=_transport_security(host),
        host=host,
    )
    manager = server.session_manager
    return StreamableHTTPASGIApp(manager), manager.run


def _transport_security(host: str) -> TransportSecuritySettings | None:
    if host not in ("127.0.0.1", "localhost", "::1"):
        return None
    loopback = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=loopback,
        allowed_origins=[f"{scheme}://{name}" for scheme in ("http", "https") for name in loopback],
    )
