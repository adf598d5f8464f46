"""How the cost of the graph and the bottleneck ranking grows, on one store, on the lake read
by DuckDB, and on Spark (docs/scale.md).

For each size, three stores are written with bench.workload's chained traces (the SQL
generator the other benchmarks use, about 13.6 spans a trace, 54 ms of span time apart):
node a gets the even parts, node b the odd ones (whole traces each, as the load-balancing
exporter routes them), and a third store gets all of them. Nodes a and b are exported to
one lake (``glimpse lake export``). Then, each as a process of its own, timed once, with its
peak RSS (the JVM and Python workers included for Spark):

* the single-node command: ``glimpse graph --json`` / ``glimpse bottlenecks --json`` on the
  store that holds everything;
* DuckDB over the lake: the same query-service functions on ``storage.lake.open_lake``;
* the Spark job: ``glimpse spark graph|bottlenecks --master local[2]``.

The single-node bottleneck ranking samples past 200,000 traces (see
analyzer.query_service.bottlenecks); the Spark job always analyses every trace. The machine's
other work makes every figure noisy: one run each, as printed.

    python -m bench.lake --sizes 1000000,10000000 [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import PeakRss, log, mib

SPANS_PER_TRACE = 13.59  # CHAINED_TRACES_SQL's mean
TRACES_PER_PART = 20_000
ANALYSES = ("graph", "bottlenecks")


def write_stores(folder: Path, spans: int) -> dict[str, Any]:
    """Stores a, b and whole of about ``spans`` spans, and the lake of a and b."""
    from bench.workload import store_chained_parts
    from storage.lake import export_hours
    from storage.store import open_read_only, open_writable

    parts = max(2, round(spans / SPANS_PER_TRACE / TRACES_PER_PART))
    started = time.perf_counter()
    for name, chosen in (("a", range(0, parts, 2)), ("b", range(1, parts, 2)), ("whole", range(parts))):
        con = open_writable(folder / f"{name}.duckdb", memory_limit="2GB")
        store_chained_parts(con, chosen, TRACES_PER_PART)  # part n: traces n * TRACES_PER_PART onwards
        con.close()
    generated_s = time.perf_counter() - started
    started = time.perf_counter()
    for node in ("a", "b"):
        con = open_read_only(folder / f"{node}.duckdb")
        export_hours(con, folder / "lake", node)
        con.close()
    exported_s = time.perf_counter() - started
    con = open_read_only(folder / "whole.duckdb")
    count = con.execute("SELECT count(*), count(DISTINCT trace_id) FROM otel_spans").fetchone()
    con.close()
    assert count is not None
    lake_bytes = sum(p.stat().st_size for p in (folder / "lake").rglob("*.parquet"))
    store_bytes = (folder / "whole.duckdb").stat().st_size
    return {
        "spans": int(count[0]),
        "traces": int(count[1]),
        "generate_s": round(generated_s, 1),
        "export_s": round(exported_s, 1),
        "lake_bytes": lake_bytes,
        "store_bytes": store_bytes,
    }


def _run(command: list[str]) -> dict[str, Any]:
    """``command`` as a process: its seconds, its peak RSS (children too), its output's size."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rss = PeakRss(process.pid, interval=0.1, children=True).start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    peak = rss.stop()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {stderr.decode()[-2000:]}")
    return {"seconds": round(seconds, 1), "peak_rss_mib": mib(peak), "answer": json.loads(stdout)}


def _duckdb_lake(analysis: str, lake: Path) -> list[str]:
    code = (
        "import json, sys; from storage.lake import open_lake; "
        "from analyzer.query_service.graphs import service_graph_document; "
        "from analyzer.query_service.bottlenecks import bottlenecks; "
        f"con = open_lake({str(lake)!r}, memory_limit='4GB'); "
        + (
            "sys.stdout.write(service_graph_document(con, 'json'))"
            if analysis == "graph"
            else "sys.stdout.write(json.dumps(bottlenecks(con)))"
        )
    )
    return [sys.executable, "-c", code]


def measure(folder: Path) -> dict[str, Any]:
    glimpse = [sys.executable, "-m", "glimpse"]  # this checkout's glimpse, as PYTHONPATH has it
    lake = folder / "lake"
    results: dict[str, Any] = {}
    for analysis in ANALYSES:
        runs = {
            "single_node": [*glimpse, analysis, "--db", str(folder / "whole.duckdb"), "--json"],
            "duckdb_lake": _duckdb_lake(analysis, lake),
            "spark_local2": [
                *glimpse,
                "spark",
                analysis,
                "--lake",
                str(lake),
                "--master",
                "local[2]",
                "--json",
                "--conf",
                "spark.driver.memory=4g",
            ],
        }
        answers = {}
        for engine, command in runs.items():
            log(f"  {analysis} on {engine}")
            run = _run(command)
            answers[engine] = run.pop("answer")
            results[f"{analysis}/{engine}"] = run
        results[f"{analysis}/same_answer"] = _same(analysis, answers)
    return results


def _same(analysis: str, answers: dict[str, Any]) -> dict[str, bool]:
    """Whether DuckDB-over-the-lake and Spark gave the single node's answer (the ranking's
    order for bottlenecks, which samples on the single node past 200,000 traces)."""
    single = answers["single_node"]
    if analysis == "graph":
        return {engine: answer == single for engine, answer in answers.items() if engine != "single_node"}

    def top(answer: dict[str, Any]) -> list[tuple[str, str]]:
        return [(c["service"], c["operation"]) for c in answer["ranking"][:10]]

    return {engine: top(answer) == top(single) for engine, answer in answers.items() if engine != "single_node"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000", help="spans per lake, comma-separated")
    parser.add_argument("--keep", help="write the stores and lakes under this folder and keep them")
    args = parser.parse_args()
    report = []
    for size in (int(text) for text in args.sizes.split(",")):
        folder = Path(args.keep) / f"spans-{size}" if args.keep else Path(tempfile.mkdtemp(prefix="glimpse-lake-"))
        folder.mkdir(parents=True, exist_ok=True)
        try:
            log(f"{size:,} spans: writing three stores and the lake of two nodes")
            written = write_stores(folder, size)
            log(f"  {json.dumps(written)}")
            entry = {"size": size, **written, **measure(folder)}
            report.append(entry)
            print(json.dumps(entry), flush=True)
        finally:
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
