"""Analyses through a server run within its DuckDB share (an eighth of ``--memory-limit``),
and a question too large for it gets a 503 that says so, not a dropped connection."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import httpx
import pytest

from analyzer.query_service import incidents
from analyzer.query_service.incidents import detection_window
from bench.generate import StoreSpec, generate, pool_store
from glimpse.client import GlimpseClient
from glimpse.settings import DEFAULT_MEMORY_LIMIT_BYTES, MIN_MEMORY_LIMIT_BYTES
from storage.errors import QueryMemoryError
from storage.store import on_connection
from tests.conftest import Running, serving
from tests.trace_builder import TraceBuilder, send
from tracing.errors import GlimpseError

pytestmark = pytest.mark.slow

HOUR_NS = 3600 * 10**9
MINUTE_NS = 60 * 10**9
MIB = 2**20
SLOW_SERVICE = "tax"  # a leaf of the generated topology: it calls nothing instrumented


@pytest.fixture(scope="module")
def busy_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """About 300,000 generated spans over three hours (and their logs); in the last hour
    every span of the tax service takes 300 ms longer. The store and its end (unix ns)."""
    folder = tmp_path_factory.mktemp("busy")
    pool = pool_store(seconds=8, rate_per_s=6.0, seed=2, folder=folder)
    store = folder / "busy.duckdb"
    generate(StoreSpec(spans=300_000, spans_per_day=2_400_000.0), store, pool)
    con = duckdb.connect(str(store))
    try:
        end = int(con.execute("SELECT epoch_ns(max(timestamp)) + 1 FROM otel_spans").fetchone()[0])  # type: ignore[index]
        con.execute(
            "UPDATE otel_spans SET duration = duration + 300_000_000"
            " WHERE service_name = ? AND timestamp >= make_timestamp_ns(?)",
            [SLOW_SERVICE, end - HOUR_NS],
        )
    finally:
        con.close()
    return store, end


def _copy(store: Path, tmp_path: Path) -> Path:
    db = tmp_path / "store.duckdb"
    shutil.copyfile(store, db)
    return db


def test_a_diagnosis_of_an_hour_fits_the_default_duckdb_share(busy_store: tuple[Path, int], tmp_path: Path) -> None:
    """The last hour and its baseline hold about 300,000 spans: the evidence query used to
    gather every span's caller into lists and failed at 128 MiB (HTTP 500, then a reset)."""
    store, end = busy_store
    with serving(_copy(store, tmp_path), memory_limit_bytes=DEFAULT_MEMORY_LIMIT_BYTES) as running:
        assert running.server is not None and running.server.settings.duckdb_memory_bytes == 128 * MIB
        response = httpx.get(
            f"{running.api_url}/api/rca", params={"since": str(end - HOUR_NS), "until": str(end)}, timeout=120
        )
        assert response.status_code == 200, response.text
        top = response.json()["candidates"][0]
        assert (top["kind"], top["name"]) == ("service", SLOW_SERVICE)


def test_a_question_too_large_for_the_share_is_a_503_that_says_so(busy_store: tuple[Path, int], tmp_path: Path) -> None:
    store, end = busy_store
    window = {"since": str(end - HOUR_NS), "until": str(end)}
    with serving(_copy(store, tmp_path), memory_limit_bytes=MIN_MEMORY_LIMIT_BYTES) as running:  # DuckDB: 16 MiB
        with httpx.Client(base_url=running.api_url, timeout=120) as client:
            response = client.get("/api/rca", params=window)
            assert response.status_code == 503, response.text
            assert "more memory than DuckDB may use in this process (16.0 MiB)" in response.json()["error"]
            assert client.get("/api/extent").status_code == 200  # on the same connection
        with pytest.raises(GlimpseError, match="ask for a shorter time window"):
            GlimpseClient(running.db_path).analysis("rca", window)


def test_duckdb_running_out_of_memory_becomes_an_error_that_names_the_limit() -> None:
    con = duckdb.connect()
    con.execute("SET memory_limit = '8MB'")
    with pytest.raises(QueryMemoryError, match=r"more memory than DuckDB may use in this process \(7\.6 MiB\)"):
        on_connection(con.cursor, lambda cursor: cursor.execute("SELECT list(range) FROM range(20_000_000)").fetchall())
    assert con.execute("SELECT 1").fetchall() == [(1,)]  # only the query's own cursor was closed


def test_automatic_detection_reads_the_latest_hours_and_at_most_so_many_spans(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight hours of one span every five minutes (minute 0 to 475). Detection reads the last
    six hours; with room for 30 spans, the whole minutes back to just after the 31st newest
    span (minute 325): 150 minutes; with room for 3, the last half hour all the same."""
    trace = TraceBuilder(seed=3)
    for minute in range(0, 8 * 60, 5):
        trace.new_trace()
        trace.span("shop", "GET /", kind="server", start_ms=minute * 60_000, end_ms=minute * 60_000 + 10)
    send(running.grpc_endpoint, trace.spans)
    assert running.server is not None
    end = trace.spans[-1].start_ns + 1  # just after the last span's start

    def window_minutes() -> float:
        window = on_connection(running.server.read_cursor, detection_window)  # type: ignore[union-attr]
        assert window.until_ns == end
        return (window.until_ns - window.since_ns) / MINUTE_NS

    assert window_minutes() == 6 * 60
    monkeypatch.setattr(incidents, "DETECTION_SPANS", 30)
    assert window_minutes() == 150
    monkeypatch.setattr(incidents, "DETECTION_SPANS", 3)
    assert window_minutes() == 30
