"""``glimpse platforms``: every pod, container, process and function instance."""

from __future__ import annotations

from glimpse.cli.app import DbOption, JsonOption, ServerOption, SinceOption, UntilOption, app, client, out, print_json

__all__ = ["platforms_command"]


@app.command("platforms")
def platforms_command(
    db: DbOption = None,
    server: ServerOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every pod, container, process and function instance: platform, place, services, health."""
    from glimpse.render.tables import platforms_table

    result = client(db, server).analysis("platforms", {"since": since, "until": until})
    if as_json:
        print_json(result)
    else:
        out().print(platforms_table(result))
