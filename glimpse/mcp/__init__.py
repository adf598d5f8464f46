"""glimpse for AI agents: a Model Context Protocol server over the same analyses as the CLI.

- :mod:`glimpse.mcp.tools`: the tools, each a thin call into the query service through
  :class:`glimpse.client.GlimpseClient`
- :mod:`glimpse.mcp.shape`: answers in the agent's units (RFC 3339, milliseconds, hex ids)
  and a trace as a compact topology
- :mod:`glimpse.mcp.budget`: every answer within a byte budget, saying what it left out
- :mod:`glimpse.mcp.server`: the server, its instructions, stdio (``glimpse mcp``) and
  streamable HTTP (``/mcp`` on the API port of ``glimpse serve``)

The SDK is imported by these modules only, so that the CLI starts without it.
"""

__all__: list[str] = []
