"""--memory-limit: past it a real server refuses exports as retryable while it has work of
its own, the SDK exporters' retries get everything stored, and DuckDB gets its share."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc
import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from collector.memory import MemoryGuard, MemoryLimitError, resident_bytes
from glimpse.settings import (
    DEFAULT_MEMORY_LIMIT_BYTES,
    MAX_DUCKDB_MEMORY_BYTES,
    MIN_MEMORY_LIMIT_BYTES,
    ServerSettings,
    SettingsError,
)
from tests.conftest import serving
from tests.otlp_clients import span_exporter
from tests.spans import raw_request, sdk_spans
from tests.test_self_metrics import TRACE_EXPORT, scrape

MIB = 2**20


class _Readings:
    """Resident sizes handed out in turn: the guard's one boundary with the OS."""

    def __init__(self, *sizes: int) -> None:
        self.sizes = list(sizes)
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.sizes.pop(0) if len(self.sizes) > 1 else self.sizes[0]


def test_the_guard_refuses_past_its_high_water_mark_only() -> None:
    guard = MemoryGuard(100 * MIB, high_water=0.8, measure=_Readings(79 * MIB))
    guard.check()  # 79 MiB of a limit of 100 at 80 %: in
    guard = MemoryGuard(100 * MIB, high_water=0.8, measure=_Readings(80 * MIB), retry_after_s=2.5)
    with pytest.raises(MemoryLimitError, match="80 MiB resident, 0 MiB more on the way, limit 100 MiB") as refused:
        guard.check()
    assert refused.value.retry_after_s == 2.5 and guard.refusals == 1


def test_the_guard_counts_what_the_process_will_still_grow_by() -> None:
    guard = MemoryGuard(100 * MIB, high_water=0.8, measure=_Readings(50 * MIB), reserve_bytes=20 * MIB)
    guard.check(9 * MIB)  # 50 resident + 9 to copy + 20 reserved = 79: in
    with pytest.raises(MemoryLimitError, match="50 MiB resident, 30 MiB more on the way, limit 100 MiB"):
        guard.check(10 * MIB)


def test_under_pressure_the_guard_gives_memory_back_then_measures_again() -> None:
    released = []
    readings = _Readings(95 * MIB, 60 * MIB)  # over the mark; after malloc_trim, under it
    guard = MemoryGuard(100 * MIB, high_water=0.85, measure=readings, on_pressure=lambda: released.append(1))
    guard.check()
    assert released == [1] and readings.calls == 2 and guard.refusals == 0


def test_memory_goes_back_once_the_projection_passes_the_mark() -> None:
    released = []
    readings = _Readings(60 * MIB, 40 * MIB)  # under the mark alone; with the reserve, over it
    guard = MemoryGuard(
        100 * MIB, high_water=0.85, measure=readings, on_pressure=lambda: released.append(1), reserve_bytes=30 * MIB
    )
    guard.check()  # 40 + 30 after malloc_trim: in
    assert released == [1] and readings.calls == 2 and guard.refusals == 0


def test_an_unknown_size_never_refuses() -> None:
    MemoryGuard(MIN_MEMORY_LIMIT_BYTES, measure=lambda: None).check()


