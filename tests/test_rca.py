"""Root causes: hand-computed small cases for the ranking, and faults injected through the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from analyzer.query_service.incidents import critical_path_shift
from analyzer.rca import rank_root_causes, wilson_bounds
from storage.named_queries import load_query
from storage.rows import EvidenceRow
from storage.window import SpanWindow
from tests.conftest import Running, start_server
from tests.trace_builder import TraceBuilder, send
from tracing.simulator.faults import Fault
from tracing.simulator.runner import run_history

START_NS = 1_700_000_000_000_000_000


def row(signal: str, kind: str, name: str, service: str | None, incident: bool, n: int, **counts: Any) -> EvidenceRow:
    return {
        "signal": signal,
        "kind": kind,
        "name": name,
        "service": service,
        "incident": incident,
        "n": n,
        "exceeded": counts.get("exceeded", 0),
        "errors": counts.get("errors", 0),
        "p50_ns": counts.get("p50_ns", 1e6),
        "p90_ns": 2e6,
        "slow_traces": ["a" * 32],
        "error_traces": [],
        "instances": counts.get("instances"),
        "callers": counts.get("callers"),
    }


def both(signal: str, kind: str, name: str, service: str | None, n: int, **incident: Any) -> list[dict[str, Any]]:
    """A baseline row with nothing unusual and an incident row with ``incident`` counts."""
    quiet = {k: v for k, v in incident.items() if k in ("instances", "callers")}
    return [row(signal, kind, name, service, False, n, **quiet), row(signal, kind, name, service, True, n, **incident)]


def test_wilson_bounds_match_the_hand_computed_interval() -> None:
    assert wilson_bounds(0, 0) == (0.0, 1.0)
    low, high = wilson_bounds(5, 10)
    # z = 1.64: centre 0.5, half-width 1.64 * sqrt(0.025 + 0.006724) / 1.26896 = 0.23019
    assert low == pytest.approx(0.26981, abs=1e-4) and high == pytest.approx(0.73019, abs=1e-4)


def test_a_caller_of_a_failing_callee_is_ranked_as_its_victim() -> None:
    rows = [
        *both("self", "service", "checkout", "checkout", 100, exceeded=40),  # retries' back-off
        *both("self", "service", "payment", "payment", 100, errors=40),
        *both("network", "service", "payment", "payment", 100, callers=["checkout"]),
    ]
    ranked = rank_root_causes(rows)
    assert [c["name"] for c in ranked[:2]] == ["payment", "checkout"]
    assert ranked[0]["evidence"][0]["signal"] == "errors"
    assert ranked[1]["evidence"][-1]["signal"] == "propagation"
    assert "Errors originate in payment" in ranked[0]["remediation"]
    assert 0 < ranked[1]["score"] < ranked[0]["score"] <= 1


def test_one_slow_pod_out_of_two_is_blamed_on_the_pod() -> None:
    rows = [
        *both("self", "service", "cart", "cart", 80, exceeded=40),
        *both("self", "instance", "cart-a", "cart", 40, exceeded=40),
        *both("self", "instance", "cart-b", "cart", 40, exceeded=0),
    ]
    ranked = rank_root_causes(rows, resources={"cart-a": {"cpu_utilization": (0.2, 0.95)}})
    assert (ranked[0]["kind"], ranked[0]["name"]) == ("instance", "cart-a")
    assert "CPU-saturated" in ranked[0]["remediation"]
    assert {"signal": "cpu", "unit": "ratio", "before": 0.2, "after": 0.95, "detail": "cpu utilization 20% -> 95%"} in (
        ranked[0]["evidence"]
    )


def test_pods_of_several_services_degrading_on_one_node_point_at_the_node() -> None:
    rows = [
        *both("self", "instance", "a-1", "a", 50, exceeded=45),
        *both("self", "instance", "a-2", "a", 50, exceeded=0),
        *both("self", "instance", "b-1", "b", 50, exceeded=45),
        *both("self", "instance", "b-2", "b", 50, exceeded=0),
        *both("self", "host", "node-1", None, 100, exceeded=90, instances=["a-1", "b-1"]),
        *both("self", "host", "node-2", None, 100, exceeded=0, instances=["a-2", "b-2"]),
    ]
    ranked = rank_root_causes(rows)
    assert (ranked[0]["kind"], ranked[0]["name"]) == ("host", "node-1")
    assert "cordon and drain" in ranked[0]["remediation"]


def test_a_new_version_at_the_incident_is_evidence_and_says_roll_back() -> None:
    rows = [
        *both("self", "service", "cart", "cart", 80, errors=20),
        *both("self", "service", "ad", "ad", 80, errors=22),
    ]
    versions = [
        {"service": "cart", "version": "1.0", "spans": 10, "first_seen_ns": 0},
        {"service": "cart", "version": "1.1", "spans": 10, "first_seen_ns": 90},
        {"service": "ad", "version": "3.0", "spans": 10, "first_seen_ns": 0},
    ]
    ranked = rank_root_causes(rows, versions=versions, baseline_since_ns=0, incident_since_ns=100)
    assert ranked[0]["name"] == "cart"
    assert "roll back" in ranked[0]["remediation"]
    assert any(e["signal"] == "version" and e["after"] == ["1.1"] for e in ranked[0]["evidence"])


def test_a_slow_database_is_its_own_candidate() -> None:
    rows = both("dependency", "database", "orders-db", None, 60, exceeded=55, callers=["order"])
    (candidate,) = rank_root_causes(rows)
    assert (candidate["kind"], candidate["name"]) == ("database", "orders-db")
    assert "slow query log" in candidate["remediation"] and "order" in candidate["remediation"]


def test_spectrum_evidence_counts_anomalous_and_normal_traces() -> None:
    rows = both("self", "service", "cart", "cart", 100, exceeded=50)
    spectrum = [{"kind": "service", "name": "cart", "ef": 9, "ep": 1, "anomalous_traces": 10, "traces": 100}]
    (plain,) = rank_root_causes(rows)
    (weighed,) = rank_root_causes(rows, spectrum=spectrum)
    # Ochiai = 9 / sqrt(10 * (9 + 1)) = 0.9: the score is weighed by 0.9 + 0.1 * 0.9
    assert weighed["score"] == pytest.approx(plain["score"] * 0.99, abs=1e-4)
    (item,) = [e for e in weighed["evidence"] if e["signal"] == "spectrum"]
    assert (item["anomalous_traces"], item["normal_traces"], item["ochiai"]) == (9, 1, 0.9)


def test_critical_path_growth_weighs_in_and_is_shown() -> None:
    rows = [
        *both("self", "service", "cart", "cart", 100, exceeded=50),
        *both("self", "service", "web", "web", 100, exceeded=50),
    ]
    shares = {"cart": (0.2, 0.5), "web": (0.8, 0.5)}
    by_name = {c["name"]: c for c in rank_root_causes(rows, critical_path=shares)}
    plain = {c["name"]: c for c in rank_root_causes(rows)}
    # cart's share grew the most (factor 1.0); web's shrank (factor 0.9)
    assert by_name["cart"]["score"] == pytest.approx(plain["cart"]["score"], abs=1e-4)
    assert by_name["web"]["score"] == pytest.approx(plain["web"]["score"] * 0.9, abs=1e-4)
    (item,) = [e for e in by_name["cart"]["evidence"] if e["signal"] == "critical_path"]
    assert (item["before"], item["after"]) == (0.2, 0.5)


def test_critical_path_shift_is_measured_from_the_stored_traces(running: Running) -> None:
    # web (0-100 ms) calls cart (10-30 ms) in the baseline: critical path web 80 ms, cart 20 ms.
    # In the incident cart takes 10-90 ms of web's 0-160 ms: web 80 ms, cart 80 ms.
    trace = TraceBuilder(seed=5)
    for second in range(40):
        slow = second >= 30
        trace.new_trace()
        root = trace.span(
            "web", "GET /", kind="server", start_ms=second * 1000, end_ms=second * 1000 + (160 if slow else 100)
        )
        trace.span(
            "cart",
            "GetCart",
            kind="server",
            parent=root,
            start_ms=second * 1000 + 10,
            end_ms=second * 1000 + (90 if slow else 30),
        )
    send(running.grpc_endpoint, trace.spans)
    assert running.server is not None
    con = running.server.read_cursor()
    base = trace.base_ns
    shift = critical_path_shift(
        con, SpanWindow(base, base + 30 * 10**9), SpanWindow(base + 30 * 10**9, base + 40 * 10**9)
    )
    assert shift["web"] == pytest.approx((0.8, 0.5))
    assert shift["cart"] == pytest.approx((0.2, 0.5))


def test_nothing_unusual_ranks_nothing() -> None:
    assert rank_root_causes([*both("self", "service", "a", "a", 100), *both("self", "service", "b", "b", 3)]) == []


# --- faults injected through the simulator, diagnosed through the CLI and the API ----------

FAULTS = {
    "errors": Fault("errors", "payment", 150, 240),
    "database": Fault("database", "catalog-db", 150, 240),
    "cpu": Fault("cpu", "product-catalog", 150, 240),
    "node": Fault("node", "ip-10-0-2-42.eu-west-1.compute.internal", 150, 240),
    # found in the logs only: no span status, hardly any latency
    "code_error": Fault("code_error", "checkout", 150, 240),
    "code_exception": Fault("code_exception", "frontend", 150, 240),
    "network": Fault("network", "shipping", 150, 240),  # slows its calls in and out
}


@pytest.fixture(scope="module", params=sorted(FAULTS))
def diagnosed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Running, dict]]:
    db_path = tmp_path_factory.mktemp(request.param) / "glimpse.duckdb"
    server = start_server(db_path)
    assert server.info is not None
    result = run_history(
        "shop",
        f"127.0.0.1:{server.info.grpc_port}",
        start_ns=START_NS,
        duration_s=240,
        seed=11,
        faults=[FAULTS[request.param]],
        rate_per_s=4,
    )
    try:
        yield Running(server, server.info, str(db_path)), result.labels[0]
    finally:
        server.stop()


def glimpse_json(*args: str) -> Any:
    completed = subprocess.run(
        [sys.executable, "-m", "glimpse", *args, "--json"], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def is_truth(candidate: dict[str, Any], target: dict[str, Any]) -> bool:
    if target["kind"] == "service":
        return candidate["kind"] in ("service", "operation") and candidate["service"] == target["name"]
    return (candidate["kind"], candidate["name"]) == (target["kind"], target["name"])


def test_the_injected_fault_ranks_first_with_the_window_given(diagnosed: tuple[Running, dict]) -> None:
    running, label = diagnosed
    result = glimpse_json(
        "rca", "--db", running.db_path, "--since", str(label["start_ns"]), "--until", str(label["end_ns"])
    )
    assert set(result) >= {"incident", "baseline", "candidates"}
    top = result["candidates"][0]
    assert is_truth(top, label["target"]), result["candidates"][:3]
    assert set(top) == {"rank", "kind", "name", "service", "score", "evidence", "remediation"}
    assert 0 < top["score"] <= 1 and top["evidence"] and top["remediation"]
    examples = {t for e in top["evidence"] for t in e.get("trace_ids", [])}
    assert examples, "evidence names example traces"
    for trace_id in examples:
        assert running.scalar(f"SELECT count(*) FROM otel_traces WHERE trace_id = '{trace_id}'") > 0


def test_the_injected_fault_ranks_first_when_glimpse_finds_the_incident(diagnosed: tuple[Running, dict]) -> None:
    running, label = diagnosed
    result = glimpse_json("rca", "--db", running.db_path)
    assert result["incident"]["detected"] is True
    assert abs(result["incident"]["start_ns"] - label["start_ns"]) <= 60 * 10**9
    assert is_truth(result["candidates"][0], label["target"]), result["candidates"][:3]
    api = httpx.get(f"{running.api_url}/api/rca", params={"limit": "3"}, timeout=60).json()
    assert api["candidates"][0] == result["candidates"][0]


def transitions_sql(label: dict, service: str | None, sample: int = 1) -> str:
    """The RCA's log query with its parameters in the text (for the SQL API)."""
    before = label["start_ns"] - 150 * 10**9
    params = {"$b_since": before, "$b_until": label["start_ns"], "$i_since": label["start_ns"]}
    params |= {"$i_until": label["end_ns"], "$since": before, "$until": label["end_ns"], "$sample": sample}
    sql = load_query("logs/transitions").replace("$service", f"'{service}'" if service else "NULL")
    for name in sorted(params, key=len, reverse=True):  # longest first: $i_since is not $since
        sql = sql.replace(name, str(params[name]))
    return sql


