"""The settled cells of a long rule window, counted once and kept between evaluations.

A rule over days re-read every span of its window at each evaluation: on the 21-day
generated store of 50 million spans, 81 s for a 21-day window, repeated every cycle. A
window past :data:`~analyzer.query_service.services.QUANTILE_SPANS` spans is instead cut
into cells aligned on a grid of its own width (a :data:`CELLS_PER_WINDOW`-th of it, whole
minutes); a cell that ended :data:`SETTLE_NS` before the evaluation is read once, for the
scopes the rules look at, and kept. Each evaluation then reads only the window's part
cells at both ends and the cells that settled since, and adds the kept ones up.

Counts stay exact, but for spans that arrive more than :data:`SETTLE_NS` late (their cell
is kept without them) and spans retention deletes from a kept cell. The latency
percentiles come from the cells' histograms of every request's duration (the buckets of
:data:`storage.graph_queries.BUCKETS_PER_LN`, within 1 %), where the whole window's read
takes them from a sample of its traces.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import duckdb

from analyzer.alerting import ScopeCounts
from storage.graph_queries import BUCKETS_PER_LN, bucket_quantiles
from storage.named_queries import run_query
from storage.window import SpanWindow

__all__ = ["CELLS_PER_WINDOW", "SETTLE_NS", "ScopeCells"]

_MINUTE_NS = 60 * 1_000_000_000
CELLS_PER_WINDOW = 64
# late spans: a cell is kept once it ended this long before the evaluation
SETTLE_NS = 5 * _MINUTE_NS
# cells read by one query while filling: DuckDB holds a histogram per scope and cell
FILL_CELLS = 8

Scope = tuple[str, str]


@dataclass
class _Part:
    """One scope's requests, errors and duration histogram over a cell or a window."""

    requests: int = 0
    errors: int = 0
    buckets: Counter[int] = field(default_factory=Counter)

    def add(self, other: _Part) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.buckets.update(other.buckets)

    def counts(self) -> ScopeCounts:
        quantiles = bucket_quantiles(self.buckets.items())
        if quantiles is None:
            return ScopeCounts(self.requests, self.errors)
        p50, p95, p99 = (ns / 1e6 for ns in quantiles)
        return ScopeCounts(self.requests, self.errors, p50, p95, p99)


def cell_width_ns(window_ns: int) -> int:
    """The grid a window of ``window_ns`` is cut on: a :data:`CELLS_PER_WINDOW`-th of it, in
    whole minutes.

    >>> cell_width_ns(21 * 24 * 3600 * 10**9) // _MINUTE_NS, cell_width_ns(3600 * 10**9) // _MINUTE_NS
    (472, 1)
    """
    return max(1, window_ns // CELLS_PER_WINDOW // _MINUTE_NS) * _MINUTE_NS


class ScopeCells:
    """The kept cells, per window length: scope -> counts of the cell. Kept for one set of
    scopes: another set (the rules changed) starts afresh."""

    def __init__(self) -> None:
        self._scopes: frozenset[Scope] = frozenset()
        self._cells: dict[tuple[int, int], dict[Scope, _Part]] = {}  # (window ns, start) -> scope -> part
        self.cells_read = 0  # cells read so far (what a test can count)

    def counts(
        self, con: duckdb.DuckDBPyConnection, window: SpanWindow, scopes: frozenset[Scope]
    ) -> dict[Scope, ScopeCounts]:
        """The window's counts per scope in ``scopes``, the kept cells added to those read now."""
        if scopes != self._scopes:
            self._scopes, self._cells = scopes, {}
        length = window.until_ns - window.since_ns
        width = cell_width_ns(length)
        first = -(-window.since_ns // width) * width
        end = (window.until_ns - SETTLE_NS) // width * width  # where the last settled cell ends
        total: dict[Scope, _Part] = {}
        if end - first < width:
            _add(total, self._read(con, window, length).values())
        else:
            starts = range(first, end, width)
            self._fill(con, length, width, [start for start in starts if (length, start) not in self._cells])
            for start in starts:
                _add(total, [self._cells[(length, start)]])
            for edge in (SpanWindow(window.since_ns, first), SpanWindow(end, window.until_ns)):
                if edge.until_ns > edge.since_ns:
                    _add(total, self._read(con, edge, edge.until_ns - edge.since_ns).values())
            self._forget(length, first)
        return {scope: part.counts() for scope, part in total.items()}

    def keep_only(self, lengths: Iterable[int]) -> None:
        """Drop the cells of window lengths no rule has any more."""
        kept = set(lengths)
        for key in [key for key in self._cells if key[0] not in kept]:
            del self._cells[key]

    def _fill(self, con: duckdb.DuckDBPyConnection, length: int, width: int, starts: list[int]) -> None:
        """Read the cells of a window of ``length`` starting at ``starts`` (runs of adjacent
        ones, a few per query)."""
        for run in _runs(starts, width, FILL_CELLS):
            read = self._read(con, SpanWindow(run[0], run[-1] + width), width)
            for index, start in enumerate(run):
                self._cells[(length, start)] = read.get(index, {})
            self.cells_read += len(run)

    def _read(self, con: duckdb.DuckDBPyConnection, window: SpanWindow, width: int) -> dict[int, dict[Scope, _Part]]:
        """Per bucket of ``width`` from the window's start: scope -> its part."""
        scopes = sorted(f"{level}|{entity}" for level, entity in self._scopes)
        params = {**window.params, "bucket": width, "sample": 1, "per_ln": BUCKETS_PER_LN, "scopes": scopes}
        found: dict[int, dict[Scope, _Part]] = {}
        for row in run_query(con, "incidents/red_levels", "alerts/scope_cells", params=params):
            part = _Part(int(row["requests"]), int(row["errors"]), Counter(row["latency_buckets"] or {}))
            found.setdefault(int(row["bucket"]), {})[(row["level"], row["entity"])] = part
        return found

    def _forget(self, length: int, first: int) -> None:
        """Drop the cells of this window length that the window has left."""
        for key in [key for key in self._cells if key[0] == length and key[1] < first]:
            del self._cells[key]


def _add(total: dict[Scope, _Part], parts: Iterable[Mapping[Scope, _Part]]) -> None:
    for part in parts:
        for scope, counts in part.items():
            total.setdefault(scope, _Part()).add(counts)


def _runs(starts: list[int], width: int, most: int) -> list[list[int]]:
    """``starts`` (ascending) in runs of adjacent cells, at most ``most`` each.

    >>> _runs([0, 10, 20, 40, 50], 10, 2)
    [[0, 10], [20], [40, 50]]
    """
    runs: list[list[int]] = []
    for start in starts:
        if runs and start == runs[-1][-1] + width and len(runs[-1]) < most:
            runs[-1].append(start)
        else:
            runs.append([start])
    return runs
