"""Root-cause benchmark on real data: the Nezha Train-Ticket traces and metrics, 28 labelled faults.

What it does, in one run:

1. Reads the data set (``--data``, default ../shared/research-data/nezha-trainticket next to
   the repository): the fault list (``inject_time`` parsed as UTC, see its README), every
   trace CSV of rca_data and construct_data, their log lines, and the per-pod metric CSVs.
2. Starts a real glimpse server in process on a fresh DuckDB file (``--db`` to keep it).
3. Replays the spans over OTLP/gRPC exactly as messy as they are: no span kind, no status,
   no attributes; one ResourceSpans per pod (service.name, k8s.pod.name,
   service.instance.id); duplicated rows of overlapping files sent again, as a retrying
   exporter would. Then the pod metrics within the traces' time range +- 1 h, as gauges
   under the kubeletstats names glimpse's platform layer normalises, plus the data set's
   own columns under ``nezha.*`` names (extra data that glimpse does not special-case).
   Then the log lines as OTLP log records tied to their spans, parsed as a Collector's
   filelog receiver or an OpenTelemetry logging appender would deliver them: severity from
   the level, the message as the body, the logger class and line as ``code.namespace`` and
   ``code.line.number`` (overlapping files' duplicate lines sent again).
4. For each fault: incident window [inject_time, inject_time + 3 min), a baseline window
   (``--baseline``, see :func:`baseline_window`), and ``glimpse rca --json`` in a
   subprocess (through the running server's API). Scores as RCAEval does: AC@1, AC@3,
   Avg@5, overall and per fault type, next to a seeded random ranking of the services
   seen in the incident window, and the seconds per diagnosis.

Run: ``python -m bench.rca_nezha [--replay-only] [--db PATH [--skip-replay]] [--no-logs] [--json]``.
Target (issue 16): AC@1 >= 0.8, AC@3 >= 0.95. Published on these data: trace-only methods
0.07-0.16, MicroRank 0.16, Nezha (with logs) 0.87.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as LOGS_SERVICE_PB2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc as LOGS_SERVICE_GRPC
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as METRICS_SERVICE_PB2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as METRICS_SERVICE_GRPC
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as TRACE_SERVICE_GRPC
from opentelemetry.proto.common.v1 import common_pb2 as COMMON_PB2
from opentelemetry.proto.logs.v1 import logs_pb2 as LOGS_PB2
from opentelemetry.proto.metrics.v1 import metrics_pb2 as METRICS_PB2
from opentelemetry.proto.resource.v1 import resource_pb2 as RESOURCE_PB2
from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2

from bench.common import GRPC_OPTIONS, SCORES, TOP_K, ac_scores, first_rank, rank_scores, running_server
from bench.nezha_data import (
    MINUTE_NS,
    Fault,
    LogRow,
    MetricRow,
    SpanRow,
    read_faults,
    read_logs,
    read_metrics,
    read_spans,
    service_of,
)
from glimpse.client import GlimpseClient

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "research-data" / "nezha-trainticket"
INCIDENT_NS = 3 * MINUTE_NS  # each fault lasts about 3 minutes (README)
BASELINE_NS = 60 * MINUTE_NS
METRIC_MARGIN_NS = 60 * MINUTE_NS
SPANS_PER_REQUEST = 2000
EXPORT_ATTEMPTS = 10
FAULT_TYPES = ("return", "exception", "cpu_contention", "network_delay")

# CSV column -> (metric name, unit, scale). The first four are kubeletstats names that
# storage/queries/resources/metrics.sql normalises (CpuUsageRate and MemoryUsageRate are
# percentages of the pod's limit: CpuUsage(m) / CpuUsageRate = 500m, MemoryUsage / rate =
# 2000 Mi). The network columns are per-second rates, not the cumulative counter that
# k8s.pod.network.io is (and with one point a minute a counter's in-bucket increase would
# read 0), so they go under nezha.* names with everything else. The Node* columns describe
# the pod's node, which has no name in the data: kept on the pod's resource, as nezha.node.*.
METRIC_COLUMNS: dict[str, tuple[str, str, float]] = {
    "CpuUsageRate(%)": ("k8s.pod.cpu_limit_utilization", "1", 0.01),
    "MemoryUsageRate(%)": ("k8s.pod.memory_limit_utilization", "1", 0.01),
    "MemoryUsage(Mi)": ("k8s.pod.memory.usage", "By", float(2**20)),
    "CpuUsage(m)": ("k8s.pod.cpu.usage", "{cpu}", 0.001),
    "NetworkReceiveBytes": ("nezha.pod.network.receive_rate", "By/s", 1.0),
    "NetworkTransmitBytes": ("nezha.pod.network.transmit_rate", "By/s", 1.0),
    "SyscallRead": ("nezha.pod.syscall.read_rate", "{call}/s", 1.0),
    "SyscallWrite": ("nezha.pod.syscall.write_rate", "{call}/s", 1.0),
    "PodClientLatencyP90(s)": ("nezha.pod.client.latency.p90", "s", 1.0),
    "PodClientLatencyP95(s)": ("nezha.pod.client.latency.p95", "s", 1.0),
    "PodClientLatencyP99(s)": ("nezha.pod.client.latency.p99", "s", 1.0),
    "PodServerLatencyP90(s)": ("nezha.pod.server.latency.p90", "s", 1.0),
    "PodServerLatencyP95(s)": ("nezha.pod.server.latency.p95", "s", 1.0),
    "PodServerLatencyP99(s)": ("nezha.pod.server.latency.p99", "s", 1.0),
    "PodWorkload(Ops)": ("nezha.pod.workload", "{operation}/s", 1.0),
    "PodSuccessRate(%)": ("nezha.pod.success_rate", "1", 0.01),
    "NodeCpuUsageRate(%)": ("nezha.node.cpu_utilization", "1", 0.01),
    "NodeMemoryUsageRate(%)": ("nezha.node.memory_utilization", "1", 0.01),
    "NodeNetworkReceiveBytes": ("nezha.node.network.receive_rate", "By/s", 1.0),
}


# --- OTLP encoding ---------------------------------------------------------------------


def _string_attribute(key: str, value: str) -> COMMON_PB2.KeyValue:
    return COMMON_PB2.KeyValue(key=key, value=COMMON_PB2.AnyValue(string_value=value))


def pod_resource(pod: str) -> RESOURCE_PB2.Resource:
    """The resource a pod's SDK would report; no k8s.node.name (the data has no node column)."""
    return RESOURCE_PB2.Resource(
        attributes=[
            _string_attribute("service.name", service_of(pod)),
            _string_attribute("k8s.pod.name", pod),
            _string_attribute("service.instance.id", pod),
        ]
    )


