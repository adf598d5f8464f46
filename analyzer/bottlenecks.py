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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from analyzer.window_critical_paths import ChargeTable, charge_table
from storage.rows import WindowSpans

__all__ = [
    "BottleneckReport",
    "OperationCost",
    "TraceCharges",
    "aggregate_critical_paths",
    "critical_path_charges",
    "report_from_charges",
    "report_from_table",
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
    return report_from_table(
        charge_table(spans), operations=spans.operations, trace_ids=spans.trace_ids, spans=spans.span_count
    )


def critical_path_charges(spans: WindowSpans) -> Iterator[TraceCharges]:
    """Each trace's critical path, charged to its operations (the per-trace half of
    :func:`aggregate_critical_paths`: a Spark job runs it on the executors)."""
    table = charge_table(spans)
    bounds = np.searchsorted(table.trace, np.arange(len(table.endpoint) + 1))
    ops, nanos = table.op.tolist(), table.nanos.tolist()
    for trace, endpoint in enumerate(table.endpoint.tolist()):
        if endpoint >= 0:
            low, high = bounds[trace], bounds[trace + 1]
            yield TraceCharges(trace, endpoint, dict(zip(ops[low:high], nanos[low:high], strict=True)))


def report_from_charges(
    charges: Iterable[TraceCharges],
    *,
    operations: dict[int, tuple[str, str]],
    trace_ids: list[str],
    spans: int,
) -> BottleneckReport:
    """Aggregate the charged traces per (service, operation).

    ``operations`` names each operation number; ``trace_ids[n]`` is trace n's id.
    """
    rows: list[tuple[int, int, int]] = []
    endpoint = np.full(len(trace_ids), -1, dtype=np.int64)
    for charge in charges:
        endpoint[charge.trace] = charge.endpoint
        rows += ((charge.trace, op, nanos) for op, nanos in sorted(charge.charged.items()))
    columns = np.array(rows, dtype=np.int64).reshape(-1, 3).T
    table = ChargeTable(columns[0], columns[1], columns[2], endpoint)
    return report_from_table(table, operations=operations, trace_ids=trace_ids, spans=spans)


def report_from_table(
    table: ChargeTable, *, operations: dict[int, tuple[str, str]], trace_ids: list[str], spans: int
) -> BottleneckReport:
    """Aggregate the charges (sorted by trace, then operation) per (service, operation);
    ties are broken by service and operation, endpoints come in the order of their first trace."""
    names = {op: f"{service} {operation}" for op, (service, operation) in operations.items()}
    critical_ns = int(table.nanos.sum())
    endpoints = table.endpoint[table.trace]
    ranking = []
    for rows in _groups(table.op):
        op = int(table.op[rows[0]])
        served = sorted({names[int(e)] for e in np.unique(endpoints[rows]).tolist()})
        ranking.append(_cost(operations, trace_ids, op, table.trace[rows], table.nanos[rows], critical_ns, served))
    ranking.sort(key=_rank_key)
    by_endpoint: dict[str, list[OperationCost]] = {}
    for endpoint in _first_seen(endpoints):
        rows_of_endpoint = np.flatnonzero(endpoints == endpoint)
        endpoint_ops, endpoint_nanos = table.op[rows_of_endpoint], table.nanos[rows_of_endpoint]
        total = int(endpoint_nanos.sum())
        no_traces = np.full(len(rows_of_endpoint), -1, dtype=np.int64)  # no examples per endpoint
        costs = [
            _cost(
                operations,
                trace_ids,
                int(endpoint_ops[rows[0]]),
                no_traces[rows],
                endpoint_nanos[rows],
                total,
                [names[endpoint]],
            )
            for rows in _groups(endpoint_ops)
        ]
        by_endpoint[names[endpoint]] = sorted(costs, key=_rank_key)
    return BottleneckReport(int((table.endpoint >= 0).sum()), spans, critical_ns, ranking, by_endpoint)


def _rank_key(cost: OperationCost) -> tuple[int, str, str]:
    return -cost.total_ns, cost.service, cost.operation


def _groups(values: np.ndarray) -> list[np.ndarray]:
    """Row numbers of each distinct value, each group in row order."""
    order = np.argsort(values, kind="stable")
    cuts = np.flatnonzero(np.diff(values[order])) + 1
    return np.split(order, cuts) if len(order) else []


def _first_seen(values: np.ndarray) -> list[int]:
    """The distinct values in the order they first appear."""
    distinct, first = np.unique(values, return_index=True)
    return [int(value) for value in distinct[np.argsort(first)]]


def _cost(
    operations: dict[int, tuple[str, str]],
    trace_ids: list[str],
    op: int,
    traces: np.ndarray,
    nanos: np.ndarray,
    total: int,
    endpoints: list[str],
) -> OperationCost:
    """One operation's cost from its charges (in trace order); traces below 0 give no example."""
    service, operation = operations[op]
    p50, p95, p99 = np.percentile(nanos, [50, 95, 99]).tolist()
    slowest = traces[np.argsort(-nanos, kind="stable")[:EXAMPLES_PER_OPERATION]]
    return OperationCost(
        service=service,
        operation=operation,
        total_ns=int(nanos.sum()),
        share=round(float(nanos.sum()) / total, 6) if total else 0.0,
        traces=len(nanos),
        p50_ns=p50,
        p95_ns=p95,
        p99_ns=p99,
        endpoints=endpoints,
        example_trace_ids=[trace_ids[trace] for trace in slowest.tolist() if trace >= 0],
    )
