"""Logs as first-class data: search, templates with counts, and a trace's logs, through the
CLI, the API and the file, on records sent by the OpenTelemetry SDK's OTLP log exporter.

Ten hand-written records (below) of three services, two traces and no trace, checked
against hand-computed answers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context
from typer.testing import CliRunner

from analyzer.log_templates import template_id
from analyzer.query_service.logs import log_templates, search_logs
from glimpse.cli import app
from storage.log_queries import cut_log_window, parse_severity, severity_name
from storage.window import SpanWindow
from tests.conftest import Running, start_server
from tests.otlp_clients import log_exporter
from tests.trace_builder import BASE_NS, SpanSpec, TraceBuilder, send

MS = 1_000_000
S = 1_000_000_000
USER_TEMPLATE = "User <*> logged in"


class Shop:
    """The spans and log records the tests send, by name."""

    def __init__(self) -> None:
        builder = TraceBuilder(seed=5)
        self.a_root = builder.span("frontend", "GET /login", kind="server", start_ms=0, end_ms=50)
        self.a_auth = builder.span("auth", "Login", kind="server", parent=self.a_root, start_ms=5, end_ms=40)
        builder.new_trace()
        self.b_auth = builder.span("auth", "Login", kind="server", start_ms=1000, end_ms=1100)
        self.spans = builder.spans
        self.trace_a = self.a_root.trace_id.hex()
        self.trace_b = self.b_auth.trace_id.hex()
        self.stray_span = "00000000000000aa"  # in trace A's records, not among its spans
        # (number, service, span or None, ms after BASE_NS, severity number, severity text, body, attributes)
        self.records: list[tuple[int, str, SpanSpec | str | None, int, int, str, str, dict[str, Any]]] = [
            (1, "auth", self.a_auth, 10, 9, "INFO", "User alice logged in",
             {"user.name": "alice", "code.filepath": "auth/login.py", "code.lineno": 42}),
            (2, "auth", self.a_auth, 11, 5, "DEBUG", "Password check took 12 ms",
             {"code.filepath": "auth/login.py", "code.lineno": 57}),
            (3, "frontend", self.a_root, 45, 9, "INFO", "Request GET /login served", {}),
            (4, "auth", self.b_auth, 1010, 9, "INFO", "User bob logged in", {"user.name": "bob"}),
            (5, "auth", self.b_auth, 1050, 13, "WARN", "Login failed for user carol: bad password", {}),
            (6, "auth", self.b_auth, 1090, 17, "ERROR", "Database timeout after 3000 ms", {"db.system.name": "pg"}),
            (7, "cache", None, 2000, 9, "INFO", "Cache warmed with 500 entries", {}),
            (8, "cache", None, 3000, 0, "Warning", "Disk usage high on /var", {}),
            (9, "cache", None, 4000, 0, "", "heartbeat", {}),
            (10, "auth", self.stray_span, 30, 9, "INFO", "Session cache refreshed", {}),
        ]  # fmt: skip

    def time_ns(self, number: int) -> int:
        return BASE_NS + self.records[number - 1][3] * MS

    def message(self, number: int) -> str:
        return self.records[number - 1][6]


SHOP = Shop()
NEWEST_FIRST = [9, 8, 7, 6, 5, 4, 3, 10, 2, 1]


def send_logs(running: Running, shop: Shop) -> None:
    """Every record through the SDK's OTLP/gRPC log exporter, one provider per service."""
    providers: dict[str, LoggerProvider] = {}
    for number, service, span, offset_ms, severity, text, body, attributes in shop.records:
        if service not in providers:
            resource = Resource({"service.name": service, "k8s.pod.name": f"{service}-0"})
            providers[service] = LoggerProvider(resource=resource)
            providers[service].add_log_record_processor(SimpleLogRecordProcessor(log_exporter("grpc", running)))
        context = None
        if span is not None:
            span_id = span if isinstance(span, str) else span.span_hex
            trace_id = shop.trace_a if isinstance(span, str) else span.trace_id.hex()
            span_context = SpanContext(
                int(trace_id, 16), int(span_id, 16), is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)
            )
            context = set_span_in_context(NonRecordingSpan(span_context))
        providers[service].get_logger("shop.logs").emit(
            LogRecord(
                timestamp=BASE_NS + offset_ms * MS,
                observed_timestamp=BASE_NS + offset_ms * MS + 5,
                context=context,
                severity_number=SeverityNumber(severity),
                severity_text=text,
                body=body,
                attributes={"record": number, **attributes},
            )
        )
    for provider in providers.values():
        provider.shutdown()


