"""Retention benchmark: a size bound (or an age) held under continuous ingest, queries going on.

What it does, in one run:

1. Starts ``glimpse serve --max-db-bytes BOUND`` (or ``--retention AGE``) on a temporary
   store and drives it with the heavy workload of ``bench.ingest`` (realistic OTLP/gRPC
   exports, durable acknowledgements) for ``--seconds``: several times the bound.
2. Meanwhile samples the size of the database file and its WAL on disk every 0.25 s, and
   asks the API for the service list every second (the queries must go on; their latency
   is reported).
3. Prints the largest size seen against the bound (the target: within 10 %), the size at
   the end, what retention dropped (``/api/stats``), the spans acknowledged and stored, and
   the ingest rate.

Run: ``python -m bench.retention [--bound 256MiB] [--seconds 240] [--age 60s] [--json]``.
Target (issue 17): under continuous ingest the store's size stays within 10 % of its bound.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import re
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from bench.common import PeakRss, ServeProcess, log, mib, verdict
from bench.ingest import run_clients
from bench.workload import build_templates
from glimpse.settings import ENV_MAX_DB_BYTES, ENV_RETENTION, parse_size_bytes
from storage.retention import store_bytes

TARGET_OVER_BOUND = 1.10


class Sampler:
    """Samples the store's size on disk, and the API's answer time, in threads of their own."""

    def __init__(self, db: Path, api_port: int, query_every_s: float) -> None:
        self.db, self.api_port, self.query_every_s = db, api_port, query_every_s
        self.sizes: list[tuple[float, int]] = []
        self.query_s: list[float] = []
        self.query_errors = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._sizes, daemon=True), threading.Thread(target=self._queries)]

    def __enter__(self) -> Sampler:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _sizes(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(0.25):
            self.sizes.append((time.monotonic() - started, store_bytes(str(self.db))))

    def _queries(self) -> None:
        url = f"http://127.0.0.1:{self.api_port}/api/services"
        while self.query_every_s > 0 and not self._stop.wait(self.query_every_s):
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    response.read()
                self.query_s.append(time.perf_counter() - started)
            except OSError:
                self.query_errors += 1


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    db = workdir / "retention.duckdb"
    log_path = workdir / "server.log"
    bound = parse_size_bytes(args.bound) if args.age is None else None
    limit = {ENV_RETENTION: args.age} if args.age is not None else {ENV_MAX_DB_BYTES: args.bound}
    server = ServeProcess(db, log_path, extra_env=limit)
    server.start()
    try:
        templates = build_templates(args.pool, args.seed)
        rss = PeakRss(server.pid, interval=0.5, children=True).start()
        with Sampler(db, server.api_port, args.query_every) as sampler:
            phase = run_clients(mp.get_context("spawn"), "retention", server.grpc_endpoint, templates, args, rss)
            time.sleep(2.0)  # the last commit and its retention pass
        stats = server.stats()
        server.terminate(timeout_s=600)
        peak_rss = rss.stop()
    finally:
        server.kill()
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = int(con.execute("SELECT count(*) FROM otel_spans").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()
    sizes = np.array([size for _, size in sampler.sizes], dtype=np.float64)
    server_log = log_path.read_text(errors="replace")
    # every pass, the last ones (while the server drains its queue at the end) included
    dropped = sum(int(found.replace(",", "")) for found in re.findall(r"dropped ([\d,]+) spans", server_log))
    return {
        "mode": f"--retention {args.age}" if args.age is not None else f"--max-db-bytes {args.bound}",
        "bound_bytes": bound,
        "seconds": round(phase.duration_s, 1),
        "max_store_mib": mib(sizes.max()) if sizes.size else None,
        "final_store_mib": mib(store_bytes(str(db))),
        "max_over_bound": round(float(sizes.max()) / bound, 3) if bound and sizes.size else None,
        "acked_spans": phase.acked_spans,
        "dropped_spans": dropped,
        "stored_spans": stored,
        "acked_minus_dropped_minus_stored": phase.acked_spans - dropped - stored,
        "retention_passes": server_log.count("retention ("),
        "checkpoints_put_off": server_log.count("could not checkpoint"),
        "dropped_rows_at_load_end": stats.get("retention", {}).get("dropped_rows"),
        "size_timeline_mib": [
            (round(at), mib(size)) for at, size in sampler.sizes[:: max(1, len(sampler.sizes) // 60)]
        ],
        "spans_per_s": round(phase.acked_spans / phase.duration_s) if phase.duration_s else 0,
        "export_p99_ms": round(phase.latency_p99_ms, 1),
        "query_p50_ms": round(float(np.percentile(sampler.query_s, 50)) * 1000, 1) if sampler.query_s else None,
        "query_max_ms": round(max(sampler.query_s) * 1000, 1) if sampler.query_s else None,
        "query_errors": sampler.query_errors,
        "peak_rss_mib": mib(peak_rss),
        "server_log_tail": server_log.splitlines()[-3:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.retention", description=__doc__.splitlines()[0])
    parser.add_argument("--bound", default="256MiB", help="the store size bound (--max-db-bytes)")
    parser.add_argument("--age", default=None, help="measure --retention AGE instead of a size bound")
    parser.add_argument("--seconds", type=float, default=240.0, help="load duration")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--inflight", type=int, default=4, help="calls in flight per client")
    parser.add_argument("--pool", type=int, default=50, help="distinct pre-encoded requests")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--query-every", type=float, default=1.0, help="seconds between API queries (0: none)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    args.backoff, args.static_timestamps = 0.1, False  # as bench.ingest's defaults
    with tempfile.TemporaryDirectory(prefix="glimpse-retention-bench-") as folder:
        figures = run(args, Path(folder))
    if args.json:
        print(json.dumps(figures))
        return 0
    log(f"figures: {figures}")
    print(f"{figures['mode']}: {figures['seconds']} s of ingest at {figures['spans_per_s']:,} spans/s")
    if figures["max_over_bound"] is not None:
        ok = figures["max_over_bound"] <= TARGET_OVER_BOUND
        print(
            f"  store size: at most {figures['max_store_mib']} MiB = {figures['max_over_bound']:.2f} x the bound "
            f"(target <= {TARGET_OVER_BOUND}) {verdict(ok)}; {figures['final_store_mib']} MiB at the end"
        )
    print(
        f"  spans: {figures['acked_spans']:,} acknowledged, {figures['dropped_spans']:,} dropped by retention "
        f"({figures['retention_passes']} passes), {figures['stored_spans']:,} stored; "
        f"unaccounted {figures['acked_minus_dropped_minus_stored']:,}"
    )
    print(
        f"  during it: export p99 {figures['export_p99_ms']} ms; /api/services p50 {figures['query_p50_ms']} ms, "
        f"max {figures['query_max_ms']} ms, {figures['query_errors']} errors; "
        f"server peak RSS {figures['peak_rss_mib']} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
