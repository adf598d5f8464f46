"""The Parquet lake: two real glimpse nodes, each fed part of the traffic over OTLP by the
OpenTelemetry SDK (split by trace id), export their closed hours; the lake holds every
trace once, exports are atomic and idempotent, late spans join their hour, and DuckDB over
the lake answers as the store that received everything."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind
from typer.testing import CliRunner

from analyzer.query_service.bottlenecks import bottlenecks
from analyzer.query_service.graphs import service_graph_document
from glimpse.cli import app
from storage.lake import HOUR_NS, export_hours, lake_partitions, open_lake
from storage.store import open_read_only
from tests.conftest import ServerProcess, serving
from tests.lake_nodes import send_shop_traffic
from tests.otlp_clients import span_exporter

TRACES = 160  # 30 s apart: 80 minutes, over two or three hours


@dataclass(frozen=True)
class ShopLake:
    lake: Path
    whole: Path  # the store that received every trace
    nodes: tuple[Path, Path]
    trace_ids: list[str]
    base_ns: int


def _base_ns() -> int:
    # closed hours: a few hours back, 20 minutes into an hour (so the traffic spans hours)
    return (time.time_ns() // HOUR_NS - 5) * HOUR_NS + 20 * 60 * 10**9


def build_shop_lake(root: Path) -> ShopLake:
    lake, whole = root / "lake", root / "whole.duckdb"
    nodes = (root / "a.duckdb", root / "b.duckdb")
    base = _base_ns()
    settings = {"lake": str(lake), "lake_delay_s": 0.0, "lake_interval_s": 3600.0}
    with (
        serving(nodes[0], node_id="node-a", **settings) as a,
        serving(nodes[1], node_id="node-b", **settings) as b,
        serving(whole) as everything,
    ):
        ids = send_shop_traffic([a, b], everything, base_ns=base, traces=TRACES)
    # stopping each node exported its hours
    return ShopLake(lake, whole, nodes, ids, base)


@pytest.fixture(scope="module")
def shop_lake(tmp_path_factory: pytest.TempPathFactory) -> ShopLake:
    return build_shop_lake(tmp_path_factory.mktemp("shop-lake"))


def test_each_node_exports_its_closed_hours_and_the_lake_holds_every_trace_once(shop_lake: ShopLake) -> None:
    parts = lake_partitions(shop_lake.lake, table="otel_spans")
    assert {p.node for p in parts} == {"node-a", "node-b"}
    assert len({p.hour_ns for p in parts}) >= 2  # the traffic crossed an hour
    lake = open_lake(shop_lake.lake)
    per_trace = lake.execute(
        "SELECT trace_id, count(*), count(DISTINCT service_name) FROM otel_spans GROUP BY ALL"
    ).fetchall()
    assert sorted(row[0] for row in per_trace) == sorted(shop_lake.trace_ids)
    assert {row[1:] for row in per_trace} == {(6, 3)}  # whole traces: 6 spans over 3 services
    by_node = {p.node: 0 for p in parts}
    for part in parts:
        by_node[part.node] += part.rows
    assert sum(by_node.values()) == 6 * TRACES and min(by_node.values()) > 0
    assert not list(shop_lake.lake.rglob("*.tmp"))  # written aside, then renamed
    resources = lake.execute("SELECT count(*), count(DISTINCT resource_key) FROM otel_resources").fetchone()
    assert resources == (3, 3)  # both nodes exported the same three, read once


# columns otel_traces reads from the span's attributes (schema version 5), span by span
DERIVED_COLUMNS = "SELECT span_id, http_route, http_response_status_code FROM otel_traces ORDER BY span_id"


def test_duckdb_over_the_lake_answers_as_the_store_that_received_everything(shop_lake: ShopLake) -> None:
    lake, store = open_lake(shop_lake.lake), open_read_only(shop_lake.whole)
    try:
        for fmt in ("json", "dot", "mermaid"):
            assert service_graph_document(lake, fmt) == service_graph_document(store, fmt)
        assert bottlenecks(lake) == bottlenecks(store)
        derived = lake.execute(DERIVED_COLUMNS).fetchall()
        assert derived == store.execute(DERIVED_COLUMNS).fetchall()
        routes = {(None, None), ("/checkout", 200), ("/checkout", 502), (None, 200), (None, 402)}
        assert {row[1:] for row in derived} == routes
    finally:
        lake.close()
        store.close()


def test_files_exported_before_schema_version_5_read_alongside_newer_ones(shop_lake: ShopLake, tmp_path: Path) -> None:
    """Exports of a store before version 5 carry the span columns it no longer stores: a
    lake holding both kinds of file reads them by name, the view deriving those columns."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    lake = tmp_path / "lake"
    shutil.copytree(shop_lake.lake, lake)
    oldest = min(lake_partitions(lake, table="otel_spans"), key=lambda p: (p.hour_ns, p.node))
    older = pq.read_table(oldest.path)
    # where the old table had it
    route = pa.array(["stored before"] * older.num_rows)
    older = older.add_column(older.column_names.index("url_full"), "http_route", route)
    folder = Path(oldest.path).parent.parent / "node=0-old"  # the lake's first file
    folder.mkdir()
    pq.write_table(older, folder / "data.parquet")
    con = open_lake(lake)
    try:
        spans, routes, roots = con.execute(
            "SELECT count(*), count(http_route), count(*) FILTER (WHERE parent_span_id = '') FROM otel_traces"
        ).fetchone() or (0, 0, 0)
        stored = con.execute("SELECT count(*) FROM otel_traces WHERE http_route = 'stored before'").fetchone()
        every_column = con.execute("SELECT * FROM otel_spans").fetchall()  # the old column is read too
    finally:
        con.close()
    assert spans == len(every_column) == 6 * TRACES + older.num_rows
    assert routes == roots > TRACES and stored == (0,)  # only roots have a route, read from their attributes


