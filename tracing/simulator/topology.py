"""Topologies as data: services, their operations and calls, dependencies, nodes, load.

A topology is a YAML file (see ``topologies/``); this module parses and validates it into
frozen dataclasses that the engine walks. Nothing here knows about OpenTelemetry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from tracing.errors import GlimpseError

__all__ = [
    "Call",
    "Dependency",
    "Load",
    "Node",
    "Operation",
    "Service",
    "Topology",
    "available_topologies",
    "load_topology",
]

CALL_KINDS = ("service", "database", "external", "publish")
PROTOCOLS = ("http", "grpc")
DEPENDENCY_KINDS = ("database", "external", "messaging")


class TopologyError(GlimpseError):
    """A topology file that does not describe a runnable system."""


@dataclass(frozen=True)
class Node:
    name: str
    zone: str


@dataclass(frozen=True)
class Dependency:
    """Something the services call that is not instrumented: a database, cache, broker or API."""

    name: str
    kind: str  # database | external | messaging
    system: str  # postgresql, redis, kafka, http ...
    latency_ms: float
    sigma: float = 0.3
    port: int = 0
    namespace: str | None = None


@dataclass(frozen=True)
class Call:
    """One outgoing call an operation makes."""

    kind: str  # service | database | external | publish
    target: str  # service, dependency or topic name
    operation: str  # callee operation, SQL verb, HTTP route or consumer operation
    consumer: str | None = None  # the consuming service of a publish
    statement: str | None = None
    table: str | None = None
    repeat: int = 1
    parallel: bool = False
    probability: float = 1.0
    on_error: str = "fail"  # fail | fallback
    timeout_ms: float | None = None
    retries: int = 0


@dataclass(frozen=True)
class Operation:
    name: str
    self_ms: float
    sigma: float
    calls: tuple[Call, ...] = ()
    error_rate: float = 0.0


@dataclass(frozen=True)
class Service:
    name: str
    protocol: str  # http | grpc
    replicas: int
    version: str
    operations: dict[str, Operation]
    cpu_per_request_ms: float = 2.0
    memory_mib: float = 256.0
    memory_limit_mib: float = 1024.0
    logs: bool = True  # writes log lines in its requests' spans
    log_code_attributes: bool = False  # its log records carry code.function.name/file.path/line.number


@dataclass(frozen=True)
class Load:
    rate_per_s: float
    daily_amplitude: float = 0.3
    noise: float = 0.15


@dataclass(frozen=True)
class Topology:
    name: str
    namespace: str
    cluster: str
    cloud_provider: str
    region: str
    nodes: tuple[Node, ...]
    services: dict[str, Service]
    dependencies: dict[str, Dependency]
    entrypoints: tuple[tuple[str, str, float], ...]  # (service, operation, weight)
    load: Load
    background_error_rate: float = 0.0005
    pod_spread: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def operation(self, service: str, operation: str) -> Operation:
        return self.services[service].operations[operation]


def available_topologies() -> list[str]:
    folder = resources.files("tracing.simulator").joinpath("topologies")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_topology(name_or_path: str) -> Topology:
    """A bundled topology by name (``shop``, ``large``) or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        bundled = resources.files("tracing.simulator").joinpath("topologies", f"{name_or_path}.yaml")
        if not bundled.is_file():
            known = ", ".join(available_topologies())
            raise TopologyError(f"unknown topology {name_or_path!r} (bundled: {known}; or a path to a .yaml file)")
        text = bundled.read_text(encoding="utf-8")
    topology = _parse(yaml.safe_load(text))
    _validate(topology)
    return topology


