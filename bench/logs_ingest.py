"""Log ingest benchmark: OTLP/gRPC log exports with trace context into ``glimpse serve``,
durably stored, beside the same run's span ingest.

What it does, in each of ``--runs`` runs:

1. Logs: starts ``glimpse serve`` on a temporary DuckDB file and drives it from
   ``--clients`` processes, each with ``--inflight`` threads calling the real
   ``LogsService/Export`` method with pre-encoded requests of 512 records (the OpenTelemetry
   SDK's default batch) for ``--seconds``. The records are an online shop's: six services
   with Kubernetes resources, traces of 2-4 spans across them, 2-4 records a span from a
   few templates per service (numbers, ids, uuids, IP addresses and durations in the
   messages), mostly INFO with DEBUG, WARN and ERROR among them, code location and
   business attributes, every record with its span's trace and span id. Every replay gets
   fresh ids (XORed with a random mask, so that a span's records stay together) and times
   shifted to "now", by patching the serialized bytes. UNAVAILABLE is retried after a
   short back-off. Then SIGTERM (the server drains its queue and commits), and the rows in
   ``otel_logs`` are counted in the file: records/s = stored rows / load seconds.
2. Spans: the same with ``bench.ingest``'s span workload (``bench.ingest.run_glimpse``),
   the same clients and seconds, for comparison on the same machine in the same minute.

It prints every run and the medians. Target: >= 100,000 log records/s durably stored (issue 22;
issue 16 asked for 20,000).

Run: ``python -m bench.logs_ingest [--runs 5] [--seconds 10] [--clients 4] [--inflight 4] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import grpc
import numpy as np
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as LOGS_SERVICE_PB2
from opentelemetry.proto.common.v1 import common_pb2 as COMMON_PB2
from opentelemetry.proto.logs.v1 import logs_pb2 as LOGS_PB2

from bench.common import GRPC_OPTIONS, log, median, verdict
from bench.ingest import _glimpse_executable, _wait_ready, run_glimpse
from bench.workload import Template, _fields, build_templates

EXPORT_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
RECORDS_PER_REQUEST = 512
TARGET_RECORDS_PER_S = 100_000

# --------------------------------------------------------------------------- the workload

# severity number, severity text, message format, code function, code file, code line
LogLine = tuple[int, str, str, str, str, int]
INFO, DEBUG, WARN, ERROR = (9, "INFO"), (5, "DEBUG"), (13, "WARN"), (17, "ERROR")
SERVICES: dict[str, tuple[str, list[LogLine]]] = {
    "frontend": ("GET /api/checkout", [
        (*INFO, "GET {route} served in {ms} ms status={status}", "handleRequest", "src/server.ts", 88),
        (*DEBUG, "session {uuid} resolved for user {user}", "resolveSession", "src/session.ts", 41),
        (*WARN, "slow upstream {service}: {ms} ms", "callUpstream", "src/upstream.ts", 120),
    ]),
    "checkout": ("PlaceOrder", [
        (*INFO, "order {order} placed for {user}: {amount} {currency}", "PlaceOrder", "checkout/order.go", 212),
        (*INFO, "reserved {count} items in warehouse {warehouse}", "reserve", "checkout/stock.go", 77),
        (*ERROR, "payment for order {order} failed: {reason}", "PlaceOrder", "checkout/order.go", 240),
    ]),
    "cart": ("GetCart", [
        (*DEBUG, "redis GET cart:{user} hit in {us} us", "GetCartAsync", "CartStore.cs", 58),
        (*INFO, "cart {uuid} loaded with {count} items", "GetCart", "CartService.cs", 33),
        (*ERROR, "redis timeout after {ms} ms on {ip}:6379", "GetCartAsync", "CartStore.cs", 64),
    ]),
    "payment": ("Charge", [
        (*INFO, "charging card ****{card} amount {amount} {currency}", "charge", "charge.js", 19),
        (*INFO, "transaction {hex} approved by {provider}", "charge", "charge.js", 47),
        (*WARN, "card declined for order {order}: {reason}", "charge", "charge.js", 52),
    ]),
    "product-catalog": ("GetProduct", [
        (*DEBUG, "query products where id={sku} took {us} us", "GetProduct", "catalog/db.go", 102),
        (*INFO, "product {sku} served from cache (age {s} s)", "GetProduct", "catalog/cache.go", 61),
        (*WARN, "product {sku} missing from cache, loaded in {ms} ms", "GetProduct", "catalog/cache.go", 70),
    ]),
    "shipping": ("GetQuote", [
        (*INFO, "quote for {count} items to {zip}: {amount} {currency}", "get_quote", "src/quote.rs", 30),
        (*WARN, "carrier {provider} answered in {ms} ms, over budget", "get_quote", "src/quote.rs", 44),
    ]),
}  # fmt: skip
CALLS = {"frontend": ["checkout", "cart", "product-catalog"], "checkout": ["payment", "shipping", "cart"]}
REASONS = ["insufficient funds", "card expired", "issuer unavailable", "fraud suspected"]


class LogWorkload:
    """Seeded requests of log records tied to spans (see the module's docstring)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.resources: dict[tuple[str, int], Any] = {}
        for service in SERVICES:
            for pod in range(3):
                resource = LOGS_PB2.ResourceLogs().resource
                _attributes(
                    resource.attributes,
                    {
                        "service.name": service,
                        "service.namespace": "shop",
                        "service.version": "1.4.2",
                        "k8s.namespace.name": "shop",
                        "k8s.pod.name": f"{service}-7d9f{pod}c-x{pod}q",
                        "k8s.node.name": f"node-{(pod + len(service)) % 4}",
                        "host.name": f"node-{(pod + len(service)) % 4}",
                        "cloud.availability_zone": f"eu-west-1{'abc'[pod]}",
                    },
                )
                self.resources[(service, pod)] = resource

    def _value(self, name: str) -> str:
        rng = self.rng
        values = {
            "route": lambda: rng.choice(["/api/checkout", "/api/cart", "/api/products", "/"]),
            "ms": lambda: str(rng.randint(1, 2500)),
            "us": lambda: str(rng.randint(40, 9000)),
            "s": lambda: str(rng.randint(0, 600)),
            "status": lambda: rng.choice(["200", "200", "200", "201", "404", "500"]),
            "uuid": lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "user": lambda: f"u{rng.randint(1, 50_000)}",
            "service": lambda: rng.choice(list(SERVICES)),
            "order": lambda: str(rng.randint(10_000_000, 99_999_999)),
            "amount": lambda: f"{rng.randint(1, 900)}.{rng.randint(0, 99):02d}",
            "currency": lambda: rng.choice(["EUR", "USD", "GBP"]),
            "count": lambda: str(rng.randint(1, 12)),
            "warehouse": lambda: rng.choice(["ams-1", "fra-2", "dub-1"]),
            "reason": lambda: rng.choice(REASONS),
            "ip": lambda: f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "card": lambda: f"{rng.randint(0, 9999):04d}",
            "hex": lambda: f"{rng.getrandbits(64):016x}",
            "provider": lambda: rng.choice(["stripe", "adyen", "dhl", "ups"]),
            "sku": lambda: f"SKU-{rng.randint(1000, 9999)}",
            "zip": lambda: f"{rng.randint(10000, 99999)}",
        }
        return values[name]()

    def _records(self, service: str, span_id: bytes, trace_id: bytes, start_ns: int) -> list[tuple[Any, ...]]:
        lines = SERVICES[service][1]
        # mostly the service's first (INFO or DEBUG) lines; its last, a WARN or ERROR, one time in ten
        count = self.rng.randint(2, 4)
        chosen = [lines[i % (len(lines) - 1)] for i in range(count)]
        if self.rng.random() < 0.1:
            chosen[-1] = lines[-1]
        records = []
        for index, (number, text, template, function, path, line) in enumerate(chosen):
            names = [part.split("}")[0] for part in template.split("{")[1:]]
            message = template.format(**{name: self._value(name) for name in names})
            attributes: dict[str, Any] = {
                "code.function.name": function,
                "code.file.path": path,
                "code.line.number": line,
                "thread.id": self.rng.randint(1, 64),
            }
            if "user" in names or self.rng.random() < 0.3:
                attributes["enduser.id"] = f"u{self.rng.randint(1, 50_000)}"
            time_ns = start_ns + index * self.rng.randint(100_000, 3_000_000)
            records.append((time_ns, number, text, message, attributes, trace_id, span_id))
        return records

    def request(self, anchor_ns: int, records_per_request: int = RECORDS_PER_REQUEST) -> bytes:
        """One ``ExportLogsServiceRequest`` of about ``records_per_request`` records, whole spans."""
        by_resource: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
        total = 0
        while total < records_per_request:
            trace_id = self.rng.getrandbits(128).to_bytes(16, "big")
            start_ns = anchor_ns - self.rng.randint(0, 2_000_000_000)
            services = ["frontend", self.rng.choice(CALLS["frontend"])]
            if services[-1] == "checkout":
                services.append(self.rng.choice(CALLS["checkout"]))
            for depth, service in enumerate(services):
                span_id = self.rng.getrandbits(64).to_bytes(8, "big")
                records = self._records(service, span_id, trace_id, start_ns + depth * 2_000_000)
                by_resource.setdefault((service, self.rng.randrange(3)), []).extend(records)
                total += len(records)
        message = LOGS_SERVICE_PB2.ExportLogsServiceRequest()
        for (service, pod), records in by_resource.items():
            resource_logs = message.resource_logs.add()
            resource_logs.resource.CopyFrom(self.resources[(service, pod)])
            resource_logs.schema_url = "https://opentelemetry.io/schemas/1.26.0"
            scope_logs = resource_logs.scope_logs.add()
            scope_logs.scope.name = f"shop.{service}"
            for time_ns, number, text, body, attributes, trace_id, span_id in records:
                record = scope_logs.log_records.add()
                record.time_unix_nano = time_ns
                record.observed_time_unix_nano = time_ns + 150_000
                record.severity_number = number
                record.severity_text = text
                record.body.string_value = body
                _attributes(record.attributes, attributes)
                record.flags = 1
                record.trace_id = trace_id
                record.span_id = span_id
        return bytes(message.SerializeToString())


def _attributes(target: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        kv: COMMON_PB2.KeyValue = target.add()
        kv.key = key
        if isinstance(value, int):
            kv.value.int_value = value
        else:
            kv.value.string_value = value


def make_log_template(body: bytes) -> tuple[Template, int]:
    """Where every record's trace id, span id and times sit in a serialized request, and how
    many records it holds (bench.workload.Template renders it with fresh ids and times)."""
    tid_offsets: list[int] = []
    sid_offsets: list[int] = []
    ts_offsets: list[int] = []
    records = 0
    for f_rl, _, rl_start, rl_end in _fields(body, 0, len(body)):
        if f_rl != 1:  # ExportLogsServiceRequest.resource_logs
            continue
        for f_sl, _, sl_start, sl_end in _fields(body, rl_start, rl_end):
            if f_sl != 2:  # ResourceLogs.scope_logs
                continue
            for f_rec, _, r_start, r_end in _fields(body, sl_start, sl_end):
                if f_rec != 2:  # ScopeLogs.log_records
                    continue
                records += 1
                for number, wire, v_start, v_end in _fields(body, r_start, r_end):
                    if number == 9 and v_end - v_start == 16:  # LogRecord.trace_id
                        tid_offsets.append(v_start)
                    elif number == 10 and v_end - v_start == 8:  # LogRecord.span_id
                        sid_offsets.append(v_start)
                    elif number in (1, 11) and wire == 1:  # LogRecord.time_unix_nano, observed_time_unix_nano
                        ts_offsets.append(v_start)
    lanes = np.arange(8, dtype=np.int64)
    ts_index = np.array(ts_offsets, dtype=np.int64)[:, None] + lanes
    ts_values = np.frombuffer(body, dtype=np.uint8)[ts_index].copy().view("<i8").reshape(-1)
    template = Template(
        body=body,
        tid_index=np.array(tid_offsets, dtype=np.int64)[:, None] + np.arange(16, dtype=np.int64),
        sid_index=np.array(sid_offsets, dtype=np.int64)[:, None] + lanes,
        ts_index=ts_index,
        ts_values=ts_values,
        anchor_ns=int(ts_values.max()),
    )
    return template, records


def check_log_template(template: Template, records: int) -> None:
    """Render once and parse: every record must carry the new ids and the shifted times."""
    mask, delta = random.Random(records).randbytes(24), 987_654_321
    original = LOGS_SERVICE_PB2.ExportLogsServiceRequest.FromString(template.body)
    patched = LOGS_SERVICE_PB2.ExportLogsServiceRequest.FromString(template.render(mask, delta))
    seen = 0
    for rl_a, rl_b in zip(original.resource_logs, patched.resource_logs, strict=True):
        for sl_a, sl_b in zip(rl_a.scope_logs, rl_b.scope_logs, strict=True):
            for a, b in zip(sl_a.log_records, sl_b.log_records, strict=True):
                seen += 1
                ok = (
                    b.trace_id == bytes(x ^ y for x, y in zip(a.trace_id, mask[:16], strict=True))
                    and b.span_id == bytes(x ^ y for x, y in zip(a.span_id, mask[16:], strict=True))
                    and b.time_unix_nano == a.time_unix_nano + delta
                    and b.observed_time_unix_nano == a.observed_time_unix_nano + delta
                    and b.body == a.body
                    and b.attributes == a.attributes
                )
                if not ok:
                    raise RuntimeError("template patching broke a log record")
    if seen != records:
        raise RuntimeError(f"counted {records} records, parsed {seen}")


def build_log_templates(pool: int, seed: int) -> tuple[list[Template], list[int]]:
    """``pool`` requests of the seeded workload, timestamped around now, and their record counts."""
    workload = LogWorkload(seed)
    anchor = time.time_ns()
    templates, counts = [], []
    for _ in range(pool):
        template, records = make_log_template(workload.request(anchor))
        check_log_template(template, records)
        templates.append(template)
        counts.append(records)
    return templates, counts


# --------------------------------------------------------------------------- clients


@dataclass
class LogClientConfig:
    target: str
    seconds: float
    inflight: int
    backoff_s: float
    seed: int


def _client_main(
    index: int, config: LogClientConfig, templates: list[Template], counts: list[int], go: Any, start_at: Any, out: Any
) -> None:
    """One client process: ``inflight`` threads exporting rendered requests until the deadline."""
    try:
        channel = grpc.insecure_channel(config.target, options=GRPC_OPTIONS)
        grpc.channel_ready_future(channel).result(timeout=30)
        export = channel.unary_unary(EXPORT_METHOD, request_serializer=None, response_deserializer=None)
        out.put(("ready", index, None))
        go.wait()
        deadline = start_at.value + config.seconds
        while time.monotonic() < start_at.value:
            time.sleep(0.001)
        results = [{"ok": 0, "records": 0, "retries": 0, "errors": 0, "last_end": 0.0} for _ in range(config.inflight)]
        threads = [
            threading.Thread(
                target=_client_thread,
                args=(index * 64 + t + 1, export, templates, counts, config, deadline, results[t]),
                daemon=True,
            )
            for t in range(config.inflight)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        channel.close()
        merged = {key: sum(r[key] for r in results) for key in ("ok", "records", "retries", "errors")}
        merged["last_end"] = max(r["last_end"] for r in results)
        out.put(("result", index, merged))
    except BaseException:
        out.put(("error", index, traceback.format_exc()))


def _client_thread(
    worker: int,
    export: Any,
    templates: list[Template],
    counts: list[int],
    config: LogClientConfig,
    deadline: float,
    result: dict[str, Any],
) -> None:
    rng = random.Random(config.seed * 1000 + worker)
    order = list(range(len(templates)))
    rng.shuffle(order)
    sent = 0
    while time.monotonic() < deadline:
        which = order[sent % len(order)]
        sent += 1
        body = templates[which].render(rng.randbytes(24), time.time_ns() - templates[which].anchor_ns)
        while True:
            try:
                export(body, timeout=120)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline:
                    result["retries"] += 1
                    time.sleep(config.backoff_s * (0.5 + rng.random()))
                    continue
                result["errors"] += 1
                break
            result["ok"] += 1
            result["records"] += counts[which]
            result["last_end"] = time.monotonic()
            break


def drive(
    ctx: Any, target: str, templates: list[Template], counts: list[int], args: argparse.Namespace
) -> dict[str, Any]:
    """Run the clients against ``target``: acknowledged requests and records, retries, seconds."""
    config = LogClientConfig(target, args.seconds, args.inflight, args.backoff, args.seed)
    out, go, start_at = ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    procs = [
        ctx.Process(target=_client_main, args=(i, config, templates, counts, go, start_at, out), daemon=True)
        for i in range(args.clients)
    ]
    for proc in procs:
        proc.start()
    results: list[dict[str, Any]] = []
    try:
        for _ in procs:
            kind, index, payload = out.get(timeout=120)
            if kind == "error":
                raise RuntimeError(f"client {index} failed:\n{payload}")
        start_at.value = time.monotonic() + 0.2
        go.set()
        while len(results) < len(procs):
            kind, index, payload = out.get(timeout=args.seconds + 300)
            if kind == "error":
                raise RuntimeError(f"client {index} failed:\n{payload}")
            results.append(payload)
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    summed = {key: sum(r[key] for r in results) for key in ("ok", "records", "retries", "errors")}
    summed["seconds"] = max(r["last_end"] for r in results) - start_at.value
    return summed


# --------------------------------------------------------------------------- one run


def run_logs(
    ctx: Any, templates: list[Template], counts: list[int], args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """``glimpse serve`` on a fresh file, the clients, SIGTERM, and the stored rows counted."""
    db = workdir / "logs.duckdb"
    log_path = workdir / "logs-server.log"
    with log_path.open("wb") as log_file:
        command = [*_glimpse_executable(), "serve", "--db", str(db), "--grpc-port", "0", "--http-port", "0"]
        proc = subprocess.Popen([*command, "--api-port", "0"], stdout=log_file, stderr=subprocess.STDOUT)
    try:
        info = _wait_ready(proc, db, log_path)
        sent = drive(ctx, f"127.0.0.1:{info['grpc_port']}", templates, counts, args)
        stop_started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        exit_code = proc.wait(timeout=600)
        shutdown_s = time.monotonic() - stop_started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE trace_id <> '' AND span_id <> ''), "
            "count(DISTINCT (trace_id, span_id)), count(DISTINCT service_name) FROM otel_logs"
        ).fetchone()
    finally:
        con.close()
    rows, with_context, spans, services = (int(x) for x in row) if row else (0, 0, 0, 0)
    problems = [
        line
        for line in log_path.read_text(errors="replace").splitlines()
        if any(word in line for word in ("ERROR", "Traceback", "Exception", "WARNING", "CRITICAL"))
    ]
    return {
        **sent,
        "rows": rows,
        "rows_with_trace_context": with_context,
        "spans": spans,
        "services": services,
        "records_per_s": rows / sent["seconds"] if sent["seconds"] else 0.0,
        "db_bytes": db.stat().st_size,
        "exit_code": exit_code,
        "shutdown_s": shutdown_s,
        "log_problems": problems[:10],
    }


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.logs_ingest", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--runs", type=int, default=5, help="runs, each logs then spans (default 5)")
    parser.add_argument("--seconds", type=float, default=10.0, help="load seconds of each phase (default 10)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (default 4, as bench.ingest)")
    parser.add_argument("--inflight", type=int, default=4, help="calls in flight per client process (default 4)")
    parser.add_argument("--pool", type=int, default=50, help="distinct pre-encoded requests (default 50)")
    parser.add_argument("--seed", type=int, default=7, help="workload seed")
    parser.add_argument("--backoff", type=float, default=0.1, help="seconds to wait before retrying UNAVAILABLE")
    parser.add_argument("--skip-spans", action="store_true", help="do not measure span ingest beside it")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if min(args.runs, args.clients, args.inflight, args.pool) < 1 or args.seconds <= 0:
        parser.error("--runs, --clients, --inflight, --pool and --seconds must be positive")
    args.static_timestamps = False  # what bench.ingest.run_glimpse reads
    args.rules = None  # bench.ingest can load alert rules into the server; not here

    started = time.perf_counter()
    templates, counts = build_log_templates(args.pool, args.seed)
    span_templates = [] if args.skip_spans else build_templates(args.pool, args.seed)
    request_bytes = sum(len(t.body) for t in templates) / len(templates)
    log(
        f"built {args.pool} log requests ({sum(counts) / len(counts):.0f} records, "
        f"{request_bytes / 1024:.0f} KiB each) in {time.perf_counter() - started:.1f} s"
    )
    ctx = mp.get_context("spawn")
    runs: list[dict[str, Any]] = []
    for number in range(1, args.runs + 1):
        workdir = Path(tempfile.mkdtemp(prefix="glimpse-logs-bench-"))
        try:
            logs = run_logs(ctx, templates, counts, args, workdir)
            log(f"run {number}: {logs['rows']:,} log records stored, {logs['records_per_s']:,.0f}/s")
            spans = None
            if not args.skip_spans:
                spans = run_glimpse(ctx, span_templates, args, workdir)
                log(f"run {number}: {spans['rows']:,} spans stored, {spans['spans_per_s']:,.0f}/s")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        runs.append(
            {
                "logs": logs,
                "spans": None
                if spans is None
                else {key: spans[key] for key in ("rows", "spans_per_s", "exit_code", "log_problem_count")},
            }
        )
    records_per_s = median([run["logs"]["records_per_s"] for run in runs])
    spans_per_s = None if args.skip_spans else median([run["spans"]["spans_per_s"] for run in runs])
    figures = {
        "workload": {
            "pool": args.pool,
            "records_per_request": sum(counts) / len(counts),
            "wire_bytes_per_record": request_bytes / (sum(counts) / len(counts)),
            "clients": args.clients,
            "inflight": args.inflight,
            "seconds": args.seconds,
        },
        "runs": runs,
        "median_records_per_s": records_per_s,
        "median_spans_per_s": spans_per_s,
        "target_records_per_s": TARGET_RECORDS_PER_S,
        "target_met": records_per_s >= TARGET_RECORDS_PER_S,
        "elapsed_s": time.perf_counter() - started,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_report(figures)
    return 0


def print_report(figures: dict[str, Any]) -> None:
    w = figures["workload"]
    print(
        f"\n== workload: {w['pool']} requests of {w['records_per_request']:.0f} log records "
        f"({w['wire_bytes_per_record']:.0f} B/record on the wire), {w['clients']} client processes x "
        f"{w['inflight']} in flight, {w['seconds']:.0f} s per phase"
    )
    print("   run   log records/s   acknowledged   stored     with trace ids   spans   retries   spans/s (same run)")
    for number, run in enumerate(figures["runs"], start=1):
        logs, spans = run["logs"], run["spans"]
        span_rate = f"{spans['spans_per_s']:>12,.0f}" if spans else "           -"
        print(
            f"   {number:>3}   {logs['records_per_s']:>13,.0f}   {logs['records']:>12,}   {logs['rows']:>9,}"
            f"   {logs['rows_with_trace_context']:>13,}   {logs['spans']:>7,}   {logs['retries']:>7}   {span_rate}"
        )
        if logs["errors"] or logs["exit_code"] or logs["log_problems"]:
            print(
                f"         errors {logs['errors']}, exit code {logs['exit_code']}, server log: {logs['log_problems']}"
            )
    spans = figures["median_spans_per_s"]
    print(
        f"\n   median log records/s durably stored {figures['median_records_per_s']:>10,.0f}   "
        f"target >= {figures['target_records_per_s']:,}   {verdict(figures['target_met'])}"
    )
    if spans is not None:
        print(f"   median spans/s, same runs            {spans:>10,.0f}")
    print(f"   total run time {figures['elapsed_s']:.0f} s")


if __name__ == "__main__":
    raise SystemExit(main())
