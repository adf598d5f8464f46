"""Store generator: a glimpse store of tens of millions of realistic spans and log records, over weeks.

Built on the simulator, not a second workload: :mod:`tracing.simulator` runs a topology
once, through a real glimpse server, into a small *pool* store (a couple of thousand
traces with their resources, attributes, durations, errors, exception events and log
records; cached under ``bench/results/generate-pools``). The pool's traces are then
replicated in bulk inside DuckDB, each copy with a new trace id, new span ids (the pool's
XORed with a per-copy mask, so parent links hold), its own start time and a per-copy
speed factor (every offset and duration in the trace scaled alike, so children stay
inside their parents).

Start times follow the simulator's daily cycle (a Poisson process whose rate is lowest
at midnight UTC and highest at noon) and are laid out *backwards from* a fixed end
(:attr:`StoreSpec.end_ns`, 2026-11-20 16:00 UTC by default): the most recent hours are
the same in every store of the same ``--spans-per-day`` and seed, whatever its size, so a
15-minute window near the end (:func:`probe_window`) holds the same traces in a store of
one million spans and in one of fifty million.

The store is written as the writer writes it: through storage's own schema creation, in
time order, one part of about a row group (122,880 spans) after another, each part's
spans grouped by resource and operation (the writer's storage order), the trace indexes
filled for every part, resources stored once. Metrics are not generated (the pool's are
dropped).

Run: ``python -m bench.generate --spans 50000000 --days 21 --out PATH [--json]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from bench.common import log, simulate_history
from storage.schema import apply_migrations
from storage.trace_queries import index_log_traces_sql, index_traces_sql
from storage.writer import ROW_GROUP_ROWS

__all__ = ["Plan", "StoreSpec", "generate", "plan_traces", "pool_store", "probe_window", "reuse_or_generate"]

ROOT = Path(__file__).resolve().parents[1]
POOLS = ROOT / "bench" / "results" / "generate-pools"
NS = 1_000_000_000
DAY_NS = 86_400 * NS
HOUR_NS = 3_600 * NS
ROW_GROUP_SPANS = ROW_GROUP_ROWS  # DuckDB's row group, the writer's commit chunk
PARTS_PER_STATEMENT = 8  # parts written by one INSERT (then checkpointed)
DEFAULT_END_NS = 1_795_190_400 * NS  # 2026-11-20 16:00 UTC
PROBE_START_BEFORE_END_NS = 4 * HOUR_NS  # the probe window: 12:00 - 12:15 on the last day
PROBE_LENGTH_NS = 15 * 60 * NS
DAILY_AMPLITUDE = 0.3  # the simulator's topologies' load.daily_amplitude
SPEED_SIGMA = 0.15  # log-normal spread of the per-copy speed factor
NEWTON_STEPS = 12  # the first guess is within 1.2 h of the answer; Newton doubles the right digits a step


@dataclass(frozen=True, kw_only=True)
class StoreSpec:
    """What to generate: ``spans`` (at least) at ``spans_per_day``, ending at ``end_ns``."""

    spans: int
    spans_per_day: float
    end_ns: int = DEFAULT_END_NS
    seed: int = 1
    logs: bool = True


@dataclass(frozen=True)
class Plan:
    """One row per trace copy, oldest first: which pool trace, when, how fast, which part."""

    seq: np.ndarray  # int64: the copy's number counted back from the end (0: the newest)
    pool_trace: np.ndarray  # int64: the pool trace it copies
    start_ns: np.ndarray  # int64: its first span's start
    speed: np.ndarray  # float64: its offsets and durations are multiplied by this
    part: np.ndarray  # int64: the part (about a row group of spans) it is written in
    spans: int  # spans in all


def probe_window(end_ns: int = DEFAULT_END_NS) -> tuple[int, int]:
    """The 15-minute window every generated store of that end holds alike (noon on its last day)."""
    since = end_ns - PROBE_START_BEFORE_END_NS
    return since, since + PROBE_LENGTH_NS


# --------------------------------------------------------------------------- the pool


def pool_store(
    *, topology: str = "large", seconds: int = 90, rate_per_s: float = 20.0, seed: int = 5, folder: Path = POOLS
) -> Path:
    """The simulator's store of ``seconds`` of ``topology`` at ``rate_per_s`` (made once, then cached)."""
    pool = folder / f"{topology}-{seconds}s-{rate_per_s:g}rps-seed{seed}"
    db = pool / "glimpse.duckdb"
    if (pool / "labels.json").exists():
        return db
    log(f"simulating the pool: {seconds} s of {topology} at {rate_per_s:g} requests/s ...")
    start_ns = DEFAULT_END_NS - DAY_NS  # any time: copies get their own
    result, took_s = simulate_history(
        pool, topology, start_ns=start_ns, duration_s=seconds, seed=seed, faults=[], rate_per_s=rate_per_s
    )
    log(f"pool: {result.traces:,} traces, {result.spans:,} spans, {result.logs:,} log records in {took_s:.0f} s")
    return db


