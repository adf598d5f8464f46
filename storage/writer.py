"""The writer: an export is answered once its batch is journaled; DuckDB gets row groups.

Receivers hand it :class:`Batch` objects through :meth:`BatchWriter.submit` and get a
``Future`` that completes once the batch is in the ingest journal on disk
(:mod:`storage.journal`), fsynced: an OTLP success answer means the data is durable. The
queue is bounded in rows: when it is full, ``submit`` raises :class:`QueueFullError` at
once and the receiver tells the client to retry later. Three threads do the work:

* the **journal thread** takes every queued batch, appends them to the journal with one
  fsync, answers them and buffers them. It hands the buffer on when it holds a whole
  DuckDB row group of spans or of log records (122,880), when a reader asks
  (:meth:`BatchWriter.sync`), and on close. Under load it waits for a whole row group even when the store is free;
  a part row group goes on only when the store is idle and exports have paused for the
  flush interval, or its oldest batch has waited five intervals (a steady trickle).
* the **prepare thread** puts each handed-off chunk in storage order (sort and copy)
  while the store thread is still committing the one before.
* the **store thread** commits each chunk in one DuckDB transaction (each resource once,
  each span once, metrics and logs), then deletes the journal segments it came from. The
  spans of part row groups, once a row group's worth has gathered, it rewrites in one
  piece in storage order.

DuckDB writes a transaction that appends a whole row group straight to the database
file, compressed ("optimistic writes"), and logs only the block pointers in its WAL:
measured on this machine, 114,000 spans a second against about 50,000 through the WAL in
commits of a few thousand. Smaller chunks (light load, or a reader's sync) go through
DuckDB's WAL, which is checkpointed by size. Readers inside the server call ``sync()``
first, so a query sees every span acknowledged before it.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Set
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from storage.batch import Batch
from storage.columns import SPAN_SCHEMA
from storage.errors import QueueFullError, WriterClosedError
from storage.journal import Journal, Record, encode_batch, journal_dir, pending_segments, read_segment
from storage.retention import RETENTION_CHECK_S, Retention, RetentionPolicy
from storage.trace_queries import index_log_traces_sql, index_traces_sql

__all__ = [
    "DEFAULT_CHECKPOINT_WAL_BYTES",
    "DEFAULT_FLUSH_INTERVAL_S",
    "DEFAULT_MAX_QUEUED_ROWS",
    "ROW_GROUP_ROWS",
    "Batch",
    "BatchWriter",
    "Prepared",
    "TableStore",
    "WriterObserver",
    "WriterStats",
    "prepare",
    "replay_journal",
]

logger = logging.getLogger(__name__)

# Under overload the queue stays full, each row in it twice (decoded, and encoded for the
# journal): 40,000 rows kept the peak RSS under 3x overload below 1 GiB where 100,000 did
# not, the same spans a second stored (docs/robustness.md#overload).
DEFAULT_MAX_QUEUED_ROWS = 40_000
# DuckDB stores a table in row groups of 122,880 rows: a chunk of exactly that many spans
# becomes one row group, written compressed straight to the file.
ROW_GROUP_ROWS = 122_880
# When the load is too light to fill a row group, acknowledged items go from the journal to
# DuckDB once exports pause for this long, and under a steady trickle at most five times
# this long after the first of them (readers in the server do not wait: they sync).
DEFAULT_FLUSH_INTERVAL_S = 1.0
# Five rather than ten: at a steady 10,000 spans a second the server peaked at 352 MiB
# instead of 453 (half the spans buffered, half the sorted copy), with the same bytes a
# span in use; DuckDB rewrites the open row group at each commit's checkpoint, and the
# blocks it frees (about one row group's worth) are reused by the next.
MAX_WAIT_INTERVALS = 5
# DuckDB's WAL only carries the small chunks; checkpoint it by size.
# Under load spans reach the file as whole row groups, past the WAL; what goes through it is
# mostly the trace index (a row per trace and chunk), which DuckDB holds in memory,
# uncompressed, until a checkpoint: about as many bytes as the WAL. At 64 MiB that tail
# rose by 60 - 70 MiB over six minutes at 40,000 spans/s before each checkpoint dropped it
# (the soak's RSS sawtooth); at 16 MiB it is a checkpoint every minute or two.
DEFAULT_CHECKPOINT_WAL_BYTES = 16 * 1024 * 1024
MIN_CHECKPOINT_WAL_BYTES = 2 * 1024 * 1024
DEFAULT_RETRY_AFTER_S = 1.0
DEFAULT_SYNC_TIMEOUT_S = 60.0
# a chunk whose commit fails (DuckDB out of memory, a full disk) is tried again before it
# is left to the journal, which the next open commits
COMMIT_ATTEMPTS = 3
COMMIT_RETRY_S = 1.0
# DuckDB invalidates the whole database when a checkpoint fails to write (a full disk):
# the writer checkpoints only with at least this much room beyond the WAL's size.
CHECKPOINT_HEADROOM_BYTES = 32 * 1024 * 1024

# Spans are identified by (trace_id, span_id): a span already stored is skipped. The
# look-up is limited to the batch's own time range so that DuckDB's zone maps keep it
# cheap however large the table grows (retried spans carry their original timestamps).
# Asking which of the batch's spans are stored (a semi join that returns nothing in the
# common case), then inserting the rest, costs a third of an anti join inside the INSERT.
_STORED_SPANS = """
SELECT b.position
FROM glimpse_keys AS b
SEMI JOIN (
    SELECT trace_id, span_id FROM otel_spans
    WHERE timestamp BETWEEN make_timestamp_ns($lo) AND make_timestamp_ns($hi)
) AS t ON t.trace_id = b.trace_id AND t.span_id = b.span_id
"""
_INSERT_BATCH = "INSERT INTO {table} BY NAME SELECT * FROM glimpse_batch"
# Spans committed in part row groups (a light load) are each in storage order only within
# their own chunk; once a row group's worth has gathered, the store rewrites them in one
# piece, grouped by resource and operation as prepare() groups a whole chunk. Found by
# their keys within their time range (row ids are not stable across DuckDB's checkpoints);
# the row ids hold only inside the transaction that uses them.
_TAIL_ROWS = """
SELECT s.rowid AS row_id
FROM otel_spans AS s
SEMI JOIN glimpse_tail AS k ON k.trace_id = s.trace_id AND k.span_id = s.span_id
WHERE s.timestamp BETWEEN make_timestamp_ns($lo) AND make_timestamp_ns($hi)
"""
_TAIL_RANGE = (
    "rowid IN (SELECT row_id FROM glimpse_tail_rows) "
    "AND timestamp BETWEEN make_timestamp_ns($lo) AND make_timestamp_ns($hi)"
)
_REWRITE_TAIL = f"INSERT INTO otel_spans SELECT * FROM otel_spans WHERE {_TAIL_RANGE} ORDER BY resource_key, span_name"
_DELETE_TAIL = f"DELETE FROM otel_spans WHERE {_TAIL_RANGE}"
# each committed chunk's traces, so that one trace is found without a scan (see
# storage/sql/003_trace_index.sql)
_INDEX_BATCH = index_traces_sql("glimpse_batch")
_INDEX_LOGS = index_log_traces_sql("glimpse_batch")

_KNOWN_RESOURCES = "SELECT resource_key FROM otel_resources"
_SPAN_COLUMNS = frozenset(SPAN_SCHEMA.names)


@dataclass
class WriterStats:
    """Counters a running writer keeps (read them, do not write them)."""

    acknowledged_rows: int = 0
    committed_rows: int = 0
    committed_batches: int = 0
    commits: int = 0
    failed_commits: int = 0
    duplicate_spans: int = 0
    rejected_full: int = 0
    checkpoints: int = 0
    compactions: int = 0  # rewrites of part row groups' spans in storage order
    replayed_batches: int = 0
    last_commit_s: float = 0.0


class WriterObserver(Protocol):
    """Told the timings of the writer's durable steps (glimpse's self-metrics). Calls are made
    on the writer's threads, inside its error handling: they must be cheap and never raise."""

    def commit(self, seconds: float, rows_by_table: Mapping[str, int]) -> None:
        """A DuckDB transaction committed: its duration and the rows it inserted per table."""

    def fsync(self, seconds: float, written_bytes: int) -> None:
        """A group of journal records written and fsynced: the wait before its answers."""