def _span(row: SpanRow) -> TRACE_PB2.Span:
    # The ids are already OTLP-sized hex (32 and 16 digits), so they are sent as they are.
    return TRACE_PB2.Span(
        trace_id=bytes.fromhex(row.trace_id),
        span_id=bytes.fromhex(row.span_id),
        parent_span_id=bytes.fromhex(row.parent_id),
        name=row.operation,
        start_time_unix_nano=row.start_ns,
        end_time_unix_nano=row.end_ns,
    )


def encode_spans(rows: Iterable[SpanRow]) -> TRACE_SERVICE_PB2.ExportTraceServiceRequest:
    """One ResourceSpans per pod; kind UNSPECIFIED, no status, no attributes, an empty scope."""
    by_pod: dict[str, list[TRACE_PB2.Span]] = defaultdict(list)
    for row in rows:
        by_pod[row.pod].append(_span(row))
    return TRACE_SERVICE_PB2.ExportTraceServiceRequest(
        resource_spans=[
            TRACE_PB2.ResourceSpans(resource=pod_resource(pod), scope_spans=[TRACE_PB2.ScopeSpans(spans=spans)])
            for pod, spans in by_pod.items()
        ]
    )


def _gauge(name: str, unit: str, points: list[METRICS_PB2.NumberDataPoint]) -> METRICS_PB2.Metric:
    return METRICS_PB2.Metric(name=name, unit=unit, gauge=METRICS_PB2.Gauge(data_points=points))


