"""Log evidence and network endpoints in the root-cause ranking: hand-computed small cases."""

from __future__ import annotations

from typing import Any

import pytest

from analyzer.log_evidence import log_evidence
from analyzer.log_templates import mine_templates, template_id
from analyzer.rca import rank_root_causes
from storage.rows import TransitionRow
from tests.test_rca import both

OPERATION = "POST /orders"


def transition(
    service: str,
    before: tuple[str, str, str],
    after: tuple[str, str, str],
    n: int,
    *,
    incident: bool,
    callee_errors: int = 0,
    erring_callee: str = "",
    severity: str = "INFO",
    example: str = "",
    instance: str = "",
) -> TransitionRow:
    """``before`` and ``after`` are (kind, location, masked message) of the two events."""
    return {
        "incident": incident,
        "service": service,
        "instance": instance or f"{service}-pod",
        "operation": OPERATION,
        "from_kind": before[0],
        "from_location": before[1],
        "from_masked": before[2],
        "to_kind": after[0],
        "to_location": after[1],
        "to_masked": after[2],
        "n": n,
        "callee_errors": callee_errors,
        "erring_callee": erring_callee,
        "severity": severity,
        "example": example,
        "trace_ids": [f"{service}-{after[1] or after[0]}-{n}"] if incident else [],
    }


START, END = ("start", "", ""), ("end", "", "")
LOADED, SAVED = ("log", "OrderService.java:10", ""), ("log", "OrderService.java:20", "")


def silent_exception_rows(service: str = "orders") -> list[TransitionRow]:
    """40 spans start -> :10 -> :20 -> end before; in 12 of 20 during, the span ends after :10."""
    return [
        transition(service, START, LOADED, 40, incident=False),
        transition(service, LOADED, SAVED, 40, incident=False, example="saved order 7"),
        transition(service, SAVED, END, 40, incident=False),
        transition(service, START, LOADED, 20, incident=True),
        transition(service, LOADED, SAVED, 8, incident=True, example="saved order 9"),
        transition(service, LOADED, END, 12, incident=True),
        transition(service, SAVED, END, 8, incident=True),
    ]


def test_a_statement_that_stops_following_another_is_a_change_with_the_hand_computed_z() -> None:
    found = log_evidence(silent_exception_rows())
    orders = found["orders"]
    # from :10, "end" went 0/40 -> 12/20: pooled (12 + 0 + 1) / 62, spread sqrt(p (1 - p) (1/20 + 1/40))
    assert orders.z == pytest.approx(5.381, abs=1e-3)
    assert orders.strength == pytest.approx(0.3274, abs=1e-3)  # 1 - exp(-(5.381 - 3) / 6)
    ended, dropped = orders.changes[:2]
    assert (ended.before, ended.after, ended.change) == ("OrderService.java:10", "end of span", "appeared")
    assert (ended.baseline, ended.incident) == ((0, 40), (12, 20))
    assert (dropped.after, dropped.change, dropped.z) == (
        "OrderService.java:20",
        "dropped",
        pytest.approx(-5.381, 1e-3),
    )
    assert dropped.example_before == "saved order 7" and dropped.location == "OrderService.java:20"
    assert ended.as_dict()["signal"] == "logs" and "12/20" in ended.detail
    # example traces: those of the new transition, and for the dropped one, of what followed instead
    assert ended.trace_ids == dropped.trace_ids == ("orders-end-12",)


def test_an_unchanged_service_and_a_few_lines_without_a_baseline_score_nothing() -> None:
    steady = [transition("cart", START, END, 30, incident=incident) for incident in (False, True)]
    newcomer = [transition("search", START, ("log", "", "warming cache"), 3, incident=True)]
    found = log_evidence([*steady, *newcomer])
    assert found["cart"].strength == 0 and found["cart"].changes == []
    assert found["search"].z == 0 and found["search"].strength == 0  # 3 lines never seen: z 2.2 at most


def test_messages_without_a_code_location_are_grouped_by_their_mined_template() -> None:
    error_a = ("log", "", "Order <NUM> rejected for user alice")
    error_b = ("log", "", "Order <NUM> rejected for user bob")
    rows = [
        transition("orders", START, END, 50, incident=False),
        transition("orders", START, END, 10, incident=True),
        transition(
            "orders", START, error_a, 6, incident=True, severity="ERROR", example="Order 17 rejected for user alice"
        ),
        transition(
            "orders", START, error_b, 6, incident=True, severity="ERROR", example="Order 18 rejected for user bob"
        ),
        transition("orders", error_a, END, 6, incident=True),
        transition("orders", error_b, END, 6, incident=True),
    ]
    change = next(c for c in log_evidence(rows)["orders"].changes if c.z > 0)
    text = "Order <NUM> rejected for user <*>"
    assert mine_templates([error_a[2], error_b[2]])[error_a[2]].text == text
    assert (change.after, change.incident, change.template_id) == (text, (12, 22), template_id(text))
    assert change.severity == "ERROR" and change.example_after == "Order 17 rejected for user alice"


