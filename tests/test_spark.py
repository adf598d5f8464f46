"""Spark jobs over a lake written by two real glimpse nodes give the single-node answers:
the same graph (every export format), the same bottleneck ranking with its evidence, the
same SQL counts, the same anomalies and root causes of an injected fault; on ``local[2]``
(one session for the run) and on a standalone cluster of a master and two workers started
here as processes on loopback."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyspark
import pytest
from typer.testing import CliRunner

from analyzer.graph_export import FORMATS, render
from analyzer.query_service.bottlenecks import bottlenecks
from analyzer.query_service.graphs import service_graph
from analyzer.query_service.spark_jobs import spark_bottlenecks, spark_sql
from glimpse.cli import app
from glimpse.cli.spark import rca_read_window
from storage.lake import HOUR_NS
from storage.spark_lake import SparkLake
from storage.store import open_read_only
from tests.lake_nodes import build_fault_lake
from tests.test_lake import DERIVED_COLUMNS, ShopLake, build_shop_lake
from tracing.simulator.faults import Fault

ROOT = Path(__file__).resolve().parents[1]
# a JVM start and a Spark job take minutes on a shared 2-core machine
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def shop_lake(tmp_path_factory: pytest.TempPathFactory) -> ShopLake:
    return build_shop_lake(tmp_path_factory.mktemp("spark-lake"))


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_graph_equals_the_single_node_graph_in_every_format(shop_lake: ShopLake, spark: Any) -> None:
    on_spark = json.loads(_cli("spark", "graph", "--lake", str(shop_lake.lake), "--master", "local[2]", "--json"))
    single = json.loads(_cli("graph", "--db", str(shop_lake.whole), "--json"))
    assert on_spark == single
    nodes = {node["id"] for node in single["nodes"]}
    assert nodes == {"user", "frontend", "cart", "payment", "postgres"}
    calls = {(e["source"], e["target"]): e["calls"] for e in single["edges"]}
    assert calls == {("user", "frontend"): 160, ("frontend", "cart"): 160, ("frontend", "payment"): 160,
                     ("payment", "postgres"): 160}  # fmt: skip
    # every export format renders the same graph the same way
    lake = SparkLake(spark, shop_lake.lake)
    store = open_read_only(shop_lake.whole)
    try:
        spark_graph, store_graph = service_graph(lake), service_graph(store)  # type: ignore[arg-type]
        for fmt in FORMATS:
            assert render(spark_graph, fmt) == render(store_graph, fmt), fmt
    finally:
        store.close()


def test_the_table_output_is_the_single_node_table(shop_lake: ShopLake, spark: Any) -> None:
    on_spark = _cli("spark", "bottlenecks", "--lake", str(shop_lake.lake), "--master", "local[2]", "--limit", "5")
    assert on_spark == _cli("bottlenecks", "--db", str(shop_lake.whole), "--limit", "5")
    assert "payment" in on_spark


def test_bottlenecks_rank_and_evidence_equal_the_single_node_answer(shop_lake: ShopLake, spark: Any) -> None:
    store = open_read_only(shop_lake.whole)
    try:
        single = bottlenecks(store)
    finally:
        store.close()
    on_spark = spark_bottlenecks(SparkLake(spark, shop_lake.lake))
    assert on_spark == single
    assert single["traces"] == 160 and single["spans"] == 960
    top = [(c["service"], c["operation"]) for c in single["ranking"][:2]]
    assert top == [("payment", "POST /pay"), ("payment", "SELECT payments")]


def test_a_window_reads_its_hours_and_answers_as_the_store(shop_lake: ShopLake, spark: Any) -> None:
    since = (shop_lake.base_ns // HOUR_NS + 1) * HOUR_NS  # the second hour only
    until = since + HOUR_NS
    lake = SparkLake(spark, shop_lake.lake, since_ns=since, until_ns=until)
    assert {p.hour_ns for p in lake.partitions} == {since}
    store = open_read_only(shop_lake.whole)
    try:
        single = bottlenecks(store, since_ns=since, until_ns=until, limit=3)
        graph = render(service_graph(store, since_ns=since, until_ns=until), "json")
    finally:
        store.close()
    assert spark_bottlenecks(lake, since_ns=since, until_ns=until, limit=3) == single
    assert render(service_graph(lake, since_ns=since, until_ns=until), "json") == graph  # type: ignore[arg-type]
    assert 0 < single["traces"] < 160


def test_sql_over_the_lake(shop_lake: ShopLake, spark: Any) -> None:
    answer = spark_sql(
        SparkLake(spark, shop_lake.lake),
        "SELECT service_name, count(*) AS spans FROM otel_spans GROUP BY 1 ORDER BY 1",
        max_rows=10,
    )
    assert answer["columns"] == ["service_name", "spans"]
    assert answer["rows"] == [["cart", 160], ["frontend", 480], ["payment", 320]]
    hosts = spark_sql(
        SparkLake(spark, shop_lake.lake),
        "SELECT host_name, count(*) AS spans FROM otel_traces GROUP BY 1 ORDER BY 1",  # spans with resources
        max_rows=10,
    )
    assert hosts["rows"] == [["cart-host", 160], ["frontend-host", 480], ["payment-host", 320]]
    derived = spark_sql(SparkLake(spark, shop_lake.lake), DERIVED_COLUMNS, max_rows=10_000)  # from the attributes
    store = open_read_only(shop_lake.whole)
    try:
        assert [tuple(row) for row in derived["rows"]] == store.execute(DERIVED_COLUMNS).fetchall()
    finally:
        store.close()
    text = _cli("spark", "sql", "SELECT count(DISTINCT trace_id) AS traces FROM otel_spans", "--lake",
                str(shop_lake.lake), "--format", "csv")  # fmt: skip
    assert text.splitlines() == ["traces", "160"]


# --------------------------------------------------------------------------- anomalies and rca

# floats computed from sums Spark may add in another order are compared to this relative tolerance
FLOAT_TOLERANCE = 1e-9
PAYMENT_ERRORS = Fault("errors", "payment", 150, 240)  # 35 % of payment's requests fail from 150 s on


@pytest.fixture(scope="module")
def fault_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulator's shop with a payment fault, split over two nodes by trace id; ``root/whole.duckdb``
    received everything."""
    root = tmp_path_factory.mktemp("fault-lake")
    # closed hours, at the same time of day on every run: the simulator's load follows the
    # time of day, and the payment instance outranked its service on data of 18:10 UTC
    day_ns = 24 * HOUR_NS
    start = (time.time_ns() // day_ns - 1) * day_ns + 16 * HOUR_NS + 10 * 60 * 10**9
    build_fault_lake(root, PAYMENT_ERRORS, start_ns=start)
    return root


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.{-int(math.log10(FLOAT_TOLERANCE))}g}")
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def test_spark_anomalies_equal_the_single_node_anomalies(fault_lake: Path, spark: Any) -> None:
    lake = str(fault_lake / "lake")
    on_spark = json.loads(_cli("spark", "anomalies", "--lake", lake, "--master", "local[2]", "--json"))
    single = json.loads(_cli("anomalies", "--db", str(fault_lake / "whole.duckdb"), "--json"))
    assert _rounded(on_spark) == _rounded(single)
    assert ("payment", "error_rate") in {(a["entity"], a["signal"]) for a in single["anomalies"]}
    assert single["incidents"]


