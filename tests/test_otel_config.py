"""Every Collector configuration in otel-config/ is complete and points at glimpse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "otel-config").glob("*.yaml"))
GRPC_EXPORTERS = {"otlp_grpc", "otlp"}
HTTP_EXPORTERS = {"otlp_http", "otlphttp"}
ADAPTER_EVIDENCE = {
    "kubernetes.yaml": {"receivers": {"kubeletstats", "k8s_cluster"}, "processors": {"k8sattributes"}},
    "docker.yaml": {"receivers": {"docker_stats"}, "processors": {"resourcedetection"}},
    "host.yaml": {"receivers": {"hostmetrics"}, "processors": {"resourcedetection"}},
    "serverless.yaml": {"receivers": {"otlp"}, "processors": {"batch"}},
}


def _kind(name: str) -> str:
    return name.split("/")[0]


def test_every_platform_has_a_configuration() -> None:
    assert {path.name for path in CONFIGS} == set(ADAPTER_EVIDENCE)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_pipelines_are_complete_and_export_to_glimpse(path: Path) -> None:
    config: dict[str, Any] = yaml.safe_load(path.read_text())
    pipelines = config["service"]["pipelines"]
    assert {_kind(name) for name in pipelines} == {"traces", "metrics", "logs"}
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    for pipeline in pipelines.values():
        assert pipeline["receivers"] and pipeline["exporters"]
        for section in used:
            for component in pipeline.get(section, []):
                assert component in config[section], f"{path.name}: {component} is not defined"
                used[section].add(component)
    for section, names in used.items():
        assert set(config.get(section) or {}) == names, f"{path.name}: defined but unused {section}"
    for name, exporter in config["exporters"].items():
        endpoint = exporter["endpoint"]
        if _kind(name) in GRPC_EXPORTERS:
            assert endpoint in ("${env:GLIMPSE_ENDPOINT}",) or endpoint.endswith(":4317")
        elif _kind(name) in HTTP_EXPORTERS:
            assert endpoint in ("${env:GLIMPSE_HTTP_ENDPOINT}",) or endpoint.endswith(":4318")
        else:
            pytest.fail(f"{path.name}: exporter {name} does not speak OTLP to glimpse")
    otlp = config["receivers"]["otlp"]["protocols"]
    assert otlp["grpc"]["endpoint"].endswith(":4317") and otlp["http"]["endpoint"].endswith(":4318")
    evidence = ADAPTER_EVIDENCE[path.name]
    assert evidence["receivers"] <= used["receivers"] and evidence["processors"] <= used["processors"]


def test_the_metrics_the_adapters_read_are_enabled() -> None:
    kubernetes = yaml.safe_load((CONFIGS[0].parent / "kubernetes.yaml").read_text())
    enabled = kubernetes["receivers"]["kubeletstats"]["metrics"]
    assert (
        enabled["k8s.pod.cpu_limit_utilization"]["enabled"] and enabled["k8s.pod.memory_limit_utilization"]["enabled"]
    )
    host = yaml.safe_load((CONFIGS[0].parent / "host.yaml").read_text())
    scrapers = host["receivers"]["hostmetrics"]["scrapers"]
    assert scrapers["cpu"]["metrics"]["system.cpu.utilization"]["enabled"]
    assert scrapers["memory"]["metrics"]["system.memory.utilization"]["enabled"]
    assert "network" in scrapers
    docker = yaml.safe_load((CONFIGS[0].parent / "docker.yaml").read_text())
    assert docker["receivers"]["docker_stats"]["metrics"]["container.restarts"]["enabled"]