def test_a_caller_whose_logs_changed_while_its_callee_logged_errors_hands_the_blame_down() -> None:
    rows = [
        *silent_exception_rows("checkout"),
        # the new transition happened while payment logged an ERROR, in 10 of the 12 spans
        transition("checkout", LOADED, END, 0, incident=True, callee_errors=10, erring_callee="payment"),
    ]
    logs = log_evidence(rows)
    assert logs["checkout"].changes[0].handoff == ("payment", pytest.approx(10 / 12))
    evidence = [
        *both("self", "service", "checkout", "checkout", 100),
        *both("self", "service", "payment", "payment", 100),
    ]
    ranked = rank_root_causes(evidence, logs=logs)
    assert [c["name"] for c in ranked] == ["payment", "checkout"]
    assert ranked[0]["score"] == pytest.approx(logs["checkout"].strength * 10 / 12, abs=1e-4)
    assert ranked[0]["evidence"][-1]["signal"] == "log_propagation"
    assert ranked[1]["evidence"][-1]["signal"] == "propagation"


def test_a_callee_that_always_logs_errors_there_explains_nothing() -> None:
    rows = [
        *silent_exception_rows("checkout"),
        transition("checkout", LOADED, END, 0, incident=True, callee_errors=10, erring_callee="payment"),
        transition("checkout", LOADED, SAVED, 0, incident=False, callee_errors=40, erring_callee="payment"),
    ]
    assert log_evidence(rows)["checkout"].changes[0].handoff is None


def test_log_evidence_ranks_the_service_and_names_the_statement_in_the_remediation() -> None:
    evidence = [*both("self", "service", "orders", "orders", 100), *both("self", "service", "cart", "cart", 100)]
    ranked = rank_root_causes(evidence, logs=log_evidence(silent_exception_rows()))
    assert [c["name"] for c in ranked] == ["orders"]
    assert [e["signal"] for e in ranked[0]["evidence"]][:2] == ["logs", "logs"]
    remediation = ranked[0]["remediation"]
    assert "'OrderService.java:20' stopped following 'OrderService.java:10' in POST /orders" in remediation


def test_one_pod_of_two_whose_logs_changed_is_the_candidate_not_its_service() -> None:
    normal = [(START, LOADED), (LOADED, SAVED), (SAVED, END)]
    steady = [
        transition("orders", a, b, n, incident=i, instance="orders-b")
        for a, b in normal
        for n, i in ((40, False), (20, True))
    ]
    changed = [{**row, "instance": "orders-a"} for row in silent_exception_rows()]
    rows = [*changed, *steady]
    evidence = [
        *both("self", "service", "orders", "orders", 100),
        *both("self", "instance", "orders-a", "orders", 50),
        *both("self", "instance", "orders-b", "orders", 50),
    ]
    ranked = rank_root_causes(evidence, logs=log_evidence(rows), instance_logs=log_evidence(rows, by="instance"))
    assert [(c["kind"], c["name"]) for c in ranked[:2]] == [("instance", "orders-a"), ("service", "orders")]
    assert log_evidence(rows, by="instance")["orders-b"].strength == 0


def edge(signal: str, caller: str, callee: str, service: str | None, **counts: Any) -> list[dict[str, Any]]:
    return both(signal, "edge", f"{caller} -> {callee}", service, 100, callers=[caller], **counts)


def test_slow_calls_that_share_one_endpoint_in_and_out_blame_that_endpoint() -> None:
    rows = [
        *both("self", "service", "frontend", "frontend", 100),
        *both("self", "service", "cart", "cart", 100),
        *both("self", "service", "pricing", "pricing", 100),
        *both("network", "service", "cart", "cart", 100, exceeded=60, callers=["frontend"]),
        *both("network", "service", "pricing", "pricing", 100, exceeded=60, callers=["cart"]),
        *both("dependency", "database", "redis", None, 100, exceeded=60, callers=["cart"]),
        *edge("network", "frontend", "cart", "cart", exceeded=60),
        *edge("network", "cart", "pricing", "pricing", exceeded=60),
        *edge("dependency", "cart", "redis", None, exceeded=60),
    ]
    ranked = rank_root_causes(rows)
    assert ranked[0]["name"] == "cart"
    network = next(e for e in ranked[0]["evidence"] if e.get("edges"))
    assert network["edges"] == ["cart -> pricing", "cart -> redis"]
    assert "into or out of cart" in ranked[0]["remediation"]
    assert "pricing" not in [c["name"] for c in ranked]  # its slow inbound calls are cart's
    redis = next(c for c in ranked if c["name"] == "redis")
    assert redis["score"] == pytest.approx(ranked[0]["score"] / 2, abs=1e-3)  # its slow calls are cart's


def test_one_slow_edge_is_blamed_on_the_callee() -> None:
    rows = [
        *both("self", "service", "frontend", "frontend", 100),
        *both("self", "service", "cart", "cart", 100),
        *both("network", "service", "cart", "cart", 100, exceeded=60, callers=["frontend"]),
        *edge("network", "frontend", "cart", "cart", exceeded=60),
    ]
    assert [c["name"] for c in rank_root_causes(rows)] == ["cart"]
