"""``glimpse sql``: read-only SQL over the store."""

from __future__ import annotations

import csv
import io
import json
import sys
from enum import Enum
from typing import Annotated, Any

import typer

from glimpse.cli.app import DbOption, ServerOption, app, client, err, out

__all__ = ["OutputFormat", "sql", "write_rows"]


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One read-only SELECT statement.")],
    db: DbOption = None,
    server: ServerOption = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
    max_rows: Annotated[int, typer.Option(help="Row cap.")] = 10_000,
    timeout: Annotated[float, typer.Option(help="Time limit in seconds.")] = 30.0,
) -> None:
    """Run read-only SQL over the store (through the running server when there is one)."""
    result = client(db, server).sql(query, max_rows=max_rows, timeout_s=timeout)
    write_rows(result, output_format)
    if result["truncated"]:
        err.print(f"(truncated at {max_rows} rows; raise --max-rows for more)", highlight=False)


def write_rows(result: dict[str, Any], output_format: OutputFormat) -> None:
    """A SQL answer (columns, rows) as a table, JSON or CSV on stdout."""
    from glimpse.render.tables import cell, sql_table

    if output_format is OutputFormat.json:
        rows = [dict(zip(result["columns"], row, strict=False)) for row in result["rows"]]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
    elif output_format is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(result["columns"])
        writer.writerows([[cell(value) for value in row] for row in result["rows"]])
        sys.stdout.write(buffer.getvalue())
    else:
        out().print(sql_table(result))
