"""The Services and Platforms pages over long windows: exact counts, quantiles of a sample.

Past ``QUANTILE_SPANS`` spans in the window, ``service_red`` takes its quantiles over one
trace in k (by trace-id hash) and says so; counts stay exact. The store here holds 40
traces of one SERVER span each, lasting 1, 2, ..., 40 ms.
"""

from __future__ import annotations

import duckdb
import pytest

import analyzer.query_service.services as services_module
from analyzer.alert_rules import parse_rules
from analyzer.query_service.alert_cells import ScopeCells
from analyzer.query_service.alerts import measure
from analyzer.query_service.graphs import service_graph
from analyzer.query_service.platforms import platforms
from analyzer.query_service.services import data_overview, service_red
from storage.graph_queries import resolve_window
from storage.incident_queries import red_series_rows
from tests.conftest import Running
from tests.trace_builder import TraceBuilder, send

TRACES = 40


def _store(running: Running) -> None:
    t = TraceBuilder(seed=11)
    for number in range(1, TRACES + 1):
        t.new_trace()
        t.span("api", "GET /item", kind="server", start_ms=number * 100, end_ms=number * 100 + number)
    send(running.grpc_endpoint, t.spans)
    assert running.scalar("SELECT count(*) FROM otel_spans") == TRACES


def _sampled_quantiles_ms(con: duckdb.DuckDBPyConnection, sample: int) -> list[float]:
    """p50, p95, p99 of the traces the sample keeps, straight from the spans."""
    (row,) = con.execute(
        "SELECT quantile_cont(duration, [0.5, 0.95, 0.99]) FROM otel_spans WHERE hash(trace_id) % ?::UBIGINT = 0",
        [sample],
    ).fetchall()
    return [round(value / 1e6, 3) for value in row[0]]


def test_quantiles_of_every_request_while_the_window_is_small(running: Running) -> None:
    _store(running)
    assert running.server is not None
    con = running.server.read_cursor()
    (api,) = service_red(con)["services"]
    assert service_red(con)["quantile_sampled_fraction"] == 1.0
    # 1..40 ms: p50 between the 20th and 21st, p95 at 38.05, p99 at 39.61 (linear interpolation)
    assert (api["requests"], api["p50_ms"], api["p95_ms"], api["p99_ms"]) == (TRACES, 20.5, 38.05, 39.61)


