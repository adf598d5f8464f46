"""Sizes written as text: ``20GB``, ``512 MiB``, ``1000`` (bytes), and DuckDB's own ``122.0 MiB``."""

from __future__ import annotations

import re
from typing import Any

import duckdb

__all__ = ["SIZE_UNITS", "memory_limit_bytes", "size_bytes"]

SIZE_UNITS = {
    "": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip


def size_bytes(text: str) -> float | None:
    """The size ``text`` gives, in bytes (KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of
    1024, any case), or None when it is not a size.

    >>> size_bytes("20GB"), size_bytes("122.0 MiB"), size_bytes("1000"), size_bytes("lots")
    (20000000000.0, 127926272.0, 1000.0, None)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", text.lower())
    if not match or match.group(2) not in SIZE_UNITS:
        return None
    return float(match.group(1)) * SIZE_UNITS[match.group(2)]


def memory_limit_bytes(con: Any) -> int | None:
    """DuckDB's memory limit on ``con`` in bytes (None for a connection that is not DuckDB's)."""
    if not isinstance(con, duckdb.DuckDBPyConnection):
        return None
    row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    limit = size_bytes(str(row[0])) if row else None
    return None if limit is None else int(limit)
