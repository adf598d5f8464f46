"""TraceQL spanset filters: what the parser makes of them (hand-computed), what it refuses and
how it says so, and which spans the SQL of a span filter selects (on a table of six spans)."""

from __future__ import annotations

import duckdb
import pytest

from analyzer.errors import InvalidQueryError
from glimpse.traceql import TraceQLFilter, parse_field, parse_traceql
from storage.span_filters import AllOf, AnyOf, Attribute, Comparison, Intrinsic, span_filter_sql

MS = 1_000_000


def cmp(field: Intrinsic | Attribute, op: str, value: object) -> Comparison:
    return Comparison(field, op, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{}", TraceQLFilter(None)),
        ("{ true }", TraceQLFilter(None)),
        ("", TraceQLFilter(None)),
        (
            '{ resource.service.name = "x" && name = "y" && duration > 100ms && status = error && span.attr = "v" }',
            TraceQLFilter(
                AllOf(
                    (
                        cmp(Intrinsic("service"), "=", "x"),
                        cmp(Intrinsic("name"), "=", "y"),
                        cmp(Intrinsic("duration"), ">", 100 * MS),
                        cmp(Intrinsic("status"), "=", "Error"),
                        cmp(Attribute("attr", "span"), "=", "v"),
                    )
                )
            ),
        ),
        (
            '{ .http.status_code >= 500 || kind = client && name != "a" }',  # && binds tighter
            TraceQLFilter(
                AnyOf(
                    (
                        cmp(Attribute("http.status_code", "any"), ">=", 500),
                        AllOf((cmp(Intrinsic("kind"), "=", "Client"), cmp(Intrinsic("name"), "!=", "a"))),
                    )
                )
            ),
        ),
        (
            '{ (span.a < 1.5 || span.b = true) && statusMessage =~ "time.*" }',
            TraceQLFilter(
                AllOf(
                    (
                        AnyOf((cmp(Attribute("a", "span"), "<", 1.5), cmp(Attribute("b", "span"), "=", True))),
                        cmp(Intrinsic("status_message"), "=~", "time.*"),
                    )
                )
            ),
        ),
        (
            "{ span:name !~ `GET .*` && span:duration <= 1m30s && span:status != ok }",
            TraceQLFilter(
                AllOf(
                    (
                        cmp(Intrinsic("name"), "!~", "GET .*"),
                        cmp(Intrinsic("duration"), "<=", 90_000 * MS),
                        cmp(Intrinsic("status"), "!=", "Ok"),
                    )
                )
            ),
        ),
        ('{ span."my key" = "a \\"b\\"" }', TraceQLFilter(cmp(Attribute("my key", "span"), "=", 'a "b"'))),
        ("{ resource.region = -3 }", TraceQLFilter(cmp(Attribute("region", "resource"), "=", -3))),
        ('{ traceDuration > 2s && name = "x" }', TraceQLFilter(cmp(Intrinsic("name"), "=", "x"), 2_000 * MS + 1)),
        ("{ trace:duration <= 3s && traceDuration >= 1s }", TraceQLFilter(None, 1_000 * MS, 3_000 * MS)),
    ],
)
def test_spanset_filters_parse_into_span_filters(text: str, expected: TraceQLFilter) -> None:
    assert parse_traceql(text) == expected


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ('{ name = "a" } | count() > 1', "pipelines", 16),
        ('{ name = "a" } && { name = "b" }', "operations between spansets", 16),
        ('{ name = "a" } >> { name = "b" }', "operations between spansets", 16),
        ('{ !(name = "a") }', "negation with ! is not supported", 3),
        ("{ span.x + 1 > 2 }", "arithmetic is not supported", 10),
        ('{ rootServiceName = "x" }', "'rootServiceName' is not a field", 3),
        ("{ name = 5 }", "name compares with a string", 10),
        ("{ status = 500 }", "status compares with = or != to one of error, ok, unset", 12),
        ("{ kind > server }", "kind compares with = or !=", 10),
        ("{ duration > 5 }", "duration compares with a duration", 14),
        ("{ span.a = 1s }", "only duration and traceDuration compare with durations", 12),
        ("{ name =~ 5 }", "=~ and !~ take a string", 11),
        ("{ span.a > true }", "booleans compare with = or !=", 12),
        ('{ (traceDuration > 1s || name = "a") }', "traceDuration only as a condition of the whole filter", 4),
        ('{ name = "a" ', "expected '}', found the end of the query", 14),
        ('name = "a"', "expected '{'", 1),
        ('{ name = "a" $ }', "unexpected character '$'", 14),
    ],
)
def test_anything_else_is_refused_with_what_and_where(text: str, message: str, column: int) -> None:
    with pytest.raises(InvalidQueryError) as refused:
        parse_traceql(text)
    assert message in str(refused.value)
    assert f"(at column {column})" in str(refused.value)


