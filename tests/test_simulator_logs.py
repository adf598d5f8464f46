"""The simulator's logs and its log- and network-level faults, through the real SDK into a real server.

One run of the shop carries four faults in its last two minutes, on services that do not
call each other's targets: ``code_error`` on product-catalog, ``code_exception`` on cart,
``network`` on recommendation and ``errors`` on payment (for the failure lines).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Running, start_server
from tracing.simulator.engine import Engine, SimSpan
from tracing.simulator.faults import CODE_FAULTS, Effects, Fault, FaultError, fault_targets
from tracing.simulator.logs import Narrator, template_pattern
from tracing.simulator.runner import build_instances, run_history
from tracing.simulator.topology import load_topology

START_NS = 1_700_000_000_000_000_000
FAULT_FROM_S, END_S = 120, 240
FAULT_NS = START_NS + FAULT_FROM_S * 10**9
FAULTS = [
    Fault("code_error", "product-catalog", FAULT_FROM_S, END_S),
    Fault("code_exception", "cart", FAULT_FROM_S, END_S),
    Fault("network", "recommendation", FAULT_FROM_S, END_S),
    Fault("errors", "payment", FAULT_FROM_S, END_S, magnitude=0.5),
]
BODY = "(body->>'$')"
WINDOW = f"CASE WHEN epoch_ns(timestamp) >= {FAULT_NS} THEN 'fault' ELSE 'normal' END"


def serve(folder: Path) -> Running:
    server = start_server(folder / "glimpse.duckdb")
    assert server.info is not None
    return Running(server, server.info, str(folder / "glimpse.duckdb"))


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, int]]:
    """Four simulated minutes of the shop (logs on by default), the faults in the last two: (server, logs sent)."""
    running = serve(tmp_path_factory.mktemp("logs"))
    try:
        result = run_history(
            "shop", running.grpc_endpoint, start_ns=START_NS, duration_s=END_S, seed=5, faults=FAULTS, rate_per_s=4
        )
        assert [label["type"] for label in result.labels] == [f.type for f in FAULTS]
        assert all(label["target"]["kind"] == "service" for label in result.labels)
        yield running, result.logs
    finally:
        assert running.server is not None
        running.server.stop()


def by(rows: list[dict[str, Any]], *keys: str) -> dict[Any, Any]:
    """``rows`` keyed by ``keys`` (a tuple for several), valued by their last column."""
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: list(r.values())[-1] for r in rows}


def error_return_pattern() -> str:
    """A regular expression for the code_error lines of every service."""
    shop = load_topology("shop")
    narrator = Narrator(shop, 0)
    templates = {
        narrator.plan(s, o).error_return.template
        for s, svc in shop.services.items()
        if narrator.logs(s)
        for o in svc.operations
    }
    return "|".join(f"({template_pattern(t)})" for t in sorted(templates))


def test_logs_are_stored_and_tied_to_their_spans(shop: tuple[Running, int]) -> None:
    running, sent = shop
    assert running.scalar("SELECT count(*) FROM otel_logs") == sent > 5_000
    inside = running.scalar(
        "SELECT count(*) FROM otel_logs l JOIN otel_traces t USING (trace_id, span_id) "
        "WHERE l.timestamp >= t.timestamp AND epoch_ns(l.timestamp) <= epoch_ns(t.timestamp) + t.duration "
        "AND l.service_name = t.service_name AND l.flags = 1"
    )
    assert inside == sent  # every record carries its span's ids and flags, and a time inside it
    severities = by(running.sql("SELECT DISTINCT severity_text, severity_number FROM otel_logs"), "severity_text")
    assert severities == {"INFO": 9, "WARN": 13, "ERROR": 17}
    topology = load_topology("shop")
    services = by(
        running.sql(
            "SELECT service_name, bool_and(log_attributes->>'$.\"code.line.number\"' IS NOT NULL) AS coded "
            "FROM otel_logs GROUP BY 1"
        ),
        "service_name",
    )
    assert set(services) == {s for s, svc in topology.services.items() if svc.logs}  # currency and ad are silent
    assert services == {s: topology.services[s].log_code_attributes for s in services}
    assert set(services.values()) == {True, False}
    scopes = running.sql("SELECT DISTINCT scope_name FROM otel_logs WHERE service_name = 'checkout'")
    assert {r["scope_name"] for r in scopes} >= {"com.shop.checkout.CheckoutServiceImpl"}


def test_every_request_of_a_service_that_logs_writes_a_few_lines(shop: tuple[Running, int]) -> None:
    running, _ = shop
    per_span = running.scalar(
        "SELECT avg(n) FROM (SELECT t.span_id, count(l.span_id) AS n FROM otel_traces t "
        "LEFT JOIN otel_logs l USING (trace_id, span_id) WHERE t.span_kind IN ('Server', 'Consumer') "
        f"AND t.service_name NOT IN ('currency', 'ad') AND epoch_ns(t.timestamp) < {FAULT_NS} GROUP BY 1)"
    )
    assert 2.0 <= per_span <= 4.0
    noise = by(
        running.sql(
            f"SELECT severity_text, count(*) AS n FROM otel_logs WHERE epoch_ns(timestamp) < {FAULT_NS} GROUP BY 1"
        ),
        "severity_text",
    )
    assert 0 < noise["ERROR"] < noise["WARN"] < 0.02 * noise["INFO"]  # normal periods have WARN and ERROR lines too


def test_code_error_adds_an_error_line_only_in_the_target_and_no_span_error(shop: tuple[Running, int]) -> None:
    running, _ = shop
    pattern = error_return_pattern()
    rows = running.sql(
        f"SELECT service_name, severity_text, {WINDOW} AS w, count(*) AS n FROM otel_logs "
        f"WHERE regexp_full_match({BODY}, '{pattern}') GROUP BY ALL"
    )
    assert by(rows, "service_name", "severity_text", "w").keys() == {("product-catalog", "ERROR", "fault")}
    assert rows[0]["n"] > 200
    failed = running.scalar(
        "SELECT count(*) FROM otel_logs l JOIN otel_traces s USING (trace_id, span_id) "
        "JOIN otel_traces c ON c.trace_id = s.trace_id AND c.span_id = s.parent_span_id "
        f"WHERE regexp_full_match({BODY}, '{pattern}') AND (s.status_code = 'Error' OR c.status_code = 'Error')"
    )
    assert failed == 0  # handled: neither the span nor its caller's client span is an error


def test_code_exception_drops_a_later_statement_and_shortens_the_spans(shop: tuple[Running, int]) -> None:
    running, _ = shop
    rows = running.sql(
        f"SELECT service_name, w, opening_only, count(*) AS spans, median(duration) AS duration FROM ("
        f"SELECT t.service_name, {WINDOW.replace('timestamp', 't.timestamp')} AS w, t.duration, "
        "count(l.span_id) FILTER (WHERE l.severity_text = 'INFO') = 1 AS opening_only "
        "FROM otel_traces t JOIN otel_logs l USING (trace_id, span_id) "
        "WHERE t.span_kind IN ('Server', 'Consumer') AND t.status_code <> 'Error' GROUP BY ALL) GROUP BY ALL"
    )
    spans = {(r["service_name"], r["w"], r["opening_only"]): r["spans"] for r in rows}
    duration = {(r["service_name"], r["w"], r["opening_only"]): r["duration"] for r in rows}
    # the spans whose opening line is not followed by another: only cart's, only under the fault
    assert {key for key in spans if key[2]} == {("cart", "fault", True)}
    share = spans["cart", "fault", True] / (spans["cart", "fault", True] + spans["cart", "fault", False])
    assert 0.25 < share < 0.55  # the fault's 40%
    assert duration["cart", "fault", True] < 0.5 * duration["cart", "normal", False]  # they end early
    statuses = running.scalar(
        f"SELECT count(*) FROM otel_traces WHERE service_name = 'cart' AND status_code = 'Error' "
        f"AND epoch_ns(timestamp) >= {FAULT_NS}"
    )
    assert statuses == 0
    cart_errors = running.scalar(
        f"SELECT count(*) FROM otel_logs WHERE service_name = 'cart' AND severity_text = 'ERROR' "
        f"AND epoch_ns(timestamp) >= {FAULT_NS} AND NOT starts_with({BODY}, 'Failed to refresh')"
    )
    assert cart_errors == 0  # silent: no line but the normal noise


def test_the_network_fault_delays_calls_into_and_out_of_the_target(shop: tuple[Running, int]) -> None:
    running, _ = shop
    rows = running.sql(
        f"SELECT client_service, server_service, {WINDOW.replace('timestamp', 'client_start')} AS w, "
        "median(client_duration - server_duration) / 1e6 AS gap_ms FROM otel_calls GROUP BY ALL"
    )
    gap = by(rows, "client_service", "server_service", "w")
    grown = {(c, s): gap[c, s, "fault"] - gap[c, s, "normal"] for c, s, w in gap if w == "normal"}
    # +60 ms on each packet into or out of recommendation: both legs of either call, each crossing once
    assert 100 < grown["frontend", "recommendation"] < 140  # inbound
    assert 100 < grown["recommendation", "product-catalog"] < 140  # outbound
    others = {edge: ms for edge, ms in grown.items() if "recommendation" not in edge}
    assert len(others) > 10 and all(abs(ms) < 2 for ms in others.values()), others


def test_failing_services_log_errors_and_callers_pass_them_on(shop: tuple[Running, int]) -> None:
    running, _ = shop
    rows = running.sql(
        f"SELECT service_name, severity_text, {BODY} AS body FROM otel_logs "
        f"WHERE epoch_ns(timestamp) >= {FAULT_NS} AND regexp_matches({BODY}, '^(Unhandled exception|Call to)')"
    )
    lines = {(r["service_name"], r["severity_text"], r["body"]) for r in rows}
    assert {
        ("payment", "ERROR", "Unhandled exception in Charge: InternalError: unexpected nil reference in handler"),
        ("checkout", "WARN", "Call to payment Charge failed (InternalError), retrying"),
        ("checkout", "ERROR", "Call to payment Charge failed: InternalError"),  # passing payment's failure on
        ("frontend", "ERROR", "Call to checkout PlaceOrder failed: UNAVAILABLE"),
    } <= lines
    exceptions = {service for service, _, body in lines if body.startswith("Unhandled exception")}
    assert "payment" in exceptions and not exceptions & {"checkout", "frontend"}


def test_logs_are_deterministic_and_leave_the_spans_as_they_were(tmp_path: Path) -> None:
    stores = {}
    for name, logs in (("first", True), ("again", True), ("without", False)):
        (tmp_path / name).mkdir()
        running = serve(tmp_path / name)
        try:
            run_history(
                "shop", running.grpc_endpoint, start_ns=START_NS, duration_s=20, seed=9, rate_per_s=4, logs=logs
            )
            stores[name] = (
                running.sql(
                    "SELECT epoch_ns(timestamp) AS t, trace_id, span_id, severity_text, body::VARCHAR AS body "
                    "FROM otel_logs ORDER BY ALL"
                ),
                running.sql(
                    "SELECT trace_id, span_id, epoch_ns(timestamp) AS t, duration FROM otel_traces ORDER BY ALL"
                ),
            )
        finally:
            assert running.server is not None
            running.server.stop()
    assert stores["first"] == stores["again"] and len(stores["first"][0]) > 500
    assert stores["without"] == ([], stores["first"][1])


def test_code_faults_target_services_that_log() -> None:
    for name in ("shop", "large"):
        topology = load_topology(name)
        silent = {s for s, svc in topology.services.items() if not svc.logs}
        assert silent
        for fault_type in CODE_FAULTS:
            assert fault_targets(topology, fault_type) and not set(fault_targets(topology, fault_type)) & silent
    with pytest.raises(FaultError, match="writes no logs"):
        run_history(
            "shop", "127.0.0.1:1", start_ns=START_NS, duration_s=1, faults=[Fault("code_error", "currency", 0, 1)]
        )
    with pytest.raises(FaultError, match="shows only in logs"):
        run_history(
            "shop",
            "127.0.0.1:1",
            start_ns=START_NS,
            duration_s=1,
            faults=[Fault("code_error", "cart", 0, 1)],
            logs=False,
        )


def test_the_network_fault_delays_the_targets_database_calls_and_messages() -> None:
    """Engine only: product-catalog's own database calls, and the order consumers' message arrival."""
    shop = load_topology("shop")
    instances = build_instances(shop, 1)

    def spans(fault: Fault | None, service: str, operation: str) -> list[SimSpan]:
        engine = Engine(shop, instances, random.Random(3))
        everyone = [i for pods in instances.values() for i in pods]
        engine.effects = Effects([fault] if fault else [], shop, everyone)
        engine.effects.at(0)
        found: list[SimSpan] = []
        for n in range(40):
            pending = [engine.request(service, operation, START_NS + n * 10**9)]
            while pending:
                span = pending.pop()
                found.append(span)
                pending.extend(span.children)
        return found

    def median_ms(found: list[SimSpan], name: str) -> float:
        durations = sorted(s.end_ns - s.start_ns for s in found if s.name == name)
        return durations[len(durations) // 2] / 1e6

    before = spans(None, "product-catalog", "GetProduct")
    after = spans(Fault("network", "product-catalog", 0, 1), "product-catalog", "GetProduct")
    assert median_ms(after, "findOne products") - median_ms(before, "findOne products") == pytest.approx(120, abs=5)

    def lag_ms(found: list[SimSpan]) -> float:
        """Median wait of accounting's messages between the producer's end and the consumer's start."""
        lags = sorted(
            c.start_ns - p.end_ns
            for p in found
            if p.kind == "producer"
            for c in p.children
            if c.name.endswith("ProcessOrder")
        )
        return lags[len(lags) // 2] / 1e6

    checkout = ("checkout", "PlaceOrder")
    delayed = lag_ms(spans(Fault("network", "accounting", 0, 1), *checkout)) - lag_ms(spans(None, *checkout))
    assert delayed == pytest.approx(60, abs=1)  # the fetched message enters accounting's pod once
