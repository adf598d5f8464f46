"""Alert rules on the labelled fault suite, and the cost of one evaluation (``python -m bench.alerts``).

Fault suite (``python -m bench.faults`` makes it): every case is replayed with ``glimpse
alerts test`` (the query service's backtest, every 30 s of span time) and the default rule
set of docs/alerting.md on the topology's entry service:

    - {alert: EntryErrors, signal: error_rate, service: ENTRY, above: 0.03, window: 1m, for: 1m, confidence: 0.99}
    - {alert: EntryAnomaly, signal: anomaly, service: ENTRY, above: 0.6, window: 1m, for: 1m}

It prints, over the cases where a rule fired after the fault started: the delay from the
fault's start to the first firing (median and p90), the share whose top root cause is the
injected fault's target (at its own level, as bench.rca scores it), the share of faults
alerted at all, and false alerts (firings before the fault started) per simulated day of the
cases' fault-free traffic. ``--suite bench/results/faults-holdout`` replays the held-out suite
(seeds 4 and 5: ``python -m bench.faults --first-seed 4 --seeds 2 --out ...``); the default
rules are tuned on the other one only. ``--rules FILE`` replays other rules (``ENTRY``
standing for the entry service).

Fault-free day (``--fault-free-day``): 24 simulated hours of each topology's normal traffic
from midnight (the simulator's daily cycle, slow drift and Poisson arrivals; shop at 1
request/s on average, large at 0.25: ``--day-rate``), made once through the SDK exporters
into a glimpse server as bench.faults does and kept in ``bench/results/fault-free-day``, then
replayed with the rules every ``--day-step`` (default 30 s) in ``--workers`` processes.
Every firing is a false alert. ``python -m bench.alerts_day`` replays the default rules
over the same day faster (the day's rows read once) and prints what each firing rested on.

    python -m bench.alerts --fault-free-day [--day-step 60s] [--workers 3]

Cost (``--scale``): one evaluation of 50 rules (the five plain signals on ten services,
``--scale-window`` windows, default 15 minutes, no root causes) at the end of the scale store's window (``python -m
bench.rca --scale`` makes it: about 1.5 million spans in 15 minutes), timed five times.

    python -m bench.alerts [--suite bench/results/faults] [--types errors,latency]
    python -m bench.alerts --scale [--scale-store bench/results/scale/glimpse.duckdb]

Cost on ingest: ``--write-rules FILE`` writes the same 50 rules for the services of the
ingest workload (bench.workload); ``python -m bench.ingest --rules FILE --rule-interval 5``
then ingests with them evaluated every 5 s, to compare with a run without.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import duckdb

from analyzer.alert_rules import Rule, parse_duration_ns, parse_rules
from analyzer.query_service.alerts import backtest, evaluate_rules
from bench.common import log, median, simulate_history, timed
from bench.rca import matches
from storage.graph_queries import resolve_window
from storage.store import open_read_only, open_writable

ROOT = Path(__file__).resolve().parents[1]
ENTRY = {"shop": "frontend", "large": "edge-gateway"}
STEP_NS = 30 * 1_000_000_000
DAY_S = 86_400
DAY_START_NS = 1_763_596_800_000_000_000  # 2025-11-20T00:00:00Z: the day starts at the load's trough
# a quarter of the suite's 4 requests/s (large: a sixteenth, its requests make 2.3 times the
# spans): a day at 4 requests/s is 5 to 12 million spans, hours to simulate on 2 cores
DAY_RATES = {"shop": 1.0, "large": 0.25}
FAULT_FREE_SEED = 6  # neither the tuning suite's seeds (0-3) nor the held-out suite's (4-5)

DEFAULT_RULES = """
rules:
  - {alert: EntryErrors, signal: error_rate, service: ENTRY, above: 0.03, window: 1m, for: 1m, confidence: 0.99}
  - {alert: EntryAnomaly, signal: anomaly, service: ENTRY, above: 0.6, window: 1m, for: 1m}