def test_fields_name_intrinsics_and_scoped_attributes() -> None:
    assert parse_field("name") == Intrinsic("name")
    assert parse_field("span:statusMessage") == Intrinsic("status_message")
    assert parse_field("resource.service.name") == Intrinsic("service")
    assert parse_field("resource.k8s.pod.name") == Attribute("k8s.pod.name", "resource")
    assert parse_field('span."a b"') == Attribute("a b", "span")
    assert parse_field(".x") == Attribute("x", "any")
    assert parse_field("rootName") is None


# six spans: name, status, kind, duration (ms), service, span attributes, resource attributes
SPANS = [
    ("GET /a", "Ok", "Server", 5, "shop", '{"code": 200, "ok": true, "tier": "gold"}', '{"region": "eu"}'),
    ("GET /b", "Error", "Server", 150, "shop", '{"code": 500, "ratio": 0.25}', '{"region": "us"}'),
    ("POST /pay", "Error", "Client", 90, "shop", '{"code": "500"}', '{"region": "eu"}'),
    ("charge", "Unset", "Internal", 80, "pay", "{}", '{"tier": "gold", "region": "us"}'),
    ("query", "Unset", "Client", 1, "pay", '{"db": "pg", "ok": false}', "{}"),
    ("GET /health", "Ok", "Server", 2, "shop", '{"code": 204}', '{"region": "eu"}'),
]


@pytest.fixture(scope="module")
def spans() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE otel_traces (span_name VARCHAR, status_code VARCHAR, span_kind VARCHAR, duration BIGINT, "
        "service_name VARCHAR, span_attributes JSON, resource_attributes JSON, status_message VARCHAR)"
    )
    for name, status, kind, ms, service, span_attributes, resource_attributes in SPANS:
        con.execute(
            "INSERT INTO otel_traces VALUES (?, ?, ?, ?, ?, ?, ?, '')",
            [name, status, kind, ms * MS, service, span_attributes, resource_attributes],
        )
    return con


def selected(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    span_filter = parse_traceql(query).span_filter
    assert span_filter is not None
    condition, params = span_filter_sql(span_filter)
    return [row[0] for row in con.execute(f"SELECT span_name FROM otel_traces WHERE {condition}", params).fetchall()]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('{ resource.service.name = "pay" }', ["charge", "query"]),
        ("{ status = error && kind = server }", ["GET /b"]),
        ("{ duration > 80ms }", ["GET /b", "POST /pay"]),
        ("{ duration >= 80ms && duration < 100ms }", ["POST /pay", "charge"]),
        ('{ name =~ "GET .*" }', ["GET /a", "GET /b", "GET /health"]),
        ('{ name =~ "GET" }', []),  # a regular expression matches the whole value
        ('{ name !~ "GET .*" && kind = client }', ["POST /pay", "query"]),
        # typed: the number 500 is not the string "500"
        ("{ span.code = 500 }", ["GET /b"]),
        ('{ span.code = "500" }', ["POST /pay"]),
        ("{ span.code >= 204 }", ["GET /b", "GET /health"]),
        ("{ span.ratio < 0.5 }", ["GET /b"]),
        ("{ span.ok = false }", ["query"]),
        # != is false where the attribute is missing, as in TraceQL
        ('{ span.db != "mysql" }', ["query"]),
        # unscoped: the span's attributes or its resource's
        ('{ .tier = "gold" }', ["GET /a", "charge"]),
        ('{ span.tier = "gold" }', ["GET /a"]),
        ('{ resource.region = "us" || span.db = "pg" }', ["GET /b", "charge", "query"]),
        ('{ (resource.region = "eu" && status = ok) || name = "charge" }', ["GET /a", "charge", "GET /health"]),
    ],
)
def test_the_sql_of_a_filter_selects_the_spans_by_hand(
    spans: duckdb.DuckDBPyConnection, query: str, expected: list[str]
) -> None:
    assert sorted(selected(spans, query)) == sorted(expected)


def test_text_comparisons_match_any_type_as_jaeger_tags_do(spans: duckdb.DuckDBPyConnection) -> None:
    condition, params = span_filter_sql(Comparison(Attribute("code"), "=", "500", as_text=True))
    rows = spans.execute(f"SELECT span_name FROM otel_traces WHERE {condition} ORDER BY 1", params).fetchall()
    assert [row[0] for row in rows] == ["GET /b", "POST /pay"]
