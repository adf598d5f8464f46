"""Every configuration in otel-config/ is complete and points at glimpse.

Collector files: each pipeline's components are defined, each defined component is used,
and each exporter reaches glimpse's OTLP ports (or, for an agent, the gateway in front of
glimpse). SDK files: the OTLP variables are set, and the endpoint's port matches the protocol. The
secure files send what a glimpse with TLS, client certificates and tokens asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

CONFIG_DIR = Path(__file__).resolve().parents[1] / "otel-config"
CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))
SDK_FILES = sorted((CONFIG_DIR / "sdk").glob("*.env"))
README = CONFIG_DIR / "README.md"

GRPC_EXPORTERS = {"otlp_grpc", "otlp"}
HTTP_EXPORTERS = {"otlp_http", "otlphttp"}
LOADBALANCING_EXPORTERS = {"loadbalancing", "load_balancing"}
GLIMPSE_GRPC = "${env:GLIMPSE_ENDPOINT}"
GLIMPSE_HTTP = "${env:GLIMPSE_HTTP_ENDPOINT}"
GATEWAY_GRPC = "${env:GLIMPSE_GATEWAY_ENDPOINT}"
PORT_BY_PROTOCOL = {"grpc": 4317, "http/protobuf": 4318}


@dataclass(frozen=True)
class Expected:
    """What one Collector file must contain, and where its exporters must point."""

    receivers: frozenset[str]
    processors: frozenset[str]
    exporters: frozenset[str] = frozenset()  # exporter kinds (the part before "/")
    target: str = "glimpse"  # or "gateway": a Collector in front of glimpse


def _expect(
    receivers: set[str], processors: set[str], exporters: set[str] | None = None, target: str = "glimpse"
) -> Expected:
    return Expected(frozenset(receivers), frozenset(processors), frozenset(exporters or ()), target)


EXPECTED = {
    # platform files: the receivers and processors that produce what each adapter reads
    "kubernetes.yaml": _expect({"kubeletstats", "k8s_cluster"}, {"k8sattributes"}),
    "docker.yaml": _expect({"docker_stats"}, {"resourcedetection"}),
    "host.yaml": _expect({"hostmetrics"}, {"resourcedetection"}),
    "serverless.yaml": _expect({"otlp"}, {"batch"}),
    # topology files
    "agent.yaml": _expect({"otlp"}, {"memory_limiter", "resourcedetection", "batch"}, {"otlp_grpc"}, "gateway"),
    "gateway.yaml": _expect({"otlp"}, {"memory_limiter", "batch"}, {"otlp_grpc", "otlp_http"}),
    "loadbalancing.yaml": _expect({"otlp"}, {"memory_limiter", "batch"}, {"loadbalancing", "otlp_grpc"}),
    # security: TLS, a client certificate and a bearer token towards glimpse
    "secure.yaml": _expect({"otlp"}, {"memory_limiter", "batch"}, {"otlp_grpc", "otlp_http"}),
}
SECURE_TLS = {
    "ca_file": "${env:GLIMPSE_CA_FILE}",
    "cert_file": "${env:GLIMPSE_CLIENT_CERT}",
    "key_file": "${env:GLIMPSE_CLIENT_KEY}",
}
SECURE_SDK_VARIABLES = (
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
)

SDK_LAUNCH_HINTS = {
    "python.env": "opentelemetry-instrument",
    "nodejs.env": "--require @opentelemetry/auto-instrumentations-node/register",
    "java.env": "-javaagent:opentelemetry-javaagent.jar",
    "go.env": "otlptracegrpc",
    "secure.env": "opentelemetry-instrument",
}
SDK_REQUIRED = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
)
SDK_RESOURCE_KEYS = {"service.namespace", "service.version", "deployment.environment.name"}
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def _kind(name: str) -> str:
    return name.split("/")[0]


def _load(path: Path) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(path.read_text())
    return config


def _check_exporter(path: Path, name: str, exporter: dict[str, Any], target: str) -> None:
    kind = _kind(name)
    if kind in LOADBALANCING_EXPORTERS:
        assert target == "glimpse", f"{path.name}: {name} balances across glimpse instances"
        assert exporter["routing_key"] == "traceID", f"{path.name}: {name} must keep each trace on one instance"
        assert "endpoint" not in exporter["protocol"]["otlp"], f"{path.name}: the resolver sets {name}'s endpoints"
        hostnames = exporter["resolver"]["static"]["hostnames"]
        assert len(hostnames) >= 2, f"{path.name}: {name} needs several glimpse instances"
        assert all(host.endswith(":4317") for host in hostnames), f"{path.name}: {name} must reach OTLP/gRPC on 4317"
        return
    endpoint = exporter["endpoint"]
    if target == "gateway":
        assert kind in GRPC_EXPORTERS, f"{path.name}: {name} should speak OTLP/gRPC to the gateway"
        assert endpoint == GATEWAY_GRPC, f"{path.name}: {name} must point at the gateway, not at glimpse"
    elif kind in GRPC_EXPORTERS:
        assert endpoint == GLIMPSE_GRPC or endpoint.endswith(":4317"), f"{path.name}: {name} -> {endpoint}"
    elif kind in HTTP_EXPORTERS:
        assert endpoint == GLIMPSE_HTTP or endpoint.endswith(":4318"), f"{path.name}: {name} -> {endpoint}"
    else:
        pytest.fail(f"{path.name}: exporter {name} does not speak OTLP to glimpse")


def test_every_expected_configuration_exists() -> None:
    assert {path.name for path in CONFIGS} == set(EXPECTED)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_pipelines_are_complete_and_export_to_glimpse(path: Path) -> None:
    config = _load(path)
    pipelines = config["service"]["pipelines"]
    assert {_kind(name) for name in pipelines} == {"traces", "metrics", "logs"}
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    for pipeline in pipelines.values():
        assert pipeline["receivers"] and pipeline["exporters"]
        for section in used:
            for component in pipeline.get(section, []):
                assert component in config[section], f"{path.name}: {component} is not defined"
                used[section].add(component)
        if "memory_limiter" in pipeline.get("processors", []):
            assert pipeline["processors"][0] == "memory_limiter", f"{path.name}: memory_limiter must come first"
    for section, names in used.items():
        assert set(config.get(section) or {}) == names, f"{path.name}: defined but unused {section}"
    expected = EXPECTED[path.name]
    for name, exporter in config["exporters"].items():
        _check_exporter(path, name, exporter, expected.target)
    otlp = config["receivers"]["otlp"]["protocols"]
    assert otlp["grpc"]["endpoint"].endswith(":4317") and otlp["http"]["endpoint"].endswith(":4318")
    assert expected.receivers <= used["receivers"] and expected.processors <= used["processors"]
    assert expected.exporters <= {_kind(name) for name in used["exporters"]}


def test_loadbalancing_routes_only_traces_by_trace_id() -> None:
    pipelines = _load(CONFIG_DIR / "loadbalancing.yaml")["service"]["pipelines"]
    for name, pipeline in pipelines.items():
        balanced = {_kind(exporter) in LOADBALANCING_EXPORTERS for exporter in pipeline["exporters"]}
        assert balanced == {_kind(name) == "traces"}, f"{name}: only traces are balanced by trace ID"


def test_the_secure_configuration_sends_tls_a_client_certificate_and_a_token() -> None:
    config = _load(CONFIG_DIR / "secure.yaml")
    for name, exporter in config["exporters"].items():
        assert exporter["tls"] == SECURE_TLS, f"secure.yaml: {name} must verify glimpse and show its certificate"
        assert exporter["headers"] == {"authorization": "Bearer ${env:GLIMPSE_TOKEN}"}, name


def test_the_secure_sdk_example_sends_tls_a_client_certificate_and_a_token() -> None:
    values, _ = _read_env_file(CONFIG_DIR / "sdk" / "secure.env")
    assert urlsplit(values["OTEL_EXPORTER_OTLP_ENDPOINT"]).scheme == "https"
    assert all(values.get(name, "").endswith(".pem") for name in SECURE_SDK_VARIABLES)
    headers = _pairs(values["OTEL_EXPORTER_OTLP_HEADERS"])
    assert headers["authorization"].startswith("Bearer%20")


def test_every_environment_variable_a_configuration_reads_is_documented() -> None:
    readme = README.read_text()
    for path in CONFIGS:
        for variable in re.findall(r"\$\{env:([A-Za-z0-9_]+)\}", path.read_text()):
            assert f"`{variable}`" in readme, f"{path.name} reads {variable}, which {README.name} does not explain"


def test_the_metrics_the_adapters_read_are_enabled() -> None:
    kubernetes = _load(CONFIG_DIR / "kubernetes.yaml")
    enabled = kubernetes["receivers"]["kubeletstats"]["metrics"]
    assert (
        enabled["k8s.pod.cpu_limit_utilization"]["enabled"] and enabled["k8s.pod.memory_limit_utilization"]["enabled"]
    )
    host = _load(CONFIG_DIR / "host.yaml")
    scrapers = host["receivers"]["hostmetrics"]["scrapers"]
    assert scrapers["cpu"]["metrics"]["system.cpu.utilization"]["enabled"]
    assert scrapers["memory"]["metrics"]["system.memory.utilization"]["enabled"]
    assert "network" in scrapers
    docker = _load(CONFIG_DIR / "docker.yaml")
    assert docker["receivers"]["docker_stats"]["metrics"]["container.restarts"]["enabled"]


def _read_env_file(path: Path) -> tuple[dict[str, str], str]:
    """The KEY=VALUE assignments of ``path`` and the text of its comments."""
    values: dict[str, str] = {}
    comments: list[str] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        if text.startswith("#"):
            comments.append(text)
            continue
        key, sep, value = text.partition("=")
        assert sep and ENV_NAME.fullmatch(key), f"{path.name}:{number}: not KEY=VALUE"
        assert key not in values, f"{path.name}:{number}: {key} set twice"
        # `docker run --env-file` keeps quotes and `. file` splits on blanks: allow neither
        assert value and not re.search(r"[\s'\"]", value), f"{path.name}:{number}: quote-free, blank-free value"
        values[key] = value
    return values, "\n".join(comments)


def _pairs(text: str) -> dict[str, str]:
    """Parse ``k1=v1,k2=v2`` (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS)."""
    pairs: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        assert sep and key.strip() and value.strip(), f"{item!r} is not key=value"
        assert key not in pairs, f"{key} appears twice"
        pairs[key] = value
    return pairs


def test_every_language_has_an_sdk_example() -> None:
    assert {path.name for path in SDK_FILES} == set(SDK_LAUNCH_HINTS)


@pytest.mark.parametrize("path", SDK_FILES, ids=lambda p: p.name)
def test_sdk_environment_reaches_glimpse(path: Path) -> None:
    values, comments = _read_env_file(path)
    missing = [name for name in SDK_REQUIRED if name not in values]
    assert not missing, f"{path.name}: {missing} not set"
    protocol = values["OTEL_EXPORTER_OTLP_PROTOCOL"]
    assert protocol in PORT_BY_PROTOCOL, f"{path.name}: protocol {protocol}"
    endpoint = urlsplit(values["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert endpoint.scheme in ("http", "https") and endpoint.hostname
    assert endpoint.port == PORT_BY_PROTOCOL[protocol], f"{path.name}: {protocol} goes to {PORT_BY_PROTOCOL[protocol]}"
    assert endpoint.path in ("", "/"), f"{path.name}: the endpoint is a base URL; the SDK appends /v1/<signal>"
    _pairs(values["OTEL_EXPORTER_OTLP_HEADERS"])
    attributes = _pairs(values["OTEL_RESOURCE_ATTRIBUTES"])
    assert set(attributes) >= SDK_RESOURCE_KEYS, f"{path.name}: missing {SDK_RESOURCE_KEYS - set(attributes)}"
    assert "service.name" not in attributes, f"{path.name}: OTEL_SERVICE_NAME names the service"
    assert SDK_LAUNCH_HINTS[path.name] in comments, f"{path.name}: say how to start the program"


def test_env_file_parsing_rejects_what_shells_and_docker_disagree_on(tmp_path: Path) -> None:
    for bad in ("export A=1", 'A="1"', "A=1 2", "lower=1", "A=1\nA=2"):
        path = tmp_path / "bad.env"
        path.write_text(bad + "\n")
        with pytest.raises(AssertionError):
            _read_env_file(path)
    for bad_pairs in ("a=1,b", "a=1,a=2", "=1"):
        with pytest.raises(AssertionError):
            _pairs(bad_pairs)