def transitions_of(running: Running, label: dict, service: str | None) -> int:
    """How many log transitions of checkout's spans the RCA's log query sees (through the SQL API)."""
    sql = transitions_sql(label, service)
    return int(running.scalar(f"SELECT coalesce(sum(n), 0) FROM ({sql}) WHERE service = 'checkout'"))


def test_sampled_transitions_read_the_records_of_the_sampled_traces_only(diagnosed: tuple[Running, dict]) -> None:
    """One trace in 2: the records are sampled before they are deduplicated, as the spans are;
    what is left is the transitions of those traces, none of the others'."""
    running, label = diagnosed
    every, half = (
        int(running.scalar(f"SELECT coalesce(sum(n), 0) FROM ({transitions_sql(label, None, n)})")) for n in (1, 2)
    )
    assert 0 < half < every
    examples = f"SELECT unnest(trace_ids) AS t FROM ({transitions_sql(label, None, 2)})"
    assert running.scalar(f"SELECT count(*) FROM ({examples}) WHERE hash(t) % 2 <> 0") == 0


def test_rca_for_one_service_reads_the_logs_of_its_traces_only(diagnosed: tuple[Running, dict]) -> None:
    running, label = diagnosed
    assert transitions_of(running, label, None) > 0
    assert transitions_of(running, label, "ad") == 0  # ad is called by frontend only: never on checkout's traces


