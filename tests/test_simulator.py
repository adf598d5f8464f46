"""The simulator: topologies as data, real SDK telemetry into a real server, faults and labels."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Running, start_server
from tracing.simulator.faults import FAULT_TYPES, Fault, FaultError, fault_targets
from tracing.simulator.runner import build_instances, run_history, write_labels
from tracing.simulator.topology import TopologyError, available_topologies, load_topology

START_NS = 1_700_000_000_000_000_000


def test_bundled_topologies_describe_the_systems_the_issue_asks_for() -> None:
    assert available_topologies() == ["large", "shop"]
    shop = load_topology("shop")
    assert len(shop.services) >= 10
    assert {s.protocol for s in shop.services.values()} == {"http", "grpc"}
    kinds = [d.kind for d in shop.dependencies.values()]
    assert kinds.count("database") >= 3  # two databases and a cache
    assert {d.system for d in shop.dependencies.values()} >= {"postgresql", "mongodb", "redis", "kafka"}
    assert "external" in kinds and "messaging" in kinds
    consumers = [c for s in shop.services.values() for o in s.operations.values() for c in o.calls if c.consumer]
    assert consumers, "a message queue with an asynchronous consumer"
    large = load_topology("large")
    assert len(large.services) >= 30
    assert any(c.parallel for s in large.services.values() for o in s.operations.values() for c in o.calls)


def test_a_topology_with_a_dangling_call_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "name: broken\nnodes: [{name: n1, zone: z}]\nentrypoints: [{call: 'a GET /'}]\n"
        "services:\n  a:\n    operations:\n      'GET /': {calls: [{call: 'b Missing'}]}\n"
    )
    with pytest.raises(TopologyError, match="calls unknown b Missing"):
        load_topology(str(path))
    with pytest.raises(TopologyError, match="unknown topology"):
        load_topology("nope")


def test_pods_spread_over_several_nodes_deterministically() -> None:
    shop = load_topology("shop")
    first, second = build_instances(shop, 3), build_instances(shop, 3)
    assert first == second
    nodes = {i.node for pods in first.values() for i in pods}
    assert len(nodes) == len(shop.nodes)
    assert len({i.pod for pods in first.values() for i in pods}) == sum(s.replicas for s in shop.services.values())


def test_an_unknown_fault_or_target_is_refused(db_path: Path) -> None:
    with pytest.raises(FaultError, match="unknown fault"):
        run_history("shop", "127.0.0.1:1", start_ns=START_NS, duration_s=1, faults=[Fault("meteor", "ad", 0, 1)])
    with pytest.raises(FaultError, match="no database named"):
        run_history("shop", "127.0.0.1:1", start_ns=START_NS, duration_s=1, faults=[Fault("database", "ad", 0, 1)])


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, object]]]:
    """Four simulated minutes of the shop with a bad deploy of payment in the last one."""
    db_path = tmp_path_factory.mktemp("sim") / "glimpse.duckdb"
    server = start_server(db_path)
    assert server.info is not None
    running = Running(server, server.info, str(db_path))
    fault = Fault("bad_deploy", "payment", 180, 240)
    result = run_history(
        "shop", running.grpc_endpoint, start_ns=START_NS, duration_s=240, seed=5, faults=[fault], rate_per_s=4
    )
    labels_path = db_path.parent / "labels.json"
    write_labels(result, labels_path)
    try:
        yield running, json.loads(labels_path.read_text())
    finally:
        server.stop()


def test_every_simulated_span_arrives_with_explicit_times(history: tuple[Running, dict[str, object]]) -> None:
    running, labels = history
    stored = running.scalar("SELECT count(*) FROM otel_traces")
    assert stored == labels["spans"] and stored > 5000
    first, last = running.sql("SELECT epoch_ns(min(timestamp)) AS a, epoch_ns(max(timestamp)) AS b FROM otel_traces")[
        0
    ].values()
    assert START_NS <= first < START_NS + 5 * 10**9 and last < START_NS + 241 * 10**9
    assert running.scalar("SELECT count(DISTINCT trace_id) FROM otel_traces") == labels["traces"]


def test_resources_carry_service_kubernetes_host_and_cloud(history: tuple[Running, dict[str, object]]) -> None:
    running, _ = history
    rows = running.sql(
        "SELECT DISTINCT service_name, service_namespace, service_version, service_instance_id, k8s_pod_name, "
        "k8s_node_name, k8s_namespace_name, k8s_deployment_name, host_name, cloud_provider, cloud_region, "
        "cloud_availability_zone FROM otel_traces"
    )
    assert all(all(value for value in row.values()) for row in rows)
    assert len({r["service_name"] for r in rows}) == len(load_topology("shop").services)
    assert len({r["k8s_node_name"] for r in rows}) == 4
    assert {r["cloud_region"] for r in rows} == {"eu-west-1"}


def test_spans_follow_the_semantic_conventions(history: tuple[Running, dict[str, object]]) -> None:
    running, _ = history
    kinds = {r["span_kind"] for r in running.sql("SELECT DISTINCT span_kind FROM otel_traces")}
    assert kinds == {"Server", "Client", "Producer", "Consumer"}
    http = running.sql(
        "SELECT http_request_method, http_route, http_response_status_code FROM otel_traces "
        "WHERE span_kind = 'Server' AND service_name = 'frontend' LIMIT 1"
    )[0]
    assert http["http_request_method"] in ("GET", "POST") and http["http_route"].startswith("/")
    rpc = running.sql(
        "SELECT rpc_method, span_attributes->>'$.\"rpc.system\"' AS system FROM otel_traces "
        "WHERE span_kind = 'Server' AND service_name = 'currency' LIMIT 1"
    )[0]
    assert rpc == {"rpc_method": "Convert", "system": "grpc"}
    db = running.sql(
        "SELECT db_system_name, server_address FROM otel_traces WHERE db_system_name = 'postgresql' LIMIT 1"
    )[0]
    assert db["server_address"] == "orders-db"
    consumer = running.sql(
        "SELECT c.service_name FROM otel_traces c JOIN otel_traces p ON p.span_id = c.parent_span_id "
        "AND p.trace_id = c.trace_id WHERE c.span_kind = 'Consumer' AND p.span_kind = 'Producer' LIMIT 1"
    )
    assert consumer and consumer[0]["service_name"] in ("accounting", "fraud-detection")


def test_a_bad_deploy_brings_a_new_version_whose_errors_originate_in_it(
    history: tuple[Running, dict[str, object]],
) -> None:
    running, labels = history
    (label,) = labels["faults"]  # type: ignore[misc]
    assert label["type"] == "bad_deploy"
    assert label["target"] == {"kind": "service", "name": "payment", "service": "payment"}
    versions = running.sql(
        "SELECT service_version, epoch_ns(min(timestamp)) AS first, count(*) FILTER (WHERE status_code = 'Error') AS "
        "errors, count(*) AS n FROM otel_traces WHERE service_name = 'payment' AND span_kind = 'Server' GROUP BY 1"
    )
    by_version = {row["service_version"]: row for row in versions}
    assert set(by_version) == {"2.0.1", "2.1.0"}
    assert by_version["2.1.0"]["first"] >= label["start_ns"]
    assert by_version["2.1.0"]["errors"] / by_version["2.1.0"]["n"] > 0.15
    assert by_version["2.0.1"]["errors"] / by_version["2.0.1"]["n"] < 0.02
    exceptions = running.scalar(
        "SELECT count(*) FROM otel_traces WHERE service_name = 'payment' AND len(events) > 0 "
        "AND events[1].name = 'exception'"
    )
    assert exceptions > 0


def test_metrics_arrive_per_instance_in_simulated_time(history: tuple[Running, dict[str, object]]) -> None:
    running, _ = history
    names = {r["metric_name"] for r in running.sql("SELECT DISTINCT metric_name FROM otel_metrics_gauge")}
    assert {"k8s.pod.cpu_limit_utilization", "k8s.pod.memory_limit_utilization", "k8s.pod.memory.usage"} <= names
    histograms = {r["metric_name"] for r in running.sql("SELECT DISTINCT metric_name FROM otel_metrics_histogram")}
    assert histograms == {"http.server.request.duration", "rpc.server.call.duration"}
    times = running.sql(
        "SELECT epoch_ns(min(time_unix)) AS a, epoch_ns(max(time_unix)) AS b, count(DISTINCT time_unix) AS n "
        "FROM otel_metrics_gauge"
    )[0]
    assert times["a"] == START_NS + 30 * 10**9 and times["b"] == START_NS + 240 * 10**9 and times["n"] == 8


@pytest.mark.parametrize("fault_type", sorted(FAULT_TYPES))
def test_every_fault_type_has_targets_in_both_topologies(fault_type: str) -> None:
    for name in ("shop", "large"):
        assert fault_targets(load_topology(name), fault_type)
