"""Finding one trace through the trace indexes: whole, with its log records, reading only the
row groups of its time; and trace search by duration and errors from the index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from bench.workload import store_chained_parts
from storage.named_queries import load_query
from storage.store import open_writable
from tests.conftest import Running
from tests.trace_builder import TraceBuilder, send


def _get(running: Running, path: str, **params: str) -> Any:
    response = httpx.get(f"{running.api_url}{path}", params=params, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_trace_whose_spans_arrive_in_several_commits_is_found_whole(running: Running) -> None:
    builder = TraceBuilder(seed=3)
    root = builder.span("front", "GET /", kind="server", end_ms=100)
    first = [root, builder.span("front", "call", kind="client", parent=root, start_ms=5, end_ms=60, error=True)]
    send(running.grpc_endpoint, first)
    trace_id = root.trace_id.hex()
    assert running.scalar("SELECT count(*) FROM otel_spans") == 2  # a query commits what was acknowledged
    later = builder.span("back", "handle", kind="server", parent=first[1], start_ms=3_600_000, end_ms=3_600_050)
    send(running.grpc_endpoint, [later])
    send(running.grpc_endpoint, first)  # a retried export: stored and indexed once

    answer = _get(running, f"/api/traces/{trace_id}")
    assert sorted(span["operation"] for span in answer["spans"]) == ["GET /", "call", "handle"]
    rows = running.sql(
        "SELECT spans, errors FROM otel_trace_index "
        f"WHERE trace_key = ('0x' || '{trace_id}')::UHUGEINT ORDER BY first_start"
    )
    assert rows == [{"spans": 2, "errors": 1}, {"spans": 1, "errors": 0}]
    path = _get(running, f"/api/traces/{trace_id}/critical-path")
    assert path["end_ns"] - path["start_ns"] == 3_600_050 * 1_000_000


def test_a_traces_log_records_are_found_whatever_their_time(running: Running) -> None:
    builder = TraceBuilder(seed=4)
    root = builder.span("front", "GET /", kind="server", end_ms=10)
    send(running.grpc_endpoint, [root])
    trace_id, span_id = root.trace_id.hex(), root.span_id.hex()
    far = root.start_ns + 7 * 86_400 * 10**9  # a week later: not near the trace's spans
    records = [
        {"timeUnixNano": str(root.start_ns + 1_000_000), "body": {"stringValue": "took 12 ms"}},
        {"observedTimeUnixNano": str(far), "body": {"stringValue": "observed only"}},
        {"body": {"stringValue": "no time at all"}},
    ]
    for record in records:
        record.update(traceId=trace_id, spanId=span_id)
    other = {"timeUnixNano": str(root.start_ns), "body": {"stringValue": "another trace"}, "traceId": "ab" * 16}
    body = {"resourceLogs": [{"scopeLogs": [{"logRecords": [*records, other]}]}]}
    response = httpx.post(f"{running.http_url}/v1/logs", json=body, timeout=30)
    assert response.status_code == 200, response.text

    (span,) = _get(running, f"/api/traces/{trace_id}")["spans"]
    messages = [log["message"] for log in span["logs"]]
    assert messages == ["took 12 ms", "observed only", "no time at all"]
    assert span["logs"][0]["template"] == "took <NUM> ms"
    index = running.sql(
        "SELECT records, untimed, timeless FROM otel_log_trace_index "
        f"WHERE trace_key = ('0x' || '{trace_id}')::UHUGEINT"
    )
    assert index == [{"records": 3, "untimed": 1, "timeless": 1}]


def test_a_windows_traces_come_whole_though_their_spans_started_an_hour_apart(running: Running) -> None:
    """The window query reads only the row groups of its traces' time (from the trace index),
    and that time reaches back to spans stored in an earlier commit, before the window."""
    builder = TraceBuilder(seed=5)
    root = builder.span("front", "GET /late", kind="server", end_ms=3_600_100)
    send(running.grpc_endpoint, [root])
    assert running.scalar("SELECT count(*) FROM otel_spans WHERE span_name = 'GET /late'") == 1  # committed
    child = builder.span("back", "work", kind="server", parent=root, start_ms=3_600_000, end_ms=3_600_050)
    send(running.grpc_endpoint, [child])

    since = root.start_ns + 3_599_000 * 10**6  # only the child starts in the window
    answer = _get(running, "/api/bottlenecks", since=str(since), until=str(since + 10 * 10**9))
    assert (answer["traces"], answer["spans"]) == (1, 2)  # the root, before the window, came too
    assert answer["critical_ns"] == 3_600_100 * 10**6


def _row_groups_read(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any], profile: Path
) -> tuple[int, int]:
    """(row groups of otel_spans read, row groups it has) when ``sql`` runs, over its scans of
    otel_spans together."""
    con.execute("PRAGMA enable_profiling = 'json'")
    con.execute(f"PRAGMA profiling_output = '{profile}'")
    con.execute(sql, params).fetchall()
    con.execute("PRAGMA disable_profiling")

    def scans(node: dict[str, Any]) -> list[dict[str, Any]]:
        own = [node] if node.get("extra_info", {}).get("Table", "").endswith("otel_spans") else []
        return own + [found for child in node.get("children", []) for found in scans(child)]

    found = [found for root in json.loads(profile.read_text())["operator"] for found in scans(root)]
    assert found, "no scan of otel_spans in the profile"
    return sum(scan["row_groups_scanned"] for scan in found), sum(scan["total_row_groups_to_scan"] for scan in found)


@pytest.fixture(scope="module")
def chained_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lookup") / "chained.duckdb"
    con = open_writable(path)
    store_chained_parts(con, range(5), 9_000)  # 5 parts, about one row group each
    con.close()
    return path


def test_looking_up_a_trace_reads_the_row_groups_of_its_time_only(chained_store: Path, tmp_path: Path) -> None:
    con = duckdb.connect(str(chained_store), read_only=True)
    try:
        trace_id, spans = con.execute(
            "SELECT trace_id, count(*) FROM otel_spans WHERE timestamp = (SELECT max(timestamp) FROM otel_spans)"
            " GROUP BY ALL"
        ).fetchone()  # type: ignore[misc]
        everything = con.execute("SELECT count(*) FROM otel_spans WHERE trace_id = ?", [trace_id]).fetchone()
        read, total = _row_groups_read(con, load_query("traces/spans"), {"trace_id": trace_id}, tmp_path / "p.json")
        found = con.execute(load_query("traces/spans"), {"trace_id": trace_id}).fetchall()
    finally:
        con.close()
    assert total >= 5 and read <= 2  # the newest part's row groups, not the store
    assert len(found) == everything[0] >= spans  # type: ignore[index]


@pytest.mark.parametrize(
    ("min_ms", "max_ms", "errors"), [(200, None, True), (None, 200, False), (None, None, True), (201, None, None)]
)
def test_search_by_duration_and_errors_agrees_with_the_spans(
    chained_store: Path, min_ms: int | None, max_ms: int | None, errors: bool | None
) -> None:
    from analyzer.query_service.traces import search_traces

    low, high = (None if ms is None else ms * 1_000_000 for ms in (min_ms, max_ms))
    con = duckdb.connect(str(chained_store), read_only=True)
    try:
        truth = con.execute(
            "SELECT trace_id, max(epoch_ns(timestamp) + duration) - min(epoch_ns(timestamp)) AS duration_ns,"
            " count(*) FILTER (WHERE status_code = 'Error') AS errors, epoch_ns(min(timestamp)) AS start_ns"
            " FROM otel_spans GROUP BY trace_id HAVING bool_or(service_name = 'svc-4')"
        ).fetchall()
        answer = search_traces(con, service="svc-4", min_duration_ns=low, max_duration_ns=high, errors=errors, limit=50)
    finally:
        con.close()
    kept = [
        (start, trace)
        for trace, duration, error_spans, start in truth
        if (low is None or duration >= low)
        and (high is None or duration <= high)
        and (errors is None or (error_spans > 0) == errors)
    ]
    expected = sorted(kept, reverse=True)[:50]
    assert [(row["start_ns"], row["trace_id"]) for row in answer["traces"]] == expected
    assert answer["truncated"] == (len(kept) > 50)
    assert (len(expected) == 0) == (min_ms == 201)  # every generated trace lasts 200 ms


def test_a_windows_spans_are_read_from_the_row_groups_of_its_time_only(chained_store: Path, tmp_path: Path) -> None:
    """The window query's two scans of otel_spans (the window's traces, then their spans)
    skip the row groups of other times: a 15-minute window costs the same on weeks of data."""
    con = duckdb.connect(str(chained_store), read_only=True)
    try:
        until = con.execute("SELECT epoch_ns(max(timestamp)) + 1 FROM otel_spans").fetchone()[0]  # type: ignore[index]
        params = {"since": until - 10**9, "until": until, "root_service": None, "root_operation": None}
        params["sample_per_million"] = 1_000_000
        read, total = _row_groups_read(con, load_query("traces/window_spans"), params, tmp_path / "w.json")
        everything = con.execute(load_query("traces/window_spans"), params).fetchall()
    finally:
        con.close()
    assert total >= 10 and read <= 4  # two scans of the newest part, not of the store
    assert everything


def test_a_windows_spans_are_found_without_index_rows(chained_store: Path, tmp_path: Path) -> None:
    """DuckDB over the lake has an empty trace index: the window query then reads every span."""
    from storage.trace_queries import window_spans

    copy = tmp_path / "unindexed.duckdb"
    copy.write_bytes(chained_store.read_bytes())
    con = duckdb.connect(str(copy))
    try:
        until = con.execute("SELECT epoch_ns(max(timestamp)) + 1 FROM otel_spans").fetchone()[0]  # type: ignore[index]
        indexed = window_spans(con, until - 10**9, until)
        con.execute("DELETE FROM otel_trace_index")
        unindexed = window_spans(con, until - 10**9, until)
    finally:
        con.close()
    assert len(indexed.trace_ids) > 0
    assert unindexed.trace_ids == indexed.trace_ids
    assert unindexed.start_ns.tolist() == indexed.start_ns.tolist()
