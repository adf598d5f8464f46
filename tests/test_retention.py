"""Retention: data past its age goes, a size bound holds under continued writes, the space
is reused, and the server says what it dropped."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from bench.workload import CHAINED_GAP_NS, CHAINED_START_NS, store_chained_parts
from glimpse.settings import ServerSettings, SettingsError
from storage.retention import SIZE_HIGH_WATER, Retention, RetentionPolicy, store_bytes
from storage.store import open_writable
from tests.conftest import Running, serving
from tests.otlp_clients import span_exporter

HOUR_NS = 3600 * 10**9


def _gauge(name: str, time_ns: int) -> dict[str, Any]:
    point = {"asDouble": 1.0, "timeUnixNano": str(time_ns)}
    return {"name": name, "gauge": {"dataPoints": [point]}}


def _post(running: Running, signal: str, body: dict[str, Any]) -> None:
    response = httpx.post(f"{running.http_url}/v1/{signal}", json=body, timeout=30)
    assert response.status_code == 200, response.text


def _stats(running: Running) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{running.api_url}/api/stats", timeout=30).json()
    return stats


def test_the_server_drops_spans_logs_and_points_past_the_age_and_says_so(tmp_path: Path) -> None:
    with serving(tmp_path / "r.duckdb", retention_ns=HOUR_NS) as running:
        now = time.time_ns()
        provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
        provider.add_span_processor(SimpleSpanProcessor(span_exporter("grpc", running)))
        tracer = provider.get_tracer("test")
        for name, start in (("expired-1", now - 3 * HOUR_NS), ("expired-2", now - 2 * HOUR_NS), ("kept", now - 60e9)):
            tracer.start_span(name, start_time=int(start)).end(end_time=int(start) + 1_000_000)
        provider.shutdown()
        records = [
            {"timeUnixNano": str(now - 2 * HOUR_NS), "body": {"stringValue": "old"}},
            {"observedTimeUnixNano": str(now - 2 * HOUR_NS), "body": {"stringValue": "old, observed time only"}},
            {"timeUnixNano": str(now), "body": {"stringValue": "new"}},
        ]
        _post(running, "logs", {"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]})
        gauges = [_gauge("old", now - 5 * HOUR_NS), _gauge("new", now)]
        _post(running, "metrics", {"resourceMetrics": [{"scopeMetrics": [{"metrics": gauges}]}]})

        dropped: dict[str, int] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # a pass follows each commit, and every 10 s when idle
            dropped = _stats(running)["retention"]["dropped_rows"]
            if dropped.get("otel_spans") == 2 and dropped.get("otel_logs") == 2 and dropped.get("otel_metrics_gauge"):
                break
            time.sleep(0.2)
        assert dropped == {"otel_spans": 2, "otel_trace_index": 2, "otel_logs": 2, "otel_metrics_gauge": 1}
        assert running.sql("SELECT span_name FROM otel_spans") == [{"span_name": "kept"}]
        assert running.sql("SELECT body FROM otel_logs") == [{"body": "new"}]
        assert running.sql("SELECT metric_name FROM otel_metrics_gauge") == [{"metric_name": "new"}]
        retention = _stats(running)["retention"]
        assert retention["max_age_ns"] == HOUR_NS and retention["last_reason"] == "age"
        assert now - HOUR_NS <= retention["last_cutoff_ns"] <= time.time_ns() - HOUR_NS


def _used_bytes(con: Any) -> int:
    block_size, used = con.execute("SELECT block_size, used_blocks FROM pragma_database_size()").fetchone()
    return int(block_size * used)


def test_a_size_bound_deletes_the_oldest_and_the_file_stays_within_it(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    con = open_writable(path)
    bound, traces = 64 * 2**20, 9_000  # each part about one writer chunk (122,880 spans)
    retention = Retention(con, RetentionPolicy(max_bytes=bound), database_path=str(path))
    sizes = []
    try:
        for part in range(15):  # about twice the bound, a pass after each part, as the writer does
            store_chained_parts(con, range(part, part + 1), traces)
            retention.run()
            sizes.append(store_bytes(str(path)))
        assert retention.stats.last_reason == "size" and retention.stats.passes >= 2
        assert max(sizes) <= 1.1 * bound  # the space of what went is written again
        assert _used_bytes(con) <= SIZE_HIGH_WATER * bound
        first_left, last_left = con.execute(
            "SELECT epoch_ns(min(timestamp)), epoch_ns(max(timestamp)) FROM otel_spans"
        ).fetchone()
        assert first_left > CHAINED_START_NS + 2 * traces * CHAINED_GAP_NS  # the oldest traces went ...
        assert last_left > CHAINED_START_NS + 15 * traces * CHAINED_GAP_NS - 10**9  # ... not the newest
        # the trace index forgets the traces whose spans all went
        orphans = con.execute(
            "SELECT count(*) FROM otel_trace_index i ANTI JOIN otel_spans s "
            "ON i.trace_key = ('0x' || s.trace_id)::UHUGEINT"
        ).fetchone()[0]
        assert orphans == 0
    finally:
        con.close()


def test_retention_settings_take_durations_and_sizes_and_refuse_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ServerSettings.from_env(retention="36h", max_db_bytes="2GiB")
    assert settings.retention_ns == 36 * HOUR_NS and settings.max_db_bytes == 2 * 2**30
    monkeypatch.setenv("GLIMPSE_RETENTION", "7d")
    monkeypatch.setenv("GLIMPSE_MAX_DB_BYTES", "20GB")
    settings = ServerSettings.from_env()
    assert settings.retention_ns == 7 * 24 * HOUR_NS and settings.max_db_bytes == 20 * 10**9
    with pytest.raises(SettingsError, match="retention age"):
        ServerSettings.from_env(retention="soon")
    with pytest.raises(SettingsError, match="not a size"):
        ServerSettings.from_env(max_db_bytes="lots")
    with pytest.raises(SettingsError, match="at least 64 MiB"):
        ServerSettings.from_env(max_db_bytes="1MB")
