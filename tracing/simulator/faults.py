"""Fault injection: what each fault does to the simulated system, and its ground-truth label.

A :class:`Fault` names a type, a target and a window relative to the run's start. The
engine asks :class:`Effects` at each request how the active faults change latency, errors,
versions, resource use, the network around a service's pods and its code paths (the two
code faults show only in the target's own logs, so they target services that log).
:func:`label` writes what an analyzer should find, named the way the telemetry names it
(``service.name``, ``k8s.pod.name``, ``k8s.node.name``, the peer name of an uninstrumented
database).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tracing.errors import GlimpseError
from tracing.simulator.topology import Topology

__all__ = ["CODE_FAULTS", "FAULT_TYPES", "Effects", "Fault", "FaultError", "Instance", "default_target", "label"]

# type -> (what the target names, default magnitude, what the magnitude means)
FAULT_TYPES: dict[str, tuple[str, float, str]] = {
    "latency": ("service or 'service operation'", 120.0, "milliseconds added to each request's own work"),
    "errors": ("service", 0.35, "share of the service's requests that fail"),
    "cpu": ("pod (or service: its first pod)", 6.0, "slowdown factor of the saturated pod"),
    "node": ("node", 4.0, "slowdown factor of every pod on the node"),
    "network": (
        "service",
        60.0,
        "milliseconds of delay on every packet into and out of the service's pods "
        "(its inbound, outbound and database calls, each way)",
    ),
    "database": ("database", 15.0, "slowdown factor of the database's calls"),
    "timeout": ("service", 0.5, "share of requests that hang for 2.5 s (callers time out and retry)"),
    "memory_leak": ("pod (or service: its first pod)", 8.0, "slowdown factor reached at the fault's end"),
    "bad_deploy": ("service", 0.3, "share of the new version's requests that fail"),
    "code_error": (
        "service that logs",
        0.4,
        "share of the service's requests that log an error return (a new ERROR line; handled, no error status)",
    ),
    "code_exception": (
        "service that logs",
        0.4,
        "share of the service's requests cut short by a swallowed exception (later log lines, calls and work skipped)",
    ),
}
CODE_FAULTS = ("code_error", "code_exception")  # visible only in the target's own logs
HANG_MS = 2500.0


class FaultError(GlimpseError):
    """A fault that cannot be injected into this topology."""


@dataclass(frozen=True)
class Instance:
    """One running copy of a service: a pod on a node."""

    service: str
    pod: str
    node: str
    zone: str
    version: str
    instance_id: str


@dataclass(frozen=True)
class Fault:
    type: str
    target: str
    start_s: float
    end_s: float
    magnitude: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def strength(self) -> float:
        return self.magnitude if self.magnitude is not None else FAULT_TYPES[self.type][1]


def default_target(topology: Topology, fault_type: str, index: int = 0) -> str:
    """A sensible target for ``fault_type``: the index-th candidate in a stable order."""
    candidates = fault_targets(topology, fault_type)
    return candidates[index % len(candidates)]


def fault_targets(topology: Topology, fault_type: str) -> list[str]:
    """Every target ``fault_type`` can hit, entry services last (they are rarely the cause)."""
    if fault_type == "node":
        return [node.name for node in topology.nodes]
    if fault_type == "database":
        return [d.name for d in topology.dependencies.values() if d.kind == "database"]
    entry = {service for service, _, _ in topology.entrypoints}
    services = [s for s in topology.services if s not in entry]
    candidates = services + sorted(entry)  # a network fault on an entry service shows on its outbound calls
    if fault_type in CODE_FAULTS:
        return [s for s in candidates if topology.services[s].logs]  # a silent service would hide them by design
    return candidates


def validate(fault: Fault, topology: Topology, instances: list[Instance]) -> None:
    if fault.type not in FAULT_TYPES:
        raise FaultError(f"unknown fault {fault.type!r}; choose one of {', '.join(FAULT_TYPES)}")
    if not 0 <= fault.start_s < fault.end_s:
        raise FaultError(f"fault {fault.type}: start must be before end ({fault.start_s} .. {fault.end_s})")
    kind, name, _ = _target(fault, topology, instances)
    if fault.type == "latency" and " " in fault.target:
        kind, name = "operation", fault.target
    known = {
        "host": {i.node for i in instances},
        "instance": {i.pod for i in instances},
        "database": {d.name for d in topology.dependencies.values() if d.kind == "database"},
        "service": set(topology.services),
        "operation": {f"{s} {o}" for s, svc in topology.services.items() for o in svc.operations},
    }[kind]
    if name not in known:
        raise FaultError(f"fault {fault.type}: no {kind} named {fault.target!r} in topology {topology.name}")
    if fault.type in CODE_FAULTS and not topology.services[name].logs:
        raise FaultError(f"fault {fault.type}: {name} writes no logs, so the fault would leave no trace")


def _target(fault: Fault, topology: Topology, instances: list[Instance]) -> tuple[str, str, str | None]:
    """(kind, name, service) of the fault's target, in the topology's own names."""
    if fault.type == "node":
        return "host", fault.target, None
    if fault.type == "database":
        return "database", fault.target, None
    if fault.type in ("cpu", "memory_leak"):
        pod = fault.target
        if fault.target in topology.services:
            pod = next(i.pod for i in instances if i.service == fault.target)
        service = next((i.service for i in instances if i.pod == pod), None)
        return "instance", pod, service
    return "service", fault.target.split(" ", 1)[0], fault.target.split(" ", 1)[0]


def label(
    fault: Fault, topology: Topology, instances: list[Instance], run_start_ns: int, span_name: Any
) -> dict[str, Any]:
    """The ground truth for one fault: type, window in unix ns, and the root cause as the data names it."""
    kind, name, service = _target(fault, topology, instances)
    target: dict[str, Any] = {"kind": kind, "name": name, "service": service}
    if fault.type == "latency" and " " in fault.target:
        target["operation"] = span_name(*fault.target.split(" ", 1))  # labelled at service level
    return {
        "type": fault.type,
        "target": target,
        "start_ns": run_start_ns + int(fault.start_s * 1e9),
        "end_ns": run_start_ns + int(fault.end_s * 1e9),
        "magnitude": fault.strength,
        "meaning": FAULT_TYPES[fault.type][2],
        "topology": topology.name,
        **({"parameters": fault.parameters} if fault.parameters else {}),
    }


class Effects:
    """How the faults active at one moment change the system."""

    def __init__(self, faults: list[Fault], topology: Topology, instances: list[Instance]) -> None:
        self.faults = faults
        self.topology = topology
        self.targets = [_target(f, topology, instances) for f in faults]
        self.node_of = {i.pod: i.node for i in instances}
        self.active: list[tuple[Fault, tuple[str, str, str | None], float]] = []

    def at(self, offset_s: float) -> None:
        """Select the faults active ``offset_s`` seconds into the run (with their progress 0..1)."""
        self.active = [
            (f, t, (offset_s - f.start_s) / (f.end_s - f.start_s))
            for f, t in zip(self.faults, self.targets, strict=True)
            if f.start_s <= offset_s < f.end_s
        ]

    def slowdown(self, pod: str) -> float:
        factor = 1.0
        for fault, (_, name, _), progress in self.active:
            if (fault.type, name) in (("cpu", pod), ("node", self.node_of.get(pod))):
                factor *= fault.strength
            elif fault.type == "memory_leak" and name == pod:
                factor *= 1.0 + (fault.strength - 1.0) * progress
        return factor

    def extra_ms(self, service: str, operation: str) -> float:
        extra = 0.0
        for fault, _, _ in self.active:
            if fault.type == "latency" and fault.target in (service, f"{service} {operation}"):
                extra += fault.strength
        return extra

    def error_rate(self, service: str, version: str) -> float:
        rate = 0.0
        for fault, (_, name, _), _ in self.active:
            if name != service:
                continue
            if fault.type == "errors" or (
                fault.type == "bad_deploy" and version == bad_version(self.topology, service)
            ):
                rate = max(rate, fault.strength)
        return rate

    def hang_probability(self, service: str) -> float:
        return max((f.strength for f, (_, n, _), _ in self.active if f.type == "timeout" and n == service), default=0)

    def network_delay_ms(self, service: str) -> float:
        """Delay of every packet into or out of ``service``'s pods (as tc netem on their interfaces)."""
        return sum(f.strength for f, (_, n, _), _ in self.active if f.type == "network" and n == service)

    def code_fault_share(self, fault_type: str, service: str) -> float:
        """Share of ``service``'s requests that hit an active ``code_error`` or ``code_exception`` fault."""
        return max((f.strength for f, (_, n, _), _ in self.active if f.type == fault_type and n == service), default=0)

    def database_factor(self, database: str) -> float:
        factor = 1.0
        for fault, (_, name, _), _ in self.active:
            if fault.type == "database" and name == database:
                factor *= fault.strength
        return factor

    def deployed(self, service: str) -> bool:
        """True while a bad deploy of ``service`` is live (its new version serves)."""
        return any(f.type == "bad_deploy" and n == service for f, (_, n, _), _ in self.active)

    def cpu_extra(self, pod: str) -> float:
        """Added CPU utilisation of ``pod`` (0..1) from saturating faults."""
        extra = 0.0
        for fault, (_, name, _), progress in self.active:
            if fault.type == "cpu" and name == pod:
                extra += 0.85
            elif fault.type == "node" and name == self.node_of.get(pod):
                extra += 0.45
            elif fault.type == "memory_leak" and name == pod:
                extra += 0.3 * progress  # garbage collection works harder as the heap fills
        return extra

    def memory_leak(self, pod: str) -> float:
        """Progress 0..1 of a memory leak in ``pod`` (0: none)."""
        return max((p for f, (_, n, _), p in self.active if f.type == "memory_leak" and n == pod), default=0.0)


def bad_version(topology: Topology, service: str) -> str:
    """The version a bad deploy rolls out: the next minor version."""
    major, _, rest = topology.services[service].version.partition(".")
    minor = rest.split(".", 1)[0] if rest else "0"
    return f"{major}.{int(minor) + 1 if minor.isdigit() else 1}.0"