POOL_TRACES_SQL = """
CREATE TEMP TABLE pool_traces AS
SELECT (row_number() OVER (ORDER BY trace_id) - 1)::BIGINT AS pool_trace, trace_id,
       min(epoch_ns(timestamp)) AS first_ns, count(*)::BIGINT AS spans
FROM pool.otel_spans GROUP BY trace_id
"""
POOL_SPANS_SQL = """
CREATE TEMP TABLE pool_spans AS
SELECT t.pool_trace, t.first_ns, epoch_ns(s.timestamp) - t.first_ns AS offset_ns,
       ('0x' || s.span_id)::UBIGINT AS span_key,
       CASE WHEN s.parent_span_id = '' THEN NULL ELSE ('0x' || s.parent_span_id)::UBIGINT END AS parent_key,
       row_number() OVER (ORDER BY s.resource_key, s.span_name, s.span_id) AS pool_row,
       s.* EXCLUDE (timestamp, trace_id, span_id, parent_span_id)
FROM pool.otel_spans AS s JOIN pool_traces AS t USING (trace_id)
"""
POOL_LOGS_SQL = """
CREATE TEMP TABLE pool_logs AS
SELECT t.pool_trace, epoch_ns(l.timestamp) - t.first_ns AS offset_ns,
       epoch_ns(l.observed_timestamp) - t.first_ns AS observed_offset_ns,
       CASE WHEN l.span_id = '' THEN NULL ELSE ('0x' || l.span_id)::UBIGINT END AS span_key,
       l.* EXCLUDE (timestamp, observed_timestamp, trace_id, span_id)
FROM pool.otel_logs AS l JOIN pool_traces AS t USING (trace_id)
WHERE l.timestamp IS NOT NULL AND l.observed_timestamp IS NOT NULL
"""


def load_pool(con: duckdb.DuckDBPyConnection, pool_db: Path, *, logs: bool) -> np.ndarray:
    """The pool's traces, spans (and log records) as temp tables; its resources stored. Returns
    the span count of each pool trace, by pool trace number."""
    con.execute(f"ATTACH '{pool_db}' AS pool (READ_ONLY)")
    con.execute(POOL_TRACES_SQL)
    con.execute(POOL_SPANS_SQL)
    if logs:
        con.execute(POOL_LOGS_SQL)
    con.execute("INSERT INTO otel_resources SELECT * FROM pool.otel_resources")
    con.execute("DETACH pool")
    counts = con.execute("SELECT spans FROM pool_traces ORDER BY pool_trace").fetchnumpy()["spans"]
    return np.asarray(counts, dtype=np.int64)


# --------------------------------------------------------------------------- the plan


def plan_traces(spec: StoreSpec, pool_spans: np.ndarray) -> Plan:
    """The trace copies of a store, oldest first, prefix-stable from the end: the newest k
    copies are the same for every ``spec.spans`` (same seed, rate and end)."""
    mean_spans = float(pool_spans.mean())
    wanted = int(spec.spans / mean_spans * 1.1) + 64
    while True:
        choice = np.random.default_rng([spec.seed, 1]).integers(0, len(pool_spans), wanted)
        total = np.cumsum(pool_spans[choice])
        if total[-1] >= spec.spans:
            break
        wanted *= 2
    count = int(np.searchsorted(total, spec.spans) + 1)
    choice = choice[:count]
    gaps = np.random.default_rng([spec.seed, 2]).exponential(1.0, count)
    traces_per_day = spec.spans_per_day / mean_spans
    starts = _arrivals_before(spec.end_ns, np.cumsum(gaps), traces_per_day)
    speed = np.exp(np.random.default_rng([spec.seed, 3]).normal(0.0, SPEED_SIGMA, count))
    order = np.arange(count)[::-1]  # oldest first
    span_counts = pool_spans[choice][order]
    part = (np.cumsum(span_counts) - span_counts) // ROW_GROUP_SPANS
    return Plan(
        seq=order.astype(np.int64),
        pool_trace=choice[order],
        start_ns=starts[order],
        speed=speed[order],
        part=part.astype(np.int64),
        spans=int(span_counts.sum()),
    )


