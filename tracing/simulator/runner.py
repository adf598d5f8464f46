"""Run a topology under load, with faults, on one of two clocks; write ground-truth labels.

- :func:`run_history`: accelerated time. Requests get explicit timestamps from
  ``start_ns`` on, so hours of traffic take seconds to minutes; metrics are stamped every
  ``metric_interval_s`` of simulated time. For tests and benchmarks.
- :func:`run_live`: real time. Requests start now, paced to the load; the SDK exports in
  the background like any instrumented service. For the demo.

Load varies: a daily cycle, a slow random drift and Poisson arrivals. Background noise
comes from the topology: jitter (log-normal work), rare unrelated errors, naturally slow
and noisy services, and (with ``logs``, the default) WARN and ERROR log lines in a small
share of requests. Logs draw from a generator of their own: the spans of a seed are the
same with logs on or off.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tracing.simulator.emit import Emitter, Exporters
from tracing.simulator.engine import Engine, span_name
from tracing.simulator.faults import CODE_FAULTS, Effects, Fault, FaultError, Instance, bad_version, label, validate
from tracing.simulator.logs import Narrator
from tracing.simulator.topology import Topology, load_topology

__all__ = ["SimulationResult", "build_instances", "run_history", "run_live", "write_labels"]

DAY_S = 86_400
CPU_LIMIT_CORES = 0.5
Progress = Callable[[float, "SimulationResult"], None]


@dataclass
class SimulationResult:
    topology: str
    seed: int
    start_ns: int
    end_ns: int
    traces: int = 0
    spans: int = 0
    logs: int = 0
    metric_points: int = 0
    labels: list[dict[str, Any]] = field(default_factory=list)


def build_instances(topology: Topology, seed: int) -> dict[str, list[Instance]]:
    """Pods per service, spread over the nodes (deterministic for a seed)."""
    rng = random.Random(seed)
    nodes = list(topology.nodes)
    rng.shuffle(nodes)
    instances: dict[str, list[Instance]] = {}
    slot = 0
    for name, service in topology.services.items():
        replica_set = _suffix(rng, 10, "bcdfghjklmnpqrstvwxz2456789")
        pods = []
        for _ in range(service.replicas):
            node = nodes[slot % len(nodes)]
            slot += 1
            pod = f"{name}-{replica_set}-{_suffix(rng, 5, 'bcdfghjklmnpqrstvwxz2456789')}"
            pods.append(Instance(name, pod, node.name, node.zone, service.version, _uuid(rng)))
        instances[name] = pods
    return instances


def _bad_deploy_instances(
    topology: Topology, serving: dict[str, list[Instance]], seed: int
) -> dict[str, list[Instance]]:
    """The pods a bad deploy of each service rolls out: same nodes, new version and names."""
    rng = random.Random(seed + 7919)
    replaced = {}
    for name, pods in serving.items():
        version = bad_version(topology, name)
        replica_set = _suffix(rng, 10, "bcdfghjklmnpqrstvwxz2456789")
        replaced[name] = [
            Instance(
                name,
                f"{name}-{replica_set}-{_suffix(rng, 5, 'bcdfghjklmnpqrstvwxz')}",
                p.node,
                p.zone,
                version,
                _uuid(rng),
            )
            for p in pods
        ]
    return replaced


def _suffix(rng: random.Random, length: int, alphabet: str) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _uuid(rng: random.Random) -> str:
    digest = hashlib.md5(rng.getrandbits(128).to_bytes(16, "big")).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


class _Simulation:
    """State shared by both clocks: instances, engine, effects, emitter, load."""

    def __init__(
        self,
        topology: Topology,
        endpoint: str | Exporters,
        *,
        seed: int,
        faults: list[Fault],
        start_ns: int,
        rate_per_s: float | None,
        live: bool,
        logs: bool,
    ) -> None:
        self.topology = topology
        self.seed = seed
        self.start_ns = start_ns
        self.base = build_instances(topology, seed)
        deploys = {f.target for f in faults if f.type == "bad_deploy"}
        self.new = {s: p for s, p in _bad_deploy_instances(topology, self.base, seed).items() if s in deploys}
        everyone = [i for pods in [*self.base.values(), *self.new.values()] for i in pods]
        for fault in faults:
            validate(fault, topology, everyone)
            if fault.type in CODE_FAULTS and not logs:
                raise FaultError(f"fault {fault.type} shows only in logs: run with logs on")
        self.serving = {s: list(p) for s, p in self.base.items()}
        self.rng = random.Random(seed)
        self.load_rng = np.random.default_rng(seed)
        self.engine = Engine(topology, self.serving, self.rng, Narrator(topology, seed) if logs else None)
        self.effects = Effects(faults, topology, everyone)
        self.engine.effects = self.effects
        self.emitter = Emitter(topology, endpoint, live=live, seed=seed, logs=logs)
        self.emitter.add_instances(everyone)
        self.rate = rate_per_s if rate_per_s is not None else topology.load.rate_per_s
        self.drift = 0.0
        self.result = SimulationResult(topology.name, seed, start_ns, start_ns)
        names = lambda s, o: span_name(topology, s, o)  # noqa: E731
        self.result.labels = [label(f, topology, everyone, start_ns, names) for f in faults]
        weights = [w for _, _, w in topology.entrypoints]
        self.entry_cdf = np.cumsum(weights) / sum(weights)
        self.last_metrics_s = 0.0
        self.update_gauges(1.0)  # gauges report realistic values from the first collection on

    def advance(self, offset_s: float) -> None:
        """Move to ``offset_s`` seconds into the run: faults, deploys and the load drift."""
        self.effects.at(offset_s)
        for service, pods in self.new.items():
            self.serving[service][:] = pods if self.effects.deployed(service) else self.base[service]
        noise = self.topology.load.noise
        self.drift = 0.97 * self.drift + 0.03 * float(self.load_rng.normal(0.0, noise * 4))

    def arrivals(self, time_ns: int, seconds: float) -> int:
        day = 2 * math.pi * ((time_ns / 1e9) % DAY_S) / DAY_S
        rate = self.rate * (1 + self.topology.load.daily_amplitude * math.sin(day - math.pi / 2)) * math.exp(self.drift)
        return int(self.load_rng.poisson(max(rate, 0.0) * seconds))

    def request(self, start_ns: int) -> None:
        index = int(np.searchsorted(self.entry_cdf, self.rng.random(), side="right"))
        service, operation, _ = self.topology.entrypoints[min(index, len(self.topology.entrypoints) - 1)]
        self.emitter.emit(self.engine.request(service, operation, start_ns))
        self.result.traces += 1

    def alive_pods(self) -> list[str]:
        return [i.pod for pods in self.serving.values() for i in pods]

    def update_gauges(self, interval_s: float) -> None:
        """Set each serving pod's CPU and memory from its load and the faults, then reset its count."""
        for pods in self.serving.values():
            for instance in pods:
                service = self.topology.services[instance.service]
                state = self.emitter.state(instance.pod)
                busy_ms = state.requests * service.cpu_per_request_ms * self.effects.slowdown(instance.pod)
                cpu = 0.04 + busy_ms / (interval_s * 1000 * CPU_LIMIT_CORES) + self.effects.cpu_extra(instance.pod)
                state.cpu_utilization = min(max(cpu + self.rng.gauss(0, 0.01), 0.0), 1.0)
                limit = service.memory_limit_mib * 2**20
                used = service.memory_mib * 2**20 * (1 + self.rng.gauss(0, 0.02))
                used += self.effects.memory_leak(instance.pod) * (limit - service.memory_mib * 2**20) * 0.9
                state.memory_bytes, state.memory_limit_bytes = used, limit
                state.requests = 0

    def finish(self, end_ns: int) -> SimulationResult:
        self.emitter.close()
        self.result.end_ns = end_ns
        self.result.spans = self.emitter.spans
        self.result.logs = self.emitter.logs
        self.result.metric_points = self.emitter.metric_points
        return self.result


