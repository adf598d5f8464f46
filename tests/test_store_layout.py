"""The span store's layout: resources stored once, spans (and log records) committed in
whole row groups, and the migration from the one-table layout of schema version 1."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as LOGS_SERVICE_PB2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2
from opentelemetry.proto.common.v1 import common_pb2 as COMMON_PB2
from opentelemetry.proto.logs.v1 import logs_pb2 as LOGS_PB2
from opentelemetry.proto.resource.v1 import resource_pb2 as RESOURCE_PB2
from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2

import storage.writer as writer_module
from collector.decode import decode_traces
from collector.log_wire import decode_logs_wire
from collector.span_wire import decode_traces_wire
from storage.batch import Batch
from storage.journal import journal_dir, pending_segments, read_segment
from storage.schema import SCHEMA_VERSION, migrations
from storage.store import open_read_only, open_writable
from storage.writer import ROW_GROUP_ROWS, BatchWriter

START_NS = 1_750_000_000_000_000_000


def _request(spans: int, *, pod: str, scope: str = "lib", seed: int = 0) -> bytes:
    resource = RESOURCE_PB2.Resource(
        attributes=[
            COMMON_PB2.KeyValue(key="service.name", value=COMMON_PB2.AnyValue(string_value="cart")),
            COMMON_PB2.KeyValue(key="k8s.pod.name", value=COMMON_PB2.AnyValue(string_value=pod)),
        ]
    )
    items = [
        TRACE_PB2.Span(
            trace_id=(seed * 1_000_003 + index + 1).to_bytes(16, "big"),
            span_id=(seed * 1_000_003 + index + 1).to_bytes(8, "big"),
            name=f"op-{index % 3}",
            kind=TRACE_PB2.Span.SPAN_KIND_SERVER,
            start_time_unix_nano=START_NS + seed * 1_000_000 + index,
            end_time_unix_nano=START_NS + seed * 1_000_000 + index + 1_000,
        )
        for index in range(spans)
    ]
    scope_spans = TRACE_PB2.ScopeSpans(scope=COMMON_PB2.InstrumentationScope(name=scope), spans=items)
    request = TRACE_SERVICE_PB2.ExportTraceServiceRequest(
        resource_spans=[TRACE_PB2.ResourceSpans(resource=resource, scope_spans=[scope_spans])]
    )
    return request.SerializeToString()


def _batch(body: bytes) -> Batch:
    decoded = decode_traces_wire(body)
    assert decoded is not None
    return decoded.batch


def _write(path: Path, batches: list[Batch], **options: Any) -> BatchWriter:
    con = open_writable(path)
    writer = BatchWriter(con, database_path=str(path), **options)
    writer.start()
    for batch in batches:
        writer.submit(batch).result(timeout=60)
    writer.close(timeout_s=60)
    con.close()
    return writer


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = open_read_only(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def row_groups_of_100(monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer's row group, 100 spans instead of DuckDB's 122,880."""
    monkeypatch.setattr(writer_module, "ROW_GROUP_ROWS", 100)


def _timerless_writer(path: Path) -> tuple[duckdb.DuckDBPyConnection, BatchWriter]:
    """A writer whose part row group timer never fires: only row groups, syncs and close
    hand its buffer on."""
    con = open_writable(path)
    return con, BatchWriter(con, database_path=str(path), flush_interval_s=3600)


def test_each_resource_and_scope_is_stored_once(tmp_path: Path) -> None:
    path = tmp_path / "r.duckdb"
    batches = [
        _batch(_request(5, pod="cart-1", seed=1)),
        _batch(_request(5, pod="cart-1", seed=2)),  # same resource and scope: no new row
        _batch(_request(5, pod="cart-2", seed=3)),
        _batch(_request(5, pod="cart-2", scope="other", seed=4)),
    ]
    _write(path, batches)
    assert _rows(path, "SELECT count(*) FROM otel_spans") == [(20,)]
    assert _rows(path, "SELECT k8s_pod_name, scope_name FROM otel_resources ORDER BY ALL") == [
        ("cart-1", "lib"),
        ("cart-2", "lib"),
        ("cart-2", "other"),
    ]
    assert _rows(path, "SELECT k8s_pod_name, scope_name, count(*) FROM otel_traces GROUP BY ALL ORDER BY ALL") == [
        ("cart-1", "lib", 10),
        ("cart-2", "lib", 5),
        ("cart-2", "other", 5),
    ]


