"""``glimpse report``: an incident's root causes, anomalies, graph and trends as Markdown or HTML."""

from __future__ import annotations

import json
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from analyzer.errors import NotFoundError
from glimpse.cli.app import DbOption, ServerOption, UntilOption, app, client, write_text

if TYPE_CHECKING:
    from glimpse.client import GlimpseClient

__all__ = ["ReportFormat", "gather_report", "report_command"]


class ReportFormat(str, Enum):
    markdown = "markdown"
    html = "html"


@app.command("report")
def report_command(
    db: DbOption = None,
    server: ServerOption = None,
    since: Annotated[
        Optional[str], typer.Option(help="Incident start (default: the latest incident, or all data if none).")
    ] = None,
    until: UntilOption = None,
    baseline_since: Annotated[Optional[str], typer.Option(help="Baseline start.")] = None,
    baseline_until: Annotated[Optional[str], typer.Option(help="Baseline end.")] = None,
    output_format: Annotated[ReportFormat, typer.Option("--format", help="markdown or html.")] = ReportFormat.markdown,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write to this file.")] = None,
) -> None:
    """An incident and health report: summary, graph with the incident, ranked causes, timelines, trends."""
    from glimpse.render.report import render_html, render_markdown

    params = {"since": since, "until": until, "baseline_since": baseline_since, "baseline_until": baseline_until}
    data = gather_report(client(db, server), params)
    text = render_html(data) if output_format is ReportFormat.html else render_markdown(data)
    if output:
        write_text(text, output)
    else:
        typer.echo(text, nl=False)


def gather_report(source: GlimpseClient, params: dict[str, Any]) -> dict[str, Any]:
    """Everything a report shows, as plain data (see glimpse.render.report)."""
    try:
        rca: dict[str, Any] | None = source.analysis("rca", {**params, "limit": 10})
    except NotFoundError as exc:  # no incident to explain: a health report of the window
        if params.get("since"):
            raise
        rca, no_incident = None, str(exc)
    if rca is not None:
        window = {"since": rca["baseline"]["start_ns"], "until": rca["incident"]["end_ns"]}
        incident_window = {"since": rca["incident"]["start_ns"], "until": rca["incident"]["end_ns"]}
    else:
        window = incident_window = {"since": params.get("since"), "until": params.get("until")}
    return {
        "rca": rca,
        "no_incident": None if rca is not None else no_incident,
        "anomalies": source.analysis("anomalies", {**window, "series": "true", "limit": 40}),
        "graph": json.loads(source.graph_document("json", incident_window)),
        "insights": source.analysis("insights", window),
    }
