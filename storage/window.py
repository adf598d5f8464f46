"""The span-time window every analysis reads: half-open, in unix nanoseconds."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["END_OF_TIME_NS", "SLICE_CELLS", "SpanWindow"]

END_OF_TIME_NS = 2**62  # year 2116: within TIMESTAMP_NS
SLICE_CELLS = 1024  # a window too large for one query is counted in this many cells to cut it


@dataclass(frozen=True)
class SpanWindow:
    """A half-open span-time window [since_ns, until_ns) in unix nanoseconds.

    >>> SpanWindow(0, 3_000_000_000).seconds
    3.0
    """

    since_ns: int
    until_ns: int

    @property
    def seconds(self) -> float:
        return max(self.until_ns - self.since_ns, 1) / 1e9

    @property
    def params(self) -> dict[str, int]:
        """The window as the ``$since``/``$until`` parameters of a query."""
        return {"since": self.since_ns, "until": self.until_ns}

    def as_dict(self) -> dict[str, int]:
        return {"since_ns": self.since_ns, "until_ns": self.until_ns}

    @property
    def cell_ns(self) -> int:
        """The width of one of :data:`SLICE_CELLS` cells of the window (at least 1 ns)."""
        return max(1, -(-(self.until_ns - self.since_ns) // SLICE_CELLS))

    def slices(self, cell_rows: Iterable[tuple[int, int]], max_rows: int) -> list[SpanWindow]:
        """The window cut at cell bounds into slices of at most ``max_rows`` rows each, oldest
        first, from the rows of its cells (``(cell, rows)`` in cell order, cells of
        :attr:`cell_ns` counted from ``since_ns``); a cell of more rows is a slice of its own.

        >>> window = SpanWindow(0, 4096)
        >>> [(s.since_ns, s.until_ns) for s in window.slices([(0, 3), (1, 3), (5, 1)], max_rows=4)]
        [(0, 4), (4, 4096)]
        """
        cuts, rows = [self.since_ns], 0
        for cell, count in cell_rows:
            if rows and rows + count > max_rows:
                cuts.append(self.since_ns + cell * self.cell_ns)
                rows = 0
            rows += count
        cuts.append(self.until_ns)
        return [SpanWindow(since, until) for since, until in itertools.pairwise(cuts)]
