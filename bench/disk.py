"""Where a store's bytes go: bytes a span per table and column, from DuckDB's own storage info.

DuckDB packs several columns' segments into one 256 KiB block, so counting blocks per
column overstates the small ones. A segment's size is instead the distance from its
offset to the next segment's in the same block (to the block's end for the last one),
plus any whole blocks it continues into. The sum comes within about 2 % of the file's used
blocks; the rest is metadata.

Run: ``python -m bench.disk STORE [--tables otel_spans,otel_resources,...] [--top 25] [--json]``
(``python -m bench.ingest --keep`` keeps the ingest benchmark's store to look at).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

__all__ = ["ColumnBytes", "column_bytes"]

DEFAULT_TABLES = ("otel_spans", "otel_resources", "otel_trace_index")
BLOCK_BYTES = 256 * 1024

# one table's persistent segments, each sized by the next segment's offset in its block
_SEGMENT_BYTES = """
WITH segments AS (
    SELECT column_name, block_id, block_offset, coalesce(len(additional_block_ids), 0) AS extra_blocks
    FROM pragma_storage_info($table)
    WHERE persistent AND block_id >= 0
),
sized AS (
    SELECT
        column_name,
        extra_blocks,
        coalesce(lead(block_offset) OVER (PARTITION BY block_id ORDER BY block_offset), $block) - block_offset AS bytes
    FROM segments
)
SELECT column_name, sum(bytes + extra_blocks * $block)::BIGINT AS bytes
FROM sized
GROUP BY column_name
"""


@dataclass(frozen=True)
class ColumnBytes:
    table: str
    column: str
    bytes: int
    bytes_per_span: float


def column_bytes(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...] = DEFAULT_TABLES) -> list[ColumnBytes]:
    """Every column's bytes on disk, largest first, as bytes per stored span too."""
    spans = int(con.execute("SELECT count(*) FROM otel_spans").fetchone()[0])  # type: ignore[index]
    found = []
    for table in tables:
        for column, size in con.execute(_SEGMENT_BYTES, {"table": table, "block": BLOCK_BYTES}).fetchall():
            found.append(ColumnBytes(table, column, int(size), size / spans if spans else 0.0))
    return sorted(found, key=lambda c: -c.bytes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.disk", description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--tables", default=",".join(DEFAULT_TABLES), help="comma-separated tables")
    parser.add_argument("--top", type=int, default=25, help="columns to print")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.store.exists():
        parser.error(f"no store at {args.store}")
    con = duckdb.connect(str(args.store), read_only=True)
    try:
        columns = column_bytes(con, tuple(name for name in args.tables.split(",") if name))
        spans = int(con.execute("SELECT count(*) FROM otel_spans").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()
    if args.json:
        print(json.dumps({"spans": spans, "columns": [asdict(c) for c in columns]}))
        return 0
    total = sum(c.bytes for c in columns)
    file_bytes = args.store.stat().st_size
    print(f"{spans:,} spans; columns {total / max(spans, 1):.2f} B/span, file {file_bytes / max(spans, 1):.2f} B/span")
    for c in columns[: args.top]:
        print(f"  {c.table:<18} {c.column:<30} {c.bytes_per_span:7.2f}  {100 * c.bytes / max(total, 1):5.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
