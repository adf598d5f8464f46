"""``glimpse critical-path`` (one trace) and ``glimpse bottlenecks`` (across traces)."""

from __future__ import annotations

from typing import Annotated

import typer

from glimpse.cli.app import (
    DbOption,
    EndpointOption,
    JsonOption,
    OperationsOfOption,
    RowsPerViewOption,
    ServerOption,
    SinceOption,
    UntilOption,
    app,
    client,
    out,
    print_json,
)

__all__ = ["bottlenecks_command", "critical_path_command"]


@app.command("critical-path")
def critical_path_command(
    trace_id: Annotated[str, typer.Argument(help="32 hex digits.")],
    db: DbOption = None,
    server: ServerOption = None,
    as_json: JsonOption = False,
    adjust_skew: Annotated[
        bool, typer.Option("--adjust-skew", help="Shift server spans that lie outside their client span.")
    ] = False,
) -> None:
    """One trace as a waterfall with its critical path (Jaeger's algorithm) and self times."""
    from glimpse.render.tables import waterfall

    result = client(db, server).trace("critical_path", trace_id, adjust_skew=adjust_skew)
    if as_json:
        print_json(result)
    else:
        out().print(waterfall(result))


@app.command("bottlenecks")
def bottlenecks_command(
    db: DbOption = None,
    server: ServerOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    endpoint: EndpointOption = None,
    service: OperationsOfOption = None,
    limit: RowsPerViewOption = 20,
    as_json: JsonOption = False,
) -> None:
    """Operations ranked by the critical-path time they cost across the window's traces."""
    from glimpse.render.tables import bottleneck_tables

    params = {"since": since, "until": until, "endpoint": endpoint, "service": service, "limit": limit}
    result = client(db, server).analysis("bottlenecks", params)
    if as_json:
        print_json(result)
        return
    for table in bottleneck_tables(result):
        out().print(table)
