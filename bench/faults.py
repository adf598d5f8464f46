"""Generate the labelled fault suite: every fault type, several targets, both topologies, several seeds.

Each case runs the simulator in accelerated time (normal traffic, then the fault) through
the real OpenTelemetry SDK exporters (spans, metrics and logs) into its own glimpse server
and DuckDB store, and writes the ground truth next to it:

    <out>/<topology>-<fault>-s<seed>/glimpse.duckdb
    <out>/<topology>-<fault>-s<seed>/labels.json

Existing cases are kept (delete the folder to regenerate). ``python -m bench.rca`` scores glimpse on it.

    python -m bench.faults                    # 11 types x 2 topologies x 4 seeds = 88 cases
    python -m bench.faults --seeds 1 --types latency,errors --topologies shop
    python -m bench.faults --first-seed 4 --seeds 2 --out bench/results/faults-holdout
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import simulate_history
from tracing.simulator.faults import FAULT_TYPES, Fault, fault_targets
from tracing.simulator.topology import load_topology

ROOT = Path(__file__).resolve().parents[1]
START_NS = 1_763_632_800_000_000_000  # 2025-11-20T10:00:00Z: cases share a start, each has its own store


@dataclass(frozen=True)
class Case:
    topology: str
    fault: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.topology}-{self.fault}-s{self.seed}"


def cases(topologies: list[str], types: list[str], seeds: int, first_seed: int = 0) -> list[Case]:
    return [Case(t, f, s) for t in topologies for f in types for s in range(first_seed, first_seed + seeds)]


def target_for(case: Case) -> str:
    """A different target per seed, in a stable order (entry services last)."""
    targets = fault_targets(load_topology(case.topology), case.fault)
    return targets[(case.seed * 5 + len(case.fault)) % len(targets)]


def generate(
    case: Case, folder: Path, *, normal_s: int, fault_s: int, rate: float | None, logs: bool = True
) -> dict[str, object]:
    fault = Fault(case.fault, target_for(case), normal_s, normal_s + fault_s)
    result, seconds = simulate_history(
        folder,
        case.topology,
        start_ns=START_NS,
        duration_s=normal_s + fault_s,
        seed=case.seed,
        faults=[fault],
        rate_per_s=rate,
        logs=logs,
    )
    return {"case": case.name, "target": fault.target, "spans": result.spans, "logs": result.logs, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "faults")
    parser.add_argument("--topologies", default="shop,large")
    parser.add_argument("--types", default=",".join(FAULT_TYPES))
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--first-seed", type=int, default=0, help="e.g. 4 with --out elsewhere: a held-out suite")
    parser.add_argument("--normal-s", type=int, default=180, help="normal traffic before the fault (simulated s)")
    parser.add_argument("--fault-s", type=int, default=120, help="fault duration (simulated s)")
    parser.add_argument("--rate", type=float, default=4.0, help="requests per second (default 4)")
    parser.add_argument("--no-logs", action="store_true", help="spans and metrics only (code faults need logs)")
    args = parser.parse_args()
    todo = cases(args.topologies.split(","), args.types.split(","), args.seeds, args.first_seed)
    total_spans, total_logs, started = 0, 0, time.perf_counter()
    for index, case in enumerate(todo, start=1):
        folder = args.out / case.name
        if (folder / "labels.json").exists():
            kept = json.loads((folder / "labels.json").read_text())
            spans, logs = kept["spans"], kept.get("logs", 0)  # suites from before logs have none
            print(f"[{index}/{len(todo)}] {case.name}: kept ({spans} spans, {logs} logs)", flush=True)
            total_spans, total_logs = total_spans + spans, total_logs + logs
            continue
        row = generate(
            case, folder, normal_s=args.normal_s, fault_s=args.fault_s, rate=args.rate, logs=not args.no_logs
        )
        total_spans += int(row["spans"])  # type: ignore[call-overload]
        total_logs += int(row["logs"])  # type: ignore[call-overload]
        print(
            f"[{index}/{len(todo)}] {case.name}: {row['target']}, {row['spans']} spans, {row['logs']} logs "
            f"in {row['seconds']:.1f} s",
            flush=True,
        )
    elapsed = time.perf_counter() - started
    print(f"{len(todo)} cases, {total_spans} spans, {total_logs} logs, {elapsed:.0f} s; suite in {args.out}")


if __name__ == "__main__":
    main()