def _arrivals_before(end_ns: int, cumulative: np.ndarray, per_day: float) -> np.ndarray:
    """Start times, newest first, of a Poisson process that runs backwards from ``end_ns``
    with the daily cycle: ``cumulative`` are the unit-rate arrival points (sums of
    exponential gaps), mapped through the inverse of the integrated rate."""
    omega = 2 * math.pi / DAY_NS
    rate = per_day / DAY_NS  # traces per ns, on average over a day

    def integrated(t_ns: np.ndarray) -> np.ndarray:  # expected arrivals in [0, t) since midnight
        return rate * (t_ns - DAILY_AMPLITUDE / omega * np.sin(omega * t_ns))

    end = float(end_ns % DAY_NS)  # the end's time of day, a point on the cycle
    target = integrated(np.array([end]))[0] - cumulative
    guess = end - cumulative / rate
    for _ in range(NEWTON_STEPS):  # the rate is positive, the integral monotone; a fixed count
        # of steps, so that each time depends on its own arrival only (prefix-stable stores)
        guess -= (integrated(guess) - target) / (rate * (1 - DAILY_AMPLITUDE * np.cos(omega * guess)))
    return end_ns - np.round(end - guess).astype(np.int64)  # in integers: 1e18 ns as a float loses 256 ns


# --------------------------------------------------------------------------- writing


# The spans of a slice of the plan, part by part, each part's spans grouped by resource and
# operation (the writer's storage order: pool_row); {columns}: all, or the few the trace index needs.
SLICE_SPANS_SQL = """
SELECT make_timestamp_ns(p.start_ns + round(s.offset_ns * p.speed)::BIGINT) AS timestamp,
       p.trace_id,
       round(s.duration * p.speed)::BIGINT AS duration,
       s.status_code{columns}
FROM pool_spans AS s JOIN plan AS p USING (pool_trace)
"""
SPAN_COLUMNS = """,
       printf('%016x', xor(s.span_key, p.mask)) AS span_id,
       CASE WHEN s.parent_key IS NULL THEN '' ELSE printf('%016x', xor(s.parent_key, p.mask)) END AS parent_span_id,
       CASE WHEN len(s.events) = 0 THEN s.events ELSE list_transform(s.events, lambda e: struct_pack(
           timestamp := make_timestamp_ns(p.start_ns + round((epoch_ns(e.timestamp) - s.first_ns) * p.speed)::BIGINT),
           name := e.name, attributes := e.attributes, dropped_attributes_count := e.dropped_attributes_count))
       END AS events,
       s.* EXCLUDE (pool_trace, pool_row, first_ns, offset_ns, span_key, parent_key, duration, events, status_code)"""
SPANS_ORDER = "ORDER BY p.part, s.pool_row"
# The log records of a slice, part by part, in time order (as they arrive).
SLICE_LOGS_SQL = """
SELECT make_timestamp_ns(p.start_ns + round(l.offset_ns * p.speed)::BIGINT) AS timestamp,
       make_timestamp_ns(p.start_ns + round(l.observed_offset_ns * p.speed)::BIGINT) AS observed_timestamp,
       p.trace_id{columns}
FROM pool_logs AS l JOIN plan AS p USING (pool_trace)
"""
LOG_COLUMNS = """,
       CASE WHEN l.span_key IS NULL THEN '' ELSE printf('%016x', xor(l.span_key, p.mask)) END AS span_id,
       l.* EXCLUDE (pool_trace, offset_ns, observed_offset_ns, span_key)"""
LOGS_ORDER = "ORDER BY p.part, timestamp"
# a trace id and span-id mask for each copy, from the seed and its number (prefix-stable)
PLAN_SQL = """
CREATE OR REPLACE TEMP TABLE plan AS
SELECT pool_trace, start_ns, speed, part,
       md5($seed::VARCHAR || '-' || seq) AS trace_id,
       hash($seed, seq, 'span ids') AS mask
FROM plan_rows
"""


def _slices(plan: Plan) -> Iterator[pa.Table]:
    """The plan in slices of PARTS_PER_STATEMENT parts, oldest first."""
    firsts = np.arange(0, int(plan.part[-1]) + 1, PARTS_PER_STATEMENT)
    bounds = [*np.searchsorted(plan.part, firsts), len(plan.part)]
    for lo, hi in itertools.pairwise(bounds):
        if hi > lo:
            yield pa.table(
                {
                    "seq": plan.seq[lo:hi],
                    "pool_trace": plan.pool_trace[lo:hi],
                    "start_ns": plan.start_ns[lo:hi],
                    "speed": plan.speed[lo:hi],
                    "part": plan.part[lo:hi],
                }
            )


def write_slice(con: duckdb.DuckDBPyConnection, rows: pa.Table, *, seed: int, logs: bool) -> None:
    """Store one slice of the plan (its spans, log records and trace index rows) and checkpoint.

    One INSERT a slice, not a part: DuckDB compresses row groups in parallel only within a
    statement (measured: a part at a time, the log records insert at half the speed)."""
    con.register("plan_rows", rows)
    con.execute(PLAN_SQL, {"seed": seed})
    con.unregister("plan_rows")
    con.execute(f"INSERT INTO otel_spans BY NAME {SLICE_SPANS_SQL.format(columns=SPAN_COLUMNS)} {SPANS_ORDER}")
    con.execute(index_traces_sql(_subquery(SLICE_SPANS_SQL.format(columns=""))))
    if logs:
        con.execute(f"INSERT INTO otel_logs BY NAME {SLICE_LOGS_SQL.format(columns=LOG_COLUMNS)} {LOGS_ORDER}")
        con.execute(index_log_traces_sql(_subquery(SLICE_LOGS_SQL.format(columns=""))))
    con.execute("CHECKPOINT")


