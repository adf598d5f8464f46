"""The default rules over a fault-free day, fast (``python -m bench.alerts_day``).

``python -m bench.alerts --fault-free-day`` replays the rules through the backtest: every
evaluation queries its hour of the store again. Evaluated every 30 s, an hour's lookback
has 30 s buckets (``pick_bucket_ns``) on the same grid at every evaluation, so this replay
reads the day's rows of the entry service once, on that grid (RED rows, histogram points,
log series), and at each evaluation runs the rules' own code on its hour: the detector on
the series the anomaly rule judges (as ``query_service.alerts`` builds them) and the error
rule on the last minute's counts. With the anomaly rule as it was before its strict latency
counts it counted the 9 false alerts of the large topology's day that the backtest counted
(among them the two minutes, 01:48 and 06:41, that only a 30 s step gives). It needs the
day's store made by bench.alerts, and prints every firing with the series behind it
(``-v``: every breaching evaluation).

    python -m bench.alerts_day [--topology large] [-v]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from analyzer.alert_rules import Rule
from analyzer.alerting import AlertState, Measurement, ScopeCounts, advance, measure_rule
from analyzer.anomaly import detect_anomalies, histogram_series, log_series, red_series
from analyzer.query_service.alerts import ANOMALY_LOOKBACK_NS, _anomaly_score
from bench.alerts import DAY_RATES, ENTRY, ROOT, default_rules
from storage.incident_queries import histogram_point_rows, log_series_rows, red_series_rows
from storage.store import open_read_only
from storage.window import SpanWindow

STEP_NS = 30 * 1_000_000_000  # the evaluation step and the lookback's bucket width
BUCKETS = ANOMALY_LOOKBACK_NS // STEP_NS
Rows = dict[int, list[dict[str, Any]]]  # global bucket -> rows


def day_rows(store: Path, service: str, since_ns: int, until_ns: int) -> tuple[Rows, list[dict[str, Any]], Rows]:
    """The day's RED rows and log rows of ``service``'s series by 30 s bucket, and its histogram points."""
    con = open_read_only(store)
    try:
        window = SpanWindow(since_ns, until_ns)
        red = [r for r in red_series_rows(con, window, bucket_ns=STEP_NS) if service in (r["service"], r["entity"])]
        points = [dict(p) for p in histogram_point_rows(con, window) if service in (p["service"], p["instance"])]
        logs = [r for r in log_series_rows(con, window, bucket_ns=STEP_NS) if r["service"] == service]
    finally:
        con.close()
    return _by_bucket(red), points, _by_bucket(logs)


def _by_bucket(rows: Iterable[Mapping[str, Any]]) -> Rows:
    found: Rows = defaultdict(list)
    for row in rows:
        found[int(row["bucket"])].append(dict(row))
    return found


def _hour(rows: Rows, step: int) -> list[dict[str, Any]]:
    """The rows of the hour ending at evaluation ``step``, their buckets counted from its start."""
    first = step - BUCKETS
    return [{**row, "bucket": b - first} for b in range(first, step) for row in rows.get(b, ())]


def anomalies(red: Rows, points: list[dict[str, Any]], logs: Rows, step: int, at_ns: int) -> list[dict[str, Any]]:
    """What the anomaly rule's detector finds in the hour before ``at_ns`` (evaluation ``step``)."""
    since = at_ns - ANOMALY_LOOKBACK_NS
    series = red_series(_hour(red, step), BUCKETS, strict=True)
    hour = [p for p in points if since <= p["time_ns"] < at_ns]
    series += histogram_series(hour, since_ns=since, bucket_ns=STEP_NS, buckets=BUCKETS)
    series += log_series(_hour(logs, step), BUCKETS)
    return [a.as_dict(with_series=False) for a in detect_anomalies(series, since_ns=since, bucket_ns=STEP_NS)]


def measure(rule: Rule, red: Rows, found: list[dict[str, Any]], step: int, at_ns: int) -> Measurement:
    if rule.signal == "anomaly":
        return measure_rule(rule, {}, _anomaly_score(rule, found, at_ns))
    key = ("service", rule.service)
    window = range(step - rule.window_ns // STEP_NS, step)
    mine = [r for b in window for r in red.get(b, ()) if (r["level"], r["entity"]) == key]
    counts = ScopeCounts(sum(int(r["requests"]) for r in mine), sum(int(r["errors"]) for r in mine))
    return measure_rule(rule, {rule.window_ns: {key: counts}})


def replay(topology: str, folder: Path, verbose: bool) -> int:
    labels = json.loads((folder / "labels.json").read_text())
    rules = default_rules(topology)
    assert all(r.signal in ("anomaly", "error_rate") and r.operation is r.edge is r.pod is None for r in rules)
    start = labels["start_ns"]
    red, points, logs = day_rows(folder / "glimpse.duckdb", ENTRY[topology], start, labels["end_ns"])
    states = {rule.alert: AlertState(rule.alert) for rule in rules}
    fired = 0
    for step in range(1, (labels["end_ns"] - start) // STEP_NS + 1):
        at_ns = start + step * STEP_NS
        found = anomalies(red, points, logs, step, at_ns)
        for rule in rules:
            measured = measure(rule, red, found, step, at_ns)
            states[rule.alert], change = advance(states[rule.alert], rule, measured, at_ns)
            firing = change is not None and change.to_state == "firing"
            fired += firing
            if firing or (verbose and measured.breached):
                print(_line(rule, found, (at_ns - start) // 1_000_000_000, at_ns, "FIRING" if firing else "breach"))
    return fired


def _line(rule: Rule, found: list[dict[str, Any]], at_s: int, at_ns: int, what: str) -> str:
    clock = f"{at_s // 3600:02d}:{at_s % 3600 // 60:02d}:{at_s % 60:02d} {what} {rule.alert}"
    if rule.signal != "anomaly":
        return clock
    score = _anomaly_score(rule, found, at_ns)
    top = next(a for a in found if a["score"] == score and a["end"] > at_ns - rule.window_ns)
    return (
        f"{clock}: {top['entity_kind']} {top['entity']} {top['signal']} score {top['score']} ({top['detector']}, "
        f"{(top['end'] - top['start']) // STEP_NS} buckets), baseline {top['baseline']}, observed {top['observed']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.alerts_day", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--topology", default="large", choices=sorted(ENTRY))
    parser.add_argument("--day-store", type=Path, default=ROOT / "bench" / "results" / "fault-free-day")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every breaching evaluation")
    args = parser.parse_args()
    folder = args.day_store / f"{args.topology}-r{DAY_RATES[args.topology]:g}-h24"
    print(f"{args.topology}: {replay(args.topology, folder, args.verbose)} false alerts, replayed every 30 s")


if __name__ == "__main__":
    main()
