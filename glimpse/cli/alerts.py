"""``glimpse alerts``: the alerts a server keeps; ``alerts check`` validates a rules file and
``alerts test`` replays one over a stored window."""

from __future__ import annotations

from typing import Annotated

import typer

from glimpse.cli.app import (
    DbOption,
    JsonOption,
    ServerOption,
    SinceOption,
    UntilOption,
    app,
    client,
    err,
    fail,
    out,
    print_json,
)

__all__ = ["alerts_app", "alerts_command", "check_command", "test_command"]

alerts_app = typer.Typer(no_args_is_help=False, add_completion=False)
app.add_typer(alerts_app, name="alerts")

RulesFile = Annotated[str, typer.Argument(help="The rules file (YAML; see docs/alerting.md).")]


@alerts_app.callback(invoke_without_command=True)
def alerts_command(
    ctx: typer.Context,
    db: DbOption = None,
    server: ServerOption = None,
    history: Annotated[bool, typer.Option("--history", help="Also the latest state changes.")] = False,
    limit: Annotated[int, typer.Option(help="State changes to show with --history.", min=1)] = 100,
    as_json: JsonOption = False,
) -> None:
    """Alerts kept by `glimpse serve --rules`: firing and pending first, with their root causes."""
    if ctx.invoked_subcommand is not None:
        return
    from glimpse.render.tables import alert_tables

    params = {"history": "true" if history else None, "limit": limit}
    result = client(db, server).analysis("alerts", params)
    if as_json:
        print_json(result)
        return
    for table in alert_tables(result):
        out().print(table)


@alerts_app.command("check")
def check_command(rules_file: RulesFile) -> None:
    """Validate a rules file: every mistake with its rule and field; exit 1 if there is one."""
    from analyzer.alert_rules import RulesError, read_rules

    try:
        rules = read_rules(rules_file)
    except RulesError as exc:
        for problem in exc.problems:
            err.print(f"[bold red]error:[/] {rules_file}: {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    found = f"{len(rules)} rule{'s' if len(rules) != 1 else ''}"
    out().print(f"{rules_file}: {found} found, all valid", highlight=False, soft_wrap=True)


@alerts_app.command("test")
def test_command(
    rules_file: RulesFile,
    db: DbOption = None,
    server: ServerOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    step: Annotated[str, typer.Option(help="How often to evaluate the rules in the replay.")] = "30s",
    root_causes: Annotated[
        bool, typer.Option("--root-causes/--no-root-causes", help="Rank the root causes of each alert that fires.")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Replay a rules file over a stored window: what would have fired, when, and why."""
    from analyzer.alert_rules import RulesError, parse_duration_ns, read_rules
    from glimpse.render.tables import backtest_tables
    from glimpse.timeparse import parse_time_ns

    try:
        read_rules(rules_file)  # every mistake named before anything runs
        step_ns = parse_duration_ns(step)
    except RulesError as exc:
        raise fail(f"{rules_file}: {exc.problems[0]} (see glimpse alerts check)") from None
    except ValueError as exc:
        raise fail(f"--step: {exc}") from None
    with open(rules_file, encoding="utf-8") as handle:
        text = handle.read()
    result = client(db, server).backtest(
        text, since_ns=parse_time_ns(since), until_ns=parse_time_ns(until), step_ns=step_ns, root_causes=root_causes
    )
    if as_json:
        print_json(result)
        return
    for table in backtest_tables(result):
        out().print(table)
