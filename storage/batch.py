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
        return sum(table.num_rows for table in self.tables.values())