def _subquery(select_sql: str) -> str:
    """``select_sql`` as a one-line subquery (the index queries name their source in a comment too)."""
    return "(" + " ".join(select_sql.split()) + ")"


def generate(spec: StoreSpec, out: Path, pool_db: Path, *, threads: int | None = None) -> dict[str, Any]:
    """Write a new store at ``out`` (replacing one there) and return its figures."""
    started = time.perf_counter()
    _remove_store(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(out))
    try:
        apply_migrations(con)
        con.execute("SET memory_limit = '4GB'")
        if threads:
            con.execute(f"SET threads = {threads}")
        pool_spans = load_pool(con, pool_db, logs=spec.logs)
        plan = plan_traces(spec, pool_spans)
        for done, rows in enumerate(_slices(plan), start=1):
            write_slice(con, rows, seed=spec.seed, logs=spec.logs)
            if done % 10 == 0:
                log(f"  {int(rows['part'][-1].as_py()) + 1} parts written, {time.perf_counter() - started:.0f} s")
        figures = store_figures(con)
    finally:
        con.close()
    seconds = time.perf_counter() - started
    result = {
        **figures,
        "traces": len(plan.seq),
        "seconds": round(seconds, 1),
        "spans_per_s": round(figures["spans"] / seconds),
        "db_bytes": out.stat().st_size,
        "spec": asdict(spec),
        "pool": str(pool_db),
    }
    _sidecar(out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


def reuse_or_generate(spec: StoreSpec, out: Path, pool_db: Path, *, reuse: bool) -> dict[str, Any]:
    """The figures of the store at ``out``: with ``reuse``, the one already there when it was
    generated from the same spec (``"reused": True``), else a new one."""
    sidecar = _sidecar(out)
    if reuse and out.exists() and sidecar.exists():
        figures: dict[str, Any] = json.loads(sidecar.read_text(encoding="utf-8"))
        if figures.get("spec") == asdict(spec):
            return {**figures, "reused": True}
    return {**generate(spec, out, pool_db), "reused": False}


def _sidecar(out: Path) -> Path:
    """Where a generated store's figures and spec are kept."""
    return out.with_name(out.name + ".generated.json")


def store_figures(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Spans, log records, services and the time range of a store."""
    row = con.execute(
        "SELECT count(*), count(DISTINCT service_name), min(epoch_ns(timestamp)), max(epoch_ns(timestamp)) "
        "FROM otel_spans"
    ).fetchone()
    logs = con.execute("SELECT count(*) FROM otel_logs").fetchone()
    assert row is not None and logs is not None
    spans, services, first_ns, last_ns = row
    return {
        "spans": int(spans),
        "logs": int(logs[0]),
        "services": int(services),
        "first_ns": first_ns,
        "last_ns": last_ns,
        "days": round((last_ns - first_ns) / DAY_NS, 2) if spans else 0.0,
    }


def _remove_store(path: Path) -> None:
    for stale in path.parent.glob(f"{path.name}*"):  # the file, its WAL, a journal folder, the figures
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, required=True, help="spans to write (whole traces: a few more)")
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--days", type=float, help="days the spans cover (default 21)")
    rate.add_argument("--spans-per-day", type=float, help="the rate instead: stores of one rate share their end")
    parser.add_argument("--out", type=Path, required=True, help="the store to write (replaced)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-logs", action="store_true", help="spans only")
    parser.add_argument("--topology", default="large", help="the simulator topology of the pool")
    parser.add_argument("--pool-seconds", type=int, default=90, help="simulated seconds of the pool")
    parser.add_argument("--pool-rate", type=float, default=20.0, help="requests/s of the pool")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    per_day = args.spans_per_day or args.spans / (args.days or 21.0)
    spec = StoreSpec(spans=args.spans, spans_per_day=per_day, seed=args.seed, logs=not args.no_logs)
    pool = pool_store(topology=args.topology, seconds=args.pool_seconds, rate_per_s=args.pool_rate)
    figures = generate(spec, args.out, pool, threads=args.threads)
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"{figures['spans']:,} spans, {figures['logs']:,} log records, {figures['traces']:,} traces over "
            f"{figures['days']} days written in {figures['seconds']} s ({figures['spans_per_s']:,} spans/s), "
            f"{figures['db_bytes'] / figures['spans']:.1f} bytes a span: {args.out}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
