"""The benchmarks stay runnable: every module imports, every benchmark answers ``--help``,
and the ingest workload is still the one the published figures were measured on."""

from __future__ import annotations

import hashlib
import importlib
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = (
    "ingest", "graph", "bottlenecks", "faults", "rca", "rca_nezha", "fuzz_spanwire",
    "kill_loop", "overload", "disk_full", "fuzz_otlp", "soak", "alerts", "alerts_day", "disk", "generate",
    "report",
)  # fmt: skip
HELPERS = ("common", "workload", "trace_iforest", "nezha_data", "sdk_load")


@pytest.mark.parametrize("name", BENCHMARKS + HELPERS)
def test_bench_module_imports(name: str) -> None:
    importlib.import_module(f"bench.{name}")


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_help(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")


def test_bench_dispatches_the_report() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bench", *args]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)

    assert run("report", "--help").stdout.startswith("usage: python -m bench report")
    assert run().returncode == 2


def test_ingest_workload_is_unchanged() -> None:
    """Seed 7 (the default) at a fixed anchor: the same request bytes as when the README's figures were measured."""
    from bench.workload import Workload

    workload = Workload(7)
    digest = hashlib.sha256()
    for _ in range(3):
        digest.update(workload.request(1_700_000_000_000_000_000)[0])
    assert digest.hexdigest() == "fb5f27357a2c7a2d98676078abdd3d1feaaebc886d0316ce562bb00f688fba1a"


def test_templates_render_fresh_ids_and_times() -> None:
    from bench.workload import build_templates

    (template,) = build_templates(1, 3)  # checks one render of each template against the parsed request
    assert template.render(bytes(24), 0) == template.body
    assert template.render(bytes(range(24)), 1) != template.body


def test_disk_breakdown_accounts_for_the_used_blocks(tmp_path: Path) -> None:
    """bench.disk's per-column bytes add up to the file's used blocks, less only metadata."""
    import duckdb

    from bench.disk import BLOCK_BYTES, column_bytes
    from bench.workload import CHAINED_TRACES_SQL, generate_store

    path = tmp_path / "store.duckdb"
    generate_store(path, (CHAINED_TRACES_SQL, {"traces": 20_000}))
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = column_bytes(con)
        spans = con.execute("SELECT count(*) FROM otel_spans").fetchone()[0]  # type: ignore[index]
        used_blocks = con.execute("SELECT used_blocks FROM pragma_database_size()").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()
    by_name = {(c.table, c.column): c for c in columns}
    assert by_name[("otel_spans", "span_id")].bytes_per_span > 1  # random ids do not compress away
    assert by_name[("otel_spans", "trace_state")].bytes < by_name[("otel_spans", "span_id")].bytes / 10  # all ''
    assert all(c.bytes_per_span == c.bytes / spans for c in columns)
    total = sum(c.bytes for c in columns)
    assert 0.8 * used_blocks * BLOCK_BYTES <= total <= used_blocks * BLOCK_BYTES


def test_each_client_thread_replays_a_slice_of_its_own() -> None:
    from bench.ingest import DEFAULT_POOL, slices
    from storage.writer import ROW_GROUP_ROWS

    pool = list(range(DEFAULT_POOL))
    threads = [thread for process in slices(pool, 4) for thread in slices(process, 4)]  # type: ignore[arg-type]
    assert sorted(item for thread in threads for item in thread) == pool  # disjoint, and all of them
    # each thread sends its share of a row group's requests before it replays one
    assert min(len(thread) for thread in threads) >= 2 * ROW_GROUP_ROWS // 512 // len(threads)
    assert slices([1, 2], 4) == [[1, 2]] * 4  # a pool smaller than the threads: all of it to each  # type: ignore[list-item]


def test_the_ingest_pool_is_built_once(tmp_path: Path) -> None:
    from bench.ingest import pool_of

    built = pool_of(2, 5, folder=tmp_path)
    (kept,) = tmp_path.iterdir()
    assert [t.body for t in pool_of(2, 5, folder=tmp_path)] == [t.body for t in built]
    kept.write_bytes(pickle.dumps(built[:1]))  # what is kept is what comes back
    assert len(pool_of(2, 5, folder=tmp_path)) == 1