def test_spark_rca_ranks_the_single_node_root_causes(fault_lake: Path, spark: Any) -> None:
    lake = str(fault_lake / "lake")
    on_spark = json.loads(_cli("spark", "rca", "--lake", lake, "--master", "local[2]", "--json"))
    single = json.loads(_cli("rca", "--db", str(fault_lake / "whole.duckdb"), "--json"))
    assert _rounded(on_spark) == _rounded(single)  # the incident found, the baseline, every candidate in order
    assert (single["candidates"][0]["kind"], single["candidates"][0]["name"]) == ("service", "payment")


def test_spark_rca_with_a_window_reads_only_its_hours_and_ranks_as_the_node(fault_lake: Path, spark: Any) -> None:
    lake, whole = str(fault_lake / "lake"), str(fault_lake / "whole.duckdb")
    found = json.loads(_cli("rca", "--db", whole, "--json"))["incident"]
    window = ("--since", str(found["start_ns"]), "--until", str(found["end_ns"]))
    on_spark = json.loads(_cli("spark", "rca", "--lake", lake, "--master", "local[2]", *window, "--json"))
    single = json.loads(_cli("rca", "--db", whole, *window, "--json"))
    assert _rounded(on_spark) == _rounded(single)
    assert (single["candidates"][0]["kind"], single["candidates"][0]["name"]) == ("service", "payment")


