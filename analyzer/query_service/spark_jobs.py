"""The analyses as Spark jobs over the Parquet lake: the same query-service code as on a store.

* The service graph and SQL: the store's named queries, rewritten to Spark SQL by
  :class:`storage.spark_lake.SparkLake`, aggregate on the cluster; their small results
  go through the same builders and renderers as on one node (``service_graph`` itself
  runs, with the lake as its connection).
* Bottlenecks: the spans of the window's traces (``traces/window_span_rows``, the store's
  query) are grouped by a hash of the trace id on the executors, where glimpse's own
  per-trace functions run on each group: the critical path charged to operations
  (:func:`analyzer.bottlenecks.critical_path_charges`) and the call patterns
  (:func:`analyzer.patterns.detect_patterns`). The driver collects one row per trace and
  operation and builds the report with :func:`analyzer.bottlenecks.report_from_charges`.
  Every trace of the window is analysed (no sample): the cluster is there for that.
* Anomalies and root causes: the query service's own ``anomalies`` and ``root_causes`` run
  with the lake as their connection, so every series and every piece of evidence (RED
  series, log series, resource and histogram metrics, the RCA evidence, the log
  transitions whose templates the driver mines, versions, the spectrum) is the store's
  query on Spark, and detection, grouping and ranking are the same code on the driver. The
  critical paths the ranking compares are charged on the executors as for bottlenecks
  (every trace of both windows; a node samples past 2,000 traces a window).

Traces come back in trace-id order, as the store numbers them, so rankings and their
ties, examples and evidence are the store's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.bottlenecks import BottleneckReport, TraceCharges, critical_path_charges, report_from_charges
from analyzer.patterns import Finding, detect_patterns
from analyzer.query_service.bottlenecks import MAX_PATTERN_TRACES, bottleneck_answer, pattern_answer, split_endpoint
from analyzer.query_service.graphs import service_graph_document
from analyzer.query_service.incidents import anomalies, root_causes
from analyzer.trace_views import iter_trace_views
from storage.graph_queries import resolve_window
from storage.spark_lake import SparkLake
from storage.trace_queries import window_spans_from_arrow
from storage.window import SpanWindow

__all__ = [
    "spark_anomalies",
    "spark_bottlenecks",
    "spark_critical_paths",
    "spark_graph_document",
    "spark_root_causes",
    "spark_sql",
]

# the shape of each executor's answer: one row per trace and charged operation (op -1:
# nothing charged), and one per pattern finding (kind 'pattern', detail its JSON)
_CHARGE_SCHEMA = "trace_id string, k int, spans int, endpoint int, op int, ns long, kind string, detail string"
GROUPS_PER_CORE = 4


def _connection(lake: SparkLake) -> duckdb.DuckDBPyConnection:
    # the query service's functions take a connection; the lake answers the calls they make
    return cast(duckdb.DuckDBPyConnection, lake)


def spark_graph_document(lake: SparkLake, fmt: str, **options: Any) -> str:
    """``glimpse graph`` over the lake: the store's graph code, the queries on Spark."""
    return service_graph_document(_connection(lake), fmt, **options)


def spark_sql(lake: SparkLake, sql: str, *, max_rows: int) -> dict[str, Any]:
    """A user's Spark SQL over the lake's views, in ``glimpse sql``'s JSON shape."""
    columns, types, rows, truncated = lake.sql(sql, max_rows=max_rows)
    return {"columns": columns, "types": types, "rows": rows, "truncated": truncated}


def spark_bottlenecks(
    lake: SparkLake,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    endpoint: str | None = None,
    service: str | None = None,
    limit: int = 20,
    patterns: bool = True,
) -> dict[str, Any]:
    """``glimpse bottlenecks`` over the lake (see the module's docstring)."""
    window = resolve_window(_connection(lake), since_ns, until_ns)
    charged = _charged_traces(lake, window, endpoint=endpoint, patterns=patterns)
    found = {"traces_scanned": 0, "found": []}
    if patterns:
        scanned = min(len(charged.trace_ids), MAX_PATTERN_TRACES)
        span_ids = charged.span_ids
        found = pattern_answer(
            charged.findings, scanned, charged.operations, charged.trace_ids, lambda f, i: span_ids[id(f)][i], limit
        )
    return bottleneck_answer(
        window, charged.report, endpoint=endpoint, service=service, limit=limit, fraction=1.0, found=found
    )


def spark_anomalies(lake: SparkLake, **options: Any) -> dict[str, Any]:
    """``glimpse anomalies`` over the lake: the query service's own function, its queries
    (RED, log and metric series) on Spark; detection and grouping on the driver."""
    return anomalies(_connection(lake), **options)


def spark_root_causes(lake: SparkLake, **options: Any) -> dict[str, Any]:
    """``glimpse rca`` over the lake: the query service's own function, its queries (evidence,
    log transitions, versions, spectrum, resource metrics) on Spark, the critical paths of
    the two windows on the executors (every trace: no sample); ranking on the driver."""
    return root_causes(_connection(lake), critical_paths=spark_critical_paths, **options)


def spark_critical_paths(con: Any, window: SpanWindow) -> BottleneckReport:
    """The critical paths of every trace in ``window``, computed per trace group on the executors."""
    return _charged_traces(cast(SparkLake, con), window, endpoint=None, patterns=False).report


@dataclass(frozen=True)
class _Charged:
    report: BottleneckReport
    operations: dict[int, tuple[str, str]]
    trace_ids: list[str]
    findings: list[Finding]
    span_ids: dict[int, list[str]]