def test_export_is_idempotent_and_late_spans_join_their_hour(tmp_path: Path) -> None:
    db, lake = tmp_path / "node.duckdb", tmp_path / "lake"
    hour = time.time_ns() // HOUR_NS * HOUR_NS - 3 * HOUR_NS
    with serving(db) as node:
        _spans(node, "early", hour + 60 * 10**9, count=4)
    runner = CliRunner()
    first = runner.invoke(app, ["lake", "export", "--db", str(db), "--lake", str(lake), "--node-id", "n1", "--json"])
    assert first.exit_code == 0, first.output
    written = [p for p in json.loads(first.stdout)["partitions"] if p["written"]]
    assert [(p["table"], p["hour_ns"], p["rows"]) for p in written] == [("otel_spans", hour, 4)]
    again = runner.invoke(app, ["lake", "export", "--db", str(db), "--lake", str(lake), "--node-id", "n1", "--json"])
    assert [p["written"] for p in json.loads(again.stdout)["partitions"]] == [False]
    # a node serving with the lake: two late spans of that hour go out when it stops
    with serving(db, lake=str(lake), node_id="n1", lake_delay_s=0.0, lake_interval_s=3600.0) as node:
        _spans(node, "late", hour + 59 * 60 * 10**9, count=2)
    (part,) = lake_partitions(lake, table="otel_spans")
    assert (part.hour_ns, part.node, part.rows) == (hour, "n1", 6)
    listing = runner.invoke(app, ["lake", "ls", "--lake", str(lake), "--json"])
    assert {(p["table"], p["rows"]) for p in json.loads(listing.stdout)} == {("otel_spans", 6), ("otel_resources", 2)}


