"""kill -9 loop: random SIGKILLs of ``glimpse serve`` under load from real SDK exporters.

Starts ``glimpse serve`` on a temporary database and drives it with OTLP/gRPC and
OTLP/HTTP span exporters of the OpenTelemetry SDK (bench.sdk_load: every span whose
export returned SUCCESS is written down). Then, ``--kills`` times: waits a random time,
``kill -9``s the server (exports in flight are cut), opens the store read-only (which
commits what the journal holds, as every open does) and checks that every acknowledged
span so far is present exactly once (by trace and span id) and that no span is stored
twice, and starts the server again on the same ports behind the same exporters, which
retry meanwhile. At the end the server is stopped with SIGTERM and checked once more.

Run: ``python -m bench.kill_loop [--kills 20] [--min-s 1] [--max-s 5] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.common import ServeProcess, log, verdict
from bench.sdk_load import LoadPlan, LoadReport, SdkLoad, StoreCheck, check_store


@dataclass
class KillRound:
    """One kill: when, what the journal held, the store check, how long the restart took."""

    after_s: float
    journal_segments: int
    check: StoreCheck
    restart_s: float


@dataclass
class KillLoopResult:
    rounds: list[KillRound] = field(default_factory=list)
    final: StoreCheck | None = None
    exit_code: int | None = None
    load: LoadReport | None = None

    @property
    def passed(self) -> bool:
        checks = [r.check for r in self.rounds] + ([self.final] if self.final else [])
        loaded = bool(self.rounds) and self.rounds[0].check.acknowledged > 0  # the first kill came under load
        return loaded and self.final is not None and all(c.ok for c in checks)


def run(
    workdir: Path, *, kills: int, min_s: float, max_s: float, processes: int, threads: int, seed: int
) -> KillLoopResult:
    db, ack_dir = workdir / "kill.duckdb", workdir / "acks"
    server = ServeProcess(db, workdir / "server.log")
    server.start()
    plan = LoadPlan(
        server.grpc_endpoint, server.http_url, str(ack_dir), processes=processes, threads=threads, seed=seed
    )
    load = SdkLoad(plan).start()
    rng = random.Random(seed)
    result = KillLoopResult()
    try:
        for number in range(1, kills + 1):
            wait_s = rng.uniform(min_s, max_s)
            time.sleep(wait_s)
            server.kill()
            segments = len(list(Path(f"{db}.journal").glob("*.seg")))
            check = check_store(db, ack_dir)
            restart_s = server.start()
            result.rounds.append(KillRound(wait_s, segments, check, restart_s))
            log(
                f"kill {number}/{kills} after {wait_s:.1f} s: {check.acknowledged:,} acknowledged,"
                f" {check.stored:,} stored, {check.missing} missing, {check.duplicated} twice,"
                f" {segments} journal segments, restart {restart_s:.1f} s"
            )
    finally:
        result.load = load.stop()
        result.exit_code = server.terminate()
    result.final = check_store(db, ack_dir)
    return result


def print_report(result: KillLoopResult) -> None:
    print(f"kill -9 loop: {len(result.rounds)} kills under load from SDK exporters (gRPC and HTTP)")
    for number, round_ in enumerate(result.rounds, start=1):
        c = round_.check
        print(
            f"  kill {number:>2} after {round_.after_s:4.1f} s: acknowledged {c.acknowledged:>9,}  stored"
            f" {c.stored:>9,}  missing {c.missing}  twice {c.duplicated}  journal segments"
            f" {round_.journal_segments}  read-only open {c.open_s:.2f} s  restart {round_.restart_s:.1f} s"
        )
    if result.final is not None:
        f = result.final
        print(
            f"  after SIGTERM (exit {result.exit_code}): acknowledged {f.acknowledged:,}, stored {f.stored:,},"
            f" missing {f.missing}, twice {f.duplicated}"
        )
    if result.load is not None:
        load = result.load
        print(
            f"  exporters: {load.exports:,} exports, {load.succeeded:,} acknowledged, {load.failed:,} failed"
            f" (cut by a kill or given up), {load.retries:,} SDK retries"
        )
    print(f"  every acknowledged span present exactly once after every kill: {verdict(result.passed)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kill_loop", description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--min-s", type=float, default=1.0, help="shortest run between restart and kill")
    parser.add_argument("--max-s", type=float, default=5.0, help="longest run between restart and kill")
    parser.add_argument("--processes", type=int, default=2, help="load processes")
    parser.add_argument("--threads", type=int, default=2, help="exporter threads per process (gRPC, HTTP, ...)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="glimpse-kill-") as folder:
        result = run(
            Path(folder),
            kills=args.kills,
            min_s=args.min_s,
            max_s=args.max_s,
            processes=args.processes,
            threads=args.threads,
            seed=args.seed,
        )
    if args.json:
        load = asdict(result.load) if result.load else {}
        load.pop("latencies", None)
        print(json.dumps({**asdict(result), "load": load, "passed": result.passed}, indent=2))
    else:
        print_report(result)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
