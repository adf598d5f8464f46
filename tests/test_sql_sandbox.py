"""The SQL sandbox against every escape we know of, through the API and `glimpse sql`'s file
path, and a heavy query against ingest: it is cut off, and exports stay acknowledged."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from storage.errors import QueryError
from storage.query import run_read_only
from storage.store import open_read_only, open_writable
from tests.conftest import Running
from tests.spans import raw_request

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
FILE = "/etc/hostname"
URL = "http://127.0.0.1:9/x.csv"
DISABLED = "disabled by configuration"
ONLY_SELECT = "only SELECT queries are allowed"
BUILDS = "constant arguments up to 100,000 only"

EXHAUSTED = "Out of Memory|time limit"  # either bound may stop it first


def _says(error: str, message: str) -> bool:
    """Whether ``error`` names ``message`` (or one of its |-separated alternatives)."""
    return any(part in error for part in message.split("|"))


ESCAPES = [
    # files and the network, through every reader and the implicit file scan
    *((f"SELECT * FROM {reader}('{FILE}')", DISABLED) for reader in ("read_csv", "read_csv_auto", "read_text")),
    *((f"SELECT * FROM {reader}('{FILE}')", DISABLED) for reader in ("read_blob", "read_json", "read_parquet")),
    (f"SELECT * FROM read_ndjson_objects('{FILE}')", DISABLED),
    (f"SELECT * FROM sniff_csv('{FILE}')", DISABLED),
    (f"SELECT * FROM parquet_metadata('{FILE}')", DISABLED),
    (f"SELECT * FROM '{FILE}.csv'", DISABLED),
    (f"SELECT * FROM read_csv(['{FILE}', '{FILE}'])", DISABLED),
    (f"SELECT * FROM read_csv('{URL}')", DISABLED),
    (f"SELECT * FROM read_parquet('{URL}')", DISABLED),
    ("SELECT * FROM glob('/etc/*')", DISABLED),
    ("SELECT * FROM sqlite_scan('/tmp/x.db', 't')", "extension"),
    ("SELECT * FROM postgres_scan('host=x', 'public', 't')", "does not exist"),
    ("SELECT * FROM duckdb_secrets()", "is not allowed here"),
    # statements other than one SELECT, however spelled
    ("ATTACH ':memory:' AS other", ONLY_SELECT),
    ("DETACH glimpse", ONLY_SELECT),
    ("USE memory", ONLY_SELECT),
    ("INSTALL httpfs", ONLY_SELECT),
    ("LOAD httpfs", ONLY_SELECT),
    ("COPY otel_spans TO '/tmp/glimpse-escape.csv'", ONLY_SELECT),
    ("COPY (SELECT 1) TO '/tmp/glimpse-escape.csv'", ONLY_SELECT),
    ("EXPORT DATABASE '/tmp/glimpse-escape'", ONLY_SELECT),
    ("SET threads = 64", ONLY_SELECT),
    ("SET enable_external_access = true", ONLY_SELECT),
    ("RESET memory_limit", ONLY_SELECT),
    ("PRAGMA threads = 64", ONLY_SELECT),
    ("CALL checkpoint()", ONLY_SELECT),
    ("CHECKPOINT", ONLY_SELECT),
    ("VACUUM", ONLY_SELECT),
    ("CREATE TABLE t AS SELECT 1", ONLY_SELECT),
    ("CREATE MACRO m() AS 1", ONLY_SELECT),
    ("CREATE SEQUENCE s", ONLY_SELECT),
    ("INSERT INTO otel_resources (resource_key) VALUES (1)", ONLY_SELECT),
    ("UPDATE otel_spans SET span_name = 'x'", ONLY_SELECT),
    ("DELETE FROM otel_spans", ONLY_SELECT),
    ("DROP TABLE otel_spans", ONLY_SELECT),
    ("PIVOT otel_spans ON span_kind", ONLY_SELECT),
    ("SELECT 1; DROP TABLE otel_spans", "expected exactly one SQL statement, got 2"),
    ("SELECT 1; -- nothing\nDELETE FROM otel_spans", "expected exactly one SQL statement, got 2"),
    ("/* SELECT */ DELETE FROM otel_spans", ONLY_SELECT),
    ("SELECT ''; DELETE FROM otel_spans; --'", "expected exactly one SQL statement"),
    # writes hidden inside one SELECT: the read-only transaction refuses them
    ("WITH gone AS (DELETE FROM otel_spans RETURNING *) SELECT count(*) FROM gone", "read-only mode"),
    ("EXPLAIN ANALYZE DELETE FROM otel_spans", "EXPLAIN too, of a SELECT"),
    ("EXPLAIN ANALYZE WITH gone AS (DELETE FROM otel_spans RETURNING *) SELECT * FROM gone", "read-only mode"),
    ("SELECT nextval('glimpse_sequence')", "does not exist"),
    ("SELECT * FROM checkpoint()", "is not allowed here"),
    ("SELECT * FROM force_checkpoint()", "is not allowed here"),
    # SQL hidden in a string, and the environment
    ("SELECT * FROM query('DELETE FROM otel_spans')", "is not allowed here"),
    ("SELECT * FROM query('SELECT 1')", "is not allowed here"),
    ("SELECT * FROM query_table('otel_spans')", "is not allowed here"),
    ("SELECT * FROM json_execute_serialized_sql('{}')", "is not allowed here"),
    ("SELECT getenv('HOME')", "does not exist"),
    # one value whose size the query picks: allocated outside the memory limit, deaf to interrupts
    ("SELECT len(range(1000000000))", BUILDS),
    ("SELECT len(generate_series(1, 1000000000))", BUILDS),
    ("SELECT length(repeat('x', 2147483647))", BUILDS),
    ("SELECT length(repeat(span_name, 100)) FROM otel_spans", BUILDS),
    ("SELECT length(repeat(repeat('x', 1000), 1000))", BUILDS),
    ("SELECT length(lpad('x', 1000000000, 'y'))", BUILDS),
    ("SELECT length(printf('%1000000000s', 'x'))", BUILDS),
    ("SELECT length(format('{:>1000000000}', 'x'))", BUILDS),
    ("SELECT len(list_resize([1], 1000000000))", BUILDS),
    ("EXPLAIN SELECT len(range(1000000000))", BUILDS),
    # bounded by DuckDB's memory limit or the time limit (which comes first depends on the load)
    (
        "WITH RECURSIVE r(s) AS (SELECT 'x' UNION ALL SELECT s || s FROM r) SELECT max(length(s)) FROM r",
        EXHAUSTED,
    ),
    ("SELECT list(range) FROM range(300000000)", EXHAUSTED),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r", "time limit"),
    ("SELECT count(*) FROM range(1000000) a, range(1000000) b WHERE a.range + b.range = 7", "time limit"),
]

STILL_ALLOWED = [
    ("SELECT 1 -- ; DROP TABLE otel_spans", [[1]]),
    ("SELECT 1 /* ; DELETE FROM otel_spans */", [[1]]),
    ("SELECT '; DROP TABLE otel_spans; --' AS s", [["; DROP TABLE otel_spans; --"]]),
    ("SELECT length(repeat('ab', 1000)) AS n", [[2000]]),
    ("SELECT len(range(1000)) AS n", [[1000]]),
    ("SELECT printf('%5d', 42) AS s", [["   42"]]),
    ("SELECT count(*) AS n FROM range(100000)", [[100000]]),
    ("FROM range(2)", [[0], [1]]),
    ("SELECT count(*) > 0 FROM (DESCRIBE otel_spans)", [[True]]),
    ("SELECT value FROM duckdb_settings() WHERE name = 'enable_external_access'", [["false"]]),
    ("SELECT value FROM duckdb_settings() WHERE name = 'lock_configuration'", [["true"]]),
]
TIME_LIMIT_S = 1.0


@pytest.fixture
def spans_before(running: Running) -> Iterator[int]:
    body, _ = raw_request(50, seed=5)
    with grpc.insecure_channel(running.grpc_endpoint) as channel:
        channel.unary_unary(TRACE_EXPORT)(body, timeout=30)
    yield 50
    assert running.scalar("SELECT count(*) FROM otel_spans") == 50  # the escapes changed nothing


def _api_sql(running: Running, sql: str, timeout_s: float = TIME_LIMIT_S) -> httpx.Response:
    return httpx.post(f"{running.api_url}/api/sql", json={"sql": sql, "timeout_s": timeout_s}, timeout=60)


@pytest.mark.slow
def test_api_refuses_every_escape(running: Running, spans_before: int) -> None:
    for sql, message in ESCAPES:
        response = _api_sql(running, sql)
        assert response.status_code == 400, (sql, response.text)
        assert _says(response.json()["error"], message), (sql, response.json()["error"])
    for sql, rows in STILL_ALLOWED:
        response = _api_sql(running, sql)
        assert response.status_code == 200, (sql, response.text)
        assert response.json()["rows"] == rows, sql
    assert not Path("/tmp/glimpse-escape.csv").exists() and not Path("/tmp/glimpse-escape").exists()


@pytest.mark.slow
def test_file_path_of_glimpse_sql_refuses_every_escape(tmp_path: Path) -> None:
    db = tmp_path / "offline.duckdb"
    open_writable(db).close()
    con = open_read_only(db)
    try:
        for sql, message in ESCAPES:
            with pytest.raises(QueryError) as refused:
                run_read_only(con.cursor(), sql, timeout_s=TIME_LIMIT_S)
            # a read-only file refuses writes before the transaction does
            assert _says(str(refused.value), message) or "read-only" in str(refused.value), (sql, str(refused.value))
    finally:
        con.close()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "glimpse",
            "sql",
            "--db",
            str(db),
            "WITH d AS (DELETE FROM otel_spans RETURNING *) FROM d",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "read-only" in done.stderr


def _export_latencies_ms(running: Running, seconds: float, seed: int) -> list[float]:
    """Export 100-span requests one after another for ``seconds``; each one's latency."""
    latencies = []
    with grpc.insecure_channel(running.grpc_endpoint) as channel:
        export = channel.unary_unary(TRACE_EXPORT)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            body, _ = raw_request(100, seed=seed + len(latencies))
            started = time.perf_counter()
            export(body, timeout=30)
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


