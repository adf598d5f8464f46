"""The Parquet lake on an object store: moto's S3 server on loopback (the boundary glimpse
does not own) holds the lake; two real glimpse nodes with ``--lake s3://...``, fed over
OTLP by the OpenTelemetry SDK (split by trace id), export to it; ``lake ls``, DuckDB over
the lake, re-export and prune work on it as on a directory, and give the same answers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs
import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from analyzer.query_service.bottlenecks import bottlenecks
from analyzer.query_service.graphs import service_graph_document
from glimpse.cli import app
from storage.lake import HOUR_NS, LakeError, export_hours, lake_location, lake_partitions, open_lake
from storage.store import open_read_only
from tests.conftest import serving
from tests.lake_nodes import send_shop_traffic

TRACES = 100  # 30 s apart from 20 minutes into an hour: 50 minutes, over two hours
BUCKET = "glimpse-lake"
COUNTS = "SELECT service_name, count(*), count(DISTINCT trace_id), sum(duration) FROM otel_spans GROUP BY 1 ORDER BY 1"


@dataclass(frozen=True)
class S3:
    endpoint: str
    fs: pafs.S3FileSystem

    def uri(self, prefix: str) -> str:
        return f"s3://{BUCKET}/{prefix}?endpoint_override={self.endpoint}&scheme=http&region=us-east-1"

    def keys(self, prefix: str) -> list[str]:
        found = self.fs.get_file_info(pafs.FileSelector(f"{BUCKET}/{prefix}", recursive=True, allow_not_found=True))
        return sorted(info.path for info in found if info.type == pafs.FileType.File)


@dataclass(frozen=True)
class ShopLake:
    uri: str
    prefix: str
    whole: Path  # the store that received every trace
    nodes: tuple[Path, Path]


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    with pytest.MonkeyPatch.context() as env:  # the usual AWS variables: pyarrow reads them
        env.setenv("AWS_ACCESS_KEY_ID", "glimpse-test")
        env.setenv("AWS_SECRET_ACCESS_KEY", "glimpse-test")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            fs = pafs.S3FileSystem(
                endpoint_override=endpoint, scheme="http", region="us-east-1", allow_bucket_creation=True
            )
            fs.create_dir(BUCKET)
            yield S3(endpoint, fs)
        finally:
            server.stop()


@pytest.fixture(scope="module")
def shop(s3: S3, tmp_path_factory: pytest.TempPathFactory) -> ShopLake:
    root = tmp_path_factory.mktemp("s3-shop")
    whole, nodes = root / "whole.duckdb", (root / "a.duckdb", root / "b.duckdb")
    uri = s3.uri("shop")
    base = (time.time_ns() // HOUR_NS - 5) * HOUR_NS + 20 * 60 * 10**9  # closed hours
    settings = {"lake": uri, "lake_delay_s": 0.0, "lake_interval_s": 3600.0}
    with (
        serving(nodes[0], node_id="node-a", **settings) as a,
        serving(nodes[1], node_id="node-b", **settings) as b,
        serving(whole) as everything,
    ):
        send_shop_traffic([a, b], everything, base_ns=base, traces=TRACES)
    return ShopLake(uri, "shop", whole, nodes)  # stopping each node exported its hours


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_nodes_write_their_hours_as_objects_and_lake_ls_lists_them(s3: S3, shop: ShopLake) -> None:
    listing = json.loads(_cli("lake", "ls", "--lake", shop.uri, "--table", "otel_spans", "--json"))
    assert {p["node"] for p in listing} == {"node-a", "node-b"}
    assert len({p["hour_ns"] for p in listing}) >= 2  # the traffic crossed an hour
    assert sum(p["rows"] for p in listing) == 6 * TRACES and all(p["bytes"] > 0 for p in listing)
    keys = s3.keys(shop.prefix)
    # one object per table, hour and node, under its final key: nothing written aside is left
    assert keys and all(key.endswith("/data.parquet") for key in keys)
    assert len(keys) == len(lake_partitions(shop.uri))


def test_duckdb_over_the_object_store_answers_as_the_store_and_as_a_local_lake(shop: ShopLake, tmp_path: Path) -> None:
    local = tmp_path / "lake"
    for node, db in zip(("node-a", "node-b"), shop.nodes, strict=True):
        con = open_read_only(db)
        try:
            export_hours(con, local, node)
        finally:
            con.close()
    remote, on_disk, store = open_lake(shop.uri), open_lake(local), open_read_only(shop.whole)
    try:
        assert remote.execute(COUNTS).fetchall() == store.execute(COUNTS).fetchall()
        assert remote.execute(COUNTS).fetchall() == on_disk.execute(COUNTS).fetchall()
        assert remote.execute("SELECT count(*) FROM otel_resources").fetchone() == (3,)
        for fmt in ("json", "dot"):
            document = service_graph_document(remote, fmt)  # two cursors, in two threads
            assert document == service_graph_document(store, fmt) == service_graph_document(on_disk, fmt)
        assert bottlenecks(remote) == bottlenecks(store)
    finally:
        for con in (remote, on_disk, store):
            con.close()


def test_re_export_is_idempotent_and_replaces_a_partition_whole(s3: S3, shop: ShopLake) -> None:
    export = ("lake", "export", "--db", str(shop.nodes[0]), "--lake", shop.uri, "--node-id", "node-a", "--json")
    assert not [p for p in json.loads(_cli(*export))["partitions"] if p["written"]]
    part = next(p for p in lake_partitions(shop.uri, table="otel_spans") if p.node == "node-a")
    with s3.fs.open_output_stream(part.path) as broken:  # a damaged object is rewritten from the store
        broken.write(b"not parquet")
    written = [p for p in json.loads(_cli(*export))["partitions"] if p["written"]]
    assert [(p["table"], p["hour_ns"], p["rows"]) for p in written] == [("otel_spans", part.hour_ns, part.rows)]
    again = next(p for p in lake_partitions(shop.uri, table="otel_spans") if p.path == part.path)
    assert again.rows == part.rows and again.bytes == part.bytes


def test_prune_deletes_the_objects_of_old_hours(s3: S3, shop: ShopLake) -> None:
    uri = s3.uri("pruned")
    _cli("lake", "export", "--db", str(shop.whole), "--lake", uri, "--node-id", "all")
    hours = sorted({p.hour_ns for p in lake_partitions(uri)})
    age_s = (time.time_ns() - hours[-1]) // 10**9 - 1800  # the cut-off: half an hour into the newest hour
    gone = json.loads(_cli("lake", "prune", "--lake", uri, "--older-than", f"{age_s}s", "--json"))
    assert {p["hour_ns"] for p in gone} == set(hours[:-1])
    assert {p.hour_ns for p in lake_partitions(uri)} == {hours[-1]}
    assert len(s3.keys("pruned")) == 2  # the newest hour's spans and resources


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lake", "ls", "--lake", "URI:nowhere"], "no lake at s3://glimpse-lake/nowhere (not a directory)"),
        (["spark", "graph", "--lake", "URI:shop"], "hadoop-aws-"),
    ],
)
def test_object_store_errors_are_one_clear_line(
    s3: S3, shop: ShopLake, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GLIMPSE_LAKE", raising=False)
    result = CliRunner().invoke(app, [s3.uri(arg[4:]) if arg.startswith("URI:") else arg for arg in args])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert "Traceback" not in result.output and "endpoint_override" not in result.stderr


def test_a_lake_uri_needs_an_existing_bucket(s3: S3) -> None:
    with pytest.raises(LakeError, match="cannot create the lake s3://no-such-bucket/x"):
        lake_location(s3.uri("x").replace(BUCKET, "no-such-bucket"), create=True)