def _parse(data: dict[str, Any]) -> Topology:
    try:
        dependencies = {name: _dependency(name, spec) for name, spec in (data.get("dependencies") or {}).items()}
        services = {name: _service(name, spec) for name, spec in data["services"].items()}
        entrypoints = tuple(
            (*_split_call(entry["call"]), float(entry.get("weight", 1.0))) for entry in data["entrypoints"]
        )
        load = Load(**data.get("load", {"rate_per_s": 10}))
        return Topology(
            name=data["name"],
            namespace=data.get("namespace", data["name"]),
            cluster=data.get("cluster", f"{data['name']}-cluster"),
            cloud_provider=data.get("cloud", {}).get("provider", "aws"),
            region=data.get("cloud", {}).get("region", "us-east-1"),
            nodes=tuple(Node(n["name"], n["zone"]) for n in data["nodes"]),
            services=services,
            dependencies=dependencies,
            entrypoints=entrypoints,
            load=load,
            background_error_rate=float(data.get("background_error_rate", 0.0005)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TopologyError(f"malformed topology: {exc!r}") from exc


def _dependency(name: str, spec: dict[str, Any]) -> Dependency:
    return Dependency(
        name=name,
        kind=spec["kind"],
        system=spec["system"],
        latency_ms=float(spec["latency_ms"]),
        sigma=float(spec.get("sigma", 0.3)),
        port=int(spec.get("port", 0)),
        namespace=spec.get("namespace"),
    )


def _service(name: str, spec: dict[str, Any]) -> Service:
    operations = {op: _operation(op, op_spec or {}) for op, op_spec in spec["operations"].items()}
    return Service(
        name=name,
        protocol=spec.get("protocol", "http"),
        replicas=int(spec.get("replicas", 1)),
        version=str(spec.get("version", "1.0.0")),
        operations=operations,
        cpu_per_request_ms=float(spec.get("cpu_per_request_ms", 2.0)),
        memory_mib=float(spec.get("memory_mib", 256)),
        memory_limit_mib=float(spec.get("memory_limit_mib", 1024)),
        logs=bool(spec.get("logs", True)),
        log_code_attributes=bool(spec.get("log_code_attributes", _even_name_hash(name))),
    )


def _even_name_hash(name: str) -> bool:
    """The default of ``log_code_attributes``: a stable half of the services (SHA-1 of the name, first byte even)."""
    return hashlib.sha1(name.encode()).digest()[0] % 2 == 0


def _operation(name: str, spec: dict[str, Any]) -> Operation:
    return Operation(
        name=name,
        self_ms=float(spec.get("self_ms", 2.0)),
        sigma=float(spec.get("sigma", 0.25)),
        calls=tuple(_call(c) for c in spec.get("calls", ())),
        error_rate=float(spec.get("error_rate", 0.0)),
    )


def _call(spec: dict[str, Any]) -> Call:
    common = {
        "repeat": int(spec.get("repeat", 1)),
        "parallel": bool(spec.get("parallel", False)),
        "probability": float(spec.get("probability", 1.0)),
        "on_error": spec.get("on_error", "fail"),
        "timeout_ms": float(spec["timeout_ms"]) if "timeout_ms" in spec else None,
        "retries": int(spec.get("retries", 0)),
    }
    if "call" in spec:
        service, operation = _split_call(spec["call"])
        return Call("service", service, operation, **common)
    if "database" in spec:
        return Call(
            "database",
            spec["database"],
            spec["operation"],
            statement=spec.get("statement"),
            table=spec.get("table"),
            **common,
        )
    if "external" in spec:
        return Call("external", spec["external"], spec["operation"], **common)
    if "publish" in spec:
        consumer, operation = _split_call(spec["consumer"])
        return Call("publish", spec["publish"], operation, consumer=consumer, **common)
    raise ValueError(f"call needs one of call/database/external/publish: {spec}")


def _split_call(text: str) -> tuple[str, str]:
    service, _, operation = text.partition(" ")
    if not operation:
        raise ValueError(f"{text!r}: expected 'service operation'")
    return service, operation


def _validate(topology: Topology) -> None:
    problems: list[str] = []
    for service in topology.services.values():
        if service.protocol not in PROTOCOLS:
            problems.append(f"{service.name}: protocol must be one of {PROTOCOLS}")
        for operation in service.operations.values():
            problems.extend(_call_problems(topology, f"{service.name} {operation.name}", operation.calls))
    for entry_service, entry_operation, _ in topology.entrypoints:
        if entry_operation not in topology.services.get(entry_service, _NO_SERVICE).operations:
            problems.append(f"entrypoint {entry_service} {entry_operation} does not exist")
    for dependency in topology.dependencies.values():
        if dependency.kind not in DEPENDENCY_KINDS:
            problems.append(f"{dependency.name}: kind must be one of {DEPENDENCY_KINDS}")
    if not topology.nodes:
        problems.append("no nodes")
    if problems:
        raise TopologyError(f"topology {topology.name}: " + "; ".join(problems))


def _call_problems(topology: Topology, where: str, calls: tuple[Call, ...]) -> list[str]:
    problems = []
    for call in calls:
        if call.kind == "service" and call.operation not in topology.services.get(call.target, _NO_SERVICE).operations:
            problems.append(f"{where}: calls unknown {call.target} {call.operation}")
        elif call.kind in ("database", "external", "publish") and call.target not in topology.dependencies:
            problems.append(f"{where}: unknown dependency {call.target}")
        elif (
            call.kind == "publish"
            and call.operation not in topology.services.get(call.consumer or "", _NO_SERVICE).operations
        ):
            problems.append(f"{where}: unknown consumer {call.consumer} {call.operation}")
        if call.on_error not in ("fail", "fallback"):
            problems.append(f"{where}: on_error must be fail or fallback")
    return problems


_NO_SERVICE = Service("", "http", 0, "", {})