HEAVY = [
    "SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3",  # CPU, both of DuckDB's threads
    "SELECT max(x) FROM (SELECT range AS x FROM range(300000000) ORDER BY random())",  # memory to the limit
]


@pytest.mark.slow
def test_a_heavy_query_is_cut_off_and_ingest_keeps_acknowledging(running: Running) -> None:
    quiet = _export_latencies_ms(running, 2.0, seed=1_000)
    exports = len(quiet)
    answers: list[httpx.Response] = []
    for number, sql in enumerate(HEAVY, start=1):
        heavy = threading.Thread(target=lambda sql=sql: answers.append(_api_sql(running, sql, timeout_s=3.0)))
        heavy.start()
        time.sleep(1.0)  # the heavy query's read first commits what is journaled (sync)
        second = _api_sql(running, "SELECT 1", timeout_s=0.5)  # one sandbox query at a time
        loaded = _export_latencies_ms(running, 1.5, seed=100_000 * number)
        heavy.join(30)
        exports += len(loaded)
        assert second.status_code == 400 and "another SQL query" in second.json()["error"]
        assert max(loaded) < 2_000, f"{sql}: exports took up to {max(loaded):.0f} ms (quiet: {max(quiet):.0f} ms)"
    assert [answer.status_code for answer in answers] == [400, 400]
    assert all("time limit of 3 s" in answer.json()["error"] for answer in answers), [a.text for a in answers]
    assert running.scalar("SELECT count(*) FROM otel_spans") == 100 * exports  # every export was answered OK
