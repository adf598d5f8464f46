"""Hostile input: mutated OTLP requests against a running ``glimpse serve``, made with hypothesis.

Starts ``glimpse serve`` and runs ``--workers`` fuzzing processes against it. Each one runs
a hypothesis search (generation only: nothing to shrink, every example is sent) whose
examples are requests: OTLP trace requests built field by field from the protobuf message
types (ids of any length, attribute values of every kind, nested, out-of-range enums and
timestamps), the same mutated (bit flips, cuts, insertions: bench.fuzz_spanwire's
mutations), random bytes; over HTTP also valid and mutated OTLP/JSON and random JSON
documents, gzip- or deflate-compressed or not (sometimes with a header that lies), with
right, wrong or absent content types; over gRPC with or without gzip; to the traces,
metrics and logs endpoints of both transports.

Every answer must be a valid OTLP answer: gRPC ``OK`` (with a response that parses),
``INVALID_ARGUMENT``, ``RESOURCE_EXHAUSTED`` or ``UNAVAILABLE`` with ``RetryInfo``; HTTP
200, 400, 413, 415 or 503 with ``Retry-After``, the body an Export*ServiceResponse or a
``google.rpc.Status`` in the request's encoding. Every ``--canary-every`` requests a worker
sends a valid export (alternately gRPC, HTTP protobuf, HTTP JSON) and reads it back through
the API: its span, name and attributes, intact. No request may go unanswered for
``--timeout-s`` (a hang), and the server must be alive at the end.

Run: ``python -m bench.fuzz_otlp [--requests 1000000] [--workers 4] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import multiprocessing
import queue
import random
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import ServeProcess, log, verdict

GRPC_OK = {"OK", "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED", "UNAVAILABLE"}
HTTP_OK = {200, 400, 413, 415, 503}
SIGNALS = {
    "traces": ("/v1/traces", "/opentelemetry.proto.collector.trace.v1.TraceService/Export"),
    "metrics": ("/v1/metrics", "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"),
    "logs": ("/v1/logs", "/opentelemetry.proto.collector.logs.v1.LogsService/Export"),
}
MAX_REQUEST_BYTES = 1 << 20  # the server's cap for this run: bombs and oversized requests are cheap to make


@dataclass(frozen=True)
class Hostile:
    """One request: where it goes and the bytes and headers it carries."""

    transport: str  # "grpc" or "http"
    signal: str
    body: bytes
    content_type: str | None = None  # HTTP only; None: no header
    encoding: str | None = None  # HTTP Content-Encoding, or "gzip" for gRPC compression


@dataclass
class WorkerReport:
    requests: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    invalid: list[str] = field(default_factory=list)  # answers that are not valid OTLP answers
    hangs: int = 0
    canaries: int = 0
    canaries_bad: list[str] = field(default_factory=list)
    seconds: float = 0.0


# --------------------------------------------------------------------------- generation


def strategies() -> Any:
    """The hypothesis strategy of :class:`Hostile` requests."""
    from hypothesis import strategies as st

    valid = _trace_requests(st)
    proto = st.one_of(
        valid.map(lambda request: request.SerializeToString()),
        st.tuples(valid, st.randoms(use_true_random=False)).map(_mutated),
        st.binary(max_size=512),
    )
    json_documents = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
        max_leaves=12,
    )
    json_body = st.one_of(
        valid.map(_otlp_json),
        st.tuples(valid.map(_otlp_json_request), st.randoms(use_true_random=False)).map(_mutated_bytes),
        json_documents.map(lambda doc: json.dumps(doc).encode()),
        st.binary(max_size=256),
    )
    signal = st.one_of(st.just("traces"), st.sampled_from(sorted(SIGNALS)))  # traces most
    grpc_requests = st.builds(
        Hostile, transport=st.just("grpc"), signal=signal, body=proto, encoding=st.sampled_from([None, "gzip"])
    )
    media = st.sampled_from(
        ["application/x-protobuf", "application/protobuf", "application/json", "application/json; charset=utf-8"]
    )
    printable = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
    content_type = st.one_of(media, media, st.none(), printable)
    http_requests = st.tuples(signal, st.one_of(proto, json_body), content_type, _encodings(st)).map(
        lambda parts: _http_request(parts[0], parts[1], parts[2], parts[3])
    )
    return st.one_of(grpc_requests, http_requests)


def _http_request(signal: str, body: bytes, content_type: str | None, encoding: str | None) -> Hostile:
    encoded, header = _encoded(body, encoding)
    return Hostile("http", signal, encoded, content_type=content_type, encoding=header)


def _encodings(st: Any) -> Any:
    return st.sampled_from([None, None, "gzip", "gzip-lie", "deflate", "identity", "br", "gzip, gzip"])


def _encoded(body: bytes, encoding: str | None) -> tuple[bytes, str | None]:
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=1), "gzip"
    if encoding == "deflate":
        return zlib.compress(body, 1), "deflate"
    if encoding == "gzip-lie":  # says gzip, is not
        return body, "gzip"
    return body, encoding


def _any_values(st: Any) -> Any:
    from opentelemetry.proto.common.v1 import common_pb2 as COMMON_PB2

    scalars = st.one_of(
        st.text(max_size=40).map(lambda v: COMMON_PB2.AnyValue(string_value=v)),
        st.booleans().map(lambda v: COMMON_PB2.AnyValue(bool_value=v)),
        st.integers(-(2**63), 2**63 - 1).map(lambda v: COMMON_PB2.AnyValue(int_value=v)),
        st.floats(allow_nan=True).map(lambda v: COMMON_PB2.AnyValue(double_value=v)),
        st.binary(max_size=16).map(lambda v: COMMON_PB2.AnyValue(bytes_value=v)),
        st.just(COMMON_PB2.AnyValue()),
    )

    def nested(children: Any) -> Any:
        arrays = st.lists(children, max_size=3).map(
            lambda values: COMMON_PB2.AnyValue(array_value=COMMON_PB2.ArrayValue(values=values))
        )
        kvlists = st.lists(st.tuples(st.text(max_size=8), children), max_size=3).map(
            lambda pairs: COMMON_PB2.AnyValue(
                kvlist_value=COMMON_PB2.KeyValueList(values=[COMMON_PB2.KeyValue(key=k, value=v) for k, v in pairs])
            )
        )
        return arrays | kvlists

    return st.recursive(scalars, nested, max_leaves=6)


def _trace_requests(st: Any) -> Any:
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2
    from opentelemetry.proto.common.v1 import common_pb2 as COMMON_PB2
    from opentelemetry.proto.resource.v1 import resource_pb2 as RESOURCE_PB2
    from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2

    keys = st.one_of(
        st.sampled_from(["service.name", "http.method", "db.system", "peer.service", "k8s.pod.name"]),
        st.text(max_size=12),
    )
    attributes = st.lists(st.builds(COMMON_PB2.KeyValue, key=keys, value=_any_values(st)), max_size=5)
    ids16 = st.one_of(st.binary(min_size=16, max_size=16), st.binary(max_size=20))
    ids8 = st.one_of(st.binary(min_size=8, max_size=8), st.binary(max_size=10))
    times = st.one_of(st.integers(0, 2**64 - 1), st.integers(1_600_000_000 * 10**9, 1_900_000_000 * 10**9))
    events = st.builds(TRACE_PB2.Span.Event, time_unix_nano=times, name=st.text(max_size=12), attributes=attributes)
    links = st.builds(TRACE_PB2.Span.Link, trace_id=ids16, span_id=ids8, attributes=attributes)
    spans = st.builds(
        TRACE_PB2.Span,
        trace_id=ids16,
        span_id=ids8,
        parent_span_id=st.one_of(st.just(b""), ids8),
        name=st.text(max_size=30),
        kind=st.integers(0, 9),
        start_time_unix_nano=times,
        end_time_unix_nano=times,
        attributes=attributes,
        events=st.lists(events, max_size=2),
        links=st.lists(links, max_size=2),
        status=st.builds(TRACE_PB2.Status, code=st.integers(0, 4), message=st.text(max_size=12)),
    )
    scope_spans = st.builds(
        TRACE_PB2.ScopeSpans,
        scope=st.builds(COMMON_PB2.InstrumentationScope, name=st.text(max_size=10), version=st.text(max_size=6)),
        spans=st.lists(spans, max_size=4),
    )
    resource_spans = st.builds(
        TRACE_PB2.ResourceSpans,
        resource=st.builds(RESOURCE_PB2.Resource, attributes=attributes),
        scope_spans=st.lists(scope_spans, max_size=2),
    )
    return st.builds(TRACE_SERVICE_PB2.ExportTraceServiceRequest, resource_spans=st.lists(resource_spans, max_size=2))


def _mutated(parts: tuple[Any, random.Random]) -> bytes:
    return _mutated_bytes((parts[0].SerializeToString(), parts[1]))


def _mutated_bytes(parts: tuple[bytes, random.Random]) -> bytes:
    from bench.fuzz_spanwire import mutate

    return mutate(parts[1], parts[0])


def _otlp_json_request(request: Any) -> bytes:
    return _otlp_json(request)


def _otlp_json(request: Any) -> bytes:
    """``request`` in OTLP/JSON: protobuf's JSON mapping with ids as hex instead of base64."""
    from google.protobuf import json_format

    document = json_format.MessageToDict(request)
    _ids_to_hex(document)
    return json.dumps(document).encode()