def test_spark_rca_reads_the_default_baseline_and_the_incident_only() -> None:
    hour, minute = 3600 * 10**9, 60 * 10**9
    given = {"since_ns": 10 * hour, "until_ns": 10 * hour + 10 * minute}
    none = {"baseline_since_ns": None, "baseline_until_ns": None}
    # a 10-minute incident: the default baseline is max(4 x 10 min, 30 min) = 40 min before it
    assert rca_read_window({**given, **none}) == (10 * hour - 40 * minute, 10 * hour + 10 * minute)
    assert rca_read_window({**given, "baseline_since_ns": 2 * hour, "baseline_until_ns": 3 * hour}) == (
        2 * hour,
        10 * hour + 10 * minute,
    )
    # the baseline starts where the data does, or the incident is found in all of it: everything
    assert rca_read_window({**given, "baseline_since_ns": None, "baseline_until_ns": 3 * hour}) == (None, None)
    assert rca_read_window({"since_ns": None, "until_ns": None, **none}) == (None, None)


# --------------------------------------------------------------------------- a standalone cluster


class _Cluster:
    """A Spark standalone master and two one-core workers, each its own JVM on loopback."""

    def __init__(self, work: Path) -> None:
        self.home = Path(pyspark.__file__).parent
        self.env = {**os.environ, "SPARK_HOME": str(self.home), "SPARK_LOCAL_IP": "127.0.0.1",
                    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                    "PYSPARK_PYTHON": sys.executable, "SPARK_WORKER_DIR": str(work / "workers")}  # fmt: skip
        self.logs = work
        self.processes: list[subprocess.Popen[bytes]] = []
        master_log = self._start("master", "org.apache.spark.deploy.master.Master",
                                 "--host", "127.0.0.1", "--port", "0", "--webui-port", "0")  # fmt: skip
        self.url = self._wait_for(master_log, r"Starting Spark master at (spark://\S+)")
        for n in range(2):
            args = ("--host", "127.0.0.1", "--port", "0", "--webui-port", "0", "--cores", "1", "--memory", "1g")
            log = self._start(f"worker-{n}", "org.apache.spark.deploy.worker.Worker", *args, self.url)
            self._wait_for(log, r"Successfully registered with master")

    def _start(self, name: str, main: str, *args: str) -> Path:
        log = self.logs / f"{name}.log"
        with open(log, "wb") as handle:
            command = [str(self.home / "bin" / "spark-class"), main, *args]
            self.processes.append(subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=self.env))
        return log

    def _wait_for(self, log: Path, pattern: str, timeout_s: float = 120.0) -> str:
        import time

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            match = re.search(pattern, log.read_text(errors="replace"))
            if match:
                return match.group(1) if match.groups() else match.group(0)
            if any(p.poll() is not None for p in self.processes):
                break
            time.sleep(0.2)
        raise RuntimeError(f"Spark did not log {pattern!r}: {log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[_Cluster]:
    started = _Cluster(tmp_path)
    try:
        yield started
    finally:
        started.stop()


@pytest.mark.slow
def test_a_standalone_cluster_runs_the_bottleneck_job(shop_lake: ShopLake, cluster: _Cluster) -> None:
    # the CLI in a process of its own: this test process already holds the local[2] session
    command = [sys.executable, "-m", "glimpse", "spark", "bottlenecks", "--lake", str(shop_lake.lake),
               "--master", cluster.url, "--json"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=cluster.env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    store = open_read_only(shop_lake.whole)
    try:
        assert json.loads(done.stdout) == json.loads(json.dumps(bottlenecks(store)))
    finally:
        store.close()
    # both workers ran executors of the job
    executors = list((Path(cluster.env["SPARK_WORKER_DIR"])).glob("app-*/*"))
    assert len(executors) == 2, executors
