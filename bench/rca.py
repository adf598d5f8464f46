"""Score glimpse's root-cause ranking on the labelled fault suite (``python -m bench.faults``).

For every case it runs, in the same process and on the same store:

- ``glimpse rca`` with the incident window given (the fault's start and end; default baseline),
- ``glimpse rca`` with automatic incident detection (no window),
- a BARO-style baseline: per-entity latency and error-rate series in 10 s buckets, scored by
  the largest robust z-score (median and IQR of the time before the window) in the window,
- random ranking of the entities seen in the window (averaged over 200 seeded shuffles),
- a learned trace-level detector (bench.trace_iforest: an isolation forest over trace
  structure and latencies, then spectrum ranking), to see whether it adds accuracy.

and prints AC@1, AC@3 and Avg@5 (RCAEval's definitions) overall and per fault type, plus
the seconds per diagnosis. With ``--scale`` it also times one diagnosis of a 15-minute
window of about 1.5 million spans and a million log records (generating that store with
the simulator when missing).

    python -m bench.faults && python -m bench.rca
    python -m bench.rca --scale
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from analyzer.query_service.incidents import root_causes
from bench.common import first_rank, median, rank_scores, simulate_history, timed
from bench.trace_iforest import iforest_ranking
from storage.store import open_read_only

ROOT = Path(__file__).resolve().parents[1]
BUCKET_NS = 10 * 1_000_000_000

Ranking = list[dict[str, Any]]


def matches(candidate: dict[str, Any], target: dict[str, Any]) -> bool:
    """RCAEval-style: the labelled root cause at its own level (service, instance, host, dependency)."""
    if target["kind"] == "service":
        return candidate["kind"] in ("service", "operation") and candidate.get("service") == target["name"]
    return candidate["kind"] == target["kind"] and candidate["name"] == target["name"]


def first_hit(ranking: Ranking, target: dict[str, Any]) -> int | None:
    return first_rank(ranking, lambda candidate: matches(candidate, target))


# --- the two baselines written here -------------------------------------------------------

_SERIES = """
SELECT kind, name, service, (epoch_ns(timestamp) - $since) // $bucket AS bucket,
       avg(value) AS latency, avg(failed::INT) AS errors
