"""Ingest benchmark: OTLP/gRPC trace exports into ``glimpse serve``, against a parse-only gRPC ceiling.

What it does, in one run:

1. Builds a pool of realistic ``ExportTraceServiceRequest`` messages (512 spans each, ~10
   semantic-convention attributes a span, an event on one span in five, a dozen services
   with Kubernetes/cloud resources, traces of 10-20 spans with proper parents: the
   ``bench.workload`` generator) and serializes them once. Every replay gets fresh ids
   (trace, span and parent ids XORed with a random mask, so parent links hold) and
   timestamps shifted to "now", by patching the bytes of the serialized request (~150 us),
   so nothing is a duplicate and the client stays cheap. Attribute values, durations and
   events do repeat across replays of the pool (--pool), which DuckDB compresses away
   within a row group: each client thread replays a slice of its own, in turn, and the
   default pool is twice the requests of a row group, so that no row group holds a
   request twice (measured 2026-12-08: 57.1 bytes a span with 50 requests replayed at
   random, 74.1 so; docs/performance.md). The pool is built once and kept in
   ``bench/results/ingest-pools`` (keyed by the generator's source, the size and the seed).
2. Starts ``glimpse serve`` on a temporary DuckDB file and drives it from ``--clients``
   processes, each with ``--inflight`` threads calling the raw Export method with the
   bytes, for ``--seconds``. UNAVAILABLE is retried after a short back-off and counted.
3. Stops the server with SIGTERM, opens the file read-only and counts the rows.
4. Does the same against a bare gRPC server that only parses the requests: the ceiling.

5. With ``--receivers``, the same against a gRPC server that does only glimpse's receiver
   work (the C decoder and the journal record) and stores nothing: where that part tops out.

With ``--rules FILE`` the server evaluates those alert rules every ``--rule-interval``
seconds while it ingests (the cost of alerting on ingest, docs/alerting.md). With ``--rate
N`` the clients send N spans a second in all, paced, instead of as fast as they are
acknowledged (memory and latency at a steady load); with ``--store PATH`` the server
serves a copy of that store (ingest into weeks of data, ``bench.generate``).

Run: ``python -m bench.ingest [--seconds 20] [--clients 4] [--inflight 4] [--receivers] [--json]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing as mp
import os
import pickle
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import grpc
import numpy as np
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2

from bench.common import GRPC_OPTIONS, PeakRss, log, verdict
from bench.common import glimpse_executable as _glimpse_executable
from bench.common import server_stats as _server_stats
from bench.common import wait_ready as _wait_ready
from bench.workload import SPANS_PER_REQUEST, Template, build_templates
from storage.writer import ROW_GROUP_ROWS

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
TARGET_SPANS_PER_S = 50_000
AIM_SPANS_PER_S = 100_000
TARGET_BYTES_PER_SPAN = 76
TARGET_RSS_BYTES = 1 << 30
# twice the requests of a DuckDB row group: each of the clients' threads replays a slice of
# its own, so a row group never holds one request twice (replays compress away)
DEFAULT_POOL = 2 * ROW_GROUP_ROWS // SPANS_PER_REQUEST
POOLS = Path(__file__).resolve().parent / "results" / "ingest-pools"


# --------------------------------------------------------------------------- clients


@dataclass
class ClientConfig:
    target: str
    seconds: float
    inflight: int
    backoff_s: float
    static_timestamps: bool
    seed: int
    interval_s: float = 0.0  # each thread sends a request this often (0: as fast as it can)


def _client_main(index: int, config: ClientConfig, templates: list[Template], go: Any, start_at: Any, out: Any) -> None:
    """One client process: ``inflight`` threads calling Export with pre-encoded bytes."""
    try:
        channel = grpc.insecure_channel(config.target, options=GRPC_OPTIONS)
        grpc.channel_ready_future(channel).result(timeout=30)
        export = channel.unary_unary(EXPORT_METHOD, request_serializer=None, response_deserializer=None)
        out.put(("ready", index, None))
        go.wait()
        deadline = start_at.value + config.seconds
        while time.monotonic() < start_at.value:
            time.sleep(0.001)
        cpu0 = time.process_time()
        results = [_new_thread_result() for _ in range(config.inflight)]
        shares = slices(templates, config.inflight)
        threads = [
            threading.Thread(
                target=_client_thread,
                args=(index * 64 + t + 1, export, shares[t], config, deadline, results[t]),
                daemon=True,
            )
            for t in range(config.inflight)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cpu = time.process_time() - cpu0
        channel.close()
        merged: dict[str, Any] = {
            "latencies_ms": [x for r in results for x in r["latencies_ms"]],
            "ok": sum(r["ok"] for r in results),
            "retries": sum(r["retries"] for r in results),
            "abandoned": sum(r["abandoned"] for r in results),
            "errors": dict(sum((Counter(r["errors"]) for r in results), Counter())),
            "prep_s": sum(r["prep_s"] for r in results),
            "renders": sum(r["renders"] for r in results),
            "last_end": max(r["last_end"] for r in results),
            "cpu_s": cpu,
        }
        out.put(("result", index, merged))
    except BaseException:
        out.put(("error", index, traceback.format_exc()))


def slices(templates: list[Template], parts: int) -> list[list[Template]]:
    """``templates`` dealt into ``parts`` disjoint slices (each client process, then each of
    its threads, replays its own); the whole pool for each when it has fewer."""
    if len(templates) < parts:
        return [templates] * parts
    return [templates[part::parts] for part in range(parts)]


def pool_of(size: int, seed: int, folder: Path = POOLS) -> list[Template]:
    """The workload's ``size`` requests for ``seed``, built once and kept in ``folder``
    (building takes about 40 ms a request)."""
    source = hashlib.sha256(Path(build_templates.__code__.co_filename).read_bytes()).hexdigest()[:12]
    path = folder / f"pool-{size}-seed-{seed}-{source}.pickle"
    if path.exists():
        with path.open("rb") as handle:
            cached: list[Template] = pickle.load(handle)  # written by this function
        return cached
    templates = build_templates(size, seed)
    folder.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    with part.open("wb") as handle:
        pickle.dump(templates, handle, protocol=pickle.HIGHEST_PROTOCOL)
    part.replace(path)
    return templates


def _new_thread_result() -> dict[str, Any]:
    return {
        "latencies_ms": [],
        "ok": 0,
        "retries": 0,
        "abandoned": 0,
        "errors": {},
        "prep_s": 0.0,
        "renders": 0,
        "last_end": 0.0,
    }


def _client_thread(
    worker: int, export: Any, templates: list[Template], config: ClientConfig, deadline: float, result: dict[str, Any]
) -> None:
    rng = random.Random(config.seed * 1000 + worker)
    latencies: list[float] = result["latencies_ms"]
    errors: dict[str, int] = result["errors"]
    counter = 0
    order = list(range(len(templates)))
    rng.shuffle(order)
    next_send = time.monotonic() + rng.random() * config.interval_s  # paced threads start spread out
    while time.monotonic() < deadline:
        if config.interval_s:
            time.sleep(max(0.0, next_send - time.monotonic()))
            next_send += config.interval_s
        counter += 1
        template = templates[order[counter % len(order)]]
        t_prep = time.thread_time()
        delta = 0 if config.static_timestamps else time.time_ns() - template.anchor_ns
        body = template.render(rng.randbytes(24), delta)
        result["prep_s"] += time.thread_time() - t_prep
        result["renders"] += 1
        while True:
            t0 = time.perf_counter()
            try:
                export(body, timeout=120)
            except grpc.RpcError as exc:
                code = exc.code() if hasattr(exc, "code") else None
                if code == grpc.StatusCode.UNAVAILABLE:
                    result["retries"] += 1
                    if time.monotonic() >= deadline:
                        result["abandoned"] += 1
                        break
                    time.sleep(config.backoff_s * (0.5 + rng.random()))
                    continue
                name = code.name if code is not None else "UNKNOWN"
                errors[name] = errors.get(name, 0) + 1
                break
            done = time.perf_counter()
            latencies.append((done - t0) * 1000.0)
            result["ok"] += 1
            result["last_end"] = time.monotonic()
            break
    result["last_end"] = max(result["last_end"], time.monotonic())


@dataclass
class PhaseResult:
    name: str
    duration_s: float = 0.0
    ok_requests: int = 0
    acked_spans: int = 0
    retries: int = 0
    abandoned: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    latency_max_ms: float = 0.0
    client_cpu_cores: float = 0.0
    client_prep_us_per_request: float = 0.0
    server_cpu_cores: float = 0.0
    peak_rss_bytes: int = 0


def run_clients(
    ctx: Any, name: str, target: str, templates: list[Template], args: argparse.Namespace, sampler: PeakRss
) -> PhaseResult:
    rate = getattr(args, "rate", None)  # bench.logs_ingest's arguments have none
    interval_s = SPANS_PER_REQUEST * args.clients * args.inflight / rate if rate else 0.0
    config = ClientConfig(
        target, args.seconds, args.inflight, args.backoff, args.static_timestamps, args.seed, interval_s
    )
    out = ctx.Queue()
    go = ctx.Event()
    start_at = ctx.Value("d", 0.0)
    shares = slices(templates, args.clients)
    procs = [
        ctx.Process(target=_client_main, args=(i, config, shares[i], go, start_at, out), daemon=True)
        for i in range(args.clients)
    ]
    for proc in procs:
        proc.start()
    results: list[dict[str, Any]] = []
    ready = 0
    try:
        while ready < len(procs):
            kind, index, payload = out.get(timeout=120)
            if kind == "error":
                raise RuntimeError(f"client {index} failed:\n{payload}")
            ready += 1
        cpu0 = sampler.cpu_s()
        start_at.value = time.monotonic() + 0.2
        go.set()
        while len(results) < len(procs):
            kind, index, payload = out.get(timeout=args.seconds + 300)
            if kind == "error":
                raise RuntimeError(f"client {index} failed:\n{payload}")
            results.append(payload)
        cpu1 = sampler.cpu_s()
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    duration = max(r["last_end"] for r in results) - start_at.value
    latencies = np.array([x for r in results for x in r["latencies_ms"]], dtype=np.float64)
    ok = sum(r["ok"] for r in results)
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
    return PhaseResult(
        name=name,
        duration_s=duration,
        ok_requests=ok,
        acked_spans=ok * SPANS_PER_REQUEST,
        retries=sum(r["retries"] for r in results),
        abandoned=sum(r["abandoned"] for r in results),
        errors=dict(errors),
        latency_p50_ms=float(np.percentile(latencies, 50)) if latencies.size else float("nan"),
        latency_p99_ms=float(np.percentile(latencies, 99)) if latencies.size else float("nan"),
        latency_max_ms=float(latencies.max()) if latencies.size else float("nan"),
        client_cpu_cores=sum(r["cpu_s"] for r in results) / duration,
        client_prep_us_per_request=sum(r["prep_s"] for r in results) / max(sum(r["renders"] for r in results), 1) * 1e6,
        server_cpu_cores=(cpu1 - cpu0) / duration,
    )


# --------------------------------------------------------------------------- the glimpse phase


def run_glimpse(ctx: Any, templates: list[Template], args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    db = workdir / "bench.duckdb"
    log_path = workdir / "server.log"
    store = getattr(args, "store", None)
    if store is not None:  # a copy: the run adds spans to it
        log(f"copying {store} ...")
        shutil.copyfile(store, db)
    bytes_before = db.stat().st_size if db.exists() else 0
    since_ns = time.time_ns() - 3_600 * 10**9  # the spans sent carry the send time
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [
                *_glimpse_executable(),
                "serve",
                "--db",
                str(db),
                "--grpc-port",
                "0",
                "--http-port",
                "0",
                "--api-port",
                "0",
                *(["--rules", str(args.rules), "--rule-interval", str(args.rule_interval)] if args.rules else []),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        started = time.monotonic()
        info = _wait_ready(proc, db, log_path)
        log(f"glimpse serve ready in {time.monotonic() - started:.1f} s (pid {proc.pid}, gRPC {info['grpc_port']})")
        sampler = PeakRss(proc.pid, interval=0.2, children=True).start()
        phase = run_clients(ctx, "glimpse", f"127.0.0.1:{info['grpc_port']}", templates, args, sampler)
        stats = _server_stats(info["api_port"])
        log("stopping glimpse serve (SIGTERM) ...")
        stop_started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        exit_code = proc.wait(timeout=600)
        shutdown_s = time.monotonic() - stop_started
        phase.peak_rss_bytes = sampler.stop()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    db_bytes = db.stat().st_size
    wal = Path(f"{db}.wal")
    wal_bytes = wal.stat().st_size if wal.exists() else 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute(
            "SELECT count(*), count(DISTINCT (trace_id, span_id)), count(DISTINCT service_name) FROM otel_traces "
            "WHERE timestamp >= make_timestamp_ns($since)",
            {"since": since_ns},
        ).fetchone()
    finally:
        con.close()
    rows, distinct, services = (int(x) for x in row) if row else (0, 0, 0)
    server_log = log_path.read_text(errors="replace")
    problems = [
        line
        for line in server_log.splitlines()
        if any(word in line for word in ("ERROR", "Error", "Traceback", "Exception", "WARNING", "CRITICAL"))
    ]
    return {
        "phase": phase,
        "rows": rows,
        "distinct_rows": distinct,
        "services": services,
        "spans_per_s": rows / phase.duration_s if phase.duration_s else 0.0,
        "db_bytes": db_bytes,
        "wal_bytes_after_exit": wal_bytes,
        "bytes_per_span_disk": (db_bytes + wal_bytes - bytes_before) / rows if rows else float("nan"),
        "store_bytes_before": bytes_before,
        "exit_code": exit_code,
        "shutdown_s": shutdown_s,
        "server_stats": stats,
        "log_problem_lines": problems[:20],
        "log_problem_count": len(problems),
    }


# --------------------------------------------------------------------------- the bare ceiling


def _bare_server_main(port_out: Any, stop: Any, workers: int, receivers: bool = False) -> None:
    """A gRPC server that only parses Export requests (same executor and limits as glimpse).

    With ``receivers``, it does instead what glimpse's receivers do before the writer: the
    C decoder and the journal record, as many requests at once as the Ingestor lets
    (collector.ingest.default_busy_threads), and stores nothing: their ceiling. Resources
    count as stored once decoded, as they are in a server after its first commit.
    """
    from concurrent.futures import ThreadPoolExecutor

    if receivers:
        from collector.ingest import default_busy_threads
        from collector.span_wire import decode_traces_wire
        from storage.journal import encode_batch

        busy = threading.BoundedSemaphore(default_busy_threads())
        stored_resources: set[int] = set()

        def export(body: bytes, context: grpc.ServicerContext) -> Any:
            with busy:
                decoded = decode_traces_wire(body, stored_resources)
                assert decoded is not None, "the bench's requests take the C decoder"
                encode_batch(decoded.batch)
                resources = decoded.batch.tables.get("otel_resources")
                if resources is not None:
                    stored_resources.update(resources.column("resource_key").to_pylist())
            return TRACE_SERVICE_PB2.ExportTraceServiceResponse()

    else:

        def export(body: bytes, context: grpc.ServicerContext) -> Any:
            TRACE_SERVICE_PB2.ExportTraceServiceRequest.FromString(body)
            return TRACE_SERVICE_PB2.ExportTraceServiceResponse()

    server = grpc.server(
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bare-grpc"),
        options=[*GRPC_OPTIONS, ("grpc.so_reuseport", 0)],
        maximum_concurrent_rpcs=workers * 4,
    )
    handler = grpc.unary_unary_rpc_method_handler(
        export, request_deserializer=None, response_serializer=lambda message: message.SerializeToString()
    )
    service = EXPORT_METHOD.split("/")[1]
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {"Export": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    port_out.put(port)
    stop.wait()
    server.stop(2).wait(5)


def run_bare(
    ctx: Any, templates: list[Template], args: argparse.Namespace, *, receivers: bool = False
) -> dict[str, Any]:
    port_out = ctx.Queue()
    stop = ctx.Event()
    proc = ctx.Process(target=_bare_server_main, args=(port_out, stop, 32, receivers), daemon=True)
    proc.start()
    name = "receivers" if receivers else "bare"
    try:
        port = port_out.get(timeout=60)
        log(f"{name} gRPC server ready (pid {proc.pid}, port {port})")
        assert proc.pid is not None
        sampler = PeakRss(proc.pid, interval=0.2, children=True).start()
        phase = run_clients(ctx, name, f"127.0.0.1:{port}", templates, args, sampler)
        phase.peak_rss_bytes = sampler.stop()
    finally:
        stop.set()
        proc.join(timeout=15)
        if proc.is_alive():
            proc.kill()
    return {"phase": phase, "spans_per_s": phase.acked_spans / phase.duration_s if phase.duration_s else 0.0}


# --------------------------------------------------------------------------- report


def measure_prep(templates: list[Template], n: int = 300) -> float:
    """Microseconds to render one request (copy, fresh ids, shift timestamps)."""
    started = time.perf_counter()
    for i in range(n):
        template = templates[i % len(templates)]
        template.render(os.urandom(24), time.time_ns() - template.anchor_ns)
    return (time.perf_counter() - started) / n * 1e6


def _mib(n: float) -> str:
    return f"{n / (1 << 20):,.0f} MiB"


def print_report(figures: dict[str, Any]) -> None:
    g, b, r, w = figures["glimpse"], figures["bare"], figures["receivers"], figures["workload"]
    gp, bp = g["phase"], b["phase"]
    print()
    print(
        f"== workload: {w['pool']} distinct requests x {SPANS_PER_REQUEST} spans, {w['clients']} client processes x "
        f"{w['inflight']} in flight, {w['seconds']:.0f} s per phase, {os.cpu_count()} CPUs"
    )
    print(
        f"   wire size {w['wire_bytes_per_span']:.0f} B/span ({w['request_bytes_avg'] / 1024:.0f} KiB/request), "
        f"~{w['attributes_per_span']:.1f} attributes/span, events on {w['event_span_share'] * 100:.0f}% of spans, "
        f"client-side render {w['prep_us_per_request']:.0f} us/request"
    )
    phases = (("glimpse serve", g), ("bare parse-only gRPC", b), ("receivers only (decode + journal record)", r))
    for label, res in phases:
        phase = res["phase"]
        print(f"\n== {label}")
        if res.get("skipped"):
            print("   skipped")
            continue
        print(
            f"   measured {phase.duration_s:.2f} s, {phase.ok_requests} exports acknowledged "
            f"({phase.acked_spans:,} spans), {res['spans_per_s']:,.0f} spans/s"
        )
        print(
            f"   export latency p50 {phase.latency_p50_ms:.1f} ms, p99 {phase.latency_p99_ms:.1f} ms, "
            f"max {phase.latency_max_ms:.1f} ms"
        )
        print(
            f"   UNAVAILABLE retries {phase.retries} (abandoned at the deadline {phase.abandoned}), "
            f"other errors {phase.errors or 'none'}"
        )
        print(
            f"   CPU: server {phase.server_cpu_cores:.2f} cores, clients {phase.client_cpu_cores:.2f} cores "
            f"(render {phase.client_prep_us_per_request:.0f} us CPU/request); "
            f"peak server RSS {_mib(phase.peak_rss_bytes)}"
        )
    print(
        f"\n   glimpse: {g['rows']:,} rows stored ({g['distinct_rows']:,} distinct ids, {g['services']} services); "
        f"acknowledged {gp.acked_spans:,}"
    )
    print(
        f"   glimpse: file {_mib(g['db_bytes'])} + WAL left {g['wal_bytes_after_exit']} B after exit "
        f"-> {g['bytes_per_span_disk']:.1f} B/span; shutdown {g['shutdown_s']:.1f} s, "
        f"exit code {g['exit_code']}"
    )
    stats = g["server_stats"]
    if "commits" in stats:
        per_commit = stats["committed_rows"] / max(stats["commits"], 1)
        print(
            f"   glimpse writer: {stats['commits']} commits ({per_commit:,.0f} rows each), "
            f"{stats['rejected_full']} queue-full rejections, {stats['duplicate_spans']} duplicates, "
            f"{stats['checkpoints']} checkpoints, {stats['compactions']} rewrites of part row groups, "
            f"last commit {stats['last_commit_s'] * 1000:.0f} ms"
        )
    if g["log_problem_count"]:
        print(f"   server log: {g['log_problem_count']} error/warning lines, first ones:")
        for line in g["log_problem_lines"][:8]:
            print(f"     | {line[:200]}")
    else:
        print("   server log: no errors or warnings")
    t = figures["targets"]
    print("\n== summary")
    print(
        f"   stored spans/s     {g['spans_per_s']:>12,.0f}   target >= {TARGET_SPANS_PER_S:,} "
        f"(aim {AIM_SPANS_PER_S:,})   {verdict(t['spans_per_s'])}"
    )
    if not b.get("skipped"):
        print(f"   bare parse spans/s {b['spans_per_s']:>12,.0f}   glimpse/bare = {figures['ratio_glimpse_bare']:.3f}")
    if not r.get("skipped"):
        print(f"   receivers spans/s  {r['spans_per_s']:>12,.0f}   (decode + journal record only)")
    print(f"   latency p50/p99    {gp.latency_p50_ms:>8.1f} / {gp.latency_p99_ms:.1f} ms")
    print(f"   UNAVAILABLE        {gp.retries:>12}")
    print(f"   peak server RSS    {_mib(gp.peak_rss_bytes):>12}   target < 1 GiB   {verdict(t['rss'])}")
    print(
        f"   disk bytes/span    {g['bytes_per_span_disk']:>12.1f}   target <= {TARGET_BYTES_PER_SPAN}   "
        f"{verdict(t['bytes_per_span'])}"
    )
    print(f"   wire bytes/span    {w['wire_bytes_per_span']:>12.1f}")
    cpu = f"   CPU cores server/clients: glimpse {gp.server_cpu_cores:.2f}/{gp.client_cpu_cores:.2f}"
    if not b.get("skipped"):
        cpu += f", bare {bp.server_cpu_cores:.2f}/{bp.client_cpu_cores:.2f}"
    print(f"{cpu} (of {os.cpu_count()} CPUs)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="load duration of each phase (default 20)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--inflight", type=int, default=4, help="calls in flight per client process (default 4)")
    parser.add_argument(
        "--pool",
        type=int,
        default=DEFAULT_POOL,
        help=f"distinct pre-encoded requests (default {DEFAULT_POOL}: no row group holds one twice)",
    )
    parser.add_argument("--seed", type=int, default=7, help="workload seed")
    parser.add_argument("--backoff", type=float, default=0.1, help="seconds to wait before retrying UNAVAILABLE")
    parser.add_argument(
        "--static-timestamps",
        action="store_true",
        help="replay the pool's timestamps as generated instead of shifting them to the send time",
    )
    parser.add_argument("--skip-bare", action="store_true", help="do not measure the parse-only ceiling")
    parser.add_argument(
        "--rate", type=float, help="send this many spans a second in all, paced (default: as fast as acknowledged)"
    )
    parser.add_argument(
        "--store", type=Path, help="serve a copy of this store instead of a new one (its spans are not counted)"
    )
    parser.add_argument(
        "--receivers",
        action="store_true",
        help="also measure glimpse's receiver work alone (decode and journal record, nothing stored)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary database and server log")
    parser.add_argument(
        "--rules", help="serve with these alert rules (python -m bench.alerts --write-rules FILE writes 50)"
    )
    parser.add_argument("--rule-interval", type=float, default=30.0, help="seconds between rule evaluations")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.inflight < 1 or args.pool < 1 or args.seconds <= 0 or (args.rate or 1) <= 0:
        parser.error("--clients, --inflight, --pool, --seconds and --rate must be positive")

    started = time.perf_counter()
    templates = build_templates(args.pool, args.seed) if args.static_timestamps else pool_of(args.pool, args.seed)
    sample = [TRACE_SERVICE_PB2.ExportTraceServiceRequest.FromString(t.body) for t in templates[:5]]
    spans = [s for m in sample for rs in m.resource_spans for ss in rs.scope_spans for s in ss.spans]
    request_bytes = sum(len(t.body) for t in templates) / len(templates)
    prep_us = measure_prep(templates)
    workload = {
        "pool": args.pool,
        "clients": args.clients,
        "inflight": args.inflight,
        "seconds": args.seconds,
        "request_bytes_avg": request_bytes,
        "wire_bytes_per_span": request_bytes / SPANS_PER_REQUEST,
        "attributes_per_span": sum(len(s.attributes) for s in spans) / len(spans),
        "event_span_share": sum(1 for s in spans if s.events) / len(spans),
        "prep_us_per_request": prep_us,
        "static_timestamps": args.static_timestamps,
        "rate": args.rate,
        "store": str(args.store) if args.store else None,
    }
    log(
        f"{args.pool} requests ready in {time.perf_counter() - started:.1f} s "
        f"({request_bytes / 1024:.0f} KiB each, {workload['wire_bytes_per_span']:.0f} B/span); "
        f"render {prep_us:.0f} us/request"
    )

    ctx = mp.get_context("spawn")
    workdir = Path(tempfile.mkdtemp(prefix="glimpse-bench-"))
    try:
        glimpse = run_glimpse(ctx, templates, args, workdir)
        log(f"glimpse: {glimpse['rows']:,} rows, {glimpse['spans_per_s']:,.0f} spans/s")
        bare = (
            run_bare(ctx, templates, args)
            if not args.skip_bare
            else {"phase": PhaseResult("bare"), "spans_per_s": float("nan"), "skipped": True}
        )
        if not args.skip_bare:
            log(f"bare: {bare['spans_per_s']:,.0f} spans/s")
        receivers = (
            run_bare(ctx, templates, args, receivers=True)
            if args.receivers
            else {"phase": PhaseResult("receivers"), "spans_per_s": float("nan"), "skipped": True}
        )
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    figures: dict[str, Any] = {
        "workload": workload,
        "glimpse": glimpse,
        "bare": bare,
        "receivers": receivers,
        "ratio_glimpse_bare": glimpse["spans_per_s"] / bare["spans_per_s"] if bare["spans_per_s"] else float("nan"),
        "targets": {
            "spans_per_s": glimpse["spans_per_s"] >= TARGET_SPANS_PER_S,
            "spans_per_s_aim": glimpse["spans_per_s"] >= AIM_SPANS_PER_S,
            "bytes_per_span": glimpse["bytes_per_span_disk"] <= TARGET_BYTES_PER_SPAN,
            "rss": glimpse["phase"].peak_rss_bytes < TARGET_RSS_BYTES,
        },
        "target_values": {
            "spans_per_s_min": TARGET_SPANS_PER_S,
            "spans_per_s_aim": AIM_SPANS_PER_S,
            "bytes_per_span_max": TARGET_BYTES_PER_SPAN,
            "rss_bytes_max": TARGET_RSS_BYTES,
        },
        "elapsed_s": time.perf_counter() - started,
    }
    if args.json:
        print(json.dumps(_finite(figures), indent=2))
    else:
        print_report(figures)
        print(f"   total run time     {figures['elapsed_s']:>12.1f} s")
    return 0


def _finite(value: Any) -> Any:
    """JSON-ready figures: dataclasses as dicts, NaN and infinities as null."""
    if isinstance(value, PhaseResult):
        return _finite(asdict(value))
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


if __name__ == "__main__":
    raise SystemExit(main())
