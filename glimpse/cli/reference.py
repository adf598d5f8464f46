"""The CLI reference (docs/cli.md), generated from the commands' own help.

``python -m glimpse.cli.reference > docs/cli.md`` writes it; a test fails when the file
and the commands disagree.
"""

from __future__ import annotations

from typing import Any

import typer
import typer.main

from glimpse.cli import app

__all__ = ["cli_reference"]


def cli_reference() -> str:
    """Markdown: every command with its arguments and options, in ``glimpse --help`` order."""
    group: Any = typer.main.get_command(app)  # typer's own copy of click: typed loosely
    ctx = typer.Context(group, info_name="glimpse")
    lines = [
        "# CLI reference",
        "",
        "Generated from the commands' help by `python -m glimpse.cli.reference > docs/cli.md`;",
        "`glimpse COMMAND --help` shows the same. Times are RFC 3339 or integer unix nanoseconds.",
        "",
        "| command | what it does |",
        "| --- | --- |",
    ]
    commands = [(name, group.get_command(ctx, name)) for name in group.list_commands(ctx)]
    lines += [f"| [`glimpse {name}`](#glimpse-{name}) | {_first_line(cmd)} |" for name, cmd in commands if cmd]
    for name, command in commands:
        if command is not None:
            lines += ["", *_command_section(name, command)]
            lines += _subcommand_sections(name, command, ctx)
    return "\n".join(lines) + "\n"


def _subcommand_sections(name: str, command: Any, ctx: Any) -> list[str]:
    """The sections of a group's own commands (``glimpse alerts check``), in their order."""
    if not hasattr(command, "list_commands"):
        return []
    lines: list[str] = []
    for sub in command.list_commands(ctx):
        lines += ["", *_command_section(f"{name} {sub}", command.get_command(ctx, sub))]
    return lines


def _first_line(command: Any) -> str:
    return (command.help or "").strip().splitlines()[0] if command.help else ""


def _command_section(name: str, command: Any) -> list[str]:
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    usage = " ".join(["glimpse", name, *(str(p.name).upper() for p in arguments), "[OPTIONS]"])
    lines = [f"## glimpse {name}", "", (command.help or "").strip(), "", f"    {usage}", ""]
    lines += ["| option | meaning | default |", "| --- | --- | --- |"]
    for param in command.params:
        if param.param_type_name == "option" and not param.hidden:
            lines.append(f"| {_names(param)} | {_cell(param.help or '')} | {_default(param)} |")
    for param in arguments:
        lines.append(f"| `{str(param.name).upper()}` (argument) | {_cell(getattr(param, 'help', '') or '')} | |")
    return lines


def _names(option: Any) -> str:
    names = ", ".join(f"`{name}`" for name in option.opts)
    if option.secondary_opts:
        names += " / " + ", ".join(f"`{name}`" for name in option.secondary_opts)
    return names


def _default(option: Any) -> str:
    value: Any = option.default
    if value is None or (option.is_flag and value is False):
        return ""
    if hasattr(value, "value"):  # an Enum choice
        value = value.value
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


if __name__ == "__main__":
    print(cli_reference(), end="")