def test_prune_deletes_the_hours_past_the_age(shop_lake: ShopLake, tmp_path: Path) -> None:
    import shutil

    lake = tmp_path / "lake"
    shutil.copytree(shop_lake.lake, lake)
    hours = sorted({p.hour_ns for p in lake_partitions(lake)})
    keep_from = hours[-1]  # the newest hour: keep it, prune those that ended by its start
    age_s = (time.time_ns() - keep_from) // 10**9 - 1800  # the cut-off: half an hour into it
    result = CliRunner().invoke(app, ["lake", "prune", "--lake", str(lake), "--older-than", f"{age_s}s", "--json"])
    assert result.exit_code == 0, result.output
    assert {p["hour_ns"] for p in json.loads(result.stdout)} == set(hours[:-1])
    assert {p.hour_ns for p in lake_partitions(lake)} == {keep_from}


def test_glimpse_serve_lake_exports_while_it_runs(tmp_path: Path) -> None:
    db, lake = tmp_path / "node.duckdb", tmp_path / "lake"
    env = {"GLIMPSE_LAKE_DELAY": "0", "GLIMPSE_LAKE_INTERVAL": "0.5"}
    proc = ServerProcess(db, "--lake", str(lake), "--node-id", "edge-1", env=env)
    hour = time.time_ns() // HOUR_NS * HOUR_NS - 2 * HOUR_NS
    try:
        _spans(proc.running(), "svc", hour + 10**9, count=3)
        deadline = time.monotonic() + 30
        while not lake_partitions(lake, table="otel_spans") and time.monotonic() < deadline:
            time.sleep(0.2)  # the loop's next pass, not the stop, exports it
        (part,) = lake_partitions(lake, table="otel_spans")
        assert (part.node, part.hour_ns, part.rows) == ("edge-1", hour, 3)
        code, output = proc.terminate()
        assert code == 0 and "as node edge-1" in output
    finally:
        proc.kill()


def test_an_open_hour_waits_for_its_end(tmp_path: Path) -> None:
    db, lake = tmp_path / "node.duckdb", tmp_path / "lake"
    now = time.time_ns()
    with serving(db) as node:
        _spans(node, "now", now, count=1)
    con = open_read_only(db)
    try:
        assert export_hours(con, lake, "n1", closed_before_ns=now) == []
        assert [p.rows for p in export_hours(con, lake, "n1")] == [1]  # lake export takes it anyway
    finally:
        con.close()


def _spans(node: object, name: str, start_ns: int, *, count: int) -> None:
    provider = TracerProvider(resource=Resource({"service.name": name}))
    provider.add_span_processor(SimpleSpanProcessor(span_exporter("grpc", node)))
    tracer = provider.get_tracer("t")
    for i in range(count):
        tracer.start_span(f"{name}-{i}", kind=SpanKind.SERVER, start_time=start_ns + i).end(end_time=start_ns + i + 5)
    provider.shutdown()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lake", "ls"], "no lake given"),
        (["lake", "ls", "--lake", "/nonexistent/lake"], "no lake at /nonexistent/lake"),
        (["lake", "ls", "--lake", ".", "--table", "spans"], "unknown table 'spans'"),
        (["lake", "export", "--db", "/nonexistent.duckdb", "--lake", "x"], "no database at /nonexistent.duckdb"),
        (["spark", "graph", "--lake", "EMPTY"], "holds no spans"),
        (["spark", "graph", "--lake", "EMPTY", "--master", "nowhere:7077"], "not a Spark master URL"),
        (["spark", "sql", "SELECT 1", "--lake", "/nonexistent/lake"], "no lake at /nonexistent/lake"),
    ],
)
def test_bad_input_is_one_clear_line(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GLIMPSE_LAKE", raising=False)
    (tmp_path / "empty").mkdir()
    args = [str(tmp_path / "empty") if arg == "EMPTY" else arg for arg in args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_a_bad_node_id_stops_the_export(tmp_path: Path) -> None:
    with serving(tmp_path / "n.duckdb"):
        pass
    result = CliRunner().invoke(
        app, ["lake", "export", "--db", str(tmp_path / "n.duckdb"), "--lake", str(tmp_path / "l"), "--node-id", "a/b"]
    )
    assert result.exit_code == 1 and "node id" in result.stderr
