"""GET /metrics: what the receivers, the writer and the API did, counted exactly, in a
format Prometheus (the library's parser, and a real Prometheus where one is installed) reads."""

from __future__ import annotations

import gzip
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2
from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult, MetricsData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExportResult
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from collector.ingest import Ingestor
from collector.signals import SIGNALS
from glimpse.metrics import SelfMetrics
from storage.store import open_writable
from storage.writer import DEFAULT_MAX_QUEUED_ROWS, BatchWriter
from tests.conftest import Running, serving
from tests.otlp_clients import PROTOCOLS, log_exporter, metric_exporter, span_exporter
from tests.spans import raw_request, sdk_spans

CAP = 1024 * 1024
TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
GARBAGE = b"\xff\xff\xff\xff\x07\x00\x01"
SPANS = {"grpc": 30, "http": 20}
LOGS = {"grpc": 4, "http": 3}
POINTS = {"grpc": 3, "http": 5}


@pytest.fixture
def capped(db_path: Path) -> Iterator[Running]:
    with serving(db_path, max_request_bytes=CAP) as started:
        yield started


class Scrape:
    """One scrape of /metrics, parsed by prometheus_client's own parser."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self.samples = [sample for family in self.families.values() for sample in family.samples]

    def value(self, name: str, **labels: str) -> float:
        """The one sample named ``name`` whose labels include ``labels``."""
        (match,) = self.matching(name, **labels)
        return match.value

    def matching(self, name: str, **labels: str) -> list[Sample]:
        return [s for s in self.samples if s.name == name and labels.items() <= s.labels.items()]

    def total(self, name: str, **labels: str) -> float:
        return sum(sample.value for sample in self.matching(name, **labels))


def scrape(url: str) -> Scrape:
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)


def _points(count: int) -> MetricsData:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=Resource({"service.name": "meters"}))
    counter = provider.get_meter("glimpse.tests").create_counter("requests")
    for index in range(count):
        counter.add(1, {"route": f"/{index}"})
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    return data


def _emit_logs(protocol: str, running: Running, count: int) -> None:
    provider = LoggerProvider(resource=Resource({"service.name": "loggers"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter(protocol, running)))
    logger = provider.get_logger("glimpse.tests")
    for index in range(count):
        logger.emit(
            LogRecord(timestamp=1_700_000_000_000_000_000 + index, severity_number=SeverityNumber.INFO, body="x")
        )
    provider.shutdown()


def _send_good_data(running: Running) -> None:
    for protocol in PROTOCOLS:
        exporter = span_exporter(protocol, running)
        spans = sdk_spans(SPANS[protocol], seed=PROTOCOLS.index(protocol), service=f"svc-{protocol}")
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        exporter.shutdown()
        metrics = metric_exporter(protocol, running)
        assert metrics.export(_points(POINTS[protocol])) is MetricExportResult.SUCCESS
        metrics.shutdown()
        _emit_logs(protocol, running, LOGS[protocol])


def _post(running: Running, body: bytes, content_type: str = "application/x-protobuf", encoding: str = "") -> int:
    headers = {"content-type": content_type, **({"content-encoding": encoding} if encoding else {})}
    return httpx.post(f"{running.http_url}/v1/traces", content=body, headers=headers).status_code


def _grpc_export(running: Running, body: bytes) -> grpc.StatusCode:
    with grpc.insecure_channel(running.grpc_endpoint) as channel:
        try:
            channel.unary_unary(TRACE_EXPORT)(body, timeout=10)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def _mixed_request() -> bytes:
    """Three spans of which one has a trace id of the wrong length: partial success."""
    request = TRACE_SERVICE_PB2.ExportTraceServiceRequest.FromString(raw_request(2, seed=5)[0])
    spans = request.resource_spans[0].scope_spans[0].spans
    spans.append(TRACE_PB2.Span(trace_id=bytes(15), span_id=bytes.fromhex("b7ad6b7169203332"), name="bad"))
    return bytes(request.SerializeToString())


def _send_bad_data(running: Running) -> None:
    assert _post(running, GARBAGE) == 400
    assert _post(running, gzip.compress(bytes(1000))[:-9], encoding="gzip") == 400  # cut short: refused unread
    assert _post(running, b"{}", content_type="text/plain") == 415
    assert _post(running, b"x", encoding="br") == 415
    assert _post(running, bytes(CAP + 1)) == 413
    assert _post(running, gzip.compress(bytes(8 * CAP)), encoding="gzip") == 413
    assert _post(running, _mixed_request()) == 200
    assert _grpc_export(running, GARBAGE) is grpc.StatusCode.INVALID_ARGUMENT
    assert _grpc_export(running, _mixed_request()) is grpc.StatusCode.OK


def test_receivers_count_items_and_requests_per_signal_transport_and_reason(capped: Running) -> None:
    _send_good_data(capped)
    _send_bad_data(capped)
    metrics = scrape(capped.api_url)

    for protocol in PROTOCOLS:
        otlp = {"receiver": "otlp", "transport": protocol}
        mixed_valid, mixed_invalid = 2, 1
        assert metrics.value("otelcol_receiver_accepted_spans_total", **otlp) == SPANS[protocol] + mixed_valid
        assert metrics.value("otelcol_receiver_accepted_metric_points_total", **otlp) == POINTS[protocol]
        assert metrics.value("otelcol_receiver_accepted_log_records_total", **otlp) == LOGS[protocol]
        assert metrics.value("otelcol_receiver_refused_spans_total", reason="partial", **otlp) == mixed_invalid
        assert metrics.total("otelcol_receiver_refused_spans_total", **otlp) == mixed_invalid
        assert metrics.total("otelcol_receiver_refused_metric_points_total", **otlp) == 0
        assert metrics.total("otelcol_receiver_refused_log_records_total", **otlp) == 0
        requests = {"transport": protocol}
        assert metrics.value("glimpse_receiver_accepted_requests_total", signal="traces", **requests) == 2
        assert metrics.value("glimpse_receiver_accepted_requests_total", signal="metrics", **requests) == 1
        assert metrics.value("glimpse_receiver_accepted_requests_total", signal="logs", **requests) == LOGS[protocol]

    refused = {
        (sample.labels["transport"], sample.labels["reason"]): sample.value
        for sample in metrics.matching("glimpse_receiver_refused_requests_total", signal="traces")
        if sample.value
    }
    assert refused == {
        ("http", "invalid"): 2,
        ("http", "unsupported_media"): 2,
        ("http", "too_large"): 2,
        ("grpc", "invalid"): 1,
    }
    assert metrics.total("glimpse_receiver_refused_requests_total", signal="metrics") == 0
    assert metrics.total("glimpse_receiver_refused_requests_total", signal="logs") == 0


def test_store_metrics_agree_with_the_store(capped: Running) -> None:
    _send_good_data(capped)
    tables = [row["table_name"] for row in capped.sql("SELECT table_name FROM duckdb_tables() ORDER BY 1")]
    received = [table for table in tables if table.startswith("otel_") and not table.endswith("_index")]  # derived
    stored = {table: capped.scalar(f"SELECT count(*) FROM {table}") for table in received}
    metrics = scrape(capped.api_url)  # after the queries, which committed everything (sync)

    committed = {s.labels["table"]: s.value for s in metrics.matching("glimpse_store_committed_rows_total")}
    assert committed == {table: rows for table, rows in stored.items() if rows}
    assert committed["otel_spans"] == sum(SPANS.values())
    assert committed["otel_logs"] == sum(LOGS.values())

    for histogram in ("glimpse_store_commit_duration_seconds", "glimpse_journal_fsync_duration_seconds"):
        count = metrics.value(f"{histogram}_count")
        buckets = [s.value for s in metrics.matching(f"{histogram}_bucket")]
        assert count > 0 and metrics.value(f"{histogram}_sum") > 0
        assert buckets == sorted(buckets) and buckets[-1] == count  # cumulative, +Inf last
    requests = metrics.total("glimpse_receiver_accepted_requests_total")
    assert metrics.value("glimpse_journal_fsync_duration_seconds_count") <= requests  # a group per fsync
    assert metrics.value("glimpse_journal_written_bytes_total") > 0
    assert metrics.value("glimpse_writer_queued_rows") == 0
    assert metrics.value("glimpse_writer_queue_capacity_rows") == DEFAULT_MAX_QUEUED_ROWS
    assert metrics.value("glimpse_journal_segments") >= 0 and metrics.value("glimpse_journal_failed_segments") == 0
    assert metrics.value("glimpse_store_duplicate_spans_total") == 0
    assert metrics.matching("glimpse_retention_dropped_rows_total") == []
    # this little data went through DuckDB's WAL and sits in memory until a checkpoint
    duckdb_memory = {s.labels["tag"]: s.value for s in metrics.matching("glimpse_duckdb_memory_bytes")}
    assert duckdb_memory["IN_MEMORY_TABLE"] > 0
    assert sum(duckdb_memory.values()) <= 256 * 1000**2  # the writer's DuckDB memory limit


def test_api_latency_is_recorded_per_route_template(running: Running) -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    assert httpx.get(f"{running.api_url}/api/health").status_code == 200
    assert httpx.get(f"{running.api_url}/api/traces/{trace_id}").status_code == 404  # timed all the same
    assert httpx.get(f"{running.api_url}/api/services").status_code == 200
    metrics = scrape(running.api_url)

    def count(route: str) -> float:
        return metrics.value("glimpse_api_request_duration_seconds_count", route=route)

    assert count("/api/health") == 1
    assert count("/api/traces/{trace_id}") == 1
    assert count("/api/services") == 1
    assert count("/api/rca") == 0  # every route is there from the start
    assert trace_id not in metrics.text  # templates, not URLs: the label values stay few
    assert metrics.value("process_resident_memory_bytes") > 0
    assert metrics.value("process_open_fds") > 0
    assert metrics.value("glimpse_process_threads") > 1


def test_the_exposition_parses_and_every_family_is_documented(running: Running) -> None:
    for url in (running.api_url, f"http://127.0.0.1:{running.info.console_port}"):
        metrics = scrape(url)
        assert all(family.documentation for family in metrics.families.values())
        names = [line.split()[2] for line in metrics.text.splitlines() if line.startswith("# TYPE")]
        assert len(names) == len(set(names))
        assert not [name for name in names if name.endswith("_created")]
        for family in (
            "otelcol_receiver_accepted_spans",
            "glimpse_store_commit_duration_seconds",
            "process_resident_memory_bytes",
        ):
            assert family in metrics.families


def test_a_full_queue_is_counted_as_refused_requests(db_path: Path) -> None:
    with serving(db_path, max_queued_rows=10) as running:
        writer = running.server.writer if running.server is not None else None
        assert writer is not None
        body, _ = raw_request(10, seed=1)
        with grpc.insecure_channel(running.grpc_endpoint) as channel:
            with writer.hold():
                first = channel.unary_unary(TRACE_EXPORT).future(body, timeout=30)
                deadline = time.monotonic() + 10
                while writer.queued_rows < 10:
                    assert time.monotonic() < deadline
                    time.sleep(0.01)
                assert _grpc_export(running, body) is grpc.StatusCode.UNAVAILABLE
                assert _post(running, body) == 503
            first.result()
        metrics = scrape(running.api_url)
    for transport in PROTOCOLS:
        assert (
            metrics.value(
                "glimpse_receiver_refused_requests_total", signal="traces", transport=transport, reason="queue_full"
            )
            == 1
        )
    assert metrics.total("otelcol_receiver_refused_spans_total") == 0  # refused before decoding: count unknown
    assert metrics.value("otelcol_receiver_accepted_spans_total", transport="grpc") == 10


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def accepted(self, signal: str, transport: str, items: int, rejected: int = 0) -> None:
        self.calls.append(("accepted", signal, transport, items, rejected))

    def refused(self, signal: str, transport: str, reason: str, items: int | None = None) -> None:
        self.calls.append(("refused", signal, transport, reason, items))


def test_a_request_refused_after_decoding_counts_its_items(tmp_path: Path) -> None:
    path = tmp_path / "closed.duckdb"
    writer = BatchWriter(open_writable(path), database_path=str(path))
    writer.start()
    recorder = _Recorder()
    ingestor = Ingestor(writer, observer=recorder)  # type: ignore[arg-type]
    body, _ = raw_request(4, seed=3)
    ingestor.export(SIGNALS["traces"], body, json=False, transport="grpc")
    writer.close()
    with pytest.raises(Exception, match="shutting down"):
        ingestor.export(SIGNALS["traces"], body, json=False, transport="http")
    with pytest.raises(Exception, match="not a valid"):
        ingestor.export(SIGNALS["metrics"], GARBAGE, json=False, transport="grpc")
    ingestor.close()
    assert recorder.calls == [
        ("accepted", "traces", "grpc", 4, 0),
        ("refused", "traces", "http", "unavailable", 4),
        ("refused", "metrics", "grpc", "invalid", None),
    ]


def test_scrape_time_figures_come_from_the_stats_and_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "db.journal"
    journal.mkdir()
    (journal / "00000001.seg").write_bytes(bytes(100))
    (journal / "00000002.seg").write_bytes(bytes(23))
    (journal / "00000001-1.failed").write_bytes(bytes(7))
    stats = {
        "queued_rows": 42,
        "duplicate_spans": 3,
        "retention": {"dropped_rows": {"otel_spans": 1000, "otel_logs": 10}, "passes": 2},
    }
    metrics = SelfMetrics(stats=lambda: stats, journal_directory=journal, queue_capacity_rows=50)
    parsed = Scrape(metrics.exposition().decode())
    assert parsed.value("glimpse_writer_queued_rows") == 42
    assert parsed.value("glimpse_writer_queue_capacity_rows") == 50
    assert parsed.value("glimpse_store_duplicate_spans_total") == 3
    assert parsed.value("glimpse_journal_segments") == 2 and parsed.value("glimpse_journal_bytes") == 123
    assert parsed.value("glimpse_journal_failed_segments") == 1
    assert parsed.value("glimpse_retention_dropped_rows_total", table="otel_spans") == 1000
    assert parsed.value("glimpse_retention_dropped_rows_total", table="otel_logs") == 10
    assert parsed.value("glimpse_retention_passes_total") == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("prometheus") is None, reason="the prometheus binary is not installed")
def test_a_real_prometheus_scrapes_the_server(running: Running, tmp_path: Path) -> None:
    exporter = span_exporter("grpc", running)
    assert exporter.export(sdk_spans(12, seed=4)) is SpanExportResult.SUCCESS
    exporter.shutdown()
    config = tmp_path / "prometheus.yml"
    target = running.api_url.split("://", 1)[1]
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        f"scrape_configs:\n  - job_name: glimpse\n    static_configs:\n      - targets: ['{target}']\n"
    )
    port = _free_port()
    command = [
        "prometheus",
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    log = (tmp_path / "prometheus.log").open("wb")
    prometheus = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        query = 'otelcol_receiver_accepted_spans_total{job="glimpse",transport="grpc"}'
        result = _query_until_found(f"http://127.0.0.1:{port}", query, timeout_s=60)
        assert float(result[0]["value"][1]) == 12
        assert result[0]["metric"]["receiver"] == "otlp"
        for documented in _documented_queries():  # the docs' PromQL runs
            answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": documented}).json()
            assert answer["status"] == "success", (documented, answer)
    finally:
        prometheus.terminate()
        prometheus.wait(30)
        log.close()


DOCS = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def _documented_queries() -> list[str]:
    """The PromQL expressions of docs/metrics.md: its promql block, one per comment."""
    (block,) = re.findall(r"```promql\n(.*?)```", DOCS.read_text(), re.S)
    return [query.strip() for query in re.split(r"^#.*$", block, flags=re.M) if query.strip()]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_the_documented_scrape_config_and_alert_rules_are_valid(tmp_path: Path) -> None:
    config, rules = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), re.S)
    (tmp_path / "prometheus.yml").write_text(config)
    (tmp_path / "rules.yml").write_text(rules)
    for check in (["check", "config", "prometheus.yml"], ["check", "rules", "rules.yml"]):
        result = subprocess.run(["promtool", *check], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


def _query_until_found(base: str, query: str, *, timeout_s: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=5).json()
        except (httpx.HTTPError, ValueError):
            answer = {}
        result: list[dict[str, Any]] = answer.get("data", {}).get("result", [])
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"Prometheus found no {query} in {timeout_s} s")
