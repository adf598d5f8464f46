"""`glimpse sql`: read-only, no external access, a row cap, a time limit; server or file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from typer.testing import CliRunner

from glimpse.cli import app
from storage.errors import QueryError
from storage.query import run_read_only
from storage.store import open_writable
from tests.conftest import Running
from tests.otlp_clients import span_exporter
from tests.spans import sdk_spans

REFUSED = [
    ("DROP TABLE otel_traces", "only SELECT queries are allowed (got DROP)"),
    ("INSERT INTO otel_logs (trace_id) VALUES ('x')", "only SELECT queries are allowed (got INSERT)"),
    ("DELETE FROM otel_traces", "only SELECT queries are allowed (got DELETE)"),
    ("COPY otel_traces TO '/tmp/x.csv'", "only SELECT queries are allowed (got COPY)"),
    ("ATTACH '/tmp/other.duckdb'", "only SELECT queries are allowed (got ATTACH)"),
    ("SET threads = 1", "only SELECT queries are allowed (got SET)"),
    ("SELECT 1; SELECT 2", "expected exactly one SQL statement, got 2"),
    ("SELEC 1", "SQL does not parse"),
    ("SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration"),
    ("SELECT * FROM read_parquet('http://127.0.0.1:9/x.parquet')", "disabled by configuration"),
]


def _fill(running: Running, count: int = 30) -> None:
    exporter = span_exporter("grpc", running)
    assert exporter.export(sdk_spans(count, seed=3)) is SpanExportResult.SUCCESS
    exporter.shutdown()


@pytest.mark.parametrize(("sql", "message"), REFUSED)
def test_api_refuses_anything_but_read_only_selects(running: Running, sql: str, message: str) -> None:
    response = httpx.post(f"{running.api_url}/api/sql", json={"sql": sql})
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert running.scalar("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'otel_spans'") == 1
    assert running.scalar("SELECT count(*) FROM duckdb_views() WHERE view_name = 'otel_traces'") == 1


def test_api_caps_rows_and_time(running: Running) -> None:
    _fill(running)
    body = httpx.post(f"{running.api_url}/api/sql", json={"sql": "SELECT * FROM otel_traces", "max_rows": 7}).json()
    assert len(body["rows"]) == 7 and body["truncated"] is True
    slow = "SELECT count(*) FROM range(100000000000) a WHERE a % 7 = 3"
    response = httpx.post(f"{running.api_url}/api/sql", json={"sql": slow, "timeout_s": 0.3})
    assert response.status_code == 400
    assert response.json()["error"] == "query exceeded the time limit of 0.3 s"
    assert httpx.post(f"{running.api_url}/api/sql", content=b"nope").status_code == 400


def test_cli_goes_through_the_running_server(running: Running) -> None:
    _fill(running, count=12)
    result = CliRunner().invoke(
        app, ["sql", "--db", running.db_path, "--format", "json", "SELECT count(*) AS n FROM otel_traces"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"n": 12}]


def _glimpse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "glimpse", *args], capture_output=True, text=True, timeout=60)


def test_cli_opens_the_file_read_only_when_no_server_runs(tmp_path: Path) -> None:
    db = tmp_path / "offline.duckdb"
    con = open_writable(db)
    con.execute("CHECKPOINT")
    con.close()
    ok = _glimpse("sql", "--db", str(db), "--format", "csv", "SELECT 1 AS a, 'x,y' AS b")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == ["a,b", '1,"x,y"']
    refused = _glimpse("sql", "--db", str(db), "DROP TABLE otel_traces")
    assert refused.returncode == 1
    assert refused.stderr.strip() == "error: only SELECT queries are allowed (got DROP)"
    missing = _glimpse("sql", "--db", str(tmp_path / "none.duckdb"), "SELECT 1")
    assert missing.returncode == 1 and "no database at" in missing.stderr


def test_read_only_query_function_reports_truncation(tmp_path: Path) -> None:
    con = open_writable(tmp_path / "q.duckdb")
    try:
        result = run_read_only(con.cursor(), "SELECT * FROM range(5)", max_rows=3)
        assert [row[0] for row in result.rows] == [0, 1, 2] and result.truncated
        with pytest.raises(QueryError, match="only SELECT"):
            run_read_only(con.cursor(), "CREATE TABLE t (a INT)")
    finally:
        con.close()
