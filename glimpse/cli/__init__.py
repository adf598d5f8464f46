"""The ``glimpse`` command line: parse, call one function, render.

One module per command group; each registers its commands on :data:`app`, and heavy
imports wait inside the commands so that ``glimpse --help`` starts fast.
"""

from glimpse.cli import alerts, demo, graph, incidents, lake, logs, mcp, platforms, report, serve, spark, sql, traces
from glimpse.cli.app import app

__all__ = [
    "alerts",
    "app",
    "demo",
    "graph",
    "incidents",
    "lake",
    "logs",
    "mcp",
    "platforms",
    "report",
    "serve",
    "spark",
    "sql",
    "traces",
]
