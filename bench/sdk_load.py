"""Load from real OpenTelemetry SDK span exporters, with every acknowledged span written down.

Each load process runs threads that build batches of SDK spans (``ReadableSpan``, random
128-bit trace and 64-bit span ids) and call ``OTLPSpanExporter.export()`` directly, the
gRPC exporter on even threads and the HTTP one on odd threads, with their own retry on
(gRPC ``UNAVAILABLE`` after ``RetryInfo``, HTTP 503 after ``Retry-After``). When an export
returns ``SUCCESS`` its spans' ``trace_id span_id`` go to the thread's file in ``ack_dir``,
flushed before the export counts: those files are the list of acknowledged spans
(:func:`read_acknowledged`). The SDK logs each retry it makes; those are counted too.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.workload import SPANS_PER_REQUEST

__all__ = [
    "LoadPlan",
    "LoadReport",
    "ProbeAnswer",
    "SdkLoad",
    "StoreCheck",
    "check_store",
    "probe_export",
    "read_acknowledged",
]

PROTOCOLS = ("grpc", "http")


@dataclass(frozen=True)
class LoadPlan:
    """What to send where. ``rate_spans_s`` is the total over every thread (None: flat out)."""

    grpc_endpoint: str
    http_url: str
    ack_dir: str
    processes: int = 2
    threads: int = 2
    batch_spans: int = 256
    rate_spans_s: float | None = None
    timeout_s: float = 10.0
    seed: int = 1
    # Send the ingest benchmark's realistic 512-span requests, fresh ids each time, through
    # the exporters' own send-and-retry path, skipping only their per-span encoding (31 us
    # a span in Python): how exporters can offer more than the server takes on 2 cores.
    pre_encoded: bool = False
    requests_per_export: int = 1  # pre-encoded 512-span requests concatenated into one export


@dataclass
class LoadReport:
    """What the exporters saw: exports, acknowledged and failed spans, latencies, retries."""

    exports: int = 0
    succeeded: int = 0
    failed: int = 0
    spans_acked: int = 0
    spans_failed: int = 0
    retries: int = 0
    duration_s: float = 0.0
    # (seconds since the load started, export latency ms) of every successful export
    latencies: list[tuple[float, float]] = field(default_factory=list)

    def merge(self, other: dict[str, Any]) -> None:
        for name in ("exports", "succeeded", "failed", "spans_acked", "spans_failed", "retries"):
            setattr(self, name, getattr(self, name) + other[name])
        self.latencies += other["latencies"]

    @property
    def acked_per_s(self) -> float:
        return self.spans_acked / self.duration_s if self.duration_s else 0.0


def read_acknowledged(ack_dir: str | Path) -> list[tuple[str, str]]:
    """Every ``(trace_id, span_id)`` an exporter got acknowledged, as lowercase hex."""
    found: list[tuple[str, str]] = []
    for path in sorted(Path(ack_dir).glob("*.ack")):
        for line in path.read_text().splitlines():
            trace_id, _, span_id = line.partition(" ")
            if len(trace_id) == 32 and len(span_id) == 16:  # a line cut short was never counted
                found.append((trace_id, span_id))
    return found


@dataclass(frozen=True)
class StoreCheck:
    """The store against the acknowledged spans, after a read-only open (which first commits
    what the journal still holds, as every open does)."""

    acknowledged: int
    missing: int  # acknowledged, not stored
    stored: int  # span rows
    duplicated: int  # rows beyond the first of their (trace_id, span_id)
    open_s: float

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.duplicated == 0


def check_store(db: str | Path, ack_dir: str | Path) -> StoreCheck:
    """Open ``db`` read-only as glimpse does (raises if it does not open cleanly), then count
    the spans acknowledged in ``ack_dir`` against it. The counting connection is a plain
    DuckDB one that reads the acknowledgement files itself: a soak acknowledges tens of
    millions of spans, too many for Python lists."""
    import duckdb

    from storage.store import open_read_only

    started = time.monotonic()
    open_read_only(db).close()  # commits what the journal holds, checks the schema
    opened = time.monotonic() - started
    files = sorted(str(path) for path in Path(ack_dir).glob("*.ack") if path.stat().st_size)
    con = duckdb.connect(str(db), read_only=True, config={"memory_limit": "2GB"})
    try:
        row = con.execute("SELECT count(*), count(*) - count(DISTINCT (trace_id, span_id)) FROM otel_traces").fetchone()
        acked = "SELECT 0 AS n, 0 AS missing"
        if files:
            acked = """
                WITH acknowledged AS (
                    SELECT DISTINCT trace_id, span_id
                    FROM read_csv($files, delim = ' ', header = false, ignore_errors = true,
                                  columns = {'trace_id': 'VARCHAR', 'span_id': 'VARCHAR'})
                    WHERE length(trace_id) = 32 AND length(span_id) = 16  -- a line cut short was never counted
                )
                SELECT (SELECT count(*) FROM acknowledged),
                       (SELECT count(*) FROM acknowledged AS a
                        ANTI JOIN otel_traces AS t ON a.trace_id = t.trace_id AND a.span_id = t.span_id)
            """
        counts = con.execute(acked, {"files": files} if files else {}).fetchone()
    finally:
        con.close()
    assert row is not None and counts is not None
    return StoreCheck(int(counts[0]), int(counts[1]), int(row[0]), int(row[1]), opened)


class SdkLoad:
    """Load processes per a :class:`LoadPlan`: ``start()``, then ``stop()`` for the report."""

    def __init__(self, plan: LoadPlan) -> None:
        Path(plan.ack_dir).mkdir(parents=True, exist_ok=True)
        self.plan = plan
        context = multiprocessing.get_context("spawn")  # the parent may run gRPC threads
        self._stop = context.Event()
        self._ready: Any = context.Semaphore(0)  # released by each thread once it can export
        self._out: Any = context.Queue()
        self._started = 0.0
        self._procs = [
            context.Process(target=_load_process, args=(index, plan, self._stop, self._ready, self._out), daemon=True)
            for index in range(plan.processes)
        ]

    def start(self, timeout_s: float = 120.0) -> SdkLoad:
        """Start the processes; return once every thread is ready to export (its exporter
        made, its requests built), so that a phase's clock starts with its load."""
        for proc in self._procs:
            proc.start()
        deadline = time.monotonic() + timeout_s
        for _ in range(self.plan.processes * self.plan.threads):
            if not self._ready.acquire(timeout=max(0.1, deadline - time.monotonic())):
                raise TimeoutError("the load processes did not get ready")
        self._started = time.monotonic()
        return self

    def stop(self, timeout_s: float = 120.0) -> LoadReport:
        """Ask every thread to finish its export in flight; merge what they report."""
        self._stop.set()
        report = LoadReport(duration_s=time.monotonic() - self._started)
        deadline = time.monotonic() + timeout_s
        for _ in self._procs:
            try:
                report.merge(self._out.get(timeout=max(1.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        for proc in self._procs:
            proc.join(max(1.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
        return report


class _RetryCounter(logging.Handler):
    """Counts the SDK exporters' "... retrying in N s" log records."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying" in record.getMessage():
            self.count += 1


def _load_process(index: int, plan: LoadPlan, stop: Any, ready: Any, out: Any) -> None:
    counter = _RetryCounter()
    exporter_logger = logging.getLogger("opentelemetry.exporter")
    exporter_logger.addHandler(counter)
    exporter_logger.propagate = False  # counted, not printed: an overload logs thousands
    threads = [_ExportThread(index, number, plan, stop, ready) for number in range(plan.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result: dict[str, Any] = {"retries": counter.count, "latencies": []}
    for name in ("exports", "succeeded", "failed", "spans_acked", "spans_failed"):
        result[name] = sum(getattr(thread, name) for thread in threads)
    for thread in threads:
        result["latencies"] += thread.latencies
    out.put(result)


class _ExportThread(threading.Thread):
    def __init__(self, process: int, number: int, plan: LoadPlan, stop: Any, ready: Any) -> None:
        super().__init__(daemon=True)
        self.ready = ready
        self.process_seed = plan.seed * 1009 + process
        self.plan = plan
        self.stop_event = stop
        self.protocol = PROTOCOLS[number % 2]
        self.service = f"load-{process}-{number}"
        self.rng = random.Random(plan.seed * 1_000_003 + process * 1009 + number)
        self.ack_path = Path(plan.ack_dir) / f"{plan.seed}-{process}-{number}.ack"
        total_threads = plan.processes * plan.threads
        spans = SPANS_PER_REQUEST * plan.requests_per_export if plan.pre_encoded else plan.batch_spans
        self.interval_s = spans * total_threads / plan.rate_spans_s if plan.rate_spans_s else 0.0
        self.exports = self.succeeded = self.failed = self.spans_acked = self.spans_failed = 0
        self.latencies: list[tuple[float, float]] = []

    def run(self) -> None:
        exporter = _exporter(self.protocol, self.plan)
        batches = (
            _PreEncoded(self.rng, exporter, self.protocol, self.plan.requests_per_export, self.process_seed)
            if self.plan.pre_encoded
            else None
        )
        self.ready.release()
        started = time.monotonic()
        next_at = started + self.rng.random() * self.interval_s  # spread the threads' starts
        with self.ack_path.open("a") as acks:
            while not self.stop_event.is_set():
                if self.interval_s:
                    if self.stop_event.wait(max(0.0, next_at - time.monotonic())):
                        break
                    next_at = max(next_at + self.interval_s, time.monotonic() - self.interval_s)
                sent = time.monotonic()
                if batches is not None:
                    ok, lines = batches.export()
                else:
                    ok, lines = _export_sdk_spans(exporter, _span_batch(self.rng, self.plan.batch_spans, self.service))
                self.exports += 1
                if ok:
                    acks.write(lines)
                    acks.flush()
                    self.succeeded += 1
                    self.spans_acked += lines.count("\n")
                    self.latencies.append((sent - started, (time.monotonic() - sent) * 1000))
                else:
                    self.failed += 1
                    self.spans_failed += lines.count("\n")
        exporter.shutdown()


def _export_sdk_spans(exporter: Any, spans: list[Any]) -> tuple[bool, str]:
    from opentelemetry.sdk.trace.export import SpanExportResult

    ok = exporter.export(spans) is SpanExportResult.SUCCESS
    return ok, "".join(f"{s.context.trace_id:032x} {s.context.span_id:016x}\n" for s in spans)


_TEMPLATES: list[Any] = []
_TEMPLATE_IDS: list[tuple[Any, Any]] = []
_TEMPLATES_LOCK = threading.Lock()


class _PreEncoded:
    """Realistic pre-encoded requests (bench.workload), sent by an SDK exporter's own
    send-and-retry code: ``OTLPSpanExporter._export`` (gRPC, RetryInfo) with the request
    parsed from the bytes, or the HTTP exporter's client (``Retry-After``)."""

    def __init__(self, rng: random.Random, exporter: Any, protocol: str, requests_per_export: int, seed: int) -> None:
        import numpy as np
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2

        from bench.workload import build_templates

        self.rng, self.exporter, self.protocol = rng, exporter, protocol
        self.requests_per_export = requests_per_export
        with _TEMPLATES_LOCK:  # built once a process: building takes a second of CPU
            if not _TEMPLATES:
                _TEMPLATES.extend(build_templates(2, seed))
                for template in _TEMPLATES:
                    request = TRACE_SERVICE_PB2.ExportTraceServiceRequest.FromString(template.body)
                    spans = [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
                    trace_ids = np.frombuffer(b"".join(span.trace_id for span in spans), np.uint8).reshape(-1, 16)
                    span_ids = np.frombuffer(b"".join(span.span_id for span in spans), np.uint8).reshape(-1, 8)
                    _TEMPLATE_IDS.append((trace_ids, span_ids))
        self.templates, self.ids = _TEMPLATES, _TEMPLATE_IDS  # per template: trace ids (n, 16), span ids (n, 8)
        if protocol == "grpc":
            exporter._translate_data = TRACE_SERVICE_PB2.ExportTraceServiceRequest.FromString
            exporter._count_data = lambda body: 0

    def export(self) -> tuple[bool, str]:
        # serialized requests concatenated are one request holding all their resource spans
        parts = [self._render() for _ in range(self.requests_per_export)]
        body, lines = b"".join(part[0] for part in parts), "".join(part[1] for part in parts)
        if self.protocol == "grpc":
            from opentelemetry.sdk.trace.export import SpanExportResult

            return self.exporter._export(body) is SpanExportResult.SUCCESS, lines
        return bool(self.exporter._client.export(body).success), lines

    def _render(self) -> tuple[bytes, str]:
        """A template with fresh ids and times, and its spans' ack lines."""
        import numpy as np

        number = self.rng.randrange(len(self.templates))
        template, (trace_ids, span_ids) = self.templates[number], self.ids[number]
        mask = self.rng.randbytes(24)
        body = template.render(mask, time.time_ns() - template.anchor_ns)
        key = np.frombuffer(mask, np.uint8)
        traces = (trace_ids ^ key[:16]).tobytes().hex()
        spans = (span_ids ^ key[16:]).tobytes().hex()
        lines = "".join(f"{traces[i * 32 : i * 32 + 32]} {spans[i * 16 : i * 16 + 16]}\n" for i in range(len(span_ids)))
        return body, lines


def _exporter(protocol: str, plan: LoadPlan) -> Any:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter(endpoint=plan.grpc_endpoint, insecure=True, timeout=plan.timeout_s)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter(endpoint=f"{plan.http_url}/v1/traces", timeout=plan.timeout_s)


def _span_batch(rng: random.Random, count: int, service: str) -> list[Any]:
    """``count`` SDK server spans of one service, a few attributes each, fresh random ids."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, SpanKind

    resource = Resource({"service.name": service, "service.instance.id": f"{service}-1"})
    now_ns = time.time_ns()
    spans = []
    for index in range(count):
        context = SpanContext(rng.getrandbits(128) | 1, rng.getrandbits(64) | 1, is_remote=False)
        start = now_ns - 1_000_000 + index
        spans.append(
            ReadableSpan(
                name=f"GET /r/{index % 7}",
                context=context,
                resource=resource,
                attributes={
                    "http.request.method": "GET",
                    "http.route": f"/r/{index % 7}",
                    "http.response.status_code": 200,
                    "index": index,
                },
                kind=SpanKind.SERVER,
                start_time=start,
                end_time=start + 250_000 + index,
            )
        )
    return spans


# --------------------------------------------------------------------------- raw probes


@dataclass(frozen=True)
class ProbeAnswer:
    """One raw export's answer: OK, or a refusal and the retry delay it asked for."""

    transport: str
    ok: bool
    code: str  # the gRPC status code name, or the HTTP status
    retry_after_s: float | None  # RetryInfo (gRPC: details and trailer agree) or Retry-After

    @property
    def retryable_refusal(self) -> bool:
        return not self.ok and self.code in ("UNAVAILABLE", "503") and (self.retry_after_s or 0) > 0


def probe_export(
    grpc_endpoint: str, http_url: str, transport: str, ack_dir: str | Path, *, spans: int = 1
) -> ProbeAnswer:
    """Export ``spans`` spans by hand over ``transport`` and return the raw answer; acknowledged
    spans are written down in ``ack_dir`` like the exporters' are."""
    import grpc
    import httpx
    from google.rpc import error_details_pb2, status_pb2
    from grpc_status import rpc_status

    body, lines = _probe_request(spans)
    retry = error_details_pb2.RetryInfo()
    if transport == "grpc":
        with grpc.insecure_channel(grpc_endpoint) as channel:
            try:
                channel.unary_unary(EXPORT_METHOD)(body, timeout=30)
                answer = ProbeAnswer(transport, True, "OK", None)
            except grpc.RpcError as exc:
                status = rpc_status.from_call(exc)  # type: ignore[arg-type]
                trailer = dict(exc.trailing_metadata() or ()).get("google.rpc.retryinfo-bin")  # type: ignore[attr-defined]
                delay = None
                if (
                    status is not None
                    and status.details
                    and status.details[0].Unpack(retry)
                    and trailer == retry.SerializeToString()
                ):
                    delay = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
                answer = ProbeAnswer(transport, False, exc.code().name, delay)  # type: ignore[attr-defined]
    else:
        response = httpx.post(
            f"{http_url}/v1/traces", content=body, headers={"content-type": "application/x-protobuf"}, timeout=30
        )
        header = response.headers.get("retry-after")
        if response.status_code != 200:
            status_pb2.Status.FromString(response.content)  # an OTLP error answer, or this raises
        answer = ProbeAnswer(
            transport, response.status_code == 200, str(response.status_code), float(header) if header else None
        )
    if answer.ok:
        with (Path(ack_dir) / "probes.ack").open("a") as acks:
            acks.write(lines)
    return answer


EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _probe_request(count: int) -> tuple[bytes, str]:
    """A request of ``count`` spans with random ids, and their ack lines."""
    import os

    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2
    from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2

    now = time.time_ns()
    spans = [
        TRACE_PB2.Span(
            trace_id=os.urandom(16),
            span_id=os.urandom(7) + b"\x01",
            name="probe",
            start_time_unix_nano=now,
            end_time_unix_nano=now + 1000,
        )
        for _ in range(count)
    ]
    request = TRACE_SERVICE_PB2.ExportTraceServiceRequest(
        resource_spans=[TRACE_PB2.ResourceSpans(scope_spans=[TRACE_PB2.ScopeSpans(spans=spans)])]
    )
    return request.SerializeToString(), "".join(f"{s.trace_id.hex()} {s.span_id.hex()}\n" for s in spans)