"""


def default_rules(topology: str, text: str = DEFAULT_RULES) -> list[Rule]:
    """The rules of ``text`` (``ENTRY`` standing for the topology's entry service)."""
    return parse_rules(text.replace("ENTRY", ENTRY[topology]))


def replay_case(folder: Path, text: str = DEFAULT_RULES) -> dict[str, Any]:
    """One case: its first firing after the fault's start (delay, top root cause), and the firings before it."""
    labels = json.loads((folder / "labels.json").read_text())
    with tempfile.TemporaryDirectory() as scratch:
        return _replay(_migrated_copy(folder / "glimpse.duckdb", Path(scratch)), labels, folder.name, text)


def _migrated_copy(store: Path, scratch: Path) -> Path:
    """A copy of ``store`` at the current schema (the suite may be older; it stays untouched)."""
    copy = scratch / "glimpse.duckdb"
    shutil.copyfile(store, copy)
    open_writable(copy).close()
    return copy


def _replay(store: Path, labels: dict[str, Any], name: str, text: str) -> dict[str, Any]:
    (fault,) = labels["faults"]
    con = open_read_only(store)
    try:
        started = time.perf_counter()
        result = backtest(
            con,
            default_rules(labels["topology"], text),
            since_ns=labels["start_ns"],
            until_ns=labels["end_ns"],
            step_ns=STEP_NS,
        )
        seconds = time.perf_counter() - started
    finally:
        con.close()
    firings = [e for e in result["events"] if e["to"] == "firing"]
    before = [e for e in firings if e["at"] < fault["start_ns"]]
    after = [e for e in firings if e["at"] >= fault["start_ns"]]
    row: dict[str, Any] = {
        "case": name,
        "type": fault["type"],
        "normal_s": (fault["start_ns"] - labels["start_ns"]) / 1e9,
        "false_alerts": len(before),
        "alerted": bool(after),
        "seconds": seconds,
    }
    if after:
        first = after[0]
        causes = first.get("root_causes", [])
        row["delay_s"] = (first["at"] - fault["start_ns"]) / 1e9
        row["rule"] = first["alert"]
        row["top1"] = bool(causes) and matches(causes[0], fault["target"])
    return row


def report_suite(rows: list[dict[str, Any]]) -> None:
    alerted = [r for r in rows if r["alerted"]]
    delays = sorted(r["delay_s"] for r in alerted)
    normal_days = sum(r["normal_s"] for r in rows) / DAY_S
    false_alerts = sum(r["false_alerts"] for r in rows)
    print(f"cases: {len(rows)}; alerted after the fault started: {len(alerted)} ({len(alerted) / len(rows):.0%})")
    if delays:
        p90 = delays[min(len(delays) - 1, int(0.9 * len(delays)))]
        print(f"delay from fault start to firing: median {median(delays):.0f} s, p90 {p90:.0f} s")
        right = sum(1 for r in alerted if r["top1"])
        print(f"right root cause top-1 among alerted faults: {right}/{len(alerted)} ({right / len(alerted):.0%})")
    print(
        f"false alerts: {false_alerts} in {normal_days * 24:.2f} simulated hours of fault-free traffic "
        f"= {false_alerts / normal_days if normal_days else float('nan'):.1f} per simulated day"
    )
    print(f"replay: {statistics.mean(r['seconds'] for r in rows):.2f} s per case")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_type.setdefault(row["type"], []).append(row)
    print(f"{'fault type':<16} {'cases':>5} {'alerted':>8} {'top-1':>6} {'median delay s':>15}")
    for fault_type, group in sorted(by_type.items()):
        hit = [r for r in group if r["alerted"]]
        delay = f"{median([r['delay_s'] for r in hit]):.0f}" if hit else "-"
        top1 = sum(1 for r in hit if r["top1"])
        print(f"{fault_type:<16} {len(group):>5} {len(hit):>8} {top1:>6} {delay:>15}")


def fault_free_store(folder: Path, topology: str, *, rate: float, hours: float) -> Path:
    """The case folder of ``hours`` of fault-free traffic of ``topology`` from midnight, made
    on first use (the simulator through the SDK exporters into a glimpse server, as
    bench.faults does) and kept: its load follows the topology's daily cycle and drift."""
    case = folder / f"{topology}-r{rate:g}-h{hours:g}"
    if (case / "labels.json").exists():
        return case
    log(f"simulating {hours:g} h of {topology} at {rate:g} requests/s into {case} ...")
    result, seconds = simulate_history(
        case,
        topology,
        start_ns=DAY_START_NS,
        duration_s=int(hours * 3600),
        seed=FAULT_FREE_SEED,
        faults=[],
        rate_per_s=rate,
    )
    log(f"{topology}: {result.spans:,} spans, {result.logs:,} logs in {seconds:.0f} s")
    return case


def report_fault_free_day(
    folder: Path,
    topologies: list[str],
    *,
    rates: dict[str, float],
    hours: float,
    text: str,
    workers: int,
    step_ns: int = STEP_NS,
) -> None:
    """Replay the rules every ``step_ns`` over a simulated fault-free day of each topology:
    every firing is a false alert."""
    total_alerts, total_days = 0, 0.0
    for topology in topologies:
        case = fault_free_store(folder, topology, rate=rates[topology], hours=hours)
        labels = json.loads((case / "labels.json").read_text())
        started = time.perf_counter()
        firings, fired = replay_in_pieces(case / "glimpse.duckdb", topology, labels, text, workers, step_ns)
        seconds = time.perf_counter() - started
        days = (labels["end_ns"] - labels["start_ns"]) / 1e9 / DAY_S
        total_alerts, total_days = total_alerts + len(firings), total_days + days
        print(
            f"{topology}: {labels['spans']:,} spans, {labels['logs']:,} logs over {days * 24:.1f} simulated hours "
            f"at {rates[topology]:g} requests/s on average (daily cycle and drift); {len(firings)} false alerts "
            f"= {len(firings) / days:.1f} per simulated day; replayed every {step_ns / 1e9:g} s in {seconds:.0f} s",
            flush=True,
        )
        print("  per rule: " + ", ".join(f"{name} {count}" for name, count in fired.items()))
        for event in firings:
            causes = event.get("root_causes") or [{}]
            at_s = (event["at"] - labels["start_ns"]) / 1e9
            print(
                f"  {int(at_s // 3600):02d}:{int(at_s % 3600 // 60):02d} {event['alert']} value {event['value']:.4g}, "
                f"top root cause {causes[0].get('kind', '-')} {causes[0].get('name', '-')}"
            )
    if total_days:
        per_day = total_alerts / total_days
        print(f"false alerts: {total_alerts} in {total_days:.1f} simulated days = {per_day:.1f} per day")


def replay_in_pieces(
    store: Path, topology: str, labels: dict[str, Any], text: str, workers: int, step_ns: int = STEP_NS
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The firings of a backtest over the whole store, replayed in ``workers`` processes, one
    piece of the window each. Each piece starts WARM_NS early so that its first counted
    evaluation sees the states a single replay would have (a state depends on the last
    ``for`` + ``window`` only; the detector judges each evaluation's hour afresh)."""
    open_read_only(store).close()  # commits a journal left behind once, not in every worker
    start, end = labels["start_ns"], labels["end_ns"]
    steps = (end - start) // step_ns
    bounds = [start + steps * i // workers * step_ns for i in range(workers)] + [start + steps * step_ns]
    pieces = [(str(store), topology, text, lo, hi, step_ns) for lo, hi in itertools.pairwise(bounds)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        found = [e for events in pool.map(_replay_piece, pieces) for e in events]
    firings = sorted((e for e in found if e["to"] == "firing"), key=lambda e: (e["at"], e["alert"]))
    fired = {rule.alert: sum(1 for e in firings if e["alert"] == rule.alert) for rule in default_rules(topology, text)}
    return firings, fired


WARM_NS = 600 * 1_000_000_000  # longer than any default rule's for + window, a whole number of steps


def _replay_piece(piece: tuple[str, str, str, int, int, int]) -> list[dict[str, Any]]:
    store, topology, text, since, until, step_ns = piece
    con = open_read_only(store)
    try:
        warm = since - WARM_NS
        result = backtest(con, default_rules(topology, text), since_ns=warm, until_ns=until, step_ns=step_ns)
    finally:
        con.close()
    return [e for e in result["events"] if e["at"] > since]


def scale_rules(services: list[str], window: str = "5m") -> list[Rule]:
    return parse_rules(scale_rules_text(services, window))


def scale_rules_text(services: list[str], window: str = "5m") -> str:
    """Five rules (one per plain signal, over ``window``) per service."""
    signals = (
        ("error_rate", "above: 0.05"),
        ("latency_p50_ms", "above: 500"),
        ("latency_p95_ms", "above: 1000"),
        ("latency_p99_ms", "above: 2000"),
        ("throughput_rps", "below: 0.1"),
    )
    lines = [
        f"  - {{alert: R{i}_{j}, signal: {signal}, service: {service}, {threshold}, window: {window}}}"
        for i, service in enumerate(services)
        for j, (signal, threshold) in enumerate(signals)
    ]
    return "rules:\n" + "\n".join(lines) + "\n"


def report_scale(store: Path, window: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        _time_scale(_migrated_copy(store, Path(scratch)) if _older(store) else store, window)


def _older(store: Path) -> bool:
    from storage.schema import SCHEMA_VERSION

    con = duckdb.connect(str(store), read_only=True)
    try:
        row = con.execute("SELECT max(version) FROM glimpse_schema_version").fetchone()
    finally:
        con.close()
    return bool(row and row[0] < SCHEMA_VERSION)


def _time_scale(store: Path, window: str) -> None:
    con = open_read_only(store)
    try:
        data = resolve_window(con, None, None)
        rows = con.execute(
            "SELECT service_name FROM otel_spans GROUP BY ALL ORDER BY count(*) DESC, service_name LIMIT 10"
        ).fetchall()
        rules = scale_rules([row[0] for row in rows], window)
        spans = con.execute(
            "SELECT count(*) FROM otel_spans WHERE timestamp >= make_timestamp_ns($s)",
            {"s": data.until_ns - rules[0].window_ns},
        ).fetchone()
        _, seconds = timed(lambda: evaluate_rules(con, rules, {}, data.until_ns, with_root_causes=False), 5)
    finally:
        con.close()
    print(
        f"one evaluation of {len(rules)} rules over the last {window} ({spans[0] if spans else 0:,} spans) of "
        f"the store: median {median(seconds):.3f} s, max {max(seconds):.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.alerts", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", type=Path, default=ROOT / "bench" / "results" / "faults")
    parser.add_argument("--types", default="", help="only these fault types (comma-separated)")
    parser.add_argument("--scale", action="store_true", help="time one evaluation of 50 rules on the scale store")
    parser.add_argument("--scale-store", type=Path, default=ROOT / "bench" / "results" / "scale" / "glimpse.duckdb")
    parser.add_argument("--scale-window", default="15m", help="the rules' window on the scale store (default 15m)")
    parser.add_argument("--write-rules", type=Path, help="write 50 rules for bench.ingest's workload to this file")
    parser.add_argument("--fault-free-day", action="store_true", help="false alerts over a simulated fault-free day")
    parser.add_argument("--day-store", type=Path, default=ROOT / "bench" / "results" / "fault-free-day")
    parser.add_argument("--day-topologies", default="shop,large")
    parser.add_argument("--day-rate", type=float, help="mean requests/s of the day (default: shop 1, large 0.25)")
    parser.add_argument("--day-step", default="30s", help="time between evaluations of the day (default 30s)")
    parser.add_argument("--workers", type=int, default=2, help="processes replaying pieces of the day (default 2)")
    parser.add_argument("--day-hours", type=float, default=24.0, help="simulated hours (default 24)")
    parser.add_argument("--rules", type=Path, help="replay these rules instead (ENTRY: the entry service)")
    args = parser.parse_args()
    text = args.rules.read_text() if args.rules else DEFAULT_RULES
    if args.fault_free_day:
        topologies = args.day_topologies.split(",")
        rates = {t: args.day_rate or DAY_RATES[t] for t in topologies}
        report_fault_free_day(
            args.day_store,
            topologies,
            rates=rates,
            hours=args.day_hours,
            text=text,
            workers=args.workers,
            step_ns=parse_duration_ns(args.day_step),
        )
        return
    if args.write_rules:
        from bench.workload import SERVICES

        args.write_rules.write_text(scale_rules_text(sorted(SERVICES)[:10]))
        print(f"wrote {len(scale_rules(sorted(SERVICES)[:10]))} rules to {args.write_rules}")
        return
    if args.scale:
        report_scale(args.scale_store, args.scale_window)
        return
    wanted = set(filter(None, args.types.split(",")))
    folders = sorted(p.parent for p in args.suite.glob("*/labels.json"))
    rows = []
    for folder in folders:
        if wanted and folder.name.split("-")[1] not in wanted:
            continue
        row = replay_case(folder, text)
        rows.append(row)
        fired = f"fired after {row['delay_s']:.0f} s, top-1 {row['top1']}" if row["alerted"] else "not alerted"
        print(f"{row['case']}: {fired}; {row['false_alerts']} false alerts ({row['seconds']:.1f} s)", flush=True)
    if not rows:
        raise SystemExit(f"no fault cases in {args.suite}: run python -m bench.faults first")
    report_suite(rows)


if __name__ == "__main__":
    main()