def encode_pod_metrics(pod: str, rows: Sequence[MetricRow]) -> METRICS_SERVICE_PB2.ExportMetricsServiceRequest:
    """All rows of one pod: one gauge per mapped column, one point per row."""
    points: dict[str, list[METRICS_PB2.NumberDataPoint]] = defaultdict(list)
    for row in rows:
        for column, value in row.values.items():
            if column in METRIC_COLUMNS:
                scale = METRIC_COLUMNS[column][2]
                points[column].append(METRICS_PB2.NumberDataPoint(time_unix_nano=row.time_ns, as_double=value * scale))
    metrics = [_gauge(METRIC_COLUMNS[c][0], METRIC_COLUMNS[c][1], p) for c, p in points.items()]
    return METRICS_SERVICE_PB2.ExportMetricsServiceRequest(
        resource_metrics=[
            METRICS_PB2.ResourceMetrics(
                resource=pod_resource(pod),
                scope_metrics=[
                    METRICS_PB2.ScopeMetrics(scope=COMMON_PB2.InstrumentationScope(name="nezha"), metrics=metrics)
                ],
            )
        ]
    )


SEVERITY_NUMBERS = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "WARNING": 13, "ERROR": 17, "FATAL": 21}


def _log_record(row: LogRow) -> LOGS_PB2.LogRecord:
    return LOGS_PB2.LogRecord(
        time_unix_nano=row.time_ns,
        observed_time_unix_nano=row.time_ns,
        severity_text=row.level,
        severity_number=SEVERITY_NUMBERS.get(row.level, 0),  # type: ignore[arg-type]  # an enum value
        body=COMMON_PB2.AnyValue(string_value=row.message),
        attributes=[
            _string_attribute("code.namespace", row.logger),
            COMMON_PB2.KeyValue(key="code.line.number", value=COMMON_PB2.AnyValue(int_value=row.line)),
        ],
        trace_id=bytes.fromhex(row.trace_id),
        span_id=bytes.fromhex(row.span_id),
    )


def encode_logs(rows: Iterable[LogRow]) -> LOGS_SERVICE_PB2.ExportLogsServiceRequest:
    """One ResourceLogs per pod, with the same resource as its spans."""
    by_pod: dict[str, list[LOGS_PB2.LogRecord]] = defaultdict(list)
    for row in rows:
        by_pod[row.pod].append(_log_record(row))
    return LOGS_SERVICE_PB2.ExportLogsServiceRequest(
        resource_logs=[
            LOGS_PB2.ResourceLogs(
                resource=pod_resource(pod),
                scope_logs=[
                    LOGS_PB2.ScopeLogs(scope=COMMON_PB2.InstrumentationScope(name="logback"), log_records=records)
                ],
            )
            for pod, records in by_pod.items()
        ]
    )


def chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# --- replay ----------------------------------------------------------------------------


@dataclass
class ReplayFigures:
    spans_sent: int = 0
    unique_spans: int = 0
    spans_stored: int = 0
    distinct_stored: int = 0
    trace_requests: int = 0
    trace_seconds: float = 0.0
    metric_rows: int = 0
    points_sent: int = 0
    points_stored: int = 0
    metric_requests: int = 0
    metric_seconds: float = 0.0
    logs_sent: int = 0
    logs_skipped: int = 0
    logs_stored: int = 0
    log_requests: int = 0
    log_seconds: float = 0.0
    retries: int = 0


def _export(call: Any, request: Any, figures: ReplayFigures) -> Any:
    """One Export call; UNAVAILABLE (glimpse's back-pressure answer) is retried with a growing pause."""
    for attempt in range(1, EXPORT_ATTEMPTS + 1):
        try:
            return call(request, timeout=120)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == EXPORT_ATTEMPTS:
                raise
            figures.retries += 1
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def _send_batches(
    call: Any, rows: Sequence[Any], encode: Callable[[Sequence[Any]], Any], rejected: str, figures: ReplayFigures
) -> tuple[int, int, float]:
    """Export ``rows`` in requests of SPANS_PER_REQUEST; (items sent, requests, seconds).
    Any item refused (the partial-success field ``rejected``) stops the replay."""
    sent = requests = 0
    started = time.perf_counter()
    for batch in chunks(rows, SPANS_PER_REQUEST):
        response = _export(call, encode(batch), figures)
        if getattr(response.partial_success, rejected):
            raise RuntimeError(f"glimpse refused some ({rejected}): {response.partial_success.error_message}")
        sent += len(batch)
        requests += 1
    return sent, requests, time.perf_counter() - started


