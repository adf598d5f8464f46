"""Retention: spans, logs and metric points past an age, or beyond a size, are deleted.

The unit that goes is DuckDB's row group. The writer stores rows in arrival order, so a
row group holds a few seconds of data; once every row of one is deleted, the next
checkpoint frees its blocks and the next writes reuse them (measured with DuckDB 2.0: a
435 MiB file, its oldest fifth deleted and checkpointed, then as much written again, stays
at 435 MiB). The file does not shrink (DuckDB only gives back free blocks at its end); it
stops growing, which is what keeps a store within its bound under continuous ingest.

Age is span time (a record's own time for logs and metric points), not arrival time: a
span that arrives late and already expired goes at the next pass. A size bound deletes the
oldest data, all signals alike, down to :data:`SIZE_LOW_WATER` of the bound once the used
blocks (and DuckDB's WAL) pass :data:`SIZE_HIGH_WATER` of it. Resources (a few rows per
process) are kept.

Passes run on the writer's store thread, between commits: deletes and checkpoints never
race the writer's own transactions, and readers keep their snapshots (DuckDB's MVCC).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

__all__ = ["RETENTION_CHECK_S", "Retention", "RetentionPolicy", "RetentionStats", "store_bytes"]

logger = logging.getLogger(__name__)

# how often an idle store is checked for expired data; under ingest the size is checked
# after every commit
RETENTION_CHECK_S = 10.0
SIZE_HIGH_WATER = 0.8
SIZE_LOW_WATER = 0.6
# a size pass deletes, checkpoints and measures again at most this many times
SIZE_ROUNDS = 4

# each table with rows that expire -> the condition "older than $cutoff" on its own time
# (written so that DuckDB's per-row-group min/max skips the row groups that are newer)
_METRIC_TABLES = tuple(
    f"otel_metrics_{kind}" for kind in ("gauge", "sum", "histogram", "exponential_histogram", "summary")
)
_CUTOFF = "make_timestamp_ns($cutoff)"
_EXPIRED = {
    "otel_spans": f"timestamp < {_CUTOFF}",
    "otel_trace_index": f"last_start < {_CUTOFF}",
    "otel_log_trace_index": f"last_time < {_CUTOFF}",
    "otel_logs": f"timestamp < {_CUTOFF} OR (timestamp IS NULL AND observed_timestamp < {_CUTOFF})",
    **{table: f"time_unix < {_CUTOFF}" for table in _METRIC_TABLES},
}

_INDEXES = frozenset({"otel_trace_index", "otel_log_trace_index"})  # rows derived from the others

# the time of every expiring row of the signals, for the size bound's cut-off
_TIMES = f"""
SELECT approx_quantile(epoch_ns(t), $fraction::FLOAT) FROM (
    SELECT timestamp AS t FROM otel_spans
    UNION ALL SELECT coalesce(timestamp, observed_timestamp) FROM otel_logs
    {"".join(f"UNION ALL SELECT time_unix FROM {table} " for table in _METRIC_TABLES)}
)
"""


@dataclass(frozen=True)
class RetentionPolicy:
    """What to keep: data younger than ``max_age_ns``, a store no larger than ``max_bytes``."""

    max_age_ns: int | None = None
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.max_age_ns is not None and self.max_age_ns <= 0:
            raise ValueError("the retention age must be positive")
        if self.max_bytes is not None and self.max_bytes <= 0:
            raise ValueError("the store size bound must be positive")

    @property
    def enabled(self) -> bool:
        return self.max_age_ns is not None or self.max_bytes is not None


@dataclass
class RetentionStats:
    """What retention did (read them, do not write them)."""

    passes: int = 0  # passes that deleted something
    dropped_rows: dict[str, int] = field(default_factory=dict)
    last_cutoff_ns: int | None = None
    last_reason: str = ""  # "age" or "size"
    last_pass_s: float = 0.0
    store_bytes: int = 0  # the database file and its WAL on disk, at the last check


def store_bytes(database_path: str) -> int:
    """The database file and its WAL, as they take disk space."""
    return sum(_file_bytes(path) for path in (database_path, f"{database_path}.wal"))


def _file_bytes(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:  # no WAL: nothing to checkpoint
        return 0


class Retention:
    """Applies a :class:`RetentionPolicy` to the store on the writer's connection."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        policy: RetentionPolicy,
        *,
        database_path: str | None,
        checkpoint: Callable[[], None] | None = None,
    ) -> None:
        self.con = con
        self.policy = policy
        # the writer's own checkpoint, which keeps off a full disk (a failed checkpoint
        # invalidates the database); a plain CHECKPOINT when there is no writer
        self._checkpoint = checkpoint or self._plain_checkpoint
        self.stats = RetentionStats()
        self._database_path = database_path
        self._next_age_check = 0.0

    def run(self, *, now_ns: int | None = None, force: bool = False) -> None:
        """One pass: expire by age (at most every :data:`RETENTION_CHECK_S` unless ``force``),
        then by size. Errors are logged, never raised: retention must not stop ingest."""
        try:
            if self.policy.max_age_ns is not None and (force or time.monotonic() >= self._next_age_check):
                self._next_age_check = time.monotonic() + RETENTION_CHECK_S
                cutoff = (now_ns if now_ns is not None else time.time_ns()) - self.policy.max_age_ns
                self._expire(cutoff, "age")
            if self.policy.max_bytes is not None:
                self._bound_size(self.policy.max_bytes)
        except Exception:  # retention must never stop the writer's thread
            logger.exception("retention failed; it is tried again after the next commit")

    def _bound_size(self, bound: int) -> None:
        used = self._used_bytes()
        if used > SIZE_HIGH_WATER * bound:
            self._checkpoint()  # the WAL counts: a checkpoint may be all it takes
            used = self._used_bytes()
        for _ in range(SIZE_ROUNDS):
            if used <= SIZE_HIGH_WATER * bound:
                break
            fraction = min(1.0, (used - SIZE_LOW_WATER * bound) / used)
            cutoff = self._time_quantile(fraction)
            if cutoff is None or not self._expire(cutoff, "size"):
                break
            used = self._used_bytes()
        if self._database_path is not None:
            self.stats.store_bytes = store_bytes(self._database_path)

    def _time_quantile(self, fraction: float) -> int | None:
        """The time before which about ``fraction`` of the stored rows lie (a just-later
        nanosecond at 1.0, so that everything goes)."""
        row = self.con.execute(_TIMES, {"fraction": min(fraction, 0.999)}).fetchone()
        if not row or row[0] is None:
            return None
        return int(row[0]) + (1 if fraction >= 1.0 else 0)

    def _expire(self, cutoff_ns: int, reason: str) -> int:
        """Delete every row older than ``cutoff_ns`` and checkpoint; return the rows deleted."""
        started = time.perf_counter()
        dropped: dict[str, int] = {}
        self.con.execute("BEGIN TRANSACTION")
        try:
            for table, condition in _EXPIRED.items():
                sql = f"DELETE FROM {table} WHERE {condition}"
                row = self.con.execute(sql, {"cutoff": cutoff_ns}).fetchone()
                if row and row[0]:
                    dropped[table] = int(row[0])
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        total = sum(count for table, count in dropped.items() if table not in _INDEXES)
        if not total:
            return 0
        self._checkpoint()  # frees the blocks of the row groups now empty
        self._record(dropped, cutoff_ns, reason, time.perf_counter() - started)
        return total

    def _record(self, dropped: dict[str, int], cutoff_ns: int, reason: str, elapsed_s: float) -> None:
        stats = self.stats
        stats.passes += 1
        for table, count in dropped.items():
            stats.dropped_rows[table] = stats.dropped_rows.get(table, 0) + count
        stats.last_cutoff_ns, stats.last_reason, stats.last_pass_s = cutoff_ns, reason, elapsed_s
        if self._database_path is not None:
            stats.store_bytes = store_bytes(self._database_path)
        what = ", ".join(f"{count:,} {_noun(table)}" for table, count in dropped.items() if table not in _INDEXES)
        logger.info(
            "retention (%s) dropped %s older than %s in %.2f s; the store takes %.1f MiB",
            reason,
            what,
            _iso(cutoff_ns),
            elapsed_s,
            stats.store_bytes / 2**20,
        )

    def _used_bytes(self) -> int:
        """The blocks the data takes (free blocks are reused before the file grows) and the WAL."""
        row = self.con.execute("SELECT block_size, used_blocks FROM pragma_database_size()").fetchone()
        used = int(row[0]) * int(row[1]) if row else 0
        if self._database_path is not None:
            used += _file_bytes(f"{self._database_path}.wal")
        return used

    def _plain_checkpoint(self) -> None:
        try:
            self.con.execute("CHECKPOINT")
        except duckdb.Error:
            logger.warning("retention could not checkpoint now; the space comes back at the next checkpoint")


def _noun(table: str) -> str:
    if table == "otel_spans":
        return "spans"
    if table == "otel_logs":
        return "log records"
    return f"{table.removeprefix('otel_metrics_')} points"


def _iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / 1e9))