def _two_blocks_request(*, seed: int) -> bytes:
    """Spans of cart-1 under two scopes, the first scope's block twice."""
    request = TRACE_SERVICE_PB2.ExportTraceServiceRequest()
    for body in (_request(2, pod="cart-1", seed=seed), _request(3, pod="cart-1", scope="other", seed=seed + 1)):
        request.MergeFromString(body)
    request.MergeFromString(_request(1, pod="cart-1", seed=seed + 2))
    return request.SerializeToString()


def test_a_batch_names_each_new_resource_once_and_leaves_out_the_stored_ones() -> None:
    body = _two_blocks_request(seed=1)
    first = _batch(body).tables
    assert first["otel_spans"].num_rows == 6
    assert first["otel_resources"].column("scope_name").to_pylist() == ["lib", "other"]
    keys = first["otel_resources"].column("resource_key").to_pylist()
    assert first["otel_spans"].column("resource_key").to_pylist() == [keys[0]] * 2 + [keys[1]] * 3 + [keys[0]]

    decoded = decode_traces_wire(body, {keys[0]})
    assert decoded is not None
    assert decoded.batch.tables["otel_resources"].column("scope_name").to_pylist() == ["other"]
    decoded = decode_traces_wire(body, set(keys))
    assert decoded is not None
    assert set(decoded.batch.tables) == {"otel_spans"}
    assert decoded.batch.tables["otel_spans"].equals(first["otel_spans"])


def test_requests_decoded_against_the_stored_resources_keep_every_span_joined(tmp_path: Path) -> None:
    path = tmp_path / "known.duckdb"
    con = open_writable(path)
    writer = BatchWriter(con, database_path=str(path), flush_interval_s=0.05)
    writer.start()
    assert not writer.stored_resources
    writer.submit(_batch(_request(4, pod="cart-1", seed=1))).result(timeout=60)
    assert writer.sync()
    assert len(writer.stored_resources) == 1
    later = decode_traces_wire(_two_blocks_request(seed=10), writer.stored_resources)
    assert later is not None
    assert later.batch.tables["otel_resources"].column("scope_name").to_pylist() == ["other"]
    writer.submit(later.batch).result(timeout=60)
    writer.close(timeout_s=60)
    con.close()
    assert len(writer.stored_resources) == 2
    assert _rows(path, "SELECT scope_name, count(*) FROM otel_traces GROUP BY ALL ORDER BY ALL") == [
        ("lib", 7),
        ("other", 3),
    ]


@pytest.mark.usefixtures("row_groups_of_100")
def test_the_writer_hands_duckdb_whole_row_groups_and_journals_the_rest_again(tmp_path: Path) -> None:
    path = tmp_path / "split.duckdb"
    con, writer = _timerless_writer(path)
    with writer.hold():  # both batches are journaled together: 150 spans
        writer.start()
        first = writer.submit(_batch(_request(70, pod="a", seed=1)))
        second = writer.submit(_batch(_request(80, pod="a", seed=2)))
    assert (first.result(timeout=30), second.result(timeout=30)) == (70, 80)
    _wait_for(lambda: writer.stats.commits == 1)
    assert con.execute("SELECT count(*) FROM otel_spans").fetchone() == (100,)  # one whole row group
    # the 50 spans left over were journaled again in the new segment; the old one is gone
    segments = pending_segments(journal_dir(path))
    assert [[batch.rows for batch in read_segment(segment)] for segment in segments] == [[50]]
    assert writer.sync(timeout_s=30)
    assert con.execute("SELECT count(DISTINCT span_id) FROM otel_spans").fetchone() == (150,)
    writer.close(timeout_s=30)
    con.close()
    assert pending_segments(journal_dir(path)) == []
    assert _rows(path, "SELECT count(DISTINCT span_id) FROM otel_traces") == [(150,)]


