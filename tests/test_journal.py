"""The ingest journal: acknowledged batches survive a crash and reach DuckDB exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

import storage.schema
from collector.span_wire import decode_traces_wire
from storage.batch import Batch
from storage.journal import Journal, encode_batch, journal_dir, pending_segments, read_segment
from storage.store import open_read_only, open_writable
from storage.writer import BatchWriter, Prepared, TableStore, WriterStats, replay_journal
from tests.conftest import Running, ServerProcess, start_server
from tests.otlp_clients import span_exporter
from tests.spans import raw_request, sdk_spans


def _batch(count: int, seed: int) -> Batch:
    decoded = decode_traces_wire(raw_request(count, seed=seed)[0])
    assert decoded is not None
    return decoded.batch


def _metrics_batch() -> Batch:
    # any table travels: the journal stores Arrow, not OTLP
    return Batch({"glimpse_test": pa.table({"x": pa.array([1, 2, None], pa.int64()), "y": ["a", None, "c"]})})


def _count(path: Path, sql: str = "SELECT count(*) FROM otel_spans") -> int:
    con = open_read_only(path)
    try:
        row = con.execute(sql).fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def test_records_read_back_exactly(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    batches = [_batch(30, seed=1), _metrics_batch(), _batch(1, seed=2)]
    journal.append([encode_batch(batch) for batch in batches])
    segment = journal.current
    assert [batch.tables for batch in read_segment(segment)] == [batch.tables for batch in batches]
    assert journal.rotate() == [segment]
    assert journal.rotate() == []  # nothing written since: no new segment
    journal.close()
    assert pending_segments(tmp_path / "j") == [segment]


def test_a_record_cut_short_or_damaged_ends_the_segment(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    journal = Journal(tmp_path / "j")
    records = [encode_batch(_batch(10, seed=seed)) for seed in range(3)]
    first_size = sum(len(part) for part in records[0])
    journal.append(records)
    journal.close()
    segment = pending_segments(tmp_path / "j")[0]
    data = segment.read_bytes()

    segment.write_bytes(data[:-7])  # a crash in the middle of the last write
    assert len(list(read_segment(segment))) == 2
    assert "cut short or damaged" in caplog.text

    damaged = bytearray(data)
    damaged[first_size + 40] ^= 0xFF  # a flipped bit in the second record
    segment.write_bytes(bytes(damaged))
    assert len(list(read_segment(segment))) == 1

    segment.write_bytes(data[: first_size + 5])  # a header cut short
    assert len(list(read_segment(segment))) == 1


def test_replay_commits_what_is_missing_and_drops_spans_already_stored(tmp_path: Path) -> None:
    path = tmp_path / "replay.duckdb"
    first, second = _batch(20, seed=1), _batch(15, seed=2)
    journal = Journal(journal_dir(path))
    journal.append([encode_batch(first), encode_batch(second)])
    journal.close()
    con = open_writable(path)
    store = TableStore(con, WriterStats(), wal_path=None)
    store.commit([first])  # committed, then the process died before deleting the segment
    assert replay_journal(store, journal_dir(path)) == 2
    assert con.execute("SELECT count(*), count(DISTINCT span_id) FROM otel_spans").fetchone() == (35, 35)
    assert store.stats.duplicate_spans == 20
    assert pending_segments(journal_dir(path)) == []
    con.close()


def test_batches_journaled_before_schema_version_5_are_replayed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process of schema version 4 that died left spans with the columns version 5 no
    longer stores: opening the store migrates it, then commits them without those columns."""
    path = tmp_path / "older.duckdb"
    every = storage.schema.migrations()
    monkeypatch.setattr(storage.schema, "migrations", lambda: [m for m in every if m[0] <= 4])
    con = duckdb.connect(str(path))
    assert storage.schema.apply_migrations(con) == 4
    con.close()
    monkeypatch.undo()
    batch = _batch(12, seed=4)
    spans = batch.tables["otel_spans"]
    older = spans.append_column("http_route", pa.array(["/stored/before"] * spans.num_rows))
    journal = Journal(journal_dir(path))
    journal.append([encode_batch(Batch({**batch.tables, "otel_spans": older}))])
    journal.close()
    open_writable(path).close()  # migrates, then replays
    assert _count(path) == 12
    assert _count(path, "SELECT count(*) FROM otel_traces WHERE http_route = '/stored/before'") == 0
    assert pending_segments(journal_dir(path)) == [] and not list(journal_dir(path).glob("*.failed"))