def run_history(
    topology: Topology | str,
    endpoint: str | Exporters,
    *,
    start_ns: int,
    duration_s: float,
    seed: int = 0,
    faults: list[Fault] | None = None,
    rate_per_s: float | None = None,
    metric_interval_s: float = 30.0,
    progress: Progress | None = None,
    logs: bool = True,
) -> SimulationResult:
    """Simulate ``duration_s`` seconds from ``start_ns`` as fast as possible into OTLP/gRPC ``endpoint``
    (or into the given :class:`~tracing.simulator.emit.Exporters`)."""
    topo = load_topology(topology) if isinstance(topology, str) else topology
    sim = _Simulation(
        topo,
        endpoint,
        seed=seed,
        faults=faults or [],
        start_ns=start_ns,
        rate_per_s=rate_per_s,
        live=False,
        logs=logs,
    )
    second = 0
    while second < duration_s:
        sim.advance(second)
        base_ns = start_ns + second * 1_000_000_000
        offsets = sorted(sim.rng.random() for _ in range(sim.arrivals(base_ns, 1.0)))
        for offset in offsets:
            sim.request(base_ns + int(offset * 1e9))
        second += 1
        if second % metric_interval_s == 0 or second >= duration_s:
            sim.update_gauges(second - sim.last_metrics_s)
            sim.emitter.export_metrics(sim.alive_pods(), start_ns, start_ns + second * 1_000_000_000)
            sim.last_metrics_s = second
            if progress is not None:
                progress(second / duration_s, sim.result)
    return sim.finish(start_ns + int(duration_s * 1e9))


def run_live(
    topology: Topology | str,
    endpoint: str,
    *,
    duration_s: float,
    seed: int = 0,
    faults: list[Fault] | None = None,
    rate_per_s: float | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    logs: bool = True,
) -> SimulationResult:
    """Simulate ``duration_s`` seconds in real time into OTLP/gRPC ``endpoint`` (stops early on ``stop``)."""
    topo = load_topology(topology) if isinstance(topology, str) else topology
    start_ns = time.time_ns()
    sim = _Simulation(
        topo,
        endpoint,
        seed=seed,
        faults=faults or [],
        start_ns=start_ns,
        rate_per_s=rate_per_s,
        live=True,
        logs=logs,
    )
    started = time.monotonic()
    tick = 0.1
    next_gauges = 5.0
    while (elapsed := time.monotonic() - started) < duration_s and not (stop and stop.is_set()):
        sim.advance(elapsed)
        for _ in range(sim.arrivals(time.time_ns(), tick)):
            sim.request(time.time_ns())
        if elapsed >= next_gauges:
            sim.update_gauges(5.0)
            next_gauges += 5.0
        sim.result.spans, sim.result.logs = sim.emitter.spans, sim.emitter.logs
        if progress is not None:
            progress(min(elapsed / duration_s, 1.0), sim.result)
        time.sleep(max(0.0, tick - (time.monotonic() - started - elapsed)))
    sim.update_gauges(5.0)
    return sim.finish(time.time_ns())


def write_labels(result: SimulationResult, path: str | Path) -> None:
    """The run's ground truth as JSON: topology, seed, window and one label per fault."""
    document = {
        "topology": result.topology,
        "seed": result.seed,
        "start_ns": result.start_ns,
        "end_ns": result.end_ns,
        "traces": result.traces,
        "spans": result.spans,
        "logs": result.logs,
        "faults": result.labels,
    }
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
