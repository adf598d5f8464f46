"""``glimpse graph``: the service dependency graph, its exports and its diff."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from analyzer.graph_export import FORMATS
from glimpse.cli.app import (
    DbOption,
    ServerOption,
    SinceOption,
    UntilOption,
    app,
    client,
    fail,
    out,
    print_json,
    write_text,
)

__all__ = ["GRAPH_FORMATS", "graph"]

GRAPH_FORMATS = tuple(FORMATS)


@app.command()
def graph(
    db: DbOption = None,
    server: ServerOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    output_format: Annotated[
        Optional[str], typer.Option("--format", help=f"Export format: {', '.join(GRAPH_FORMATS)}.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write to this file.")] = None,
    service: Annotated[Optional[str], typer.Option(help="Only this service's neighbourhood.")] = None,
    depth: Annotated[int, typer.Option(help="Hops around --service.", min=0)] = 1,
    operations: Annotated[bool, typer.Option("--operations", help="Service + operation nodes.")] = False,
    diff_since: Annotated[Optional[str], typer.Option(help="Compare with a baseline window starting here.")] = None,
    diff_until: Annotated[Optional[str], typer.Option(help="End of the baseline window (exclusive).")] = None,
) -> None:
    """The service dependency graph: a table of edges, or an export (--format)."""
    from glimpse.render.tables import diff_table, graph_table

    if diff_since is not None or diff_until is not None:
        diff_params = {"since": since, "until": until, "diff_since": diff_since, "diff_until": diff_until}
        diff = client(db, server).analysis("graph_diff", diff_params)
        if as_json or output_format == "json":
            print_json(diff)
        else:
            out().print(diff_table(diff))
        return

    fmt = "json" if as_json else output_format
    if fmt is not None and fmt not in GRAPH_FORMATS:
        raise fail(f"unknown format {fmt!r}: use one of {', '.join(GRAPH_FORMATS)}")
    params = {"since": since, "until": until, "service": service, "depth": depth, "operations": operations or None}
    text = client(db, server).graph_document(fmt or "json", params)
    if fmt is None:
        out().print(graph_table(text))
    else:
        write_text(text, output)
