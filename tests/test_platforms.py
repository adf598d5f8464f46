"""One entity model for Kubernetes, Docker, hosts, cloud VMs and serverless."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from glimpse.cli import app
from tests.conftest import Running
from tests.trace_builder import TraceBuilder, send
from tracing.platforms import detect_entity

K8S = {
    "k8s.pod.name": "cart-7f9c",
    "k8s.node.name": "node-a",
    "k8s.namespace.name": "shop",
    "k8s.cluster.name": "prod-eu",
    "cloud.availability_zone": "eu-west-1a",
    "cloud.region": "eu-west-1",
    "container.id": "abc123",
    "host.name": "ip-10-0-0-1",
}
DOCKER = {"container.id": "0123456789abcdef0123", "container.name": "billing-1", "host.name": "docker-host"}
DOCKER_NO_NAME = {"container.id": "0123456789abcdef0123"}
EC2 = {
    "cloud.provider": "aws",
    "cloud.platform": "aws_ec2",
    "cloud.region": "us-east-1",
    "cloud.availability_zone": "us-east-1b",
    "cloud.account.id": "1234",
    "host.id": "i-0abc",
    "host.name": "web-1",
    "service.instance.id": "web-1-pid-77",
}
GCE = {"cloud.provider": "gcp", "cloud.platform": "gcp_compute_engine", "host.name": "vm-2", "process.pid": 42}
LAMBDA = {
    "cloud.provider": "aws",
    "cloud.platform": "aws_lambda",
    "cloud.region": "eu-central-1",
    "faas.name": "resize-image",
    "faas.instance": "2021/06/28/[$LATEST]2f399eb1",
    "cloud.account.id": "99",
}
HOST = {"host.name": "bare-metal-3", "process.pid": 4242}
INSTANCE_ONLY = {"service.instance.id": "627cc493-f310-47de-96bd-71410b7dec09"}


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (K8S, ("kubernetes", "pod", "cart-7f9c", "node-a", "eu-west-1a", "eu-west-1", "prod-eu", "shop")),
        (DOCKER, ("docker", "container", "billing-1", "docker-host", None, None, None, None)),
        (DOCKER_NO_NAME, ("docker", "container", "0123456789ab", None, None, None, None, None)),
        (EC2, ("aws_vm", "process", "web-1-pid-77", "web-1", "us-east-1b", "us-east-1", "1234", None)),
        (GCE, ("gcp_vm", "process", "vm-2:42", "vm-2", None, None, None, None)),
        (
            LAMBDA,
            (
                "serverless",
                "function_instance",
                "2021/06/28/[$LATEST]2f399eb1",
                None,
                None,
                "eu-central-1",
                "99",
                "resize-image",
            ),
        ),
        (HOST, ("host", "process", "bare-metal-3:4242", "bare-metal-3", None, None, None, None)),
        (INSTANCE_ONLY, ("unknown", "instance", "627cc493-f310-47de-96bd-71410b7dec09", None, None, None, None, None)),
        ({}, ("unknown", "instance", None, None, None, None, None, None)),
    ],
)
def test_detection(resource: dict[str, Any], expected: tuple[Any, ...]) -> None:
    entity = detect_entity(resource)
    assert (
        entity.platform,
        entity.instance_kind,
        entity.instance,
        entity.host,
        entity.zone,
        entity.region,
        entity.cluster,
        entity.namespace,
    ) == expected


def test_platforms_through_otlp_api_and_cli(running: Running) -> None:
    t = TraceBuilder(seed=50)
    for index, resource in enumerate((K8S, DOCKER, EC2, LAMBDA, HOST)):
        t.new_trace()
        t.span(
            f"svc-{index}",
            "serve",
            kind="server",
            start_ms=index,
            end_ms=index + 10,
            resource=resource,
            error=index == 0,
        )
    t.new_trace()
    t.span("svc-0", "serve", kind="server", start_ms=0, end_ms=30, resource=K8S)
    t.span("svc-9", "serve", kind="server", start_ms=0, end_ms=20, resource=K8S)  # a second service in the pod
    send(running.grpc_endpoint, t.spans)
    body = httpx.get(f"{running.api_url}/api/platforms").json()
    entities = {(e["platform"], e["instance"]): e for e in body["entities"]}
    assert set(entities) == {
        ("kubernetes", "cart-7f9c"),
        ("docker", "billing-1"),
        ("aws_vm", "web-1-pid-77"),
        ("serverless", "2021/06/28/[$LATEST]2f399eb1"),
        ("host", "bare-metal-3:4242"),
    }
    pod = entities[("kubernetes", "cart-7f9c")]
    assert pod["services"] == ["svc-0", "svc-9"] and pod["host"] == "node-a" and pod["cluster"] == "prod-eu"
    assert pod["spans"] == 3 and pod["error_rate"] == round(1 / 3, 6)
    assert pod["p95_ms"] == pytest.approx(29.0)  # svc-0's p95 of (10, 30) ms; svc-9 has 20
    result = CliRunner().invoke(app, ["platforms", "--db", running.db_path, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["entities"] == body["entities"]


def _metrics_request(resources: list[tuple[dict[str, Any], list[Any]]]) -> bytes:
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as METRICS_SERVICE_PB2
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as METRICS_PB2
    from opentelemetry.proto.resource.v1 import resource_pb2 as RESOURCE_PB2

    from tests.trace_builder import key_values

    return METRICS_SERVICE_PB2.ExportMetricsServiceRequest(
        resource_metrics=[
            METRICS_PB2.ResourceMetrics(
                resource=RESOURCE_PB2.Resource(attributes=key_values(resource)),
                scope_metrics=[METRICS_PB2.ScopeMetrics(metrics=metrics)],
            )
            for resource, metrics in resources
        ]
    ).SerializeToString()


def _gauge(name: str, unit: str, points: list[tuple[float, float, dict[str, Any]]]) -> Any:
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as METRICS_PB2

    from tests.trace_builder import key_values

    return METRICS_PB2.Metric(
        name=name,
        unit=unit,
        gauge=METRICS_PB2.Gauge(
            data_points=[
                METRICS_PB2.NumberDataPoint(time_unix_nano=int(t * 1e9), as_double=v, attributes=key_values(a))
                for t, v, a in points
            ]
        ),
    )


def _sum(name: str, unit: str, points: list[tuple[float, int, dict[str, Any]]], *, delta: bool = False) -> Any:
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as METRICS_PB2

    from tests.trace_builder import key_values

    return METRICS_PB2.Metric(
        name=name,
        unit=unit,
        sum=METRICS_PB2.Sum(
            aggregation_temporality=1 if delta else 2,
            is_monotonic=True,
            data_points=[
                METRICS_PB2.NumberDataPoint(time_unix_nano=int(t * 1e9), as_int=v, attributes=key_values(a))
                for t, v, a in points
            ],
        ),
    )


def test_receiver_metrics_normalised_per_entity(running: Running) -> None:
    import grpc

    base = 1_700_000_040.0  # buckets of 60 s from the epoch: [1_700_000_040, 1_700_000_100) is one
    host = {"host.name": "bare-metal-3", "os.type": "linux"}
    body = _metrics_request(
        [
            (
                K8S,
                [  # kubeletstats
                    _gauge("k8s.pod.cpu_limit_utilization", "1", [(base - 30, 0.9, {}), (base + 5, 0.42, {})]),
                    _gauge("k8s.pod.memory.usage", "By", [(base + 5, 268435456.0, {})]),
                    _sum(
                        "k8s.pod.network.io",
                        "By",
                        [
                            (base + 5, 1000, {"direction": "receive", "interface": "eth0"}),
                            (base + 35, 4000, {"direction": "receive", "interface": "eth0"}),
                            (base + 5, 0, {"direction": "transmit", "interface": "eth0"}),
                            (base + 35, 600, {"direction": "transmit", "interface": "eth0"}),
                        ],
                    ),
                ],
            ),
            (
                DOCKER,
                [  # docker_stats: percentages
                    _gauge("container.cpu.utilization", "1", [(base + 5, 35.0, {})]),
                    _gauge("container.memory.percent", "1", [(base + 5, 50.0, {})]),
                    _sum("container.restarts", "{restarts}", [(base + 5, 1, {}), (base + 50, 3, {})]),
                ],
            ),
            (
                host,
                [  # hostmetrics: time share per CPU and state
                    _gauge(
                        "system.cpu.utilization",
                        "1",
                        [
                            (base + 5, 0.8, {"cpu": "cpu0", "state": "idle"}),
                            (base + 5, 0.2, {"cpu": "cpu0", "state": "user"}),
                            (base + 5, 0.6, {"cpu": "cpu1", "state": "idle"}),
                        ],
                    ),
                    _gauge(
                        "system.memory.utilization",
                        "1",
                        [(base + 5, 0.65, {"state": "used"}), (base + 5, 0.35, {"state": "free"})],
                    ),
                ],
            ),
            (
                LAMBDA,
                [  # FaaS semantic conventions, delta sums
                    _sum("faas.invocations", "{invocation}", [(base + 5, 5, {}), (base + 20, 7, {})], delta=True),
                    _sum("faas.coldstarts", "{coldstart}", [(base + 5, 1, {})], delta=True),
                ],
            ),
        ]
    )
    with grpc.insecure_channel(running.grpc_endpoint) as channel:
        channel.unary_unary("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")(body, timeout=10)
    entities = {
        (e["platform"], e["instance"], e["host"]): e
        for e in httpx.get(f"{running.api_url}/api/platforms").json()["entities"]
    }
    assert entities[("kubernetes", "cart-7f9c", "node-a")]["resources"] == {
        "cpu_utilization": 0.42,
        "memory_usage_bytes": 268435456.0,
        "network_in_bytes_per_s": 50.0,
        "network_out_bytes_per_s": 10.0,  # 3000 B and 600 B over 60 s
    }
    assert entities[("docker", "billing-1", "docker-host")]["resources"] == {
        "cpu_utilization": 0.35,
        "memory_utilization": 0.5,
        "restarts": 2.0,
    }
    assert entities[("host", None, "bare-metal-3")]["resources"] == {
        "cpu_utilization": 0.3,
        "memory_utilization": 0.65,
    }  # 1 - mean idle (0.8, 0.6)
    assert entities[("serverless", "2021/06/28/[$LATEST]2f399eb1", None)]["resources"] == {
        "invocations": 12.0,
        "cold_starts": 1.0,
    }
    assert entities[("host", None, "bare-metal-3")]["services"] == []
    table = CliRunner().invoke(app, ["platforms", "--db", running.db_path], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    for text in ("cpu 42%", "in 50 B/s", "restarts 2", "cold starts 1", "bare-metal-3"):
        assert text in table.stdout
    series = httpx.get(f"{running.api_url}/api/platforms/metrics", params={"bucket": 60}).json()["series"]
    pod_cpu = [
        (s["bucket_start_ns"], s["signals"].get("cpu_utilization")) for s in series if s["instance"] == "cart-7f9c"
    ]
    assert pod_cpu == [(int((base - 60) * 1e9), 0.9), (int(base * 1e9), 0.42)]  # one value per minute
    assert httpx.get(f"{running.api_url}/api/platforms/metrics", params={"bucket": 0}).status_code == 400
