"""An entity is its kind, its service and its name: two services' operations of the same name
never merge, and the same store gives byte-identical answers in any process (issue 23).

Online Boutique's gRPC client span in the caller and server span in the callee share a name
(``hipstershop.ProductCatalogService/ListProducts``); without span kinds both count as each
service's own work. Here the callee ("catalog") slows from 10 ms to 200 ms in the incident
while the caller ("frontend") spends 2 ms of its own around the call throughout.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from analyzer.rca import rank_root_causes
from storage.rows import EvidenceRow
from tests.conftest import start_server
from tests.test_rca import row
from tests.trace_builder import BASE_NS, TraceBuilder, send

OPERATION = "hipstershop.ProductCatalogService/ListProducts"
SECONDS, INCIDENT_S, PER_SECOND = 60, 45, 4  # the incident is the last 15 s


def _evidence_rows() -> list[EvidenceRow]:
    """The frontend's operation is busy (many spans, a 5 ms p50) and healthy; the catalog's
    (fewer spans, a 1 ms p50 in the baseline) turns slow in the incident."""
    return [
        row("self", "service", "frontend", "frontend", False, 400, p50_ns=5e6),
        row("self", "service", "frontend", "frontend", True, 400, p50_ns=5e6),
        row("self", "operation", OPERATION, "frontend", False, 400, p50_ns=5e6),
        row("self", "operation", OPERATION, "frontend", True, 400, p50_ns=5e6),
        row("self", "service", "catalog", "catalog", False, 100, p50_ns=1e6),
        row("self", "service", "catalog", "catalog", True, 100, exceeded=60, p50_ns=200e6),
        row("self", "operation", OPERATION, "catalog", False, 100, p50_ns=1e6),
        row("self", "operation", OPERATION, "catalog", True, 100, exceeded=60, p50_ns=200e6),
    ]


def _latency(candidate: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in candidate["evidence"] if e["signal"] == "latency")


def test_same_named_operations_of_two_services_stay_apart() -> None:
    ranked = rank_root_causes(_evidence_rows())
    operations = [c for c in ranked if c["kind"] == "operation"]
    assert [(c["name"], c["service"]) for c in operations] == [(OPERATION, "catalog")]
    latency = _latency(operations[0])
    assert (latency["before"]["p50"], latency["before"]["count"]) == (1.0, 100)  # the catalog's baseline
    assert (latency["after"]["p50"], latency["after"]["count"]) == (200.0, 100)
    assert ranked[0]["service"] == "catalog"


def test_the_ranking_does_not_depend_on_the_order_of_the_evidence_rows() -> None:
    rows = _evidence_rows()
    expected = rank_root_causes(rows)
    for seed in range(20):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        assert rank_root_causes(shuffled) == expected


def _store(db_path: Path, *, kinds: bool) -> None:
    trace = TraceBuilder(seed=23)
    for second in range(SECONDS):
        for k in range(PER_SECOND):
            slow = second >= INCIDENT_S
            start = second * 1000 + k * 200
            callee_ms = 200 if slow else 10
            trace.new_trace()
            root = trace.span(
                "frontend",
                "GET /",
                kind="server" if kinds else "unspecified",
                start_ms=start,
                end_ms=start + callee_ms + 6,
            )
            call = trace.span(
                "frontend",
                OPERATION,
                kind="client" if kinds else "unspecified",
                parent=root,
                start_ms=start + 1,
                end_ms=start + callee_ms + 5,
            )
            trace.span(
                "catalog",
                OPERATION,
                kind="server" if kinds else "unspecified",
                parent=call,
                start_ms=start + 2,
                end_ms=start + callee_ms + 2,
            )
    server = start_server(db_path)
    try:
        assert server.info is not None
        send(f"127.0.0.1:{server.info.grpc_port}", trace.spans)
    finally:
        server.stop()


SECOND_NS = 1_000_000_000
INCIDENT = ["--since", str(BASE_NS + INCIDENT_S * SECOND_NS), "--until", str(BASE_NS + SECONDS * SECOND_NS)]
BASELINE = ["--baseline-since", str(BASE_NS), "--baseline-until", str(BASE_NS + INCIDENT_S * SECOND_NS)]


def _glimpse(db_path: Path, *args: str) -> str:
    """One command in a fresh process (a new hash seed each time)."""
    completed = subprocess.run(
        [sys.executable, "-m", "glimpse", args[0], "--db", str(db_path), *args[1:]],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.mark.slow
@pytest.mark.parametrize("kinds", [True, False], ids=["with-kinds", "without-kinds"])
def test_rca_is_byte_identical_across_processes_and_blames_the_right_service(tmp_path: Path, kinds: bool) -> None:
    db_path = tmp_path / "glimpse.duckdb"
    _store(db_path, kinds=kinds)
    answers = {_glimpse(db_path, "rca", *INCIDENT, *BASELINE, "--json") for _ in range(3)}
    assert len(answers) == 1
    candidates = json.loads(answers.pop())["candidates"]
    assert candidates[0]["service"] == "catalog", candidates[0]
    named = [c for c in candidates if c["kind"] == "operation" and c["name"] == OPERATION]
    assert named and all(c["service"] == "catalog" for c in named)
    latency = _latency(named[0])
    assert latency["before"]["p50"] == pytest.approx(10, abs=1)  # both windows' figures are the catalog's
    assert latency["after"]["p50"] == pytest.approx(200, abs=1)


@pytest.mark.slow
def test_anomalies_and_report_are_byte_identical_across_processes(tmp_path: Path) -> None:
    db_path = tmp_path / "glimpse.duckdb"
    _store(db_path, kinds=False)
    for command in (["anomalies", "--json"], ["report", *INCIDENT, *BASELINE, "--format", "markdown"]):
        first, second = (_glimpse(db_path, *command) for _ in range(2))
        assert first == second and len(first) > 100, command