FROM (
    SELECT 'service' AS kind, service_name AS name, service_name AS service, timestamp, duration AS value,
           status_code = 'Error' AS failed
    FROM otel_traces WHERE span_kind IN ('Server', 'Consumer', 'Unspecified')
    UNION ALL
    SELECT 'instance', coalesce(k8s_pod_name, service_instance_id), service_name, timestamp, duration,
           status_code = 'Error'
    FROM otel_traces WHERE span_kind IN ('Server', 'Consumer', 'Unspecified')
    UNION ALL
    SELECT 'database', server_address, NULL, timestamp, duration, status_code = 'Error'
    FROM otel_traces WHERE span_kind = 'Client' AND db_system_name IS NOT NULL
)
WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until) AND name IS NOT NULL
GROUP BY ALL
"""


def baro(con: duckdb.DuckDBPyConnection, since: int, start: int, until: int) -> Ranking:
    """BARO-style: largest robust z (median/IQR of the time before ``start``) of latency and errors after it."""
    rows = con.execute(_SERIES, {"since": since, "until": until, "bucket": BUCKET_NS}).fetchall()
    split = (start - since) // BUCKET_NS
    series: dict[tuple[str, str, str | None], dict[str, list[tuple[int, float]]]] = defaultdict(
        lambda: {"latency": [], "errors": []}
    )
    for kind, name, service, bucket, latency, errors in rows:
        series[(kind, name, service)]["latency"].append((bucket, latency))
        series[(kind, name, service)]["errors"].append((bucket, errors))
    scored = []
    for (kind, name, service), signals in series.items():
        score = 0.0
        for points in signals.values():
            before = np.array([v for b, v in points if b < split])
            after = np.array([v for b, v in points if b >= split])
            if len(before) < 3 or not len(after):
                continue
            q1, median, q3 = np.percentile(before, [25, 50, 75])
            score = max(score, float(np.max(np.abs(after - median)) / max(q3 - q1, 1e-9 + abs(median) * 0.01)))
        scored.append({"kind": kind, "name": name, "service": service, "score": score})
    # ties (equal z, or none at all) by name: the SQL's row order varies from run to run
    return sorted(scored, key=lambda c: (-c["score"], c["kind"], c["name"]))


def random_ranks(con: duckdb.DuckDBPyConnection, start: int, until: int, target: dict[str, Any]) -> list[int | None]:
    """First-hit ranks of 200 seeded shuffles of the entities seen in the window."""
    entities = baro(con, start - BUCKET_NS * 3, start, until)
    rng = random.Random(0)
    ranks = []
    for _ in range(200):
        rng.shuffle(entities)
        ranks.append(first_hit(entities, target))
    return ranks


# --- the suite ------------------------------------------------------------------------------


def run_case(folder: Path) -> dict[str, Any]:
    labels = json.loads((folder / "labels.json").read_text())
    truth = labels["faults"][0]
    con = open_read_only(str(folder / "glimpse.duckdb"))
    try:
        results: dict[str, Any] = {"case": folder.name, "type": truth["type"], "target": truth["target"]}
        diagnoses: dict[str, Callable[[], Ranking]] = {
            "window": lambda: root_causes(con, since_ns=truth["start_ns"], until_ns=truth["end_ns"])["candidates"],
            "auto": lambda: root_causes(con)["candidates"],
            "baro": lambda: baro(con, labels["start_ns"], truth["start_ns"], truth["end_ns"]),
            "iforest": lambda: iforest_ranking(
                con, (labels["start_ns"], truth["start_ns"]), (truth["start_ns"], truth["end_ns"])
            ),
        }
        for method, diagnose in diagnoses.items():
            started = time.perf_counter()
            try:
                ranking = diagnose()
            except Exception as exc:  # a failed diagnosis is a miss, reported
                ranking = []
                results[f"{method}_error"] = str(exc)
            results[f"{method}_seconds"] = time.perf_counter() - started
            results[method] = first_hit(ranking, truth["target"])
            results[f"{method}_top"] = [f"{c['kind']}:{c['name']}" for c in ranking[:3]]
        results["random"] = random_ranks(con, truth["start_ns"], truth["end_ns"], truth["target"])
    finally:
        con.close()
    return results


def report(results: list[dict[str, Any]]) -> None:
    methods = ("window", "auto", "iforest", "baro", "random")
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by_type[r["type"]].append(r)
    header = f"{'fault type':<13}{'cases':>6}  " + "  ".join(f"{m + ' AC@1/AC@3/Avg@5':<26}" for m in methods)
    print(header)
    for name, group in [*sorted(by_type.items()), ("ALL", results)]:
        cells = []
        for method in methods:
            ranks = [rank for r in group for rank in r[method]] if method == "random" else [r[method] for r in group]
            a = rank_scores(ranks)
            cells.append(f"{a['AC@1']:.2f} / {a['AC@3']:.2f} / {a['Avg@5']:.2f}".ljust(26))
        print(f"{name:<13}{len(group):>6}  " + "  ".join(cells))
    for method in ("window", "auto"):
        seconds = [r[f"{method}_seconds"] for r in results]
        print(f"{method}: {statistics.mean(seconds):.2f} s mean, {max(seconds):.2f} s max per diagnosis")


def scale(folder: Path, rate: float) -> None:
    """Time one diagnosis of a 15-minute window of about a million log records and more spans (generated once)."""
    from tracing.simulator.faults import Fault

    db_path = folder / "glimpse.duckdb"
    if not (folder / "labels.json").exists():
        result, seconds = simulate_history(
            folder,
            "large",
            start_ns=1_763_632_800_000_000_000,
            duration_s=900,
            seed=3,
            faults=[Fault("database", "orders-db", 600, 900)],
            rate_per_s=rate,
        )
        print(f"generated {result.spans} spans in {seconds:.0f} s")
    labels = json.loads((folder / "labels.json").read_text())
    truth = labels["faults"][0]
    con = open_read_only(str(db_path))
    try:
        counts = con.execute("SELECT (SELECT count(*) FROM otel_traces), (SELECT count(*) FROM otel_logs)").fetchone()
        spans, logs = counts if counts else (0, 0)
        minutes = (labels["end_ns"] - labels["start_ns"]) / 6e10
        print(f"scale: {spans:,} spans and {logs:,} log records in {minutes:.0f} min")
        for method, kwargs in (
            ("window given", {"since_ns": truth["start_ns"], "until_ns": truth["end_ns"]}),
            ("automatic", {}),
        ):
            diagnosis, timings = timed(partial(root_causes, con, **kwargs), 3)
            ranking = diagnosis["candidates"]
            print(
                f"  {method}: {median(timings):.2f} s median of 3; rank of the truth "
                f"{first_hit(ranking, truth['target'])}"
            )
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.rca", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", type=Path, default=ROOT / "bench" / "results" / "faults")
    parser.add_argument("--only", default="", help="only cases whose name contains this")
    parser.add_argument("--misses", action="store_true", help="list every case not ranked first")
    parser.add_argument("--json", type=Path, help="write per-case results here")
    parser.add_argument("--scale", action="store_true", help="only time a 15-minute diagnosis of ~1M log records")
    parser.add_argument(
        "--scale-rate", type=float, default=36.0, help="requests/s of the scale store (36: ~1.5M spans, ~1M logs)"
    )
    args = parser.parse_args()
    if args.scale:
        scale(ROOT / "bench" / "results" / "scale", args.scale_rate)
        return
    folders = sorted(p for p in args.suite.iterdir() if (p / "labels.json").exists() and args.only in p.name)
    if not folders:
        raise SystemExit(f"no cases in {args.suite}: run python -m bench.faults first")
    results = []
    for folder in folders:
        results.append(run_case(folder))
    report(results)
    if args.misses:
        for r in results:
            if r["window"] != 1 or r["auto"] != 1:
                print(
                    f"  {r['case']}: truth {r['target']['kind']}:{r['target']['name']} window={r['window']} "
                    f"{r['window_top']} auto={r['auto']} {r['auto_top']} {r.get('auto_error', '')}"
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
