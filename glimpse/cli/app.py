"""The ``glimpse`` typer app, its shared options, and the one place errors become ``error:`` lines."""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from typer.core import TyperGroup

from glimpse import __version__
from glimpse.settings import DB, DEFAULT_DB, ENV_DB, env_or
from tracing.errors import GlimpseError

if TYPE_CHECKING:
    from glimpse.client import GlimpseClient

__all__ = [
    "DbOption",
    "JsonOption",
    "ServerOption",
    "SinceOption",
    "UntilOption",
    "app",
    "client",
    "err",
    "fail",
    "out",
    "print_json",
    "write_text",
]

err = Console(stderr=True)


def out() -> Console:
    """A console for stdout, made when used, so that it measures the terminal (or $COLUMNS) then."""
    return Console()


def fail(message: str) -> typer.Exit:
    """Print the one-line error and return the exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


# the order of ``glimpse --help``: from receiving data to explaining it
COMMAND_ORDER = (
    "serve",
    "sql",
    "graph",
    "critical-path",
    "bottlenecks",
    "logs",
    "platforms",
    "anomalies",
    "rca",
    "alerts",
    "report",
    "mcp",
    "lake",
    "spark",
    "demo",
)


class _Commands(TyperGroup):
    """Runs a command; a glimpse error or an OS error becomes one ``error:`` line and exit code 1."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda name: COMMAND_ORDER.index(name) if name in COMMAND_ORDER else len(names))

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context
        try:
            return super().invoke(ctx)
        except (GlimpseError, OSError) as exc:
            raise fail(str(exc)) from None


app = typer.Typer(
    name="glimpse",
    cls=_Commands,
    help="OpenTelemetry-native distributed tracing analyzer.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DbOption = Annotated[Optional[str], typer.Option("--db", help=DB.help)]
ServerOption = Annotated[
    Optional[str], typer.Option("--server", help="Query a running glimpse server's API at this URL.")
]
SinceOption = Annotated[Optional[str], typer.Option(help="Window start: RFC 3339 or unix ns (default: all data).")]
UntilOption = Annotated[Optional[str], typer.Option(help="Window end, exclusive: RFC 3339 or unix ns.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exact JSON.")]
# glimpse rca and glimpse spark rca
IncidentSinceOption = Annotated[
    Optional[str], typer.Option(help="Incident start: RFC 3339 or unix ns (default: find the latest incident).")
]
BaselineSinceOption = Annotated[
    Optional[str], typer.Option(help="Baseline start (default: 4 incident-lengths, >= 30 min, before it).")
]
BaselineUntilOption = Annotated[Optional[str], typer.Option(help="Baseline end (default: the incident's start).")]
TracesThroughOption = Annotated[Optional[str], typer.Option(help="Only traces through this service.")]
CandidatesOption = Annotated[int, typer.Option(help="Candidates to rank.", min=1)]
# glimpse anomalies and glimpse spark anomalies
AnomalyServiceOption = Annotated[Optional[str], typer.Option(help="Only this service's anomalies and incidents.")]
AnomalyLimitOption = Annotated[int, typer.Option(help="Anomalies to show.", min=1)]
SeriesJsonOption = Annotated[bool, typer.Option("--json", help="Print exact JSON (with each anomaly's series).")]
# glimpse bottlenecks and glimpse spark bottlenecks
EndpointOption = Annotated[
    Optional[str], typer.Option(help="Only traces whose root span is SERVICE:OPERATION (top-down view).")
]
OperationsOfOption = Annotated[Optional[str], typer.Option(help="Only this service's operations.")]
RowsPerViewOption = Annotated[int, typer.Option(help="Rows per view.", min=1)]


def client(db: str | None, server: str | None) -> GlimpseClient:
    """The client for ``--db``/``--server`` (the server live on the file, else the file)."""
    from glimpse.client import GlimpseClient

    return GlimpseClient(db or env_or(ENV_DB, DEFAULT_DB), server)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value) + "\n")


def write_text(text: str, output: str | None) -> None:
    """``text`` to the file ``output`` (saying so on stderr), else to stdout."""
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        err.print(f"wrote {output}", highlight=False)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _version(value: bool) -> None:
    if value:
        out().print(f"glimpse {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log more (-vv: debug, with every query's time).")
    ] = 0,
) -> None:
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO)[verbose] if verbose < 2 else logging.DEBUG,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
