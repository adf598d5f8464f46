"""The critical paths of many traces at once (analyzer.window_critical_paths) against the
per-trace algorithm (analyzer.critical_path.critical_sections), the slow reference: the
Jaeger cases, hand-computed charges, and random traces full of ties, clipping, drops and
producer/consumer pairs."""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pytest

from analyzer.bottlenecks import aggregate_critical_paths, critical_path_charges, report_from_charges
from analyzer.critical_path import critical_sections
from analyzer.trace_views import iter_trace_views
from analyzer.window_critical_paths import charge_table
from storage.rows import WindowSpans
from tests.test_critical_path import JAEGER_CASES

# (parent index or -1, start, end, kind) per span of a trace, rows in start order
Trace = list[tuple[int, int, int, str]]


def window_spans(traces: list[Trace]) -> WindowSpans:
    rows = [(number, *span) for number, trace in enumerate(traces) for span in trace]
    column = list(zip(*rows, strict=True)) if rows else [()] * 5

    def ints(values: tuple[object, ...]) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    kinds = column[4]
    return WindowSpans(
        trace_no=ints(column[0]),
        parent_idx=ints(column[1]),
        start_ns=ints(column[2]),
        end_ns=ints(column[3]),
        producer=np.array([kind == "producer" for kind in kinds]),
        consumer=np.array([kind == "consumer" for kind in kinds]),
        client=np.array([kind == "client" for kind in kinds]),
        error=np.zeros(len(rows), dtype=bool),
        op=ints(tuple(index % 3 for number, trace in enumerate(traces) for index in range(len(trace)))),
        trace_ids=[f"t{number}" for number in range(len(traces))],
        operations={0: ("a", "zero"), 1: ("b", "one"), 2: ("c", "two")},
        span_ids=pa.chunked_array([pa.array([str(i) for i in range(len(rows))], pa.string())]),
    )


def reference_charges(spans: WindowSpans) -> dict[int, dict[int, int]]:
    """trace -> {op: ns} from the per-trace algorithm, as analyzer.bottlenecks computed it before."""
    result: dict[int, dict[int, int]] = {}
    for view in iter_trace_views(spans):
        sections = critical_sections(
            view.starts, view.ends, view.children, view.roots, producer=view.producer, consumer=view.consumer
        )
        charged: dict[int, int] = defaultdict(int)
        for index, low, high in sections:
            charged[view.ops[index]] += high - low
        result[view.number] = dict(charged)
    return result


def fast_charges(spans: WindowSpans) -> dict[int, dict[int, int]]:
    return {charge.trace: charge.charged for charge in critical_path_charges(spans)}


def jaeger_trace(spans: list[tuple[str, str, str | None, int, int]]) -> Trace:
    ordered = sorted(spans, key=lambda span: span[3])
    names = [span[0] for span in ordered]
    return [
        (names.index(parent) if parent else -1, start, start + duration, kind)
        for _, kind, parent, start, duration in ordered
    ]


@pytest.mark.parametrize("case", sorted(JAEGER_CASES))
def test_jaeger_cases_charge_as_the_per_trace_walk(case: int) -> None:
    spans = window_spans([jaeger_trace(JAEGER_CASES[case][0])])
    expected = defaultdict(int)
    names = sorted(JAEGER_CASES[case][0], key=lambda span: span[3])
    for name, low, high in JAEGER_CASES[case][1]:
        expected[[span[0] for span in names].index(name) % 3] += high - low
    assert fast_charges(spans) == reference_charges(spans) == {0: dict(expected)}


def test_hand_computed_charges_and_report() -> None:
    # trace 0: root 0..100 (op 0), children 10..40 (op 1) and 30..90 (op 2, the last to
    # finish); then back at 30, the child ending before 30 is none: root 0..30 and 90..100.
    # trace 1: a lone root of 50 (op 0).
    traces: list[Trace] = [
        [(-1, 0 + 1, 101, "server"), (0, 11, 41, "client"), (0, 31, 91, "client")],
        [(-1, 1, 51, "server")],
    ]
    spans = window_spans(traces)
    assert fast_charges(spans) == {0: {0: 40, 2: 60}, 1: {0: 50}}
    report = aggregate_critical_paths(spans)
    assert (report.traces, report.critical_ns) == (2, 150)
    assert [(cost.operation, cost.total_ns, cost.traces) for cost in report.ranking] == [
        ("zero", 90, 2),
        ("two", 60, 1),
    ]
    assert report.ranking[0].example_trace_ids == ["t1", "t0"]  # 50 before 40
    assert report.ranking[0].p50_ns == 45.0
    assert list(report.by_endpoint) == ["a zero"]


def random_trace(rng: random.Random) -> Trace:
    count = rng.randint(1, 12)
    starts = sorted(rng.randint(1, 30) for _ in range(count))
    trace: Trace = []
    for index, start in enumerate(starts):
        parent = -1 if index == 0 or rng.random() < 0.1 else rng.randrange(count)  # sometimes later, or itself
        kind = rng.choice(["server", "client", "producer", "consumer", "internal"])
        trace.append((parent, start, start + rng.choice([0, 1, 2, 5, 10, 20, 40]), kind))
    return trace


def test_random_traces_charge_as_the_per_trace_walk() -> None:
    rng = random.Random(22)
    traces = [random_trace(rng) for _ in range(3000)]
    spans = window_spans(traces)
    assert fast_charges(spans) == reference_charges(spans)


def test_report_from_charges_equals_the_report_from_the_table() -> None:
    rng = random.Random(7)
    spans = window_spans([random_trace(rng) for _ in range(300)])
    from_charges = report_from_charges(
        critical_path_charges(spans), operations=spans.operations, trace_ids=spans.trace_ids, spans=spans.span_count
    )
    assert from_charges == aggregate_critical_paths(spans)


def test_no_spans() -> None:
    table = charge_table(window_spans([]))
    assert len(table.trace) == len(table.endpoint) == 0
    assert aggregate_critical_paths(window_spans([])).traces == 0
