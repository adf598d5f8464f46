"""Critical paths across many traces: where the time goes, and what to fix first.

For every trace of a window the critical path is computed (analyzer.critical_path), and
its time is charged to the (service, operation) of each section's span. As Uber's CRISP
aggregates them: an operation's *critical-path time* in a trace is the sum of its
sections; across traces it has a total, a share of all critical-path time, and
percentiles over the traces it appears in. Views:

* ranking: operations by total critical-path time (what to fix first), with evidence;
* top-down: one endpoint (root service + operation) and the operations its time goes to;
* bottom-up: operations on the critical path of many endpoints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from analyzer.critical_path import critical_sections
from analyzer.trace_views import iter_trace_views
from storage.rows import WindowSpans

__all__ = [
    "BottleneckReport",
    "OperationCost",
    "TraceCharges",
    "aggregate_critical_paths",
    "critical_path_charges",
    "report_from_charges",
]

EXAMPLES_PER_OPERATION = 3


@dataclass(frozen=True)
class OperationCost:
    """One (service, operation) on the critical path, with its evidence."""

    service: str
    operation: str
    total_ns: int
    share: float  # of all critical-path time in the window
    traces: int  # traces whose critical path it is on
    p50_ns: float
    p95_ns: float
    p99_ns: float
    endpoints: list[str]  # root "service operation" of those traces
    example_trace_ids: list[str]  # where it took longest


@dataclass(frozen=True)
class BottleneckReport:
    traces: int
    spans: int
    critical_ns: int
    ranking: list[OperationCost]
    by_endpoint: dict[str, list[OperationCost]] = field(default_factory=dict)

    def bottom_up(self, *, min_endpoints: int = 2) -> list[OperationCost]:
        """Operations on the critical path of several endpoints, the most endpoints first."""
        shared = [cost for cost in self.ranking if len(cost.endpoints) >= min_endpoints]
        return sorted(shared, key=lambda cost: (-len(cost.endpoints), -cost.total_ns))


@dataclass(frozen=True)
class TraceCharges:
    """One trace's critical path, charged: its number, its root's operation (the endpoint)
    and the nanoseconds each operation spends on the path."""

    trace: int
    endpoint: int
    charged: dict[int, int]


def aggregate_critical_paths(spans: WindowSpans) -> BottleneckReport:
    """Compute every trace's critical path and aggregate it per (service, operation)."""
    return report_from_charges(
        critical_path_charges(spans), operations=spans.operations, trace_ids=spans.trace_ids, spans=spans.span_count
    )


def critical_path_charges(spans: WindowSpans) -> Iterator[TraceCharges]:
    """Each trace's critical path, charged to its operations (the per-trace half of
    :func:`aggregate_critical_paths`: a Spark job runs it on the executors)."""
    for view in iter_trace_views(spans):
        sections = critical_sections(
            view.starts, view.ends, view.children, view.roots, producer=view.producer, consumer=view.consumer
        )
        charged: dict[int, int] = defaultdict(int)
        for index, section_start, section_end in sections:
            charged[view.ops[index]] += section_end - section_start
        yield TraceCharges(view.number, view.ops[view.roots[0]], dict(charged))


def report_from_charges(
    charges: Iterable[TraceCharges],
    *,
    operations: dict[int, tuple[str, str]],
    trace_ids: list[str],
    spans: int,
) -> BottleneckReport:
    """Aggregate the charged traces (in trace number order) per (service, operation).

    ``operations`` names each operation number; ``trace_ids[n]`` is trace n's id.
    """
    per_trace: dict[int, list[tuple[int, int]]] = defaultdict(list)  # op -> [(trace, ns)]
    per_endpoint: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    endpoint_of: dict[int, int] = {}
    for trace in charges:
        endpoint_of[trace.trace] = trace.endpoint
        for op, nanos in trace.charged.items():
            per_trace[op].append((trace.trace, nanos))
            per_endpoint[trace.endpoint][op].append(nanos)
    return _report(operations, trace_ids, spans, per_trace, per_endpoint, endpoint_of)


def _report(
    operations: dict[int, tuple[str, str]],
    trace_ids: list[str],
    spans: int,
    per_trace: dict[int, list[tuple[int, int]]],
    per_endpoint: dict[int, dict[int, list[int]]],
    endpoint_of: dict[int, int],
) -> BottleneckReport:
    critical_ns = sum(nanos for values in per_trace.values() for _, nanos in values)
    names = {op: f"{service} {operation}" for op, (service, operation) in operations.items()}
    ranking = [
        _cost(operations, trace_ids, op, values, critical_ns, sorted({names[endpoint_of[t]] for t, _ in values}))
        for op, values in per_trace.items()
    ]
    ranking.sort(key=lambda cost: (-cost.total_ns, cost.service, cost.operation))
    by_endpoint: dict[str, list[OperationCost]] = {}
    for endpoint, ops in per_endpoint.items():
        endpoint_total = sum(sum(values) for values in ops.values())
        costs = [
            _cost(operations, trace_ids, op, [(-1, nanos) for nanos in values], endpoint_total, [names[endpoint]])
            for op, values in ops.items()
        ]
        by_endpoint[names[endpoint]] = sorted(costs, key=lambda cost: -cost.total_ns)
    return BottleneckReport(len(endpoint_of), spans, critical_ns, ranking, by_endpoint)


def _cost(
    operations: dict[int, tuple[str, str]],
    trace_ids: list[str],
    op: int,
    values: list[tuple[int, int]],
    total: int,
    endpoints: list[str],
) -> OperationCost:
    service, operation = operations[op]
    nanos = np.fromiter((value for _, value in values), dtype=np.int64, count=len(values))
    p50, p95, p99 = np.percentile(nanos, [50, 95, 99]).tolist()
    slowest = sorted(values, key=lambda item: -item[1])[:EXAMPLES_PER_OPERATION]
    return OperationCost(
        service=service,
        operation=operation,
        total_ns=int(nanos.sum()),
        share=round(float(nanos.sum()) / total, 6) if total else 0.0,
        traces=len(values),
        p50_ns=p50,
        p95_ns=p95,
        p99_ns=p99,
        endpoints=endpoints,
        example_trace_ids=[trace_ids[trace] for trace, _ in slowest if trace >= 0],
    )
