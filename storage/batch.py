"""What receivers hand the writer: Arrow tables keyed by target table.

Kept free of DuckDB imports: decode worker processes build batches and need only Arrow.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

__all__ = ["Batch"]


@dataclass(frozen=True)
class Batch:
    """Rows for one or more tables, decoded from one export request."""

    tables: dict[str, pa.Table]

    @property
    def rows(self) -> int:
        """The items the client sent (spans, points, records): what queue limits count."""
        return sum(table.num_rows for name, table in self.tables.items() if name not in _DESCRIPTIVE_TABLES)


# rows that describe the items rather than being items: each resource is stored once
_DESCRIPTIVE_TABLES = frozenset({"otel_resources"})