class _NoObserver:
    def commit(self, seconds: float, rows_by_table: Mapping[str, int]) -> None:
        pass

    def fsync(self, seconds: float, written_bytes: int) -> None:
        pass


@dataclass
class _Pending:
    batch: Batch
    record: Record | None  # the journal record, encoded by the submitting thread
    future: Future[int] = field(default_factory=Future)


@dataclass
class Prepared:
    """A chunk's rows as DuckDB takes them: each table in one piece, the spans in storage
    order without the chunk's own duplicates. Made without DuckDB (see :func:`prepare`)."""

    tables: dict[str, pa.Table]
    batches: int
    rows: int
    duplicate_spans: int


_TAIL_KEYS = pa.schema([("trace_id", pa.string()), ("span_id", pa.string())])


@dataclass
class _Tail:
    """The spans committed in part row groups since the last rewrite: their keys (the
    id columns only, not the chunk's other columns) and the range of their start times."""

    keys: list[pa.Table] = field(default_factory=list)
    rows: int = 0
    lo_ns: int = 0
    hi_ns: int = 0

    def add(self, spans: pa.Table, lo_ns: int, hi_ns: int) -> None:
        """Count ``spans``, which started within [lo_ns, hi_ns]."""
        self.lo_ns, self.hi_ns = (min(self.lo_ns, lo_ns), max(self.hi_ns, hi_ns)) if self.rows else (lo_ns, hi_ns)
        self.keys.append(spans.select(["trace_id", "span_id"]).cast(_TAIL_KEYS))
        self.rows += spans.num_rows


def _start_bounds(spans: pa.Table) -> tuple[int, int]:
    """The earliest and the latest start of ``spans`` (ns)."""
    bounds = pc.min_max(spans.column("timestamp").cast(pa.int64()))
    return bounds["min"].as_py(), bounds["max"].as_py()


@dataclass
class _Chunk:
    batches: list[Batch]
    segments: list[Path]
    last_seq: int  # every batch acknowledged up to this number is committed with it
    prepared: Prepared | None = None
    ready: bool = False  # prepared, or preparing it failed


def _ran_out_of_memory(exc: duckdb.Error) -> bool:
    """Whether DuckDB failed for want of memory: an OutOfMemoryException, or one that failed
    a COMMIT and came back as a TransactionException ("Failed to commit: Out of Memory
    Error: failed to pin block ...").

    >>> _ran_out_of_memory(duckdb.TransactionException("Failed to commit: Out of Memory Error: failed to pin block"))
    True
    >>> _ran_out_of_memory(duckdb.TransactionException("Failed to commit: could not write to disk"))
    False
    """
    return isinstance(exc, duckdb.OutOfMemoryException) or "Out of Memory Error" in str(exc)