def replay_spans(channel: grpc.Channel, spans: Sequence[SpanRow], figures: ReplayFigures) -> None:
    stub = TRACE_SERVICE_GRPC.TraceServiceStub(channel)  # type: ignore[no-untyped-call]  # generated, untyped
    sent = _send_batches(stub.Export, spans, encode_spans, "rejected_spans", figures)
    figures.spans_sent, figures.trace_requests, figures.trace_seconds = sent
    figures.unique_spans = len({(row.trace_id, row.span_id) for row in spans})


def replay_metrics(channel: grpc.Channel, rows: Sequence[MetricRow], figures: ReplayFigures) -> None:
    stub = METRICS_SERVICE_GRPC.MetricsServiceStub(channel)  # type: ignore[no-untyped-call]  # generated, untyped
    by_pod: dict[str, list[MetricRow]] = defaultdict(list)
    for row in rows:
        by_pod[row.pod].append(row)
    started = time.perf_counter()
    for pod, pod_rows in sorted(by_pod.items()):
        request = encode_pod_metrics(pod, pod_rows)
        response = _export(stub.Export, request, figures)
        if response.partial_success.rejected_data_points:
            raise RuntimeError(f"glimpse rejected points: {response.partial_success.error_message}")
        figures.points_sent += sum(
            len(m.gauge.data_points) for m in request.resource_metrics[0].scope_metrics[0].metrics
        )
        figures.metric_requests += 1
    figures.metric_rows = len(rows)
    figures.metric_seconds = time.perf_counter() - started


def replay_logs(channel: grpc.Channel, logs: Sequence[LogRow], figures: ReplayFigures) -> None:
    stub = LOGS_SERVICE_GRPC.LogsServiceStub(channel)  # type: ignore[no-untyped-call]  # generated, untyped
    sent = _send_batches(stub.Export, logs, encode_logs, "rejected_log_records", figures)
    figures.logs_sent, figures.log_requests, figures.log_seconds = sent


def _count(sql: str, db_path: str) -> int:
    return int(GlimpseClient(db_path).sql(sql)["rows"][0][0])


def replay(
    grpc_port: int,
    db_path: str,
    spans: Sequence[SpanRow],
    metrics: Sequence[MetricRow],
    logs: tuple[Sequence[LogRow], int],
) -> ReplayFigures:
    figures = ReplayFigures()
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}", options=GRPC_OPTIONS) as channel:
        replay_spans(channel, spans, figures)
        if metrics:
            replay_metrics(channel, metrics, figures)
        if logs[0]:
            replay_logs(channel, logs[0], figures)
    figures.logs_skipped = logs[1]
    figures.logs_stored = _count("SELECT count(*) FROM otel_logs", db_path)
    figures.spans_stored = _count("SELECT count(*) FROM otel_traces", db_path)
    figures.distinct_stored = _count("SELECT count(DISTINCT (trace_id, span_id)) FROM otel_traces", db_path)
    figures.points_stored = _count("SELECT count(*) FROM otel_metrics_gauge", db_path)
    return figures


def metric_range(spans: Sequence[SpanRow]) -> tuple[int, int]:
    """The traces' time range, widened by an hour each side: which metric rows to replay."""
    return min(s.start_ns for s in spans) - METRIC_MARGIN_NS, max(s.end_ns for s in spans) + METRIC_MARGIN_NS