@pytest.fixture(scope="module")
def shop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server on port 0 holding the shop's spans and log records."""
    server = start_server(tmp_path_factory.mktemp("logs") / "glimpse.duckdb")
    assert server.info is not None
    try:
        running = Running(server, server.info, str(server.settings.db_path))
        send(running.grpc_endpoint, SHOP.spans)
        send_logs(running, SHOP)
        yield running
    finally:
        server.stop()


def api(running: Running, path: str, **params: Any) -> Any:
    response = httpx.get(f"{running.api_url}{path}", params=params, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def numbers(answer: dict[str, Any]) -> list[int]:
    """The shop's record numbers of a search answer, in its order."""
    by_message = {record[6]: record[0] for record in SHOP.records}
    return [by_message[record["message"]] for record in answer["records"]]


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ---- search --------------------------------------------------------------------------------


def test_records_arrive_with_trace_context(shop_server: Running) -> None:
    rows = shop_server.sql("SELECT trace_id, span_id, severity_number FROM otel_logs ORDER BY timestamp")
    assert len(rows) == 10
    assert rows[0]["trace_id"] == SHOP.trace_a and rows[0]["span_id"] == SHOP.a_auth.span_hex


def test_search_without_filters_is_newest_first(shop_server: Running) -> None:
    answer = api(shop_server, "/api/logs")
    assert numbers(answer) == NEWEST_FIRST and answer["truncated"] is False
    assert answer["window"] == {"since_ns": SHOP.time_ns(1), "until_ns": SHOP.time_ns(9) + 1}
    first = answer["records"][-1]
    assert first == {
        "time_ns": SHOP.time_ns(1),
        "service": "auth",
        "instance": "auth-0",
        "severity": "INFO",
        "severity_text": "INFO",
        "severity_number": 9,
        "template_id": template_id(USER_TEMPLATE),
        "template": USER_TEMPLATE,
        "message": "User alice logged in",
        "location": "auth/login.py:42",
        "trace_id": SHOP.trace_a,
        "span_id": SHOP.a_auth.span_hex,
    }
    limited = api(shop_server, "/api/logs", limit=3)
    assert numbers(limited) == [9, 8, 7] and limited["truncated"] is True


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"service": "cache"}, [9, 8, 7]),
        ({"service": "nobody"}, []),
        ({"severity": "WARN"}, [8, 6, 5]),  # 8 has no number: its text "Warning" is WARN
        ({"severity": "warning"}, [8, 6, 5]),
        ({"severity": "ERROR"}, [6]),
        ({"severity": "17"}, [6]),
        ({"severity": "WARN2"}, [6]),  # 14: above WARN's first number, so neither 5 nor 8
        ({"severity": "DEBUG"}, [8, 7, 6, 5, 4, 3, 10, 2, 1]),  # 9 names no level
        ({"trace_id": SHOP.trace_a}, [3, 10, 2, 1]),
        ({"trace_id": SHOP.trace_a.upper()}, [3, 10, 2, 1]),
        ({"span_id": SHOP.a_auth.span_hex}, [2, 1]),
        ({"text": "LOGGED IN"}, [4, 1]),
        ({"text": "/var"}, [8]),
        ({"template": template_id(USER_TEMPLATE)}, [4, 1]),
        ({"template": "user <*> logged in"}, [4, 1]),
        ({"template": "User bob <*>"}, [4]),  # matches the masked message, not the template
        ({"template": "<*> took <NUM> ms"}, [2]),
        ({"template": "000000000000"}, []),
        ({"service": "auth", "severity": "INFO", "text": "user"}, [5, 4, 1]),
        ({"since": str(BASE_NS + 1000 * MS), "until": str(BASE_NS + 2000 * MS)}, [6, 5, 4]),
        ({"since": "2023-11-14T22:13:21Z"}, [9, 8, 7, 6, 5, 4]),  # BASE_NS + 1 s
    ],
)
def test_search_filters(shop_server: Running, params: dict[str, str], expected: list[int]) -> None:
    assert numbers(api(shop_server, "/api/logs", **params)) == expected


