"""``glimpse anomalies`` and ``glimpse rca``: what is anomalous, and what most probably caused it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from glimpse.cli.app import DbOption, ServerOption, SinceOption, UntilOption, app, client, out, print_json

__all__ = ["anomalies_command", "rca_command"]


@app.command("anomalies")
def anomalies_command(
    db: DbOption = None,
    server: ServerOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    service: Annotated[Optional[str], typer.Option(help="Only this service's anomalies and incidents.")] = None,
    limit: Annotated[int, typer.Option(help="Anomalies to show.", min=1)] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print exact JSON (with each anomaly's series).")] = False,
) -> None:
    """Anomalous latency, errors and resource use per service, operation, edge, pod and node, and their incidents."""
    from glimpse.render.tables import anomaly_tables

    params = {"since": since, "until": until, "service": service, "series": "true" if as_json else "false"}
    result = client(db, server).analysis("anomalies", params)
    if as_json:
        print_json(result)
        return
    for table in anomaly_tables(result, limit):
        out().print(table)


@app.command("rca")
def rca_command(
    db: DbOption = None,
    server: ServerOption = None,
    since: Annotated[
        Optional[str], typer.Option(help="Incident start: RFC 3339 or unix ns (default: find the latest incident).")
    ] = None,
    until: UntilOption = None,
    baseline_since: Annotated[
        Optional[str], typer.Option(help="Baseline start (default: 4 incident-lengths, >= 30 min, before it).")
    ] = None,
    baseline_until: Annotated[Optional[str], typer.Option(help="Baseline end (default: the incident's start).")] = None,
    service: Annotated[Optional[str], typer.Option(help="Only traces through this service.")] = None,
    limit: Annotated[int, typer.Option(help="Candidates to rank.", min=1)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print exact JSON.")] = False,
) -> None:
    """Ranked probable root causes of an incident, with evidence and a remediation hint each."""
    from glimpse.render.tables import rca_table

    params = {
        "since": since,
        "until": until,
        "baseline_since": baseline_since,
        "baseline_until": baseline_until,
        "service": service,
        "limit": limit,
    }
    result = client(db, server).analysis("rca", params)
    if as_json:
        print_json(result)
    else:
        out().print(rca_table(result))
