"""``glimpse lake``: export a stopped store's hours to the Parquet lake, and list the lake."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Optional

import typer

from glimpse.cli.app import DbOption, JsonOption, SinceOption, UntilOption, app, err, out, print_json
from glimpse.settings import DEFAULT_DB, ENV_DB, ENV_LAKE, LAKE, NODE_ID, default_node_id, env_or

__all__ = ["export_command", "lake_app", "ls_command"]

lake_app = typer.Typer(no_args_is_help=True, add_completion=False, help="The shared Parquet lake (docs/scale.md).")
app.add_typer(lake_app, name="lake")

LakeOption = Annotated[Optional[str], typer.Option("--lake", help=LAKE.help)]


def lake_path(lake: str | None) -> str:
    """``--lake``, else $GLIMPSE_LAKE; one of them is needed."""
    from storage.lake import LakeError

    path = lake or env_or(ENV_LAKE, "")
    if not path:
        raise LakeError(f"no lake given: use --lake PATH|URI or set {ENV_LAKE}")
    return path


@lake_app.command("export")
def export_command(
    db: DbOption = None,
    lake: LakeOption = None,
    node_id: Annotated[Optional[str], typer.Option(help=NODE_ID.help)] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export the hours of a store (not being served) to the lake: every hour with data in
    the window, whole, open or closed; an hour already in the lake with as many rows is left alone."""
    from glimpse.timeparse import parse_time_ns
    from storage.lake import check_node_id, export_hours
    from storage.store import open_read_only

    path = db or env_or(ENV_DB, DEFAULT_DB)
    target = lake_path(lake)
    node = check_node_id(node_id or default_node_id(path))
    con = open_read_only(path)
    try:
        done = export_hours(con, target, node, since_ns=parse_time_ns(since), until_ns=parse_time_ns(until))
    finally:
        con.close()
    written = [part for part in done if part.written]
    if as_json:
        print_json({"node": node, "lake": target, "partitions": [vars(part) for part in done]})
        return
    rows = sum(part.rows for part in written)
    err.print(
        f"node {node}: wrote {len(written)} of {len(done)} partitions ({rows:,} rows) to {target}", highlight=False
    )


@lake_app.command("ls")
def ls_command(
    lake: LakeOption = None,
    table: Annotated[Optional[str], typer.Option(help="Only this table (otel_spans, otel_logs, ...).")] = None,
    as_json: JsonOption = False,
) -> None:
    """What the lake holds: one line per table, hour and node, with rows and bytes."""
    from rich.table import Table

    from storage.lake import lake_partitions

    partitions = lake_partitions(lake_path(lake), table=table)
    if as_json:
        print_json([{k: v for k, v in vars(p).items() if k != "path"} for p in partitions])
        return
    listing = Table("table", "hour (UTC)", "node", "rows", "bytes")
    for part in partitions:
        hour = dt.datetime.fromtimestamp(part.hour_ns // 10**9, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:00")
        listing.add_row(part.table, hour, part.node, f"{part.rows:,}", f"{part.bytes:,}")
    out().print(listing)
    total = sum(p.rows for p in partitions if p.table == "otel_spans")
    nodes = len({p.node for p in partitions})
    err.print(
        f"{len(partitions)} partitions, {total:,} spans, {nodes} node{'s' if nodes != 1 else ''}", highlight=False
    )


@lake_app.command("prune")
def prune_command(
    older_than: Annotated[str, typer.Option(help="Delete the hours that ended longer ago than this (14d, 36h).")],
    lake: LakeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Lake retention: delete every partition (all tables, all nodes) of the hours that ended
    more than --older-than ago, by the clock; run it from cron on one machine."""
    import time

    from glimpse.settings import parse_age_ns
    from storage.lake import HOUR_NS, lake_location, lake_partitions, remove_partition

    cutoff = time.time_ns() - parse_age_ns(older_than)
    location = lake_location(lake_path(lake))
    gone = [p for p in lake_partitions(location) if p.hour_ns + HOUR_NS <= cutoff]
    for part in gone:
        remove_partition(part, location)
    if as_json:
        print_json([{k: v for k, v in vars(p).items() if k != "path"} for p in gone])
        return
    rows = sum(p.rows for p in gone if p.table == "otel_spans")
    err.print(f"deleted {len(gone)} partitions ({rows:,} spans) of hours older than {older_than}", highlight=False)