def test_anomalies_group_into_an_incident_at_the_fault(diagnosed: tuple[Running, dict]) -> None:
    running, label = diagnosed
    result = glimpse_json("anomalies", "--db", running.db_path)
    assert result["anomalies"] and result["incidents"]
    latest = result["incidents"][0]
    assert abs(latest["start"] - label["start_ns"]) <= 60 * 10**9
    anomaly = result["anomalies"][0]
    assert set(anomaly) >= {"entity_kind", "entity", "signal", "start", "end", "score", "baseline", "observed"}
    assert len(anomaly["series"]["t"]) == len(anomaly["series"]["value"]) == len(anomaly["series"]["baseline_high"])
    if label["type"] == "node":  # pods on the degraded node slow down together
        top = result["co_located_correlation"][0]
        assert top["host"] == label["target"]["name"] and top["correlation"] > 0.8
    matrix = result["correlation"]
    assert len(matrix["matrix"]) == len(matrix["entities"]) and all(
        row[i] == 1.0 for i, row in enumerate(matrix["matrix"])
    )


def test_reports_are_written_in_markdown_and_self_contained_html(
    diagnosed: tuple[Running, dict], tmp_path: Path
) -> None:
    running, label = diagnosed
    for fmt, name in (("markdown", "report.md"), ("html", "report.html")):
        out = tmp_path / name
        completed = subprocess.run(
            [sys.executable, "-m", "glimpse", "report", "--db", running.db_path, "--format", fmt, "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        text = out.read_text()
        assert "Ranked probable root causes" in text and "Timeline" in text and "Trends and forecasts" in text
        assert label["target"]["name"] in text
    html = (tmp_path / "report.html").read_text()
    assert "<svg" in html and "<script" not in html and "src=" not in html  # nothing to fetch
    assert "href='http" not in html and 'href="http' not in html


def test_rca_explains_a_missing_incident_in_one_line(db_path: Path) -> None:
    server = start_server(db_path)
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "glimpse", "rca", "--db", str(db_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        server.stop()
    assert completed.returncode == 1
    assert completed.stderr.count("\n") == 1 and "error:" in completed.stderr


def test_the_demo_runs_a_live_fault_and_shows_what_glimpse_finds(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200", **{f"GLIMPSE_{p}_PORT": "0" for p in ("GRPC", "HTTP", "API", "CONSOLE")}}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "glimpse",
            "demo",
            "--db",
            str(tmp_path / "demo.duckdb"),
            "--duration",
            "16",
            "--fault",
            "errors",
            "--target",
            "payment",
            "--rate",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    for section in ("Service graph", "Bottlenecks during the fault", "Probable root causes", "What was injected"):
        assert section in out
    assert "errors on service payment" in out and "glimpse sql" in out
