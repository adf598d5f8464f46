"""Critical path and self time: the nine Jaeger UI cases, rebuilt as glimpse fixtures and sent
through OTLP, plus Jaeger's self-time expectations (peer-data README, section 2)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from analyzer.critical_path import critical_path, self_times
from glimpse.cli import app
from tests.conftest import Running
from tests.trace_builder import BASE_NS, TraceBuilder, send
from tracing.trace import Span, assemble_trace

# (name, kind, parent name, start µs, duration µs) per case, and the expected sections
JAEGER_CASES: dict[int, tuple[list[tuple[str, str, str | None, int, int]], list[tuple[str, int, int]]]] = {
    1: (
        [("C", "server", None, 1, 100), ("D", "client", "C", 20, 20), ("E", "client", "C", 50, 10)],
        [("C", 60, 101), ("E", 50, 60), ("C", 40, 50), ("D", 20, 40), ("C", 1, 20)],
    ),
    2: (
        [("X", "server", None, 1, 100), ("A", "client", "X", 10, 40), ("C", "client", "X", 20, 40)],
        [("X", 60, 101), ("C", 20, 60), ("X", 1, 20)],
    ),
    3: ([("root", "producer", None, 100, 40), ("child", "client", "root", 200, 300)], [("root", 100, 140)]),
    4: ([("A", "server", None, 1, 30), ("B", "internal", "A", 40, 40), ("C", "internal", "B", 50, 10)], [("A", 1, 31)]),
    5: (
        [("A", "producer", None, 1, 30), ("B", "consumer", "A", 10, 10), ("C", "internal", "B", 12, 2)],
        [("A", 1, 31)],
    ),
    6: (
        [("A", "server", None, 1, 29), ("B", "internal", "A", 15, 20), ("C", "internal", "B", 10, 15)],
        [("B", 25, 30), ("C", 15, 25), ("A", 1, 15)],
    ),
    7: (
        [("A", "server", None, 1, 29), ("B", "internal", "A", 15, 20), ("C", "internal", "B", 20, 20)],
        [("C", 20, 30), ("B", 15, 20), ("A", 1, 15)],
    ),
    8: ([("A", "server", None, 10, 20), ("B", "internal", "A", 5, 30)], [("B", 10, 30)]),
    9: ([("A", "server", None, 10, 20), ("B", "internal", "A", 1, 4)], [("A", 10, 30)]),
}


def _build(case: int, seed: int) -> tuple[TraceBuilder, dict[str, Any]]:
    t = TraceBuilder(seed=seed)
    by_name: dict[str, Any] = {}
    for name, kind, parent, start_us, duration_us in JAEGER_CASES[case][0]:
        by_name[name] = t.span(
            "svc",
            name,
            kind=kind,
            parent=by_name.get(parent) if parent else None,
            start_ms=start_us / 1000,
            end_ms=(start_us + duration_us) / 1000,
        )
    return t, by_name


def _us(ns: int) -> int:
    return (ns - BASE_NS) // 1000


@pytest.mark.parametrize("case", sorted(JAEGER_CASES))
def test_jaeger_cases_in_memory(case: int) -> None:
    t, by_name = _build(case, seed=case)
    names = {spec.span_hex: name for name, spec in by_name.items()}
    spans = [
        Span(s.span_hex, s.parent_id.hex(), s.service, s.name, s.kind.capitalize(), s.start_ns, s.end_ns)
        for s in t.spans
    ]
    sections = critical_path(assemble_trace("t", spans))
    assert [(names[s.span_id], _us(s.start_ns), _us(s.end_ns)) for s in sections] == JAEGER_CASES[case][1]


@pytest.mark.parametrize("case", sorted(JAEGER_CASES))
def test_jaeger_cases_through_otlp_and_the_api(running: Running, case: int) -> None:
    t, by_name = _build(case, seed=100 + case)
    send(running.grpc_endpoint, t.spans)
    names = {spec.span_hex: name for name, spec in by_name.items()}
    response = httpx.get(f"{running.api_url}/api/traces/{t.trace_id.hex().upper()}/critical-path")
    assert response.status_code == 200, response.text
    path = [(names[s["span_id"]], _us(s["start_ns"]), _us(s["end_ns"])) for s in response.json()["critical_path"]]
    assert path == JAEGER_CASES[case][1]


SELF_TIME_CASES = [  # children of a parent [0, 100] -> the parent's self time (Jaeger's expectations)
    ([], 100),
    ([(10, 50)], 60),
    ([(10, 30), (50, 70)], 60),
    ([(10, 60), (30, 80)], 30),
    ([(50, 150)], 50),
    ([(120, 150)], 100),
    ([(10, 70), (20, 50)], 40),
    ([(0, 100)], 0),
    ([(0, 60), (0, 120)], 0),
    ([(10, 40), (30, 60), (70, 90)], 30),
]


@pytest.mark.parametrize(("children", "expected"), SELF_TIME_CASES)
def test_self_time(children: list[tuple[int, int]], expected: int) -> None:
    spans = [Span("p", "", "s", "p", "Server", 0, 100)]
    spans += [Span(f"c{i}", "p", "s", "c", "Client", start, end) for i, (start, end) in enumerate(children)]
    assert self_times(assemble_trace("t", spans))["p"] == expected


def test_self_time_of_a_child_longer_than_its_parent() -> None:
    spans = [Span("p", "", "s", "p", "Server", 10, 50), Span("c", "p", "s", "c", "Client", 0, 100)]
    assert self_times(assemble_trace("t", spans))["p"] == 0


def test_provisional_roots_duplicates_and_several_roots() -> None:
    spans = [
        Span("a", "", "s", "a", "Server", 0, 10),
        Span("b", "missing", "s", "b", "Server", 20, 30),
        Span("a", "", "s", "a", "Server", 0, 10),
    ]
    trace = assemble_trace("t", spans)
    assert trace.roots == ["a", "b"] and trace.provisional_roots == ["b"] and trace.duplicates == 1
    assert [(s.span_id, s.start_ns, s.end_ns) for s in critical_path(trace)] == [("a", 0, 10), ("b", 20, 30)]


def test_clock_skew_adjustment_is_opt_in_and_marked() -> None:
    spans = [
        Span("c", "", "front", "call", "Client", 100, 200),
        Span("s", "c", "back", "serve", "Server", 250, 310),  # 60 long, starts after its client ended
        Span("x", "s", "back", "query", "Client", 260, 300),
    ]
    plain = assemble_trace("t", spans)
    assert plain.skew_adjusted == [] and plain.spans["s"].start_ns == 250
    fixed = assemble_trace("t", spans, adjust_skew=True)
    assert fixed.spans["s"].start_ns == 120 and fixed.spans["s"].end_ns == 180  # centred: (100 - 60) / 2 = 20
    assert fixed.spans["x"].start_ns == 130 and fixed.spans["x"].skew_shift_ns == -130
    assert sorted(fixed.skew_adjusted) == ["s", "x"]


def test_cli_waterfall_and_json(running: Running) -> None:
    t, by_name = _build(1, seed=7)
    send(running.grpc_endpoint, t.spans)
    runner = CliRunner()
    table = runner.invoke(app, ["critical-path", t.trace_id.hex(), "--db", running.db_path], env={"COLUMNS": "160"})
    assert table.exit_code == 0, table.output
    assert "critical path" in table.stdout and "svc" in table.stdout
    as_json = runner.invoke(app, ["critical-path", t.trace_id.hex(), "--db", running.db_path, "--json"])
    import json

    body = json.loads(as_json.stdout)
    assert [s["span_id"] for s in body["critical_path"]] == [by_name[n].span_hex for n in "CECDC"]
    root = body["spans"][0]
    assert root["self_ns"] == 70_000 and root["critical_ns"] == 70_000  # 100 µs - 20 - 10
    missing = runner.invoke(app, ["critical-path", "0" * 31 + "1", "--db", running.db_path])
    assert missing.exit_code == 1
    bad = runner.invoke(app, ["critical-path", "xyz", "--db", running.db_path])
    assert bad.exit_code == 1 and "not a trace id" in bad.stderr