def test_quantiles_of_a_sample_of_traces_past_the_limit(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    _store(running)
    assert running.server is not None
    con = running.server.read_cursor()
    monkeypatch.setattr(services_module, "QUANTILE_SPANS", TRACES // 4)  # 40 spans: one trace in 4
    answer = service_red(con)
    (api,) = answer["services"]
    assert answer["quantile_sampled_fraction"] == 0.25
    assert (api["span_count"], api["requests"], api["errors"]) == (TRACES, TRACES, 0)  # counts stay exact
    assert [api["p50_ms"], api["p95_ms"], api["p99_ms"]] == _sampled_quantiles_ms(con, 4)
    assert api["p50_ms"] != 20.5  # the sample's (9 of the 40 traces here), not every request's
    assert sum(api["series"]["requests"]) == TRACES
    detail = service_red(con, service="api")
    assert detail["quantile_sampled_fraction"] == 0.25
    (operation,) = detail["operations"]
    assert operation["requests"] == TRACES and operation["p50_ms"] == api["p50_ms"]


def test_platforms_take_the_same_sample(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    _store(running)
    assert running.server is not None
    con = running.server.read_cursor()
    (entity,) = platforms(con)["entities"]
    assert entity["p95_ms"] == 38.05  # every request's, as above
    monkeypatch.setattr(services_module, "QUANTILE_SPANS", TRACES // 4)
    answer = platforms(con)
    (entity,) = answer["entities"]
    assert answer["quantile_sampled_fraction"] == 0.25
    assert (entity["spans"], entity["p95_ms"]) == (TRACES, _sampled_quantiles_ms(con, 4)[1])


def test_the_graph_and_the_red_series_take_the_same_sample(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """The graph's service nodes and the RED series behind anomalies and insights (which
    take ``quantile_sample``'s k): exact counts, the quantiles of the same one trace in 4."""
    _store(running)
    assert running.server is not None
    con = running.server.read_cursor()
    monkeypatch.setattr(services_module, "QUANTILE_SPANS", TRACES // 4)
    sampled = _sampled_quantiles_ms(con, 4)
    graph = service_graph(con)
    node = graph.nodes["api"]
    assert graph.graph["quantile_sampled_fraction"] == 0.25
    assert (node["span_count"], [node["p50_ms"], node["p95_ms"], node["p99_ms"]]) == (TRACES, sampled)
    window = resolve_window(con, None, None)
    (row,) = [r for r in red_series_rows(con, window, bucket_ns=10**12, sample=4) if r["level"] == "service"]
    assert row["requests"] == TRACES and [round(v, 3) for v in row["latency_ms"]] == sampled
    rules = parse_rules(
        "rules:\n  - {alert: Slow, signal: latency_p50_ms, service: api, above: 1, window: 1d}"
        "\n  - {alert: Failing, signal: error_rate, service: api, above: 0.5, window: 1d}"
    )
    found = measure(con, rules, window.until_ns)  # an alert's window takes the same sample
    assert found["Slow"].value is not None and round(found["Slow"].value, 3) == sampled[0] != 20.5
    assert found["Failing"].value == 0.0


def test_a_large_store_opens_on_the_longest_preset_that_fits(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted, not estimated from the mean rate: a stray span from 1970 does not make the
    last day look quiet."""
    t = TraceBuilder(seed=3)
    newest_ms = 6 * 3600 * 1000
    for second in range(0, 200, 20):  # 10 in the last 5 minutes
        t.new_trace()
        t.span("api", "GET /recent", kind="server", start_ms=newest_ms - second * 1000, end_ms=newest_ms)
    for minute in range(10):  # 10 half an hour before
        t.new_trace()
        t.span("api", "GET /older", kind="server", start_ms=newest_ms - (30 + minute) * 60_000, end_ms=newest_ms)
    for minute in range(10):  # 10 five hours before
        t.new_trace()
        t.span("api", "GET /oldest", kind="server", start_ms=newest_ms - (300 + minute) * 60_000, end_ms=newest_ms)
    stray = TraceBuilder(seed=4, base_ns=0)
    stray.span("api", "GET /skewed", kind="server", start_ms=0, end_ms=1)
    send(running.grpc_endpoint, t.spans + stray.spans)
    assert running.server is not None
    con = running.server.read_cursor()
    overview = data_overview(con)
    assert (overview["spans"], overview["first_ns"], overview["default_range"]) == (31, 0, "all")  # small
    monkeypatch.setattr(services_module, "CONSOLE_SPANS", 20)
    # last 5 and 15 minutes: 10; the hour: 20; 6 and 24 hours: 30
    assert data_overview(con)["default_range"] == "1h"
    monkeypatch.setattr(services_module, "CONSOLE_SPANS", 9)
    assert data_overview(con)["default_range"] == "5m"


def test_a_long_alert_window_is_read_once_in_cells(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past QUANTILE_SPANS an evaluator's long window comes from cells kept between
    evaluations: the same counts as one read of the window, the quantiles within 1 % of
    every request's, and a later evaluation reads only the cells settled since."""
    t = TraceBuilder(seed=12)
    minute_ms = 60_000
    for number in range(1, TRACES + 1):  # one request every 5 minutes for 200 minutes; one in 4 fails
        t.new_trace()
        start = number * 5 * minute_ms
        t.span("api", "GET /item", kind="server", start_ms=start, end_ms=start + number, error=number % 4 == 0)
    send(running.grpc_endpoint, t.spans)
    assert running.server is not None
    con = running.server.read_cursor()
    rules = parse_rules(
        "rules:\n  - {alert: Slow, signal: latency_p95_ms, service: api, above: 1, window: 4h}"
        "\n  - {alert: Failing, signal: error_rate, service: api, above: 0.5, window: 4h}"
    )
    last_ns = con.execute("SELECT epoch_ns(max(timestamp)) FROM otel_spans").fetchall()[0][0]
    cells = ScopeCells()
    for at_ns in (last_ns + 1, last_ns + 12 * 60 * 10**9):  # the second 12 minutes on
        exact = measure(con, rules, at_ns)  # every request: the window is small
        monkeypatch.setattr(services_module, "QUANTILE_SPANS", TRACES // 4)
        kept = measure(con, rules, at_ns, cells)
        monkeypatch.undo()
        assert kept["Failing"].detail == exact["Failing"].detail == {"requests": TRACES, "errors": TRACES // 4}
        assert kept["Failing"].value == exact["Failing"].value == 0.25
        assert kept["Slow"].value == pytest.approx(exact["Slow"].value, rel=0.01)
        if at_ns == last_ns + 1:
            first_read = cells.cells_read
            assert first_read >= 60  # 4 h in cells of 3 minutes, but for the last ones, not settled yet
    assert cells.cells_read - first_read <= 5  # then only the cells settled in 12 minutes
