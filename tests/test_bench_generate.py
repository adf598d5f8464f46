"""bench.generate: the replicated store reads back whole through glimpse's own queries, and
stores of one rate share their newest traces (the 15-minute probe window) whatever their size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.generate import DAY_NS, StoreSpec, generate, plan_traces, pool_store, probe_window

pytestmark = pytest.mark.slow

SPANS_PER_DAY = 100_000.0  # 4 hours (back to the probe window): about 20,000 spans


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulator pool: 8 s of the large topology at 6 requests a second."""
    return pool_store(seconds=8, rate_per_s=6.0, seed=2, folder=tmp_path_factory.mktemp("pools"))


@pytest.fixture(scope="module")
def stores(pool: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("stores")
    small, large = folder / "small.duckdb", folder / "large.duckdb"
    generate(StoreSpec(spans=30_000, spans_per_day=SPANS_PER_DAY), small, pool)
    generate(StoreSpec(spans=90_000, spans_per_day=SPANS_PER_DAY), large, pool)
    return {"small": small, "large": large}


def test_plan_is_stable_from_the_end_and_follows_the_day() -> None:
    pool_spans = np.array([10, 20, 40, 5], dtype=np.int64)
    small = plan_traces(StoreSpec(spans=20_000, spans_per_day=SPANS_PER_DAY), pool_spans)
    large = plan_traces(StoreSpec(spans=200_000, spans_per_day=SPANS_PER_DAY), pool_spans)
    assert small.spans >= 20_000 and small.spans - 20_000 < 40
    newest = len(small.seq)
    assert np.array_equal(small.start_ns, large.start_ns[-newest:])
    assert np.array_equal(small.pool_trace, large.pool_trace[-newest:])
    assert np.array_equal(small.seq, large.seq[-newest:])
    assert np.all(np.diff(large.start_ns) >= 0)  # oldest first
    assert np.all(np.diff(large.part) >= 0) and large.part[0] == 0
    hours = (large.start_ns % DAY_NS) // (DAY_NS // 24)
    noon, midnight = np.sum((hours >= 11) & (hours < 13)), np.sum((hours >= 23) | (hours < 1))
    assert noon > 1.5 * midnight  # the daily cycle: rate x1.3 at noon, x0.7 at midnight


def test_store_reads_back_through_glimpse_queries(stores: dict[str, Path]) -> None:
    from storage.schema import SCHEMA_VERSION, current_version
    from storage.store import open_read_only
    from storage.trace_queries import trace_span_rows

    con = open_read_only(stores["large"])
    try:
        assert current_version(con) == SCHEMA_VERSION
        spans, traces = con.execute("SELECT count(*), count(DISTINCT trace_id) FROM otel_traces").fetchone()  # type: ignore[misc]
        assert 90_000 <= spans < 91_000
        index = con.execute("SELECT count(*), count(DISTINCT trace_key), sum(spans) FROM otel_trace_index").fetchone()
        assert index == (traces, traces, spans)
        orphans = con.execute(
            "SELECT count(*) FROM otel_spans AS c WHERE parent_span_id <> '' AND NOT EXISTS "
            "(SELECT 1 FROM otel_spans AS p WHERE p.trace_id = c.trace_id AND p.span_id = c.parent_span_id)"
        ).fetchone()
        assert orphans == (0,)
        outside = con.execute(  # children inside their parents, as the simulator made them
            "SELECT count(*) FROM otel_spans AS c JOIN otel_spans AS p ON p.trace_id = c.trace_id "
            "AND p.span_id = c.parent_span_id WHERE c.timestamp < p.timestamp"
        ).fetchone()
        assert outside == (0,)
        logs, log_traces = con.execute("SELECT count(*), count(DISTINCT trace_id) FROM otel_logs").fetchone()  # type: ignore[misc]
        assert logs > 0
        assert con.execute("SELECT sum(records), count(*) FROM otel_log_trace_index").fetchone() == (logs, log_traces)
        unknown = con.execute(
            "SELECT count(*) FROM otel_logs AS l WHERE NOT EXISTS "
            "(SELECT 1 FROM otel_spans AS s WHERE s.trace_id = l.trace_id AND s.span_id = l.span_id)"
        ).fetchone()
        assert unknown == (0,)
        sample = con.execute("SELECT trace_key::VARCHAR, spans FROM otel_trace_index LIMIT 5").fetchall()
        for key, count in sample:
            trace_id = f"{int(key):032x}"
            assert len(trace_span_rows(con, trace_id)) == count
        services = con.execute("SELECT count(DISTINCT service_name) FROM otel_traces").fetchone()
        assert services is not None and services[0] > 10  # the large topology, with its resources
    finally:
        con.close()


def test_stores_of_one_rate_share_the_probe_window(stores: dict[str, Path]) -> None:
    from analyzer.query_service.graphs import service_graph
    from storage.store import open_read_only

    since, until = probe_window()
    window = (
        "SELECT trace_id, span_id, timestamp, duration FROM otel_spans "
        "WHERE timestamp >= make_timestamp_ns($s) AND timestamp < make_timestamp_ns($u) ORDER BY ALL"
    )
    answers = []
    for name in ("small", "large"):
        con = open_read_only(stores[name])
        try:
            rows = con.execute(window, {"s": since, "u": until}).fetchall()
            graph = service_graph(con, since_ns=since, until_ns=until)
            answers.append((rows, sorted(graph.edges())))
        finally:
            con.close()
    assert answers[0][0], "the probe window holds spans"
    assert answers[0] == answers[1]
    assert len(answers[0][1]) > 10


def test_probe_queries_time_each_store_in_a_process_of_its_own(stores: dict[str, Path], tmp_path: Path) -> None:
    """bench.report's growth probes: every store's graph, bottlenecks and rca, once a run; a
    store its worker cannot open fails the call instead of leaving it waiting."""
    from bench.report import PROBES, probe_queries

    timings = probe_queries([stores["small"], stores["large"]], runs=2)
    assert [sorted(store) for store in timings] == [sorted(PROBES)] * 2
    assert all(len(seconds) == 2 and min(seconds) > 0 for store in timings for seconds in store.values())
    with pytest.raises(EOFError):
        probe_queries([stores["small"], tmp_path / "missing" / "store.duckdb"], runs=1)