def print_replay(figures: ReplayFigures, spans: Sequence[SpanRow]) -> None:
    duplicates = figures.spans_sent - figures.unique_spans
    pods = len({s.pod for s in spans})
    print(
        f"replay over OTLP/gRPC: {figures.spans_sent:,} spans sent ({figures.unique_spans:,} unique, "
        f"{duplicates:,} duplicated rows of overlapping files), {pods} pods, {figures.trace_requests} requests, "
        f"{figures.trace_seconds:.1f} s ({figures.spans_sent / max(figures.trace_seconds, 1e-9):,.0f} spans/s)"
    )
    # Both must hold: the row count alone can match while duplicates are kept and as many spans lost.
    verdict = "ok" if figures.spans_stored == figures.distinct_stored == figures.unique_spans else "MISMATCH"
    print(
        f"  stored in otel_traces: {figures.spans_stored:,} rows, {figures.distinct_stored:,} distinct "
        f"(trace_id, span_id) - {verdict} (expected {figures.unique_spans:,} of each)"
    )
    print(
        f"  metrics: {figures.metric_rows:,} pod rows -> {figures.points_sent:,} gauge points sent, "
        f"{figures.points_stored:,} stored, {figures.metric_requests} requests, {figures.metric_seconds:.1f} s"
    )
    print(
        f"  logs: {figures.logs_sent:,} records sent ({figures.logs_skipped} lines did not parse), "
        f"{figures.logs_stored:,} stored, {figures.log_requests} requests, {figures.log_seconds:.1f} s"
    )
    if figures.retries:
        print(f"  UNAVAILABLE answers retried: {figures.retries}")


# --- diagnosis -------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    since_ns: int
    until_ns: int


def incident_window(fault: Fault) -> Window:
    return Window(fault.inject_ns, fault.inject_ns + INCIDENT_NS)


BASELINE_HELP = {
    "clean": "the 60 min before the injection, cut back to the end of the previous fault's window",
    "hour": "the 60 min before the injection, earlier faults included",
    "normal": "the construct_data fault-free window for every fault",
}


def baseline_window(fault: Fault, faults: Sequence[Fault], mode: str, normal: Window) -> Window:
    """The reference window the incident is compared with.

    The trace files cover only the fault minutes (three files per fault, file ``HH_MM``
    holding about [HH:MM-1:08, HH:MM:08), so mostly time before the injection) plus one
    fault-free window in construct_data (08:48-08:51). Hence:

    - ``hour`` (default): the 60 minutes before the injection, other faults included, as an
      SRE would compare with the hour before. The data holds only the fault minutes, so this
      is the files of that hour's earlier faults and the normal window where it falls in: some
      minutes of mostly normal data, enough for the log statistics (counts of each statement).
    - ``clean``: the 60 minutes before the injection, cut back so that they do
      not reach into the previous fault's window [inject, inject + 3 min). In practice the
      pre-injection part of this fault's own files (one to two minutes the README calls mostly
      normal, same load as the incident), plus the construct_data window where it falls in.
      Without the cut, the three to four faults in a row on the same pod would put the
      culprit's own earlier errors into the baseline.
    - ``normal``: the construct_data window for every fault (hours away for the late ones).
    """
    if mode == "normal":
        return normal
    since = fault.inject_ns - BASELINE_NS
    if mode == "clean":
        earlier = [f.inject_ns + INCIDENT_NS for f in faults if f.inject_ns < fault.inject_ns]
        since = max([since, *earlier])
        since = min(since, fault.inject_ns - MINUTE_NS)
    return Window(since, fault.inject_ns)


class RcaError(Exception):
    """``glimpse rca`` failed or answered something that is not its JSON."""