def test_a_segment_that_cannot_be_committed_is_set_aside_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "aside.duckdb"
    open_writable(path).close()
    journal = Journal(journal_dir(path))
    journal.append([encode_batch(Batch({"no_such_table": pa.table({"x": [1]})}))])
    assert len(journal.rotate()) == 1
    journal.append([encode_batch(_batch(5, seed=3))])
    journal.close()
    assert _count(path) == 5  # opening replays the good segment and keeps the bad one aside
    assert pending_segments(journal_dir(path)) == []
    assert len(list(journal_dir(path).glob("*.failed"))) == 1


def test_queries_in_the_server_see_every_acknowledged_span_at_once(db_path: Path) -> None:
    server = start_server(db_path, flush_interval_s=3600)  # nothing reaches DuckDB by time
    assert server.info is not None
    running = Running(server, server.info, str(db_path))
    try:
        exporter = span_exporter("grpc", running)
        assert exporter.export(sdk_spans(40, seed=5)) is SpanExportResult.SUCCESS
        exporter.shutdown()
        assert running.scalar("SELECT count(*) FROM otel_traces") == 40
    finally:
        server.stop()


def test_kill_9_with_everything_still_in_the_journal_loses_nothing(db_path: Path) -> None:
    server = ServerProcess(db_path, env={"GLIMPSE_FLUSH_INTERVAL": "3600"})
    running = server.running()
    for batch in range(5):
        exporter = span_exporter("http" if batch % 2 else "grpc", running)
        assert exporter.export(sdk_spans(50, seed=100 + batch)) is SpanExportResult.SUCCESS
        exporter.shutdown()
    server.kill()
    assert pending_segments(journal_dir(db_path))  # acknowledged, not yet in DuckDB
    assert _count(db_path, "SELECT count(DISTINCT span_id) FROM otel_traces") == 250
    assert pending_segments(journal_dir(db_path)) == []


def test_each_checkpoint_is_followed_by_the_after_checkpoint_hook(tmp_path: Path) -> None:
    path = tmp_path / "hook.duckdb"
    con = open_writable(path)
    calls: list[int] = []
    writer = BatchWriter(
        con,
        database_path=str(path),
        flush_interval_s=3600,
        after_checkpoint=lambda: calls.append(writer.stats.checkpoints),
    )
    writer.start()
    assert writer.submit(_batch(25, seed=9)).result(timeout=30) == 25
    writer.close(timeout_s=30)  # checkpoints the committed rows
    con.close()
    assert writer.stats.checkpoints >= 1
    assert calls == list(range(1, writer.stats.checkpoints + 1))  # after each, never before


def test_close_commits_the_buffer_and_leaves_no_journal(tmp_path: Path) -> None:
    path = tmp_path / "close.duckdb"
    con = open_writable(path)
    writer = BatchWriter(con, database_path=str(path), flush_interval_s=3600)
    writer.start()
    assert writer.submit(_batch(25, seed=9)).result(timeout=30) == 25
    writer.close(timeout_s=30)
    assert con.execute("SELECT count(*) FROM otel_spans").fetchone() == (25,)
    con.close()
    assert not any(journal_dir(path).iterdir())


def test_a_failed_write_moves_later_records_to_a_new_segment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(tmp_path / "j")
    journal.append([encode_batch(_batch(3, seed=1))])
    first = journal.current

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr("storage.journal.os.fsync", disk_full)
        with pytest.raises(OSError):
            journal.append([encode_batch(_batch(4, seed=2))])
    journal.append([encode_batch(_batch(5, seed=3))])
    assert journal.current != first
    segments = journal.rotate()
    assert segments[0] == first and len(segments) == 2
    assert [[batch.rows for batch in read_segment(segment)] for segment in segments] == [[3, 4], [5]]


def test_the_flush_interval_comes_from_the_environment_and_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    from glimpse.settings import ENV_FLUSH_INTERVAL, ServerSettings

    monkeypatch.setenv(ENV_FLUSH_INTERVAL, "2.5")
    assert ServerSettings.from_env().flush_interval_s == 2.5
    for bad in ("0", "-1", "soon"):
        monkeypatch.setenv(ENV_FLUSH_INTERVAL, bad)
        with pytest.raises(ValueError, match=r"GLIMPSE_FLUSH_INTERVAL|flush interval"):
            ServerSettings.from_env()