def test_the_setting_parses_sizes_and_off_and_shares_memory_with_duckdb(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServerSettings.from_env().memory_limit_bytes == DEFAULT_MEMORY_LIMIT_BYTES
    assert ServerSettings.from_env(memory_limit="512MiB").duckdb_memory_bytes == 64 * MIB
    assert ServerSettings.from_env(memory_limit="8GiB").duckdb_memory_bytes == MAX_DUCKDB_MEMORY_BYTES
    monkeypatch.setenv("GLIMPSE_MEMORY_LIMIT", "off")
    unbounded = ServerSettings.from_env()
    assert unbounded.memory_limit_bytes is None and unbounded.duckdb_memory_bytes == MAX_DUCKDB_MEMORY_BYTES
    with pytest.raises(SettingsError, match="at least 128 MiB"):
        ServerSettings.from_env(memory_limit="64MiB")
    with pytest.raises(SettingsError, match="not a size"):
        ServerSettings.from_env(memory_limit="lots")


def test_duckdb_runs_with_its_share_of_the_limit(db_path: Path) -> None:
    with serving(db_path, memory_limit_bytes=512 * MIB) as running:
        (limit,) = running.sql("SELECT current_setting('memory_limit') AS limit")[0].values()
    assert limit in ("64.0 MiB", "67.1 MB")  # DuckDB prints it in its own units


def test_at_its_limit_the_server_refuses_while_busy_and_the_sdk_retries_get_everything_in(db_path: Path) -> None:
    # this test process, which runs the server, is well past 85 % of the smallest limit
    assert (resident_bytes() or 0) > 0.85 * MIN_MEMORY_LIMIT_BYTES
    with serving(db_path, memory_limit_bytes=MIN_MEMORY_LIMIT_BYTES) as running:
        exporter = span_exporter("http", running)
        writer = running.server.writer if running.server is not None else None
        assert writer is not None
        for seed in range(3):  # one at a time, each stored before the next: a server with
            # nothing queued, in flight or waiting to be put in storage order lets one in
            assert exporter.export(sdk_spans(5, seed=seed)) is SpanExportResult.SUCCESS
            assert writer.sync() and writer.unprepared_bytes == 0
        assert _memory_refusals(running.api_url, "http") == 0
        body, _ = raw_request(10, seed=7)
        retried: list[SpanExportResult] = []
        with grpc.insecure_channel(running.grpc_endpoint) as channel:
            with writer.hold():
                first = channel.unary_unary(TRACE_EXPORT).future(body, timeout=30)
                _wait_for(lambda: writer.queued_rows == 10)
                with pytest.raises(grpc.RpcError) as refused:
                    channel.unary_unary(TRACE_EXPORT)(raw_request(4, seed=8)[0], timeout=30)
                assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
                sender = threading.Thread(target=lambda: retried.append(exporter.export(sdk_spans(6, seed=9))))
                sender.start()
                _wait_for(lambda: _memory_refusals(running.api_url, "http") >= 1)
            first.result()
            sender.join(60)
        assert retried == [SpanExportResult.SUCCESS]
        assert running.scalar("SELECT count(*) FROM otel_spans") == 3 * 5 + 10 + 6
        assert running.scalar("SELECT count(DISTINCT (trace_id, span_id)) FROM otel_spans") == 31
        assert _memory_refusals(running.api_url, "grpc") == 1


def _memory_refusals(api_url: str, transport: str) -> float:
    return scrape(api_url).total(
        "glimpse_receiver_refused_requests_total", signal="traces", transport=transport, reason="memory_limit"
    )


def _wait_for(condition: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_at_its_limit_spans_waiting_to_be_stored_keep_the_next_request_out(db_path: Path) -> None:
    """Acknowledged spans not yet stored will still be copied into storage order: past the
    mark they count as the server's own work, so one request gets in at a time."""
    with serving(db_path, memory_limit_bytes=MIN_MEMORY_LIMIT_BYTES, flush_interval_s=3600) as running:
        writer = running.server.writer if running.server is not None else None
        assert writer is not None
        with grpc.insecure_channel(running.grpc_endpoint) as channel:
            export = channel.unary_unary(TRACE_EXPORT)
            export(raw_request(10, seed=1)[0], timeout=30)  # nothing else in the server: in
            assert writer.queued_rows == 0 and writer.unprepared_bytes > 0
            with pytest.raises(grpc.RpcError) as refused:
                export(raw_request(4, seed=2)[0], timeout=30)
            assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
            assert writer.sync() and writer.unprepared_bytes == 0
            export(raw_request(4, seed=2)[0], timeout=30)  # stored: in again
        assert running.scalar("SELECT count(*) FROM otel_spans") == 14
        assert _memory_refusals(running.api_url, "grpc") == 1