def run_rca(db_path: str, incident: Window, baseline: Window, timeout_s: float) -> list[dict[str, Any]]:
    command = [
        sys.executable, "-m", "glimpse", "rca", "--db", db_path,
        "--since", str(incident.since_ns), "--until", str(incident.until_ns),
        "--baseline-since", str(baseline.since_ns), "--baseline-until", str(baseline.until_ns),
        "--json",
    ]  # fmt: skip
    try:
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise RcaError(f"timed out after {timeout_s:.0f} s") from None
    if done.returncode != 0:
        raise RcaError(f"exit {done.returncode}: {_last_message(done.stderr or done.stdout)}")
    try:
        candidates = json.loads(done.stdout)["candidates"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RcaError(f"unexpected output ({exc.__class__.__name__}): {done.stdout[:200]!r}") from None
    return list(candidates)


def _last_message(output: str) -> str:
    """The last line with text, without the box drawing of typer's error panels."""
    lines = [line.strip(" \u2502\u256d\u256e\u2570\u256f\u2500") for line in output.splitlines()]
    return next((line for line in reversed(lines) if line), "no output")


def matches(candidate: dict[str, Any], fault: Fault) -> bool:
    """RCAEval-style: the pod itself, or its service at service or operation level."""
    kind = candidate.get("kind")
    if kind == "instance":
        return candidate.get("name") == fault.pod
    if kind == "service":
        return (candidate.get("service") or candidate.get("name")) == fault.service
    if kind == "operation":
        return candidate.get("service") == fault.service
    return False


def first_match_rank(candidates: Sequence[dict[str, Any]], fault: Fault) -> int | None:
    """1-based position of the first matching candidate in glimpse's order, or None."""
    return first_rank(candidates, lambda candidate: matches(candidate, fault))


def random_hits(services: Sequence[str], truth: str, rng: random.Random, draws: int) -> list[float]:
    """Fraction of uniformly random service rankings with the truth within the top k, k = 1..5."""
    hits = [0] * TOP_K
    for _ in range(draws):
        order = rng.sample(list(services), len(services))
        if truth in order:
            for k in range(order.index(truth), TOP_K):
                hits[k] += 1
    return [h / draws for h in hits]


@dataclass
class CaseResult:
    fault: Fault
    baseline: Window
    baseline_spans: int
    incident_spans: int
    services: list[str]
    rank: int | None = None
    top: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    random_ac: list[float] = field(default_factory=list)


class SpanIndex:
    """Spans sorted by start, to count and list services in a window without a scan."""

    def __init__(self, spans: Sequence[SpanRow]) -> None:
        unique = {(s.trace_id, s.span_id): s for s in spans}
        self._spans = sorted(unique.values(), key=lambda s: s.start_ns)
        self._starts = [s.start_ns for s in self._spans]

    def within(self, window: Window) -> Sequence[SpanRow]:
        lo = bisect_left(self._starts, window.since_ns)
        hi = bisect_left(self._starts, window.until_ns)
        return self._spans[lo:hi]


def _label(candidate: dict[str, Any]) -> str:
    return f"{candidate.get('kind')}:{candidate.get('name')}"


def diagnose(
    fault: Fault, baseline: Window, index: SpanIndex, args: argparse.Namespace, rng: random.Random
) -> CaseResult:
    incident = incident_window(fault)
    incident_spans = index.within(incident)
    # The random ranking draws from the services with spans in the incident window (of the CSVs).
    services = sorted({service_of(s.pod) for s in incident_spans})
    result = CaseResult(fault, baseline, len(index.within(baseline)), len(incident_spans), services)
    result.random_ac = random_hits(services, fault.service, rng, args.draws)
    started = time.perf_counter()
    try:
        candidates = run_rca(args.db_path, incident, baseline, args.timeout)
    except RcaError as exc:
        result.error = str(exc)
    else:
        result.rank = first_match_rank(candidates, fault)
        result.top = [_label(c) for c in candidates[:3]]
    result.seconds = time.perf_counter() - started
    return result


# --- scoring and output ----------------------------------------------------------------


def accuracy(results: Sequence[CaseResult]) -> dict[str, float]:
    """AC@1, AC@3 and Avg@5 (the mean of AC@1..AC@5); a failed call is a miss."""
    return rank_scores([r.rank for r in results])


def random_accuracy(results: Sequence[CaseResult]) -> dict[str, float]:
    if not results:
        return {}
    return ac_scores([sum(r.random_ac[k] for r in results) / len(results) for k in range(TOP_K)])


def summary(results: Sequence[CaseResult]) -> dict[str, Any]:
    groups = {"all": list(results)} | {t: [r for r in results if r.fault.kind == t] for t in FAULT_TYPES}
    timed = [r.seconds for r in results if r.error is None]
    return {
        "groups": {
            name: {"cases": len(rs), "glimpse": accuracy(rs), "random": random_accuracy(rs)}
            for name, rs in groups.items()
        },
        "failed_calls": sum(1 for r in results if r.error is not None),
        "seconds_per_diagnosis": sum(timed) / len(timed) if timed else None,
    }


def _scores(scores: dict[str, float]) -> str:
    return " ".join(f"{scores[key]:>5.2f}" if key in scores else f"{'-':>5}" for key in SCORES)


def print_cases(results: Sequence[CaseResult]) -> None:
    print(
        f"\n{'inject (UTC)':<12} {'type':<14} {'root cause pod':<46} {'base/inc spans':>15} {'svcs':>4} "
        f"{'rank':>4} {'s':>5}  top 3 / error"
    )
    for r in results:
        rank = "-" if r.rank is None else str(r.rank)
        detail = f"ERROR {r.error}" if r.error else ", ".join(r.top)
        print(
            f"{r.fault.clock:<12} {r.fault.kind:<14} {r.fault.pod:<46} "
            f"{f'{r.baseline_spans}/{r.incident_spans}':>15} {len(r.services):>4} {rank:>4} {r.seconds:>5.1f}  {detail}"
        )


def print_summary(report: dict[str, Any]) -> None:
    header = " ".join(f"{key:>5}" for key in SCORES)
    print(f"\n{'faults':<15} {'n':>3}   glimpse: {header}   random ranking: {header}")
    for name, group in report["groups"].items():
        print(
            f"{name:<15} {group['cases']:>3}   {'':8} {_scores(group['glimpse'])}   {'':15} {_scores(group['random'])}"
        )
    per = report["seconds_per_diagnosis"]
    print(
        f"failed rca calls (scored as misses): {report['failed_calls']}; "
        f"seconds per diagnosis (subprocess included): {'-' if per is None else f'{per:.2f}'}"
    )
    print(
        "published AC@1 on these data: trace-only methods 0.07-0.16, MicroRank 0.16, Nezha (with logs) 0.87; "
        "target AC@1 >= 0.8, AC@3 >= 0.95"
    )


# --- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.rca_nezha", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the nezha-trainticket directory")
    parser.add_argument("--db", type=Path, help="keep the DuckDB file here (default: a temporary directory)")
    parser.add_argument("--replay-only", action="store_true", help="replay, print the counts, stop")
    parser.add_argument("--skip-replay", action="store_true", help="diagnose what --db already holds")
    parser.add_argument("--no-metrics", action="store_true", help="replay no metrics")
    parser.add_argument("--no-logs", action="store_true", help="replay no logs")
    parser.add_argument(
        "--baseline",
        choices=("clean", "hour", "normal"),
        default="hour",
        help="baseline window (see baseline_window); default: hour",
    )
    parser.add_argument("--draws", type=int, default=100, help="random rankings per fault")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per glimpse rca call")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON at the end")
    args = parser.parse_args(argv)
    if args.skip_replay and args.db is None:
        parser.error("--skip-replay needs --db")
    return args