def _ids_to_hex(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _ids_to_hex(value)
    elif isinstance(node, list):
        for item in node:
            _ids_to_hex(item)


def hypothesis_examples(count: int, seed: int) -> list[Hostile]:
    """``count`` requests drawn by hypothesis from :func:`strategies` (about 20 ms each)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed

    drawn: list[Hostile] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(strategies())
    def draw(request: Hostile) -> None:
        drawn.append(request)

    draw()
    return drawn


def mutated_stream(rng: random.Random, pool: list[Hostile]) -> Iterator[Hostile]:
    """Requests from the pool, most with their bytes mutated further (cheap: hypothesis
    draws the structure, the per-request bit flips and cuts come from ``rng``)."""
    from bench.fuzz_spanwire import mutate

    while True:
        base = rng.choice(pool)
        if rng.random() < 0.6:
            base = Hostile(base.transport, base.signal, mutate(rng, base.body), base.content_type, base.encoding)
        yield base


# --------------------------------------------------------------------------- sending and judging


class Sender:
    """Sends :class:`Hostile` requests to one server and judges the answers."""

    def __init__(self, grpc_endpoint: str, http_url: str, timeout_s: float) -> None:
        import grpc
        import httpx

        self.timeout_s = timeout_s
        self.channel = grpc.insecure_channel(grpc_endpoint, options=[("grpc.max_send_message_length", 64 << 20)])
        self.http = httpx.Client(base_url=http_url, timeout=timeout_s)

    def close(self) -> None:
        self.channel.close()
        self.http.close()

    def send(self, request: Hostile) -> tuple[str, str | None]:
        """The answer's short name and, if it is not a valid OTLP answer, why; raises TimeoutError on a hang."""
        if request.transport == "grpc":
            return self._grpc(request)
        return self._http(request)

    def _grpc(self, request: Hostile) -> tuple[str, str | None]:
        import grpc
        from google.rpc import error_details_pb2
        from grpc_status import rpc_status

        method = self.channel.unary_unary(SIGNALS[request.signal][1])
        compression = grpc.Compression.Gzip if request.encoding == "gzip" else None
        try:
            answer = method(request.body, timeout=self.timeout_s, compression=compression)
        except grpc.RpcError as exc:
            code = exc.code().name  # type: ignore[attr-defined]
            if code == "DEADLINE_EXCEEDED":
                raise TimeoutError("gRPC deadline exceeded") from exc
            if code not in GRPC_OK:
                return f"grpc {code}", f"unexpected status {code}: {exc.details()}"  # type: ignore[attr-defined]
            if code == "UNAVAILABLE":
                status = rpc_status.from_call(exc)  # type: ignore[arg-type]
                retry = error_details_pb2.RetryInfo()
                if status is None or not status.details or not status.details[0].Unpack(retry):
                    return f"grpc {code}", "UNAVAILABLE without RetryInfo"
            return f"grpc {code}", None
        problem = _parse_response(request.signal, answer, json_body=False)
        return "grpc OK", problem

    def _http(self, request: Hostile) -> tuple[str, str | None]:
        import httpx

        headers = {}
        if request.content_type is not None:
            headers["content-type"] = request.content_type
        if request.encoding is not None:
            headers["content-encoding"] = request.encoding
        try:
            response = self.http.post(SIGNALS[request.signal][0], content=request.body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TimeoutError("HTTP timeout") from exc
        except (httpx.HTTPError, UnicodeEncodeError) as exc:
            if isinstance(exc, UnicodeEncodeError) or "header" in str(exc).lower():
                return "http not sent", None  # a header value the client itself refuses to send
            return "http error", f"{type(exc).__name__}: {exc}"
        name = f"http {response.status_code}"
        if response.status_code not in HTTP_OK:
            return name, f"unexpected status {response.status_code}: {response.text[:80]!r}"
        if response.status_code == 503 and not response.headers.get("retry-after", "").isdigit():
            return name, "503 without Retry-After"
        media = response.headers.get("content-type", "")
        requested_json = (request.content_type or "").split(";")[0].strip().lower() == "application/json"
        if requested_json and response.status_code != 415 and media != "application/json":
            return name, f"a JSON request answered in {media!r}"
        if response.status_code == 200:
            return name, _parse_response(request.signal, response.content, json_body=media == "application/json")
        return name, _parse_status(response.content, json_body=media == "application/json")


def _parse_response(signal: str, body: bytes, *, json_body: bool) -> str | None:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as LOGS_PB2
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as METRICS_PB2
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_PB2

    types = {
        "traces": TRACE_PB2.ExportTraceServiceResponse,
        "metrics": METRICS_PB2.ExportMetricsServiceResponse,
        "logs": LOGS_PB2.ExportLogsServiceResponse,
    }
    try:
        if json_body:
            json_format.Parse(body, types[signal]())
        else:
            types[signal].FromString(body)
    except Exception as exc:
        return f"the success answer does not parse: {exc}"
    return None


def _parse_status(body: bytes, *, json_body: bool) -> str | None:
    from google.rpc import status_pb2

    try:
        if json_body:
            document = json.loads(body)
            status_ok = isinstance(document.get("code"), int) and isinstance(document.get("message"), str)
            return None if status_ok and document["code"] != 0 else f"not a google.rpc.Status: {body[:80]!r}"
        status = status_pb2.Status.FromString(body)
    except Exception as exc:
        return f"the error answer does not parse: {exc}"
    return None if status.code != 0 and status.message else f"an empty google.rpc.Status: {body[:80]!r}"


# --------------------------------------------------------------------------- canaries


def canary(worker: int, number: int) -> tuple[Hostile, str, str, dict[str, Any]]:
    """A valid one-span export (gRPC, HTTP protobuf or HTTP JSON by turn), its ids and attributes."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2
    from opentelemetry.proto.common.v1 import common_pb2 as COMMON_PB2
    from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2

    rng = random.Random(worker * 1_000_003 + number)
    trace_id, span_id = rng.randbytes(16), rng.randbytes(7) + b"\x01"
    attributes = {"canary.text": f"ünïcödé ✓ {worker}/{number}", "canary.number": number, "canary.ok": True}
    values = [
        COMMON_PB2.KeyValue(key="canary.text", value=COMMON_PB2.AnyValue(string_value=attributes["canary.text"])),
        COMMON_PB2.KeyValue(key="canary.number", value=COMMON_PB2.AnyValue(int_value=number)),
        COMMON_PB2.KeyValue(key="canary.ok", value=COMMON_PB2.AnyValue(bool_value=True)),
    ]
    now = time.time_ns()
    span = TRACE_PB2.Span(
        trace_id=trace_id, span_id=span_id, name=f"canary-{worker}", start_time_unix_nano=now,
        end_time_unix_nano=now + 1000, attributes=values, kind=TRACE_PB2.Span.SPAN_KIND_SERVER,
    )  # fmt: skip
    request = TRACE_SERVICE_PB2.ExportTraceServiceRequest(
        resource_spans=[TRACE_PB2.ResourceSpans(scope_spans=[TRACE_PB2.ScopeSpans(spans=[span])])]
    )
    turn = number % 3
    if turn == 0:
        hostile = Hostile("grpc", "traces", request.SerializeToString())
    elif turn == 1:
        hostile = Hostile("http", "traces", request.SerializeToString(), content_type="application/x-protobuf")
    else:
        hostile = Hostile("http", "traces", _otlp_json(request), content_type="application/json")
    return hostile, trace_id.hex(), span_id.hex(), attributes


def check_canary(sender: Sender, api_url: str, worker: int, number: int) -> str | None:
    """Send a canary and read it back through the API: None if it is stored intact."""
    import httpx

    hostile, trace_id, span_id, attributes = canary(worker, number)
    for _ in range(30):  # a full write queue answers "retry later": retry like an exporter
        answer, problem = sender.send(hostile)
        if answer not in ("grpc UNAVAILABLE", "http 503"):
            break
        time.sleep(0.5)
    if problem or answer not in ("grpc OK", "http 200"):
        return f"canary {worker}/{number} ({hostile.transport}) answered {answer}: {problem}"
    sql = f"SELECT span_name, span_attributes FROM otel_traces WHERE trace_id = '{trace_id}' AND span_id = '{span_id}'"
    rows = httpx.post(f"{api_url}/api/sql", json={"sql": sql}, timeout=120).json().get("rows")
    if rows != [[f"canary-{worker}", attributes]]:
        return f"canary {worker}/{number} read back as {rows!r}"
    return None


# --------------------------------------------------------------------------- workers


@dataclass(frozen=True)
class FuzzPlan:
    grpc_endpoint: str
    http_url: str
    api_url: str
    requests: int
    seed: int
    canary_every: int
    timeout_s: float


def fuzz_worker(worker: int, plan: FuzzPlan) -> WorkerReport:
    """Send ``plan.requests`` hostile requests (and canaries) from this process."""
    report = WorkerReport()
    sender = Sender(plan.grpc_endpoint, plan.http_url, plan.timeout_s)
    rng = random.Random(plan.seed * 7919 + worker)
    started = time.monotonic()
    try:
        while report.requests < plan.requests:
            # a fresh hypothesis pool every POOL_REFRESH requests
            pool = hypothesis_examples(min(POOL_SIZE, max(50, plan.requests // 10)), rng.getrandbits(32))
            stream = mutated_stream(rng, pool)
            for request in pool + [next(stream) for _ in range(POOL_REFRESH - len(pool))]:
                if report.requests >= plan.requests:
                    break
                _send_one(sender, request, report, plan)
                if report.requests % plan.canary_every == 0:
                    _canary(sender, plan, worker, report)
        _canary(sender, plan, worker, report)  # one after the last request too
    finally:
        sender.close()
    report.seconds = time.monotonic() - started
    return report


POOL_SIZE = 500
POOL_REFRESH = 25_000


def _send_one(sender: Sender, request: Hostile, report: WorkerReport, plan: FuzzPlan) -> None:
    report.requests += 1
    try:
        answer, problem = sender.send(request)
    except TimeoutError:
        report.hangs += 1
        answer, problem = "hang", f"no answer within {plan.timeout_s:g} s"
    report.answers[answer] += 1
    if problem is not None and len(report.invalid) < 20:
        report.invalid.append(
            f"{problem} <- {request.transport} {request.signal} {request.content_type!r} {request.encoding!r}"
            f" {request.body[:60]!r}"
        )


def _canary(sender: Sender, plan: FuzzPlan, worker: int, report: WorkerReport) -> None:
    report.canaries += 1
    bad = check_canary(sender, plan.api_url, worker, report.canaries)
    if bad:
        report.canaries_bad.append(bad)


def _worker_main(worker: int, plan: FuzzPlan, out: Any) -> None:
    try:
        out.put(("report", fuzz_worker(worker, plan)))
    except BaseException as exc:  # reported, not lost with the process
        import traceback

        out.put(("error", f"worker {worker}: {str(exc)[:1000]}\n{traceback.format_exc()[-3000:]}"))


@dataclass
class FuzzResult:
    requests: int = 0
    seconds: float = 0.0
    answers: Counter[str] = field(default_factory=Counter)
    invalid: list[str] = field(default_factory=list)
    hangs: int = 0
    canaries: int = 0
    canaries_bad: list[str] = field(default_factory=list)
    worker_errors: list[str] = field(default_factory=list)
    server_alive: bool = False
    exit_code: int | None = None
    peak_rss_mib: float = 0.0

    @property
    def passed(self) -> bool:
        clean = not (self.invalid or self.hangs or self.canaries_bad or self.worker_errors)
        return clean and self.server_alive and self.exit_code == 0 and self.canaries > 0


def run(workdir: Path, *, requests: int, workers: int, seed: int, canary_every: int, timeout_s: float) -> FuzzResult:
    from bench.common import PeakRss

    server = ServeProcess(
        workdir / "fuzz.duckdb", workdir / "server.log", extra_env={"GLIMPSE_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES)}
    )
    server.start()
    rss = PeakRss(server.pid, interval=0.5).start()
    plan = FuzzPlan(
        server.grpc_endpoint, server.http_url, server.api_url, -(-requests // workers), seed, canary_every, timeout_s
    )
    context = multiprocessing.get_context("spawn")
    out: Any = context.Queue()
    procs = [context.Process(target=_worker_main, args=(n, plan, out), daemon=True) for n in range(workers)]
    result = FuzzResult()
    started = time.monotonic()
    try:
        for proc in procs:
            proc.start()
        for _ in procs:
            _collect(out, result, procs)
        result.seconds = time.monotonic() - started
        result.server_alive = server.alive()
    finally:
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
        result.peak_rss_mib = rss.stop() / (1 << 20)
        result.exit_code = server.terminate()
    return result


def _collect(out: Any, result: FuzzResult, procs: list[Any]) -> None:
    while True:
        try:
            kind, payload = out.get(timeout=10)
            break
        except queue.Empty:
            if not any(proc.is_alive() for proc in procs):
                result.worker_errors.append("a worker died without a report")
                return
    if kind == "error":
        result.worker_errors.append(payload)
        return
    report: WorkerReport = payload
    result.requests += report.requests
    result.answers.update(report.answers)
    result.invalid += report.invalid
    result.hangs += report.hangs
    result.canaries += report.canaries
    result.canaries_bad += report.canaries_bad
    log(f"a worker finished: {report.requests:,} requests in {report.seconds:.0f} s")


def print_report(result: FuzzResult) -> None:
    rate = result.requests / result.seconds if result.seconds else 0.0
    print(f"hostile input: {result.requests:,} mutated OTLP requests in {result.seconds:.0f} s ({rate:,.0f} a second)")
    for answer, count in sorted(result.answers.items(), key=lambda item: -item[1]):
        print(f"  {count:>9,} x {answer}")
    print(f"  answers that are not valid OTLP answers: {len(result.invalid)}")
    for line in result.invalid[:10]:
        print(f"    {line}")
    print(f"  hangs (no answer in time): {result.hangs}")
    print(f"  canaries (valid exports between them, read back): {result.canaries}, bad {len(result.canaries_bad)}")
    for line in result.canaries_bad[:5]:
        print(f"    {line}")
    for line in result.worker_errors[:3]:
        print(f"  worker error: {line}")
    alive = f"server alive at the end: {result.server_alive}, exit code {result.exit_code}"
    print(f"  {alive}, peak RSS {result.peak_rss_mib:.0f} MiB")
    print(f"  no crash, no hang, every answer valid, every canary intact: {verdict(result.passed)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz_otlp", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000, help="hostile requests in all")
    parser.add_argument("--workers", type=int, default=4, help="fuzzing processes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--canary-every", type=int, default=500, help="a valid export after this many requests")
    parser.add_argument("--timeout-s", type=float, default=30.0, help="an answer slower than this is a hang")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="glimpse-fuzz-otlp-") as folder:
        result = run(
            Path(folder),
            requests=args.requests,
            workers=args.workers,
            seed=args.seed,
            canary_every=args.canary_every,
            timeout_s=args.timeout_s,
        )
    print_report(result)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