def _charged_traces(lake: SparkLake, window: SpanWindow, *, endpoint: str | None, patterns: bool) -> _Charged:
    """Every trace of the window charged on the executors; the report built on the driver."""
    root_service, root_operation = split_endpoint(endpoint)
    params = {
        "since": window.since_ns,
        "until": window.until_ns,
        "root_service": root_service,
        "root_operation": root_operation,
        "sample_per_million": 1_000_000,
    }
    rows = lake.frame(("traces/window_span_rows", "traces/window_span_groups"), params)
    operations = {
        int(r["op"]): (r["service_name"], r["span_name"])
        for r in rows.select("op", "service_name", "span_name").distinct().collect()
    }
    cutoff = _pattern_cutoff(rows) if patterns else ""
    groups = max(1, int(lake.session.sparkContext.defaultParallelism) * GROUPS_PER_CORE)
    charged: pa.Table = (
        rows.selectExpr("*", f"pmod(xxhash64(trace_key), {groups}) AS trace_group")
        .groupBy("trace_group")
        .applyInArrow(lambda table: charge_traces(table, cutoff), _CHARGE_SCHEMA)
        .toArrow()
    )
    charged = charged.sort_by([("trace_id", "ascending"), ("k", "ascending")])
    trace_ids, charges, findings, span_ids = _collect(charged)
    spans = int(pc.sum(charged["spans"]).as_py() or 0)
    report = report_from_charges(charges, operations=operations, trace_ids=trace_ids, spans=spans)
    return _Charged(report, operations, trace_ids, findings, span_ids)


def _pattern_cutoff(rows: Any) -> str:
    """The id of the MAX_PATTERN_TRACES-th trace in id order: patterns are looked for up to it."""
    first = rows.select("trace_key").distinct().orderBy("trace_key").limit(MAX_PATTERN_TRACES)
    last = first.selectExpr("max(trace_key) AS last").collect()[0]["last"]
    return str(last or "")


def charge_traces(table: pa.Table, pattern_cutoff: str) -> pa.Table:
    """On an executor: the critical-path charges (and, up to ``pattern_cutoff``, the
    pattern findings) of every trace in ``table`` (rows of ``traces/window_span_rows``)."""
    table = table.sort_by([("trace_key", "ascending"), ("idx", "ascending")])
    keys = table.column("trace_key").to_numpy(zero_copy_only=False)
    if not len(keys):
        return pa.table({name: [] for name in _names()}, schema=_arrow_schema())
    numbers = np.concatenate([[0], np.cumsum(keys[1:] != keys[:-1])]).astype(np.int32)
    spans = window_spans_from_arrow(table.append_column("trace_no", pa.array(numbers)))
    out: dict[str, list[Any]] = {name: [] for name in _names()}

    def emit(trace: int, k: int, span_count: int, endpoint: int, op: int, ns: int, kind: str, detail: str) -> None:
        for name, value in zip(
            _names(), (spans.trace_ids[trace], k, span_count, endpoint, op, ns, kind, detail), strict=True
        ):
            out[name].append(value)

    counts = np.bincount(numbers)
    for charge in critical_path_charges(spans):
        items = list(charge.charged.items()) or [(-1, 0)]
        for k, (op, nanos) in enumerate(items):
            emit(charge.trace, k, int(counts[charge.trace]) if k == 0 else 0, charge.endpoint, op, nanos, "charge", "")
    if pattern_cutoff:
        for view in iter_trace_views(spans):
            if spans.trace_ids[view.number] > pattern_cutoff:
                break
            for k, finding in enumerate(detect_patterns(view)):
                ids = [spans.span_id(view.offset + i) for i in (finding.parent, *finding.spans[:10])]
                detail = json.dumps({**_finding_fields(finding), "ids": ids})
                emit(view.number, k, 0, -1, finding.op, finding.saving_ns, "pattern", detail)
    return pa.table(out, schema=_arrow_schema())


def _finding_fields(finding: Finding) -> dict[str, Any]:
    return {"pattern": finding.pattern, "spans": len(finding.spans), "note": finding.note}


def _names() -> tuple[str, ...]:
    return tuple(part.split()[0] for part in _CHARGE_SCHEMA.split(", "))


def _arrow_schema() -> pa.Schema:
    types = {"string": pa.string(), "int": pa.int32(), "long": pa.int64()}
    return pa.schema([(name, types[kind]) for name, kind in (part.split() for part in _CHARGE_SCHEMA.split(", "))])


def _collect(
    table: pa.Table,
) -> tuple[list[str], list[TraceCharges], list[Finding], dict[int, list[str]]]:
    """Traces numbered in id order, their charges, and their findings (span ids by finding)."""
    trace_ids: list[str] = []
    charges: dict[int, TraceCharges] = {}
    findings: list[Finding] = []
    span_ids: dict[int, list[str]] = {}
    for row in table.to_pylist():
        if not trace_ids or trace_ids[-1] != row["trace_id"]:
            trace_ids.append(row["trace_id"])
        number = len(trace_ids) - 1
        if row["kind"] == "charge":
            charge = charges.setdefault(number, TraceCharges(number, row["endpoint"], {}))
            if row["op"] >= 0:
                charge.charged[row["op"]] = row["ns"]
            continue
        detail = json.loads(row["detail"])
        finding = Finding(
            detail["pattern"], number, -1, tuple(range(detail["spans"])), row["op"], row["ns"], detail["note"]
        )
        findings.append(finding)
        ids = detail["ids"]
        span_ids[id(finding)] = [*ids[1:], ids[0]]  # index -1 (the parent) is the last
    return trace_ids, [charges[n] for n in sorted(charges)], findings, span_ids