def test_a_failed_commit_is_tried_again_from_the_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("storage.writer.COMMIT_RETRY_S", 0.0)
    real_commit = TableStore.commit_prepared
    failures = iter([True])  # the first commit fails, as if DuckDB ran out of memory

    def flaky_commit(self: TableStore, chunk: Prepared) -> None:
        if next(failures, False):
            raise duckdb.OutOfMemoryException("could not allocate block")
        real_commit(self, chunk)

    monkeypatch.setattr(TableStore, "commit_prepared", flaky_commit)
    path = tmp_path / "retry.duckdb"
    con = open_writable(path)
    writer = BatchWriter(con, database_path=str(path), flush_interval_s=3600)
    writer.start()
    assert writer.submit(_batch(12, seed=4)).result(timeout=30) == 12
    assert writer.sync(timeout_s=30)
    assert con.execute("SELECT count(*) FROM otel_spans").fetchone() == (12,)
    assert writer.stats.failed_commits == 1
    writer.close(timeout_s=30)
    con.close()
    assert pending_segments(journal_dir(path)) == []


def test_a_chunk_that_never_commits_stays_journaled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("storage.writer.COMMIT_RETRY_S", 0.0)
    path = tmp_path / "stuck.duckdb"
    con = open_writable(path)
    writer = BatchWriter(con, database_path=str(path), flush_interval_s=3600)
    writer.start()
    assert writer.submit(Batch({"no_such_table": pa.table({"x": [1]})})).result(timeout=30) == 1
    assert writer.sync(timeout_s=30)  # returns: the attempts are over
    assert writer.stats.failed_commits == 3
    writer.close(timeout_s=30)
    con.close()
    assert [[batch.rows for batch in read_segment(segment)] for segment in pending_segments(journal_dir(path))] == [[1]]


def _wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def _trickle(writer: BatchWriter, keep_going: Callable[[], bool]) -> int:
    """Export a 5-span batch every 20 ms while ``keep_going()``; return how many went."""
    sent = 0
    while keep_going():
        writer.submit(_batch(5, seed=sent)).result(timeout=30)
        sent += 1
        time.sleep(0.02)
    return sent


@contextmanager
def _running_writer(path: Path, flush_interval_s: float) -> Iterator[BatchWriter]:
    con = open_writable(path)
    writer = BatchWriter(con, database_path=str(path), flush_interval_s=flush_interval_s)
    writer.start()
    try:
        yield writer
    finally:
        writer.close(timeout_s=30)
        con.close()


def test_a_part_row_group_waits_while_exports_keep_coming_and_goes_when_they_pause(tmp_path: Path) -> None:
    with _running_writer(tmp_path / "pause.duckdb", flush_interval_s=0.5) as writer:
        started = time.monotonic()
        sent = _trickle(writer, lambda: time.monotonic() - started < 1.5)  # never a 0.5 s pause
        assert writer.stats.commits == 0  # still short of the five intervals (2.5 s) the first may wait
        assert _wait_for(lambda: writer.stats.committed_rows == 5 * sent, timeout_s=5)
        assert writer.stats.commits == 1


def test_under_a_steady_trickle_the_oldest_batch_waits_at_most_five_intervals(tmp_path: Path) -> None:
    with _running_writer(tmp_path / "trickle.duckdb", flush_interval_s=0.2) as writer:
        started = time.monotonic()
        _trickle(writer, lambda: writer.stats.commits == 0 and time.monotonic() - started < 10)
        waited = time.monotonic() - started
        assert writer.stats.commits >= 1
        assert 0.9 <= waited < 4.0  # five intervals of 0.2 s, with room for a slow machine


def test_the_writer_counts_the_arrow_bytes_it_has_yet_to_put_in_storage_order(tmp_path: Path) -> None:
    """What the memory guard projects: a buffered batch's bytes until its chunk is prepared."""
    with _running_writer(tmp_path / "bytes.duckdb", flush_interval_s=3600) as writer:
        assert writer.unprepared_bytes == 0
        batch = _batch(5, seed=1)
        size = sum(table.get_total_buffer_size() for table in batch.tables.values())
        writer.submit(batch).result(timeout=30)
        assert writer.unprepared_bytes == size > 0
        assert writer.sync()
        assert writer.unprepared_bytes == 0