def normal_window(data: Path) -> Window:
    """The fault-free construct_data window (08:48-08:51 on 2023-01-29)."""
    spans = read_spans(data, sources=("construct_data",))
    return Window(min(s.start_ns for s in spans), max(s.start_ns for s in spans) + 1)


def run(args: argparse.Namespace, db_path: str) -> int:
    faults = read_faults(args.data)
    spans = read_spans(args.data)
    print(f"data: {args.data} - {len(faults)} faults, {len(spans):,} span rows")
    with running_server(db_path) as info:
        if not args.skip_replay:
            since_ns, until_ns = metric_range(spans)
            metrics = [] if args.no_metrics else read_metrics(args.data, since_ns=since_ns, until_ns=until_ns)
            logs: tuple[list[LogRow], int] = ([], 0) if args.no_logs else read_logs(args.data)
            print_replay(replay(info.grpc_port, db_path, spans, metrics, logs), spans)
        if args.replay_only:
            return 0
        return diagnose_all(args, faults, spans)


def diagnose_all(args: argparse.Namespace, faults: Sequence[Fault], spans: Sequence[SpanRow]) -> int:
    index = SpanIndex(spans)
    normal = normal_window(args.data)
    rng = random.Random(args.seed)
    print(f"\nincident window: [inject_time, +3 min); baseline: {args.baseline} ({BASELINE_HELP[args.baseline]})")
    results = [diagnose(f, baseline_window(f, faults, args.baseline, normal), index, args, rng) for f in faults]
    print_cases(results)
    report = summary(results)
    print_summary(report)
    if args.json:
        print(json.dumps({"baseline": args.baseline, **report}, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.db is not None:
        args.db_path = str(args.db.resolve())
        return run(args, args.db_path)
    with tempfile.TemporaryDirectory(prefix="glimpse-nezha-") as tmp:
        args.db_path = str(Path(tmp) / "nezha.duckdb")
        return run(args, args.db_path)


if __name__ == "__main__":
    sys.exit(main())
