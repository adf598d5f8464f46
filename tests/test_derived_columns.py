"""The span columns ``otel_traces`` reads from ``span_attributes`` (schema version 5).

Columns none of glimpse's own queries read are no longer stored on each span
(``tracing.semconv.SPAN_DERIVED``); the view derives them by the rule the writer used for
the stored ones, :func:`tracing.semconv.promote`. These tests send spans through a real
server and compare the view with that rule, and migrate a store of schema version 4.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanContext

import storage.schema
from storage.schema import apply_migrations, current_version
from tests.conftest import Running
from tests.otlp_clients import span_exporter
from tracing.semconv import INTEGER_COLUMNS, SPAN_DERIVED, SPAN_PROMOTED, promote

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
START = 1_700_000_000_000_000_000

# every derived column's keys take each value; doubles are left out of the text columns
# (the view writes a double as DuckDB does: 1e+20 reads 100000000000000000000.0)
VALUES: list[Any] = [200, -5, 2**62, "200", "+7", "007", " 200", "200\n", "1.5", "", "GET /a", True, False]
INTEGER_ONLY: list[Any] = [200.0, "9223372036854775808", [200], ["a", "b"]]
FALLBACKS: list[dict[str, Any]] = [
    {"http.response.status_code": "abc", "http.status_code": 404},  # an unusable newer key
    {"http.status_code": "503", "net.host.port": 8080, "net.peer.port": "x"},
    {"db.query.text": ["a", "b"], "db.statement": "SELECT 1", "db.operation": "SELECT"},
    {"messaging.operation": "publish", "messaging.operation.type": "send"},
    {},
]


def _cases() -> list[dict[str, Any]]:
    text_keys = [key for name, keys in SPAN_DERIVED.items() if name not in INTEGER_COLUMNS for key in keys]
    integer_keys = [key for name, keys in SPAN_DERIVED.items() if name in INTEGER_COLUMNS for key in keys]
    cases = [dict.fromkeys(text_keys + integer_keys, value) for value in VALUES]
    cases += [dict.fromkeys(integer_keys, value) for value in INTEGER_ONLY]
    return cases + FALLBACKS


def _span(number: int, attributes: dict[str, Any]) -> ReadableSpan:
    return ReadableSpan(
        name=f"case {number}",
        context=SpanContext(TRACE_ID, number + 1, is_remote=False),
        resource=Resource({"service.name": "derived"}),
        attributes=attributes,
        start_time=START + number,
        end_time=START + number + 10,
    )


def test_the_view_derives_each_column_as_the_writer_promoted_it(running: Running) -> None:
    cases = _cases()
    exporter = span_exporter("grpc", running)
    assert exporter.export([_span(number, case) for number, case in enumerate(cases)]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    rows = running.sql(f"SELECT span_id, {', '.join(SPAN_DERIVED)} FROM otel_traces ORDER BY span_id")
    assert len(rows) == len(cases)
    for row, case in zip(rows, cases, strict=True):
        expected = promote(case, SPAN_DERIVED)
        assert {name: row[name] for name in SPAN_DERIVED} == expected, case
    # spot checks of the rule itself, computed by hand
    by_case = {row["span_id"]: row for row in rows}
    fallback = by_case[f"{len(cases) - len(FALLBACKS) + 1:016x}"]
    assert fallback["http_response_status_code"] == 404
    second = by_case[f"{len(cases) - len(FALLBACKS) + 2:016x}"]
    assert (second["http_response_status_code"], second["server_port"]) == (503, 8080)
    third = by_case[f"{len(cases) - len(FALLBACKS) + 3:016x}"]
    assert (third["db_query_text"], third["db_operation_name"]) == ("SELECT 1", "SELECT")


def test_the_derived_columns_are_not_stored(running: Running) -> None:
    stored = {row["column_name"] for row in running.sql("SELECT column_name FROM (DESCRIBE otel_spans)")}
    assert stored.isdisjoint(SPAN_DERIVED) and set(SPAN_PROMOTED) <= stored
    view = [row["column_name"] for row in running.sql("SELECT column_name FROM (DESCRIBE otel_traces)")]
    assert set(SPAN_DERIVED) <= set(view)


def test_a_version_4_store_keeps_its_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v4.duckdb"
    every = storage.schema.migrations()
    monkeypatch.setattr(storage.schema, "migrations", lambda: [m for m in every if m[0] <= 4])
    con = duckdb.connect(str(path))
    assert apply_migrations(con) == 4
    attributes = '{"http.status_code":"503","db.statement":"SELECT 1","rpc.method":"Pay","net.peer.port":5432}'
    con.execute(
        "INSERT INTO otel_spans (timestamp, trace_id, span_id, parent_span_id, trace_state, flags, span_name,"
        " span_kind, service_name, resource_key, span_attributes, duration, status_code, status_message,"
        " events, links, dropped_attributes_count, dropped_events_count, dropped_links_count,"
        " http_response_status_code, db_query_text, rpc_method, server_port)"
        " VALUES (now(), 'a', 'b', '', '', 0, 's', 'Client', 'svc', 1, ?, 1, 'Unset', '', [], [], 0, 0, 0,"
        " 503, 'SELECT 1', 'Pay', 5432)",
        [attributes],
    )
    monkeypatch.undo()
    assert apply_migrations(con) == current_version(con) == 5
    row = con.execute(
        "SELECT http_response_status_code, db_query_text, rpc_method, server_port, error_type FROM otel_traces"
    ).fetchall()
    assert row == [(503, "SELECT 1", "Pay", 5432, None)]
    columns = {name for (name,) in con.execute("SELECT column_name FROM (DESCRIBE otel_spans)").fetchall()}
    assert columns.isdisjoint(SPAN_DERIVED)
    con.close()