def test_cli_search_matches_the_api(shop_server: Running) -> None:
    through_server = cli("logs", "--server", shop_server.api_url, "--service", "auth", "--severity", "warn")
    assert numbers(through_server) == [6, 5]
    found_by_file_path = cli("logs", "--db", shop_server.db_path, "--trace-id", SHOP.trace_b, "--limit", "2")
    assert numbers(found_by_file_path) == [6, 5] and found_by_file_path["truncated"] is True
    args = ["logs", "--db", shop_server.db_path, "--span-id", SHOP.a_auth.span_hex]
    table = CliRunner().invoke(app, args, env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    for text in ("Password check took 12 ms", "User alice logged in", "DEBUG", template_id(USER_TEMPLATE)[:6]):
        assert text in table.stdout, text


# ---- templates -----------------------------------------------------------------------------


def test_templates_of_the_window_with_counts(shop_server: Running) -> None:
    answer = api(shop_server, "/api/logs/templates")
    assert answer["records"] == 10 and answer["truncated"] is False
    assert [entry["template"] for entry in answer["templates"]] == [
        USER_TEMPLATE,  # the only one seen twice, then by text
        "Cache warmed with <NUM> entries",
        "Database timeout after <NUM> ms",
        "Disk usage high on /var",
        "Login failed for user carol: bad password",
        "Password check took <NUM> ms",
        "Request GET /login served",
        "Session cache refreshed",
        "heartbeat",
    ]
    users = answer["templates"][0]
    assert users == {
        "template_id": template_id(USER_TEMPLATE),
        "template": USER_TEMPLATE,
        "count": 2,
        "severities": {"INFO": 2},
        "services": {"auth": 2},
        "first_ns": SHOP.time_ns(1),
        "last_ns": SHOP.time_ns(4),
        "example": "User alice logged in",
        "location": "auth/login.py:42",
    }
    disk = next(entry for entry in answer["templates"] if entry["template"].startswith("Disk"))
    assert disk["severities"] == {"WARN": 1} and disk["services"] == {"cache": 1} and disk["count"] == 1
    heartbeat = answer["templates"][-1]
    assert heartbeat["severities"] == {"UNSPECIFIED": 1} and heartbeat["location"] == ""


def test_templates_filtered_keep_the_windows_ids(shop_server: Running) -> None:
    window = api(shop_server, "/api/logs/templates")
    everything = {entry["template"]: entry["template_id"] for entry in window["templates"]}
    auth = api(shop_server, "/api/logs/templates", service="auth")
    assert auth["records"] == 6
    assert [(entry["template"], entry["count"]) for entry in auth["templates"]] == [
        (USER_TEMPLATE, 2),
        ("Database timeout after <NUM> ms", 1),
        ("Login failed for user carol: bad password", 1),
        ("Password check took <NUM> ms", 1),
        ("Session cache refreshed", 1),
    ]
    assert all(entry["template_id"] == everything[entry["template"]] for entry in auth["templates"])
    severe = api(shop_server, "/api/logs/templates", severity="WARN")
    assert {entry["template"]: entry["severities"] for entry in severe["templates"]} == {
        "Database timeout after <NUM> ms": {"ERROR": 1},
        "Disk usage high on /var": {"WARN": 1},
        "Login failed for user carol: bad password": {"WARN": 1},
    }
    one = api(shop_server, "/api/logs/templates", template="User <*> logged in", limit=1)
    assert [entry["count"] for entry in one["templates"]] == [2] and one["truncated"] is False
    two = api(shop_server, "/api/logs/templates", limit=2)
    assert len(two["templates"]) == 2 and two["truncated"] is True


def _emit(running: Running, records: list[tuple[int, str, str]], times_ms: list[int] | None = None) -> None:
    """(severity number, severity text, body) records of one service, a millisecond apart
    (or at ``times_ms`` after BASE_NS)."""
    provider = LoggerProvider(resource=Resource({"service.name": "orders"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter("grpc", running)))
    logger = provider.get_logger("orders.logs")
    for index, (number, text, body) in enumerate(records):
        time_ns = BASE_NS + (index if times_ms is None else times_ms[index]) * MS
        severity = SeverityNumber(number)
        logger.emit(LogRecord(timestamp=time_ns, severity_number=severity, severity_text=text, body=body))
    provider.shutdown()


def test_templates_of_many_records_sample_the_levels_below_warn(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past TEMPLATE_RECORDS, every record at WARN or above is counted and one in n of the
    others, each of those counting n times."""
    infos = [(9, "INFO", f"Handled order {i} in {i % 7} ms") for i in range(60)]
    warnings = [(13, "WARN", f"Retrying payment {i}") for i in range(4)] + [(0, "Warning", "Disk usage high")] * 2
    errors = [(17, "ERROR", f"Payment {i} failed") for i in range(2)]
    server = start_server(db_path)
    assert server.info is not None
    try:
        _emit(Running(server, server.info, str(db_path)), infos + warnings + errors)
    finally:
        server.stop()
    exact = cli("logs", "--db", str(db_path), "--templates")
    assert exact["record_sample"] is None and exact["records"] == 68
    monkeypatch.setattr("analyzer.query_service.logs.TEMPLATE_RECORDS", 10)
    sampled = cli("logs", "--db", str(db_path), "--templates")
    assert sampled["record_sample"] == {"levels_below": "WARN", "one_in": 7}  # 68 records / 10, rounded up
    counts = {entry["template"]: entry["count"] for entry in sampled["templates"]}
    with duckdb.connect(str(db_path), read_only=True) as con:  # the records of INFO the sample keeps
        (kept,) = con.execute(
            "SELECT count(*) FROM otel_logs WHERE severity_number = 9 AND hash(timestamp, body) % 7 = 0"
        ).fetchone() or (0,)
    assert 0 < kept < 60
    assert counts == {
        "Handled order <NUM> in <NUM> ms": 7 * kept,
        "Retrying payment <NUM>": 4,
        "Disk usage high": 2,
        "Payment <NUM> failed": 2,
    }
    assert sampled["records"] == 7 * kept + 8
    found = cli("logs", "--db", str(db_path), "--severity", "WARN", "--limit", "10")
    assert len(found["records"]) == 8, "a search is never sampled"


def test_a_window_of_more_records_than_a_query_holds_is_read_in_slices(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Searches and templates read slice by slice answer as one read of the window."""
    records = [(9 if i % 5 else 17, "", f"Step {i % 4} of order {i}") for i in range(40)]
    server = start_server(db_path)
    assert server.info is not None
    try:
        # the first three sent twice: the same records, which count once
        _emit(Running(server, server.info, str(db_path)), records + records[:3], [*range(40), 0, 1, 2])
    finally:
        server.stop()
    asks = [
        ["--limit", "7"],
        ["--limit", "100"],
        ["--severity", "ERROR", "--limit", "3"],
        ["--template", "Step <*> of order <*>", "--limit", "5"],
        ["--templates"],
        ["--templates", "--severity", "ERROR"],
    ]
    whole = [cli("logs", "--db", str(db_path), *ask) for ask in asks]
    monkeypatch.setattr("storage.log_queries.LOG_BYTES_PER_RECORD", 2**50)  # DuckDB's memory holds one record
    with duckdb.connect(str(db_path), read_only=True) as con:
        slices = cut_log_window(con, SpanWindow(BASE_NS, BASE_NS + S)).slices
    assert len(slices) == 40 and slices[0].since_ns == BASE_NS and slices[-1].until_ns == BASE_NS + S
    assert [cli("logs", "--db", str(db_path), *ask) for ask in asks] == whole
    assert [len(answer["records"]) for answer in whole[:4]] == [7, 40, 3, 5]
    assert whole[4]["records"] == 40 and whole[5]["records"] == 8


def test_a_request_counts_the_windows_records_once(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The sample, the mining and the search (or the counts) share one cut of the window."""
    records = [(9 if i % 3 else 17, "", f"Step {i % 4} of order {i}") for i in range(12)]
    server = start_server(db_path)
    assert server.info is not None
    try:
        _emit(Running(server, server.info, str(db_path)), records)
    finally:
        server.stop()
    monkeypatch.setattr("storage.log_queries.LOG_BYTES_PER_RECORD", 2**50)  # a slice a record
    window = {"since_ns": BASE_NS, "until_ns": BASE_NS + S}
    with duckdb.connect(str(db_path), read_only=True) as con:
        for ask in (
            lambda: search_logs(con, **window, limit=5),
            lambda: search_logs(con, **window, template="Step <*> of order <*>"),
            lambda: log_templates(con, **window),
            lambda: log_templates(con, **window, severity="ERROR"),
        ):
            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger="storage.named_queries"):
                answer = ask()
            queries = [record.getMessage().split()[1].rstrip(":") for record in caplog.records]
            assert queries.count("logs/slice_cells") == 1 and "logs/count" not in queries, queries
            assert answer["records"]  # and the answer is there
    assert len(answer["templates"]) == 1 and answer["records"] == 4  # the ERROR records: 0, 3, 6, 9


def test_cli_templates(shop_server: Running) -> None:
    answer = cli("logs", "--server", shop_server.api_url, "--templates", "--service", "auth")
    assert answer == api(shop_server, "/api/logs/templates", service="auth")
    table = CliRunner().invoke(app, ["logs", "--templates", "--db", shop_server.db_path], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert USER_TEMPLATE in table.stdout and "auth 2" in table.stdout and "INFO 2" in table.stdout


# ---- a trace's logs ------------------------------------------------------------------------


def test_trace_view_includes_each_spans_logs(shop_server: Running) -> None:
    detail = api(shop_server, f"/api/traces/{SHOP.trace_a}")
    spans = {span["span_id"]: span for span in detail["spans"]}
    assert [record["message"] for record in spans[SHOP.a_root.span_hex]["logs"]] == [SHOP.message(3)]
    alice, password = spans[SHOP.a_auth.span_hex]["logs"]
    assert alice == {
        "time_ns": SHOP.time_ns(1),
        "offset_ns": 10 * MS,
        "instance": "auth-0",
        "severity": "INFO",
        "severity_text": "INFO",
        "severity_number": 9,
        "event_name": "",
        "message": "User alice logged in",
        "template_id": template_id(USER_TEMPLATE),  # mined with bob's record, 1 s later
        "template": USER_TEMPLATE,
        "attributes": {"record": 1, "user.name": "alice", "code.filepath": "auth/login.py", "code.lineno": 42},
    }
    assert password["severity"] == "DEBUG" and password["template"] == "Password check took <NUM> ms"
    (stray,) = detail["unattached_logs"]
    assert stray["message"] == SHOP.message(10) and stray["span_id"] == SHOP.stray_span
    assert stray["service"] == "auth" and stray["offset_ns"] == 30 * MS
    assert detail["log_count"] == 4
    assert detail["logs_window"] == {"since_ns": BASE_NS - 60 * S, "until_ns": BASE_NS + 61 * S}
    # the CLI's trace view (critical-path --json) carries the same records, through the same query
    path = cli("critical-path", SHOP.trace_a, "--server", shop_server.api_url)
    cli_logs = {span["span_id"]: span["logs"] for span in path["spans"]}
    assert cli_logs[SHOP.a_auth.span_hex][0] == {k: v for k, v in alice.items() if k != "offset_ns"}
    assert path["log_count"] == 4 and path["unattached_logs"][0]["message"] == SHOP.message(10)
    args = ["critical-path", SHOP.trace_a, "--db", shop_server.db_path]
    waterfall = CliRunner().invoke(app, args, env={"COLUMNS": "250"})
    assert waterfall.exit_code == 0 and "4 log record(s)" in waterfall.stdout


def test_trace_without_logs(shop_server: Running) -> None:
    builder = TraceBuilder(seed=9)
    lonely = builder.span("frontend", "GET /health", kind="server", start_ms=5000, end_ms=5001)
    send(shop_server.grpc_endpoint, builder.spans)
    detail = api(shop_server, f"/api/traces/{lonely.trace_id.hex()}")
    assert detail["spans"][0]["logs"] == [] and detail["unattached_logs"] == []
    assert detail["log_count"] == 0 and detail["logs_window"] is None


# ---- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/logs", "/api/logs/templates"])
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"trace_id": "xyz"}, "trace id"),
        ({"trace_id": "0" * 33}, "trace id"),
        ({"span_id": "12"}, "span id"),
        ({"severity": "loud"}, "unknown severity"),
        ({"severity": "25"}, "1 to 24"),
        ({"severity": "0"}, "1 to 24"),
        ({"since": "yesterday"}, "RFC 3339"),
        ({"until": "2023-11-14T22:13:21"}, "UTC offset"),
        ({"limit": "0"}, "limit"),
        ({"limit": "10001"}, "limit"),
        ({"limit": "²"}, "limit"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_bad_input_is_a_400(shop_server: Running, path: str, params: dict[str, str], message: str) -> None:
    response = httpx.get(f"{shop_server.api_url}{path}", params=params, timeout=30)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trace-id", "xyz"], "not a trace id"),
        (["--severity", "loud"], "unknown severity"),
        (["--since", "yesterday"], "RFC 3339"),
        (["--limit", "0"], "limit must be"),
        (["--templates", "--span-id", "zz"], "not a span id"),
    ],
)
def test_cli_refuses_bad_input_in_one_line(shop_server: Running, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["logs", "--server", shop_server.api_url, *args])
    assert result.exit_code == 1
    assert result.stderr.startswith("error:") and message in result.stderr and result.stderr.count("\n") == 1


def test_logs_on_the_file_and_on_an_empty_store(db_path: Path) -> None:
    """Without a server the CLI opens the file read-only and answers the same."""
    server = start_server(db_path)
    assert server.info is not None
    try:
        running = Running(server, server.info, str(db_path))
        empty = api(running, "/api/logs")
        assert empty["records"] == [] and api(running, "/api/logs/templates")["templates"] == []
        send(running.grpc_endpoint, SHOP.spans)
        send_logs(running, SHOP)
        through_api = api(running, "/api/logs/templates", service="auth")
        records_through_api = api(running, "/api/logs", severity="WARN")
    finally:
        server.stop()
    assert cli("logs", "--db", str(db_path), "--templates", "--service", "auth") == through_api
    assert cli("logs", "--db", str(db_path), "--severity", "WARN") == records_through_api
    path = cli("critical-path", SHOP.trace_b, "--db", str(db_path))
    assert [record["message"] for record in path["spans"][0]["logs"]] == [SHOP.message(n) for n in (4, 5, 6)]


# ---- severity levels -----------------------------------------------------------------------


def test_severity_levels() -> None:
    names = ("TRACE", "debug", "Info", "WARN", "error", "FATAL")
    assert [parse_severity(text) for text in names] == [1, 5, 9, 13, 17, 21]
    others = ("1", "24", "ERROR4", "err", "critical", "warning")
    assert [parse_severity(text) for text in others] == [1, 24, 20, 17, 21, 13]
    for bad in ("", "0", "25", "LOUD", "WARNING2", "-3", "\u0661\u0667"):  # Arabic-Indic 17: not ASCII digits
        with pytest.raises(ValueError):
            parse_severity(bad)
    assert [severity_name(number, "") for number in (0, 1, 4, 5, 12, 13, 16, 17, 21, 24)] == [
        "UNSPECIFIED", "TRACE", "TRACE", "DEBUG", "INFO", "WARN", "WARN", "ERROR", "FATAL", "FATAL",
    ]  # fmt: skip
    assert severity_name(0, "err") == "ERROR" and severity_name(9, "ERROR") == "INFO"  # the number wins