class TableStore:
    """The DuckDB side: commits batches, each resource and each span once."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        stats: WriterStats,
        *,
        wal_path: str | None,
        checkpoint_wal_bytes: int = DEFAULT_CHECKPOINT_WAL_BYTES,
        observer: WriterObserver | None = None,
        after_checkpoint: Callable[[], object] | None = None,
    ) -> None:
        self.con = con
        self._after_checkpoint = after_checkpoint
        self.stats = stats
        self._observer = observer or _NoObserver()
        self._inserted: dict[str, int] = {}  # rows the open transaction inserted, per table
        self._wal_path = wal_path
        self._checkpoint_wal_bytes = checkpoint_wal_bytes
        # resources already stored: most batches bring none that are new
        self._known_resources: set[int] = {row[0] for row in con.execute(_KNOWN_RESOURCES).fetchall()}
        self._new_resources: set[int] = set()
        self._tail = _Tail()
        # the open transaction's spans and their start bounds, if short of a row group
        self._part_spans: tuple[pa.Table, int, int] | None = None
        self._rewrites = True  # off once DuckDB runs out of memory rewriting

    @property
    def stored_resources(self) -> Set[int]:
        """The keys of the resources committed to the store: a live view that only grows
        (nothing deletes resources; retention deletes items), safe to read from any thread."""
        return self._known_resources

    def commit(self, batches: list[Batch]) -> None:
        """Store ``batches`` in one transaction (all or nothing); empties the list."""
        self.commit_prepared(prepare(batches))

    def commit_prepared(self, chunk: Prepared) -> None:
        """Store a prepared chunk in one transaction (all or nothing)."""
        started = time.perf_counter()
        self._new_resources.clear()
        self._inserted = {}
        self._part_spans = None
        try:
            self.con.execute("BEGIN TRANSACTION")
            for table_name, rows in chunk.tables.items():  # resources first
                if table_name == "otel_spans":
                    self._insert_spans(rows)
                elif table_name == "otel_resources":
                    self._insert_rows(table_name, self._unknown_resources(rows))
                else:
                    self._insert_rows(table_name, rows, then=_INDEX_LOGS if table_name == "otel_logs" else None)
            self.con.execute("COMMIT")
        except Exception:
            with suppress(duckdb.Error):
                self.con.execute("ROLLBACK")
            self._new_resources.clear()
            self._part_spans = None
            raise
        self._known_resources |= self._new_resources  # in place: stored_resources is a live view
        if self._part_spans is not None:
            self._tail.add(*self._part_spans)
            self._part_spans = None
        self.stats.duplicate_spans += chunk.duplicate_spans
        self.stats.commits += 1
        self.stats.committed_batches += chunk.batches
        self.stats.committed_rows += chunk.rows
        self.stats.last_commit_s = time.perf_counter() - started
        self._observer.commit(self.stats.last_commit_s, self._inserted)

    def _insert_spans(self, spans: pa.Table) -> None:
        """INSERT the spans whose (trace_id, span_id) is not stored yet, and index their traces."""
        lo_ns, hi_ns = _start_bounds(spans)  # of the chunk: the look-ups' range, duplicates or not
        stored = self._stored_positions(spans, lo_ns, hi_ns)
        if len(stored):
            fresh = np.ones(spans.num_rows, dtype=bool)
            fresh[stored] = False
            spans = spans.filter(pa.array(fresh))
            self.stats.duplicate_spans += len(stored)
        self._insert_rows("otel_spans", spans, then=_INDEX_BATCH)
        if 0 < spans.num_rows < ROW_GROUP_ROWS:
            self._part_spans = (spans, lo_ns, hi_ns)

    def rewrite_part_row_groups(self) -> bool:
        """Once the spans committed in part row groups since the last rewrite make a row
        group, rewrite them in storage order in one transaction, then checkpoint: their
        row groups, now deleted, go, and DuckDB compresses the new one whole (measured at
        1,000 spans a second: 77.7 -> 68.3 bytes a span in use; docs/performance.md). True
        if it rewrote them."""
        if self._tail.rows < ROW_GROUP_ROWS or not self._rewrites:
            return False
        tail, self._tail = self._tail, _Tail()
        if not self._room_to_checkpoint():  # the new copies need room before the old go
            return False
        params = {"lo": tail.lo_ns, "hi": tail.hi_ns}
        started = time.perf_counter()
        keys = pa.concat_tables(tail.keys)
        try:
            self.con.execute("BEGIN TRANSACTION")
            with self._registered("glimpse_tail", keys):
                row_ids = self.con.sql(_TAIL_ROWS, params=params).to_arrow_table()
            with self._registered("glimpse_tail_rows", row_ids):
                self.con.execute(_REWRITE_TAIL, params)
                self.con.execute(_DELETE_TAIL, params)
            self.con.execute("COMMIT")
        except duckdb.Error as exc:  # the spans stay as they were: stored, only less compressed
            with suppress(duckdb.Error):
                self.con.execute("ROLLBACK")
            # DuckDB's share of a small memory bound (64 MiB and less, measured) cannot
            # sort a row group: not tried again until the next start
            self._rewrites = not _ran_out_of_memory(exc)
            logger.warning(
                "rewriting %d spans of part row groups in storage order failed%s: %s",
                tail.rows,
                "" if self._rewrites else " (not tried again: DuckDB's memory share is too small)",
                str(exc).splitlines()[0],
            )
            return False
        self.stats.compactions += 1
        logger.debug("rewrote %d spans in storage order in %.2f s", row_ids.num_rows, time.perf_counter() - started)
        self.checkpoint()
        return True

    def _stored_positions(self, rows: pa.Table, lo_ns: int, hi_ns: int) -> np.ndarray:
        """Positions in ``rows`` (started within [lo_ns, hi_ns]) of the spans already stored."""
        params = {"lo": lo_ns, "hi": hi_ns}
        keys = pa.table(
            {
                "trace_id": rows.column("trace_id"),
                "span_id": rows.column("span_id"),
                "position": pa.array(np.arange(rows.num_rows)),
            }
        )
        with self._registered("glimpse_keys", keys):
            positions: np.ndarray = self.con.execute(_STORED_SPANS, params).fetchnumpy()["position"]
        return positions

    def _insert_rows(self, table_name: str, rows: pa.Table, *, then: str | None = None) -> None:
        """INSERT ``rows``; ``then`` is a statement that reads them too (as glimpse_batch)."""
        if rows.num_rows:
            with self._registered("glimpse_batch", rows):
                self.con.execute(_INSERT_BATCH.format(table=table_name))
                if then is not None:
                    self.con.execute(then)
            self._inserted[table_name] = self._inserted.get(table_name, 0) + rows.num_rows

    @contextmanager
    def _registered(self, name: str, rows: pa.Table) -> Iterator[None]:
        self.con.register(name, rows)
        try:
            yield
        finally:
            with suppress(duckdb.Error):  # fails inside an aborted transaction; register() replaces it anyway
                self.con.unregister(name)

    def _unknown_resources(self, rows: pa.Table) -> pa.Table:
        """The first row of each resource key not stored yet (and remember them)."""
        keep = []
        for position, key in enumerate(rows.column("resource_key").to_pylist()):
            if key not in self._known_resources and key not in self._new_resources:
                self._new_resources.add(key)
                keep.append(position)
        return rows.take(pa.array(keep, type=pa.int64()))

    def maybe_checkpoint(self) -> None:
        if self._wal_path is None:
            return
        try:
            wal_bytes = os.path.getsize(self._wal_path)
        except OSError:
            return
        if wal_bytes >= self._checkpoint_wal_bytes:
            self.checkpoint()

    def checkpoint(self) -> None:
        if not self._room_to_checkpoint():
            logger.warning("too little free disk space to checkpoint; the WAL keeps the data until there is")
            return
        try:
            self.con.execute("CHECKPOINT")
            self.stats.checkpoints += 1
        except duckdb.Error:
            logger.exception("checkpoint failed")
            return
        if self._after_checkpoint is not None:
            self._after_checkpoint()

    def _room_to_checkpoint(self) -> bool:
        if self._wal_path is None:
            return True
        try:
            wal_bytes = os.path.getsize(self._wal_path) if os.path.exists(self._wal_path) else 0
            free_bytes = shutil.disk_usage(os.path.dirname(os.path.abspath(self._wal_path))).free
        except OSError:
            return False
        return free_bytes >= wal_bytes + CHECKPOINT_HEADROOM_BYTES


def replay_journal(store: TableStore, directory: Path) -> int:
    """Commit what a process that died left in the journal; return the batches replayed.

    A segment is deleted right after its chunk commits. Spans committed just before a
    crash that came before the deletion are dropped by the duplicate check; metric
    points and log records have no identity to check, and are stored twice in that case.
    """
    replayed = 0
    for segment in pending_segments(directory):
        count = 0
        try:
            batches = [_with_stored_columns(batch) for batch in read_segment(segment)]
            count = len(batches)
            if batches:
                store.commit(batches)
        except Exception as exc:  # a damaged or foreign record, a batch DuckDB refuses
            if _out_of_space(exc):  # nothing wrong with the segment: opening must wait for room
                raise
            # one damaged segment must not keep the database from opening: set it aside
            aside = segment.with_name(f"{segment.stem}-{time.time_ns()}.failed")
            segment.rename(aside)
            logger.exception("could not commit the batches journaled in %s; kept as %s", segment, aside)
            continue
        replayed += count
        segment.unlink()
        if count:
            logger.info("committed %d acknowledged batches left in %s", count, segment)
    if replayed:
        store.checkpoint()
    return replayed


def _with_stored_columns(batch: Batch) -> Batch:
    """A batch journaled by an older glimpse, without the span columns this schema no longer
    stores (version 5 reads them from the span's attributes, which the batch carries)."""
    spans = batch.tables.get("otel_spans")
    if spans is None or set(spans.column_names) <= _SPAN_COLUMNS:
        return batch
    kept = [name for name in spans.column_names if name in _SPAN_COLUMNS]
    return Batch({**batch.tables, "otel_spans": spans.select(kept)})


class BatchWriter:
    """Owns the write connection: journals and answers batches, commits them in chunks."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        database_path: str | None = None,
        max_queued_rows: int = DEFAULT_MAX_QUEUED_ROWS,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        checkpoint_wal_bytes: int = DEFAULT_CHECKPOINT_WAL_BYTES,
        retry_after_s: float = DEFAULT_RETRY_AFTER_S,
        retention: RetentionPolicy | None = None,
        observer: WriterObserver | None = None,
        after_checkpoint: Callable[[], object] | None = None,
    ) -> None:
        """``after_checkpoint`` runs on the store's thread after each checkpoint: the moment
        DuckDB has just freed the rows it held in memory (the server hands glibc's free pages
        back to the system then)."""
        if max_queued_rows < 1:
            raise ValueError("the queue size must be positive")
        if flush_interval_s <= 0:
            raise ValueError("the flush interval must be positive")
        self.stats = WriterStats()
        self._store = TableStore(
            con,
            self.stats,
            wal_path=f"{database_path}.wal" if database_path else None,
            checkpoint_wal_bytes=_wal_budget(checkpoint_wal_bytes, retention),
            observer=observer,
            after_checkpoint=after_checkpoint,
        )
        self.retention: Retention | None = None
        if retention is not None and retention.enabled:
            self.retention = Retention(con, retention, database_path=database_path, checkpoint=self._store.checkpoint)
        self._observer = observer or _NoObserver()
        self._journal: Journal | None = None
        if database_path is not None:
            directory = journal_dir(database_path)
            self.stats.replayed_batches = replay_journal(self._store, directory)
            self._journal = Journal(directory)
        self._max_queued_rows = max_queued_rows
        self._flush_interval_s = flush_interval_s
        self._retry_after_s = retry_after_s
        self._cond = threading.Condition()
        # guarded by _cond
        self._queue: deque[_Pending] = deque()
        self._queued_rows = 0
        self._reserved_rows = 0  # room taken by batches being encoded on receiver threads
        self._closing = False
        self._journal_done = False
        self._prepare_done = False
        self._held = 0
        # handed off by the journal thread and not taken by the store thread yet (the
        # prepare thread puts it in storage order meanwhile): one at a time, so memory
        # holds one chunk being stored, this one, the buffer and the queue
        self._chunk: _Chunk | None = None
        self._storing = False
        self._sync_wanted = False
        self._acked_seq = 0
        self._committed_seq = 0
        # the store thread's own: segments of chunks whose commit failed (see _commit_stranded)
        self._stranded: list[Path] = []
        # the journal thread's own
        self._buffer: list[tuple[int, Batch]] = []
        self._buffer_spans = 0
        self._buffer_logs = 0
        self._buffer_since = 0.0
        self._last_append = 0.0
        # Arrow bytes still to be copied into storage order: the buffer's, and the handed-off
        # chunk's until it is prepared (guarded by _cond; what the memory guard projects)
        self._buffer_bytes = 0
        self._unprepared_bytes = 0
        self._threads = [
            threading.Thread(target=self._run_journal, name="glimpse-journal", daemon=True),
            threading.Thread(target=self._run_prepare, name="glimpse-prepare", daemon=True),
            threading.Thread(target=self._run_store, name="glimpse-writer", daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, batch: Batch) -> Future[int]:
        """Queue ``batch``; the future resolves to its row count once it is durable.

        Raises :class:`QueueFullError` when the queue has no room (an empty queue
        always takes a batch, however large, so that no request is refused forever)
        and :class:`WriterClosedError` once :meth:`close` has begun.
        """
        rows = batch.rows
        with self._cond:
            self._check_open()
            if self._waiting_rows and self._waiting_rows + rows > self._max_queued_rows:
                raise self._refuse()
            self._reserved_rows += rows
        # Encoding here spreads the work over the receiver threads, off the journal thread;
        # only once room is reserved: under overload a refused batch costs no encoding, and
        # no journal record of it waits for the garbage collector.
        try:
            pending = _Pending(batch, encode_batch(batch) if self._journal is not None else None)
        except BaseException:
            with self._cond:
                self._reserved_rows -= rows
            raise
        with self._cond:
            self._reserved_rows -= rows
            self._check_open()
            self._queue.append(pending)
            self._queued_rows += rows
            self._cond.notify_all()
        return pending.future

    def _check_open(self) -> None:
        """Raise WriterClosedError once close has begun (called holding _cond)."""
        if self._closing:
            raise WriterClosedError("the server is shutting down")

    @property
    def _waiting_rows(self) -> int:
        """Rows queued or being encoded to be queued (read holding _cond)."""
        return self._queued_rows + self._reserved_rows

    def check_room(self) -> None:
        """Raise :class:`QueueFullError` now if the queue is already full (cheap pre-check)."""
        with self._cond:
            if self._waiting_rows >= self._max_queued_rows:
                raise self._refuse()

    def _refuse(self) -> QueueFullError:
        """Count a refusal and say why (called holding _cond)."""
        self.stats.rejected_full += 1
        return QueueFullError(f"write queue full ({self._queued_rows} rows waiting)", retry_after_s=self._retry_after_s)

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    @property
    def unprepared_bytes(self) -> int:
        """Arrow bytes acknowledged and not yet in storage order (the buffer and a handed-off
        chunk): the process grows by about as much again before they are stored."""
        with self._cond:  # _hand_off moves bytes from one to the other in two steps
            return self._buffer_bytes + self._unprepared_bytes

    @property
    def stored_resources(self) -> Set[int]:
        """The keys of the resources the store holds: receivers leave those rows out of
        their batches (the writer would skip them anyway)."""
        return self._store.stored_resources

    def sync(self, timeout_s: float = DEFAULT_SYNC_TIMEOUT_S) -> bool:
        """Wait until everything acknowledged so far is committed to DuckDB (read your writes).

        Returns False if that took longer than ``timeout_s`` or the writer stopped first.
        """
        with self._cond:
            target = self._acked_seq
            if self._committed_seq >= target:
                return True
            self._sync_wanted = True
            self._cond.notify_all()
            done = self._cond.wait_for(lambda: self._committed_seq >= target or not self._alive(), timeout_s)
            return bool(done) and self._committed_seq >= target

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Pause taking batches from the queue inside the block (lets tests fill it)."""
        with self._cond:
            self._held += 1
        try:
            yield
        finally:
            with self._cond:
                self._held -= 1
                self._cond.notify_all()

    def close(self, timeout_s: float | None = None) -> None:
        """Stop accepting batches, journal and commit everything queued, checkpoint, stop."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout_s)
        if self._journal is not None and not any(thread.is_alive() for thread in self._threads):
            self._journal.close()

    def _alive(self) -> bool:
        return all(thread.is_alive() for thread in self._threads)

    # ------------------------------------------------------------------ journal thread

    def _run_journal(self) -> None:
        try:
            while True:
                group = self._take_group()
                if group:
                    self._journal_group(group)
                if self._closing_and_drained():
                    break
                self._maybe_hand_off()
            if self._buffer:
                self._hand_off(whole_row_groups=False)
        except Exception:
            logger.exception("the journal thread failed")
        finally:
            with self._cond:
                self._journal_done = True
                self._cond.notify_all()

    def _closing_and_drained(self) -> bool:
        with self._cond:
            return self._closing and not self._queue

    def _take_group(self) -> list[_Pending]:
        """The queued batches (none while held).

        While the store thread is busy and a whole chunk waits for it, the journal thread
        waits in :meth:`_hand_off` and takes nothing: the queue fills and receivers answer
        "retry later", so memory stays bounded by one chunk being stored, one waiting,
        and the queue.
        """
        with self._cond:
            while (not self._queue or self._held) and not self._flush_due():
                if self._closing and (not self._queue or self._held == 0):
                    break
                self._cond.wait(timeout=self._wait_s())
            if self._held and not self._closing:
                return []
            group = list(self._queue)
            self._queue.clear()
            self._queued_rows = 0
            return group

    def _wait_s(self) -> float:
        if not self._buffer:
            return 0.5
        return max(0.005, self._part_due_at() - time.monotonic())

    def _part_due_at(self) -> float:
        """When the buffer goes to the store short of a row group: once exports have paused
        for the flush interval, or its oldest batch has waited five intervals."""
        interval = self._flush_interval_s
        return min(self._last_append + interval, self._buffer_since + MAX_WAIT_INTERVALS * interval)

    def _flush_due(self) -> bool:
        """Whether the buffer should go to the store thread now (called holding _cond).

        Under load it waits for a whole row group even when the store thread is free: a
        part row group goes through DuckDB's WAL and checkpoints, compresses worse, and
        cost an eighth of the throughput when parts were sent whenever the store was idle.
        """
        if not self._buffer:
            return False
        if self._row_group_due() or self._sync_wanted:
            return True
        idle = self._chunk is None and not self._storing
        return idle and time.monotonic() >= self._part_due_at()

    def _journal_group(self, group: list[_Pending]) -> None:
        try:
            if self._journal is not None:
                records = [pending.record for pending in group if pending.record is not None]
                started = time.perf_counter()
                self._journal.append(records)
                written = sum(len(part) for record in records for part in record)
                self._observer.fsync(time.perf_counter() - started, written)
        except Exception as exc:
            logger.exception("journaling %d batches failed", len(group))
            for pending in group:
                pending.future.set_exception(exc)
            return
        now = time.monotonic()
        if not self._buffer:
            self._buffer_since = now
        self._last_append = now
        with self._cond:
            for pending in group:
                self._acked_seq += 1
                self._buffer.append((self._acked_seq, pending.batch))
                self._buffer_spans += _span_rows(pending.batch)
                self._buffer_logs += _log_rows(pending.batch)
                self._buffer_bytes += _arrow_bytes(pending.batch)
                self.stats.acknowledged_rows += pending.batch.rows
        for pending in group:
            pending.future.set_result(pending.batch.rows)

    def _maybe_hand_off(self) -> None:
        with self._cond:
            due = self._flush_due()
        while due:
            self._hand_off(whole_row_groups=True)
            with self._cond:
                due = self._row_group_due()

    def _row_group_due(self) -> bool:
        """Whether the buffer holds a whole row group of spans or of log records. Logs count
        on their own: a log-only load would otherwise be handed on only by the part row
        group timer, several flush intervals of records at a time (measured at 150,000 records
        a second: 1.3 GB resident after 10 s)."""
        return self._buffer_spans >= ROW_GROUP_ROWS or self._buffer_logs >= ROW_GROUP_ROWS

    def _hand_off(self, *, whole_row_groups: bool) -> None:
        """Give the store thread the buffer: a whole row group of spans, or, short of one,
        a row group of log records with everything else but the spans, or all of it.

        A batch cut at the row group boundary keeps its rest in the buffer, journaled
        again in the new segment so that the closed one can go once its chunk commits.
        """
        with self._cond:
            wanted = self._sync_wanted or self._closing
        if whole_row_groups and not wanted and self._row_group_due():
            # spans short of a row group stay: a part row group goes through DuckDB's WAL
            spans = ROW_GROUP_ROWS if self._buffer_spans >= ROW_GROUP_ROWS else 0
            taken, rest = _split_at(self._buffer, spans)
        else:
            taken, rest = self._buffer, []
        segments: list[Path] = []
        if self._journal is not None:
            segments += self._journal.rotate()
            if rest:  # the closed segment goes once the chunk commits: the rest must not go with it
                try:
                    self._journal.append([encode_batch(batch) for _, batch in rest])
                except OSError:
                    logger.exception("journaling the rest of a row group failed; committing all of it now")
                    taken, rest = self._buffer, []
        # every batch acknowledged before the first one left over is in this chunk or an
        # earlier one; with none left over, every batch acknowledged so far (a row group of
        # log records can go on before spans acknowledged ahead of them)
        last_seq = rest[0][0] - 1 if rest else self._acked_seq
        chunk = _Chunk([batch for _, batch in taken], segments, last_seq)
        with self._cond:
            self._cond.wait_for(lambda: self._chunk is None)
            self._chunk = chunk
            self._buffer = rest
            self._buffer_spans = sum(_span_rows(batch) for _, batch in rest)
            self._buffer_logs = sum(_log_rows(batch) for _, batch in rest)
            rest_bytes = sum(_arrow_bytes(batch) for _, batch in rest)
            self._unprepared_bytes = self._buffer_bytes - rest_bytes
            self._buffer_bytes = rest_bytes
            self._buffer_since = time.monotonic()
            if not rest:
                self._sync_wanted = False
            self._cond.notify_all()

    # ------------------------------------------------------------------ prepare thread

    def _run_prepare(self) -> None:
        """Put each handed-off chunk in storage order while the store thread is still
        committing the one before: the sort and copy (a third of a chunk's time) no
        longer hold up DuckDB."""
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._unprepared() is not None or self._journal_done)
                    chunk = self._unprepared()
                    if chunk is None:
                        break
                try:
                    chunk.prepared = prepare(chunk.batches)
                except Exception:  # the store thread tries it again from the journal
                    logger.exception("preparing a chunk of journaled batches failed")
                    chunk.batches.clear()
                with self._cond:
                    chunk.ready = True
                    self._unprepared_bytes = 0
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._prepare_done = True
                self._cond.notify_all()

    def _unprepared(self) -> _Chunk | None:
        chunk = self._chunk
        return chunk if chunk is not None and not chunk.ready else None

    # ------------------------------------------------------------------ store thread

    def _run_store(self) -> None:
        # with retention on, an idle store still wakes up to expire data by age
        idle_wait = RETENTION_CHECK_S if self.retention is not None else None
        while True:
            with self._cond:
                woken = self._cond.wait_for(
                    lambda: (self._chunk is not None and self._chunk.ready) or self._prepare_done, idle_wait
                )
                chunk = self._chunk
                if woken and (chunk is None or not chunk.ready):
                    break
            if not woken or chunk is None:
                self._retain()
                continue
            with self._cond:
                self._chunk = None
                self._storing = True
                self._cond.notify_all()
            self._store_chunk(chunk)
            with self._cond:
                self._storing = False
                self._committed_seq = max(self._committed_seq, chunk.last_seq)
                self._cond.notify_all()
                closing = self._closing
            # not on the way out: shutting down quickly matters more than one row group
            if closing or not self._store.rewrite_part_row_groups():
                self._store.maybe_checkpoint()
            self._retain()
        self._store.checkpoint()

    def _retain(self) -> None:
        """A retention pass, on the store thread between commits (a chunk handed off
        meanwhile waits for it; receivers go on journaling)."""
        if self.retention is not None:
            self.retention.run()

    def _store_chunk(self, chunk: _Chunk) -> None:
        prepared, chunk.prepared = chunk.prepared, None  # its memory goes with the commit
        if prepared is None or not self._commit(prepared):
            self.stats.failed_commits += 1
            if not self._commit_from_journal(chunk.segments):
                logger.error("gave up for now: %s stay journaled, tried again after the next commit", chunk.segments)
                self._stranded += chunk.segments
                return
        for segment in chunk.segments:
            segment.unlink(missing_ok=True)
        self._commit_stranded()

    def _commit_stranded(self) -> None:
        """Commit the segments of chunks given up on earlier (say the disk was full), one at a
        time, now that a commit went through again; stop at the first that still fails."""
        while self._stranded:
            segment = self._stranded[0]
            try:
                self._store.commit(list(read_segment(segment)))
            except Exception:
                self.stats.failed_commits += 1
                logger.exception("committing the journaled batches of %s again failed", segment)
                return
            segment.unlink(missing_ok=True)
            self._stranded.pop(0)

    def _commit(self, prepared: Prepared) -> bool:
        try:
            self._store.commit_prepared(prepared)
            return True
        except Exception:
            logger.exception("committing a chunk of journaled batches failed")
            return False

    def _commit_from_journal(self, segments: list[Path]) -> bool:
        """Try a failed chunk again, read back from its segments (DuckDB out of memory,
        a full disk). They also hold the rest of the row group; committing those spans
        now as well is harmless: the duplicate check drops them when they come again."""
        if self._journal is None:
            return False
        for _ in range(COMMIT_ATTEMPTS - 1):
            time.sleep(COMMIT_RETRY_S)
            try:
                self._store.commit([batch for segment in segments for batch in read_segment(segment)])
                return True
            except Exception:
                self.stats.failed_commits += 1
                logger.exception("committing the journaled batches again failed")
        return False


def _wal_budget(checkpoint_wal_bytes: int, retention: RetentionPolicy | None) -> int:
    """The WAL size that triggers a checkpoint: with a store size bound, a twentieth of it
    at most. The WAL counts towards the bound, and a reader's sync sends part row groups
    through it: at 64 MiB it took half of a 128 MiB bound (measured: the store at 1.6 times
    its bound under ingest with a query a second)."""
    if retention is None or retention.max_bytes is None:
        return checkpoint_wal_bytes
    return min(checkpoint_wal_bytes, max(retention.max_bytes // 20, MIN_CHECKPOINT_WAL_BYTES))


_JSON = pa.json_(pa.string())


def _out_of_space(exc: BaseException) -> bool:
    """Whether ``exc`` is a write that failed for want of disk space (OSError or DuckDB's)."""
    return (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left on device" in str(exc)


def _trusted_json(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """glimpse's own JSON text (the decoders write it), marked as JSON so that DuckDB takes
    it without parsing it again (measured: a row group's INSERT about 20 % faster)."""
    return pa.chunked_array([pa.ExtensionArray.from_storage(_JSON, chunk) for chunk in column.chunks], type=_JSON)


def _arrow_bytes(batch: Batch) -> int:
    # the buffers' whole sizes, slices or not (the rest of a batch cut at a row group counts
    # the buffers it shares with the part handed on): 4 µs a request of 512 spans, where
    # Table.nbytes takes 95
    return sum(table.get_total_buffer_size() for table in batch.tables.values())


def _span_rows(batch: Batch) -> int:
    spans = batch.tables.get("otel_spans")
    return spans.num_rows if spans is not None else 0


def _log_rows(batch: Batch) -> int:
    logs = batch.tables.get("otel_logs")
    return logs.num_rows if logs is not None else 0


def _split_at(buffer: list[tuple[int, Batch]], spans: int) -> tuple[list[tuple[int, Batch]], list[tuple[int, Batch]]]:
    """The buffer's first ``spans`` spans, with every batch that holds no spans (metrics,
    logs), and the rest: only spans, so that committing them twice (the rest is journaled
    again) stores nothing twice."""
    taken: list[tuple[int, Batch]] = []
    rest: list[tuple[int, Batch]] = []
    count = 0
    for seq, batch in buffer:
        rows = _span_rows(batch)
        if count >= spans and rows:
            rest.append((seq, batch))
        elif count + rows <= spans:
            taken.append((seq, batch))
            count += rows
        else:
            head, tail = _split_batch(batch, spans - count)
            taken.append((seq, head))
            rest.append((seq, tail))
            count = spans
    return taken, rest


def _split_batch(batch: Batch, spans: int) -> tuple[Batch, Batch]:
    """Cut a batch after its first ``spans`` spans; both halves keep the resources."""
    rows = batch.tables["otel_spans"]
    head = {**batch.tables, "otel_spans": rows.slice(0, spans)}
    tail = {"otel_spans": rows.slice(spans)}
    if "otel_resources" in batch.tables:
        tail["otel_resources"] = batch.tables["otel_resources"]
    return Batch(head), Batch(tail)


def prepare(batches: list[Batch]) -> Prepared:
    """The chunk's rows as DuckDB takes them (resources first: known ones are looked up
    before the spans go in). Empties ``batches``, and copies the spans into storage order
    one column at a time, freeing each column as it goes: the peak is one chunk and one
    column, not two chunks."""
    count, rows = len(batches), sum(batch.rows for batch in batches)
    tables: dict[str, pa.Table] = {}
    duplicates = 0
    by_table = _by_table(batches)
    batches.clear()
    for table_name, parts in by_table.items():
        table = pa.concat_tables(parts, promote_options="none")
        parts.clear()
        if table_name == "otel_spans":
            received = table.num_rows
            pile = [first_of_each_span(table)]
            del table  # the pile holds the only reference: each column can go once copied
            table = in_storage_order(pile)
            duplicates = received - table.num_rows
        tables[table_name] = table
    return Prepared(tables, count, rows, duplicates)


def in_storage_order(pile: list[pa.Table]) -> pa.Table:
    """The spans in ``pile`` reordered by :func:`storage_order`, copied a column at a time,
    each source column freed once copied. The table comes in a list that this empties: as
    a plain argument it would stay referenced by the caller until the copy is done."""
    spans = pile.pop()
    names, order = spans.column_names, pa.array(storage_order(spans))
    columns: list[pa.ChunkedArray] = []
    while spans.num_columns:
        column = spans.column(0).take(order)
        columns.append(_trusted_json(column) if names[len(columns)] == "span_attributes" else column)
        spans = spans.remove_column(0)
    return pa.Table.from_arrays(columns, names=names)


def _by_table(batches: list[Batch]) -> dict[str, list[pa.Table]]:
    """The rows by table; resources first (known resources are looked up before spans)."""
    tables: dict[str, list[pa.Table]] = {"otel_resources": []}
    for batch in batches:
        for name, table in batch.tables.items():
            if table.num_rows:
                tables.setdefault(name, []).append(table)
    return {name: parts for name, parts in tables.items() if parts}


def storage_order(spans: pa.Table) -> np.ndarray:
    """The positions that put spans of one resource (so one service) and operation side by
    side: their attributes are alike, and compress several times better so (measured: 29
    -> 14 bytes a span for span_attributes at 50,000-row groups). Groups, not an
    alphabetical order, are what matter: integer keys sort seven times faster."""
    names = pc.fill_null(pc.dictionary_encode(spans.column("span_name")).combine_chunks().indices, -1)
    return np.lexsort((names.to_numpy(), spans.column("resource_key").to_numpy()))


def first_of_each_span(rows: pa.Table) -> pa.Table:
    """Keep the first row of each (trace_id, span_id) within a batch.

    Duplicates inside one batch are rare (a client that retried into the same group),
    so the common case costs one distinct count over the span ids.
    """
    if pc.count_distinct(rows.column("span_id")).as_py() == rows.num_rows:
        return rows
    keys = pc.binary_join_element_wise(rows.column("trace_id"), rows.column("span_id"), ":")
    positions = pa.table({"key": keys, "position": pa.array(range(rows.num_rows), pa.int64())})
    first = positions.group_by("key", use_threads=False).aggregate([("position", "min")]).column("position_min")
    return rows.take(first.take(pc.sort_indices(first)))  # the first positions, in batch order
