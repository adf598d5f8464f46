"""``glimpse logs``: search log records, or list a window's templates with counts (``--templates``)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from glimpse.cli.app import DbOption, JsonOption, ServerOption, SinceOption, UntilOption, app, client, out, print_json

__all__ = ["logs_command"]


@app.command("logs")
def logs_command(
    db: DbOption = None,
    server: ServerOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    service: Annotated[Optional[str], typer.Option(help="Only this service's records.")] = None,
    severity: Annotated[
        Optional[str],
        typer.Option(help="Minimum level: TRACE, DEBUG, INFO, WARN, ERROR, FATAL or a severity number 1-24."),
    ] = None,
    template: Annotated[
        Optional[str],
        typer.Option(help="A template id (as --templates prints it) or a template text with <*> wildcards."),
    ] = None,
    trace_id: Annotated[Optional[str], typer.Option("--trace-id", help="Only this trace's records.")] = None,
    span_id: Annotated[Optional[str], typer.Option("--span-id", help="Only this span's records.")] = None,
    text: Annotated[Optional[str], typer.Option(help="A substring of the message (any case).")] = None,
    limit: Annotated[int, typer.Option(help="Records (or templates) to show, 1-10,000.")] = 100,
    templates: Annotated[
        bool, typer.Option("--templates", help="List the window's templates with counts, most frequent first.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Search log records, newest first, each with its template; --templates counts the templates.

    Templates are mined per window (drain3 over the messages with numbers, ids and times
    masked), from every record of the window, whatever the other filters."""
    from glimpse.render.tables import log_table, log_template_table

    params = {
        "since": since,
        "until": until,
        "service": service,
        "severity": severity,
        "template": template,
        "trace_id": trace_id,
        "span_id": span_id,
        "text": text,
        "limit": limit,
    }
    result = client(db, server).analysis("log_templates" if templates else "logs", params)
    if as_json:
        print_json(result)
    else:
        out().print(log_template_table(result) if templates else log_table(result))
