"""``glimpse anomalies`` and ``glimpse rca``: what is anomalous, and what most probably caused it."""

from __future__ import annotations

from typing import Annotated

import typer

from glimpse.cli.app import (
    AnomalyLimitOption,
    AnomalyServiceOption,
    BaselineSinceOption,
    BaselineUntilOption,
    CandidatesOption,
    DbOption,
    IncidentSinceOption,
    SeriesJsonOption,
    ServerOption,
    SinceOption,
    TracesThroughOption,
    UntilOption,
    app,
    client,
    out,
    print_json,
)

__all__ = ["anomalies_command", "rca_command"]


@app.command("anomalies")
def anomalies_command(
    db: DbOption = None,
    server: ServerOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    service: AnomalyServiceOption = None,
    limit: AnomalyLimitOption = 30,
    as_json: SeriesJsonOption = False,
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
    since: IncidentSinceOption = None,
    until: UntilOption = None,
    baseline_since: BaselineSinceOption = None,
    baseline_until: BaselineUntilOption = None,
    service: TracesThroughOption = None,
    limit: CandidatesOption = 10,
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
