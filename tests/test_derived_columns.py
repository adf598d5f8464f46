"""The span columns ``otel_traces`` reads from ``span_attributes`` (schema version 5).

Columns none of glimpse's own queries read are no longer stored on each span
(``tracing.semconv.SPAN_DERIVED``); the view derives them by the rule the writer used for
the stored ones, :func:`tracing.semconv.promote`. These tests send spans through a real
server and compare the view with that rule, and migrate a store of schema version 4.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import duckdb
import pytest

import storage.schema
from storage.schema import apply_migrations, current_version
from tests.conftest import Running
from tests.trace_builder import TraceBuilder, send
from tracing.semconv import INTEGER_COLUMNS, SPAN_DERIVED, SPAN_PROMOTED, promote

# every derived column's keys take each value; doubles are left out of the text columns
# (the view writes a double as DuckDB does: 1e+20 reads 100000000000000000000.0)
VALUES: list[Any] = [
    200, -5, 2**62, "200", "+7", "007", " 200", "200\n", "1.5", "", "GET /a", True, False,
    b"200", math.nan, math.inf, None, ["a", 1], {"k": "v"}, {"bytesValue": "x"},
]  # fmt: skip
INTEGER_ONLY: list[Any] = [200.0, 1e20, "9223372036854775808", "-9223372036854775809", 2**63 - 1, [200]]
FALLBACKS: list[dict[str, Any]] = [
    {"http.response.status_code": "abc", "http.status_code": 404},  # an unusable newer key
    {"http.status_code": "503", "net.host.port": 8080, "net.peer.port": "x"},
    {"db.query.text": ["a", "b"], "db.statement": "SELECT 1", "db.operation": "SELECT"},
    {"messaging.operation": "publish", "messaging.operation.type": "send"},
    {"rpc.method": b"raw", "error.type": math.nan},
    {},
]


def _cases() -> list[dict[str, Any]]:
    text_keys = [key for name, keys in SPAN_DERIVED.items() if name not in INTEGER_COLUMNS for key in keys]
    integer_keys = [key for name, keys in SPAN_DERIVED.items() if name in INTEGER_COLUMNS for key in keys]
    cases = [dict.fromkeys(text_keys + integer_keys, value) for value in VALUES]
    cases += [dict.fromkeys(integer_keys, value) for value in INTEGER_ONLY]
    return cases + FALLBACKS


def test_the_view_derives_each_column_as_the_writer_promoted_it(running: Running) -> None:
    """Each span through a real server (raw OTLP/gRPC: bytes, maps and empty values too);
    the view's columns against promote() of the stored attributes, as the writer of schema
    version 4 filled them."""
    cases = _cases()
    builder = TraceBuilder(seed=9)
    spans = [builder.span("derived", f"case {n}", start_ms=n, attributes=case) for n, case in enumerate(cases)]
    send(running.grpc_endpoint, spans)
    rows = running.sql(f"SELECT span_id, span_attributes, {', '.join(SPAN_DERIVED)} FROM otel_traces")
    by_span = {row["span_id"]: row for row in rows}
    assert len(by_span) == len(cases)
    for span, case in zip(spans, cases, strict=True):
        row = by_span[span.span_hex]
        expected = promote(row["span_attributes"], SPAN_DERIVED)
        assert {name: row[name] for name in SPAN_DERIVED} == expected, case
    # the rule itself, on cases computed by hand
    first = len(cases) - len(FALLBACKS)
    hand = [by_span[spans[first + n].span_hex] for n in range(5)]
    assert hand[0]["http_response_status_code"] == 404
    assert (hand[1]["http_response_status_code"], hand[1]["server_port"]) == (503, 8080)
    assert (hand[2]["db_query_text"], hand[2]["db_operation_name"]) == ("SELECT 1", "SELECT")
    assert hand[3]["messaging_operation_type"] == "send"
    assert (hand[4]["rpc_method"], hand[4]["error_type"]) == (None, None)  # bytes and NaN fit no column
    numbers = by_span[spans[VALUES.index(2**62)].span_hex]
    assert (numbers["server_port"], numbers["http_route"]) == (2**62, str(2**62))


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