def _log_batch(records: int, seed: int) -> Batch:
    items = [
        LOGS_PB2.LogRecord(
            time_unix_nano=START_NS + seed * 1_000_000 + index,
            body=COMMON_PB2.AnyValue(string_value=f"record {index}"),
            trace_id=(seed * 1_000_003 + index + 1).to_bytes(16, "big"),
            span_id=(seed * 1_000_003 + index + 1).to_bytes(8, "big"),
        )
        for index in range(records)
    ]
    request = LOGS_SERVICE_PB2.ExportLogsServiceRequest(
        resource_logs=[LOGS_PB2.ResourceLogs(scope_logs=[LOGS_PB2.ScopeLogs(log_records=items)])]
    )
    decoded = decode_logs_wire(request.SerializeToString())
    assert decoded is not None
    return decoded.batch


@pytest.mark.usefixtures("row_groups_of_100")
def test_a_row_group_of_log_records_goes_on_alone_and_spans_wait_for_theirs(tmp_path: Path) -> None:
    # a log-only load used to be handed on only by the part row group timer (ten flush
    # intervals of records at a time, however many)
    path = tmp_path / "logs.duckdb"
    con, writer = _timerless_writer(path)
    with writer.hold():  # journaled together: 120 log records and 50 spans
        writer.start()
        futures = [
            writer.submit(_log_batch(60, seed=1)),
            writer.submit(_batch(_request(50, pod="a", seed=2))),
            writer.submit(_log_batch(60, seed=3)),
        ]
    assert [future.result(timeout=30) for future in futures] == [60, 50, 60]
    _wait_for(lambda: writer.stats.commits == 1)
    assert con.execute("SELECT count(*) FROM otel_logs").fetchone() == (120,)
    assert con.execute("SELECT count(*) FROM otel_spans").fetchone() == (0,)  # short of a row group: they wait
    segments = pending_segments(journal_dir(path))
    assert [[batch.rows for batch in read_segment(segment)] for segment in segments] == [[50]]
    assert writer.sync(timeout_s=30)
    assert con.execute("SELECT count(*) FROM otel_spans").fetchone() == (50,)
    writer.close(timeout_s=30)
    con.close()
    assert _rows(path, "SELECT count(*) FROM otel_logs") == [(120,)]


def test_spans_fill_whole_row_groups_and_leave_no_free_blocks(tmp_path: Path) -> None:
    base = _batch(_request(4096, pod="a", seed=1))
    spans = base.tables["otel_spans"]
    batches = []
    for copy in range(ROW_GROUP_ROWS * 2 // 4096 + 4):  # about 2.1 row groups
        suffix = pa.array([f"{copy:06x}"] * spans.num_rows)
        rekeyed = spans.set_column(
            spans.schema.get_field_index("trace_id"),
            "trace_id",
            pc.binary_join_element_wise(spans.column("trace_id").cast(pa.string()), suffix, ""),
        )
        batches.append(Batch({"otel_spans": rekeyed, "otel_resources": base.tables["otel_resources"]}))
    path = tmp_path / "aligned.duckdb"
    _write(path, batches, flush_interval_s=3600)
    total = len(batches) * 4096
    assert _rows(path, "SELECT count(*) FROM otel_spans") == [(total,)]
    groups = _rows(path, "SELECT row_group_id, max(count) FROM pragma_storage_info('otel_spans') GROUP BY 1 ORDER BY 1")
    assert [rows for _, rows in groups] == [ROW_GROUP_ROWS, ROW_GROUP_ROWS, total - 2 * ROW_GROUP_ROWS]
    assert _rows(path, "SELECT free_blocks FROM pragma_database_size()") == [(0,)]


def _wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _version_one_database(path: Path, bodies: list[bytes]) -> None:
    """A store as schema version 1 wrote it: one otel_traces table with every column."""
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE glimpse_schema_version "
        "(version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    con.execute(migrations()[0][1])
    con.execute("INSERT INTO glimpse_schema_version VALUES (1, current_timestamp)")
    for body in bodies:
        request = TRACE_SERVICE_PB2.ExportTraceServiceRequest.FromString(body)
        spans = decode_traces(request).batch.tables
        resources = spans["otel_resources"].drop_columns(["resource_key"])
        joined = spans["otel_spans"].drop_columns(["resource_key"])
        for name in resources.column_names:
            if name != "service_name":
                joined = joined.append_column(name, pa.repeat(resources.column(name)[0], joined.num_rows))
        con.register("v1_rows", joined)
        con.execute("INSERT INTO otel_traces BY NAME SELECT * FROM v1_rows")
        con.unregister("v1_rows")
    con.close()


def test_version_one_stores_migrate_to_the_same_rows_and_resource_keys(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    _version_one_database(path, [_request(3, pod="a", seed=1), _request(2, pod="b", seed=2)])
    con = duckdb.connect(str(path))
    before = con.execute("SELECT * FROM otel_traces ORDER BY span_id").fetchall()
    con.close()

    _write(path, [_batch(_request(4, pod="a", seed=3))])  # opening migrates; pod a's resource is known

    after = _rows(path, "SELECT * FROM otel_traces ORDER BY span_id")
    assert after[: len(before)] == before
    assert len(after) == len(before) + 4
    assert _rows(path, "SELECT max(version) FROM glimpse_schema_version") == [(SCHEMA_VERSION,)]
    assert _rows(path, "SELECT k8s_pod_name FROM otel_resources ORDER BY 1") == [("a",), ("b",)]
    # version 3 indexed the migrated traces: each is found, spans and errors counted
    indexed = _rows(path, "SELECT lower(lpad(hex(trace_key), 32, '0')), sum(spans) FROM otel_trace_index GROUP BY 1")
    stored = _rows(path, "SELECT trace_id, count(*) FROM otel_spans GROUP BY 1")
    assert sorted(indexed) == sorted(stored) and sum(count for _, count in stored) == 9


def test_a_row_group_chunk_takes_metrics_and_logs_and_leaves_only_spans_over() -> None:
    spans = [_batch(_request(count, pod="a", seed=seed)) for seed, count in enumerate((60, 70, 30))]
    points = Batch({"otel_logs": pa.table({"x": [1, 2]})})  # no spans: never left over
    buffer = [(1, spans[0]), (2, points), (3, spans[1]), (4, points), (5, spans[2])]
    taken, rest = writer_module._split_at(buffer, 100)
    assert [(seq, batch.rows) for seq, batch in taken] == [(1, 60), (2, 2), (3, 40), (4, 2)]
    assert [(seq, batch.rows) for seq, batch in rest] == [(3, 30), (5, 30)]
    assert rest[0][1].tables["otel_resources"].num_rows == 1  # the cut batch's rest keeps its resource


def test_the_storage_order_copy_lets_each_source_column_go_once_copied() -> None:
    # four string columns of about 1 MiB: copied whole beside the source, the peak would be
    # four columns more; freed one by one, about one
    pool = pa.proxy_memory_pool(pa.default_memory_pool())
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        before, after, keys = _order_a_table_of_four_text_columns(rows=16_384)
    finally:
        pa.set_memory_pool(previous)  # every buffer from the pool is gone by now
    column_bytes = 16_384 * (64 + 4)
    assert keys == sorted(keys)
    assert before >= 4 * column_bytes
    assert after <= before + column_bytes  # the sources went; the copy is the same size
    assert pool.max_memory() < before + 2 * column_bytes


def _order_a_table_of_four_text_columns(rows: int) -> tuple[int, int, list[int]]:
    """Bytes in the default pool before and after in_storage_order, and the resource keys."""
    pool = pa.default_memory_pool()
    text = pa.array([f"{i:064d}" for i in range(rows)])
    spans = pa.table(
        {
            "resource_key": pa.array([i % 3 for i in range(rows)], pa.uint64()),
            "span_name": pa.array([f"op-{i % 5}" for i in range(rows)]),
            **{f"text_{n}": pc.utf8_upper(text) for n in range(4)},
        }
    )
    del text
    before = pool.bytes_allocated()
    pile = [spans]
    del spans
    ordered = writer_module.in_storage_order(pile)
    assert pile == []
    after = pool.bytes_allocated()
    return before, after, ordered.column("resource_key").to_pylist()


def _mixed_request(spans: int, *, seed: int) -> bytes:
    """Spans of two pods and three operations, interleaved as requests bring them."""
    request = TRACE_SERVICE_PB2.ExportTraceServiceRequest()
    for part in range(spans // 5):
        request.MergeFromString(_request(5, pod=f"pod-{part % 2}", seed=seed * 1_000 + part))
    return request.SerializeToString()


def _runs_in_row_order(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """How many runs of one (resource, operation) the spans make in storage order, and how
    many (resource, operation) pairs there are: equal when each pair's spans are together."""
    row = con.execute(
        """
        SELECT count(*) FILTER (WHERE changed), count(DISTINCT (resource_key, span_name)) FROM (
            SELECT resource_key, span_name,
                   (resource_key, span_name) IS DISTINCT FROM lag((resource_key, span_name)) OVER (ORDER BY rowid)
                       AS changed
            FROM otel_spans)
        """
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def _all(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """Every row of ``table``, each as its repr (rows with lists are not hashable)."""
    return {repr(row) for row in con.execute(f"SELECT * FROM {table}").fetchall()}


@pytest.mark.usefixtures("row_groups_of_100")
def test_spans_of_part_row_groups_are_rewritten_together_once_a_row_group_gathers(tmp_path: Path) -> None:
    con = open_writable(tmp_path / "tail.duckdb")
    store = writer_module.TableStore(con, writer_module.WriterStats(), wal_path=None)
    for seed in range(3):  # 90 spans in part chunks, each chunk grouped on its own
        store.commit([_batch(_mixed_request(30, seed=seed))])
    store.commit([_batch(_mixed_request(30, seed=0))])  # the same spans again: nothing new
    assert not store.rewrite_part_row_groups()
    assert _runs_in_row_order(con) == (3 * 6, 6)
    spans, index = _all(con, "otel_traces"), _all(con, "otel_trace_index")

    store.commit([_batch(_mixed_request(20, seed=3))])  # 110 new spans: rewritten in one piece
    assert store.rewrite_part_row_groups()

    assert store.stats.compactions == 1
    assert _runs_in_row_order(con) == (6, 6)
    after = _all(con, "otel_traces")
    assert len(after) == 110 and spans < after
    assert con.execute("SELECT count(DISTINCT (trace_id, span_id)) FROM otel_spans").fetchone() == (110,)
    after_index = _all(con, "otel_trace_index")  # the index says when spans started: untouched
    assert len(after_index) == len(index) + 20 and index < after_index

    store.commit([_batch(_mixed_request(30, seed=4))])  # a new tail
    store.commit([_batch(_mixed_request(100, seed=5))])  # a whole row group is not part of it
    assert not store.rewrite_part_row_groups()
    assert _runs_in_row_order(con) == (6 + 6 + 6, 6)
    con.close()


@pytest.mark.usefixtures("row_groups_of_100")
def test_a_failed_rewrite_leaves_the_spans_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # the rewrite's INSERT fails on its first row, inside the transaction (as out of memory would)
    failing = writer_module._REWRITE_TAIL.replace("ORDER BY", "AND error('no memory left') IS NULL ORDER BY")
    monkeypatch.setattr(writer_module, "_REWRITE_TAIL", failing)
    con = open_writable(tmp_path / "failed.duckdb")
    store = writer_module.TableStore(con, writer_module.WriterStats(), wal_path=None)
    for seed in range(4):
        store.commit([_batch(_mixed_request(30, seed=seed))])
    assert not store.rewrite_part_row_groups()
    assert "rewriting 120 spans of part row groups in storage order failed" in caplog.text
    assert con.execute("SELECT count(DISTINCT (trace_id, span_id)), count(*) FROM otel_spans").fetchone() == (120, 120)
    assert _runs_in_row_order(con) == (4 * 6, 6)
    store.commit([_batch(_mixed_request(30, seed=5))])  # later commits go on as before
    assert not store.rewrite_part_row_groups()  # a new tail: 30 spans
    assert con.execute("SELECT count(*) FROM otel_spans").fetchone() == (150,)
    con.close()


@pytest.mark.usefixtures("row_groups_of_100")
def test_spans_of_a_commit_that_failed_do_not_count_toward_a_rewrite(tmp_path: Path) -> None:
    con = open_writable(tmp_path / "refused.duckdb")
    store = writer_module.TableStore(con, writer_module.WriterStats(), wal_path=None)
    refused = _batch(_mixed_request(60, seed=1))
    # the spans go in, then the transaction fails on the log records that come after them
    refused.tables["otel_logs"] = pa.table({"no_such_column": [1]})
    with pytest.raises(duckdb.Error):
        store.commit([refused])
    store.commit([_batch(_mixed_request(60, seed=1))])  # the same spans, as a retry brings them
    assert not store.rewrite_part_row_groups()  # 60 spans gathered, not 120
    store.commit([_batch(_mixed_request(40, seed=2))])
    assert store.rewrite_part_row_groups()
    assert con.execute("SELECT count(*) FROM otel_spans").fetchone() == (100,)
    con.close()


@pytest.mark.usefixtures("row_groups_of_100")
def test_rewrites_stop_when_duckdb_has_too_little_memory_for_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    con = open_writable(tmp_path / "small.duckdb", memory_limit="8MB")
    store = writer_module.TableStore(con, writer_module.WriterStats(), wal_path=None)
    padded = [_batch(_mixed_request(60, seed=seed)) for seed in range(4)]
    for batch in padded:  # spans of 20 KB each: committed 60 at a time, but not sorted 120 at once in 8 MB
        spans = batch.tables["otel_spans"]
        messages = pa.array([f"{index} {'x' * 20_000}" for index in range(spans.num_rows)])
        position = spans.schema.get_field_index("status_message")
        batch.tables["otel_spans"] = spans.set_column(position, "status_message", messages)
    for batch in padded[:2]:
        store.commit([batch])
    assert not store.rewrite_part_row_groups()
    assert "not tried again: DuckDB's memory share is too small" in caplog.text
    for batch in padded[2:]:
        store.commit([batch])
    caplog.clear()
    assert not store.rewrite_part_row_groups()  # 120 spans gathered again, not tried
    assert caplog.text == "" and store.stats.compactions == 0
    assert con.execute("SELECT count(*) FROM otel_spans").fetchone() == (240,)
    con.close()


@pytest.mark.usefixtures("row_groups_of_100")
def test_the_writer_rewrites_part_row_groups_it_committed_on_syncs(tmp_path: Path) -> None:
    path = tmp_path / "synced.duckdb"
    con, writer = _timerless_writer(path)
    writer.start()
    for seed in range(4):  # each sync commits what is buffered: four part chunks
        writer.submit(_batch(_mixed_request(30, seed=seed))).result(timeout=30)
        assert writer.sync(timeout_s=30)
    _wait_for(lambda: writer.stats.compactions == 1)
    for seed in range(4, 8):  # four more, the last committed on close: not rewritten then
        writer.submit(_batch(_mixed_request(30, seed=seed))).result(timeout=30)
        if seed < 7:
            assert writer.sync(timeout_s=30)
    writer.close(timeout_s=30)
    con.close()
    assert writer.stats.compactions == 1
    con = open_read_only(path)
    assert _runs_in_row_order(con) == (6 + 4 * 6, 6)
    assert con.execute("SELECT count(DISTINCT span_id), count(*) FROM otel_traces").fetchone() == (240, 240)
    con.close()
