"""Rank probable root causes of an incident from per-entity evidence.

Input is the output of ``storage/queries/rca_evidence.sql``: for every entity (service,
operation, instance, host, database/messaging/external peer) and signal, counts in a
baseline and an incident window. The ranking rests on what distinguishes a cause from its
victims in trace data:

1. **Own behaviour only.** Latency is the entity's exclusive time (a caller waiting on a
   slow callee does not get slower itself); errors count only where they originate (a span
   that failed while none of its children did); the time a client spends outside its
   server's span is blamed on the network into the called service; an uninstrumented
   dependency is measured by its callers' client spans.
2. **Count statistics, not thresholds.** The latency signal is the share of the entity's
   incident spans above the baseline's 99th percentile of the same operation, as a lower
   confidence bound (Wilson) beyond the 1% expected; errors the same for originating error
   rates. A handful of requests cannot raise a strong score.
3. **Level by concentration.** If one instance of a service carries the anomaly while its
   siblings do not, the instance is the cause; if all do, the service is. Anomalous pods of
   several services on one node point at the node. A single-pod service is blamed on the
   pod when its CPU or memory moved, else on the service.
4. **Propagation.** A candidate whose callee is about as anomalous is probably its victim.
   A network fault on one service delays its inbound and its outbound calls alike: when the
   client-to-server gap (or a dependency call) grows on several edges that share one
   endpoint, that endpoint is blamed, not each service at the other end.
5. **Logs.** What changed in a service's own logs (``analyzer/log_evidence.py``): templates
   that appear, surge or stop appearing within the spans of an operation. It is a strength
   like the trace signals, so the propagation rule applies to it as well (a caller logging
   a callee's failure is the callee's victim).
6. **Corroboration.** A new ``service.version`` in the incident window (whose new pods then
   count for the service), CPU or memory shifts of the candidate's pods, the spectrum of
   anomalous against normal traces through it, and the growth of its share of the traces'
   critical paths add evidence (and choose the remediation).

Scores are in [0, 1]; candidates are ranked by score.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from analyzer.log_evidence import END_OF_SPAN, ServiceLogEvidence

__all__ = [
    "Candidate",
    "EntityEvidence",
    "EntityKey",
    "evidence_from_rows",
    "evidence_key",
    "rank_root_causes",
    "wilson_bounds",
]

EXPECTED_EXCEEDANCE = 0.01  # by construction: the baseline's 99th percentile
EXPECTED_ERRORS = 0.005  # the least error rate assumed for a baseline that showed none
Z = 1.64  # one-sided 95% confidence
ANOMALOUS = 0.3  # a strength above which an instance counts as anomalous for co-location
VICTIM_FACTOR = 0.6
DEPENDENCY_KINDS = ("database", "messaging", "external")
RESOURCE_SHIFT = {"cpu_utilization": 0.15, "memory_utilization": 0.1}
SATURATION_WEIGHT = 0.85  # a resource jump alone never outranks a strong signal in the requests themselves


def wilson_bounds(successes: int, trials: int, z: float = Z) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (0, 1 when there are no trials)."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - spread), min(1.0, centre + spread)


@dataclass
class WindowStats:
    n: int = 0
    exceeded: int = 0
    errors: int = 0
    p50_ns: float = 0.0
    p90_ns: float = 0.0
    slow_traces: list[str] = field(default_factory=list)
    error_traces: list[str] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)
    callers: list[str] = field(default_factory=list)


EntityKey = tuple[str, str, str, str]  # (signal, kind, service or "", name)


@dataclass
class EntityEvidence:
    """One (signal, kind, service, name) in both windows, and its strengths.

    An entity's identity includes its service: two services' operations of the same name
    (a gRPC client and server span, ``GET /health``, ``SELECT ...``) are two entities.
    """

    signal: str  # self | network | dependency
    kind: str
    name: str
    service: str | None
    baseline: WindowStats
    incident: WindowStats

    @property
    def latency(self) -> float:
        """Share of incident spans beyond the baseline's p99 (lower bound), above the baseline's own share."""
        low, _ = wilson_bounds(self.incident.exceeded, self.incident.n)
        expected = max(EXPECTED_EXCEEDANCE, self.baseline.exceeded / self.baseline.n if self.baseline.n else 0.0)
        return max(0.0, (low - expected) / (1 - expected)) if expected < 1 else 0.0

    @property
    def errors(self) -> float:
        """How far the incident's originating error rate (lower bound) sits above the baseline's rate."""
        low, _ = wilson_bounds(self.incident.errors, self.incident.n)
        expected = max(EXPECTED_ERRORS, self.baseline.errors / self.baseline.n if self.baseline.n else 0.0)
        return max(0.0, (low - expected) / (1 - expected)) if expected < 1 else 0.0

    @property
    def strength(self) -> float:
        return max(self.latency, self.errors)


@dataclass
class Candidate:
    kind: str
    name: str
    service: str | None
    score: float
    evidence: list[dict[str, Any]]
    remediation: str
    signals: set[str] = field(default_factory=set)

    def as_dict(self, rank: int) -> dict[str, Any]:
        return {
            "rank": rank,
            "kind": self.kind,
            "name": self.name,
            "service": self.service,
            "score": round(self.score, 4),
            "evidence": self.evidence,
            "remediation": self.remediation,
        }


def evidence_key(signal: str, kind: str, service: str | None, name: str) -> EntityKey:
    return (signal, kind, service or "", name)


def evidence_from_rows(rows: Iterable[Mapping[str, Any]]) -> dict[EntityKey, EntityEvidence]:
    """Pair the baseline and incident rows of each (signal, kind, service, name), in key order
    (whatever order the rows come in, the same evidence in the same order)."""
    found: dict[EntityKey, EntityEvidence] = {}
    for row in rows:
        key = evidence_key(row["signal"], row["kind"], row["service"], row["name"])
        entry = found.setdefault(
            key, EntityEvidence(row["signal"], row["kind"], row["name"], row["service"], WindowStats(), WindowStats())
        )
        stats = WindowStats(
            n=int(row["n"]),
            exceeded=int(row["exceeded"]),
            errors=int(row["errors"]),
            p50_ns=float(row["p50_ns"]),
            p90_ns=float(row["p90_ns"]),
            slow_traces=list(row["slow_traces"] or []),
            error_traces=list(row["error_traces"] or []),
            instances=list(row["instances"] or []),
            callers=list(row["callers"] or []),
        )
        if row["incident"]:
            entry.incident = stats
        else:
            entry.baseline = stats
    return dict(sorted(found.items()))


def rank_root_causes(
    rows: Iterable[Mapping[str, Any]],
    *,
    versions: Iterable[Mapping[str, Any]] = (),
    baseline_since_ns: int = 0,
    incident_since_ns: int = 0,
    resources: Mapping[str, Mapping[str, tuple[float, float]]] | None = None,
    spectrum: Iterable[Mapping[str, Any]] = (),
    critical_path: Mapping[str, tuple[float, float]] | None = None,
    logs: Mapping[str, ServiceLogEvidence] | None = None,
    instance_logs: Mapping[str, ServiceLogEvidence] | None = None,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """Ranked candidates (design.md's JSON shape) from evidence rows, versions and pod resource shifts.

    ``resources`` maps an instance name to ``{signal: (before, after)}`` (cpu_utilization,
    memory_utilization as 0..1); ``spectrum`` has the rows of ``rca_spectrum.sql``;
    ``critical_path`` maps a service to its share of all critical-path time (0..1) in the
    baseline and in the incident; ``logs`` and ``instance_logs`` map a service or an instance
    to what changed in its logs.
    """
    evidence = evidence_from_rows(rows)
    ranker = _Ranker(
        evidence,
        _version_changes(versions, baseline_since_ns, incident_since_ns),
        resources or {},
        logs or {},
        instance_logs or {},
    )
    found = ranker.candidates()
    _weigh_by_spectrum(found, spectrum)
    _weigh_by_critical_path(found, critical_path or {})
    candidates = sorted(found, key=lambda c: (-c.score, _KIND_ORDER.get(c.kind, 9), c.name, c.service or ""))
    return [c.as_dict(rank) for rank, c in enumerate(candidates[:limit], start=1)]


_KIND_ORDER = {"service": 0, "database": 1, "messaging": 1, "external": 1, "instance": 2, "host": 3, "operation": 4}


def _version_changes(
    versions: Iterable[Mapping[str, Any]], baseline_since_ns: int, incident_since_ns: int
) -> dict[str, tuple[list[str], list[str], int]]:
    """service -> (old versions, new versions, first seen ns of the newest) for services that changed version.

    A version is new when it first appears in the later half of the baseline or in the
    incident (a late-detected incident's baseline already holds the deploy's first minutes);
    old when it was there in the first half.
    """
    recent_ns = baseline_since_ns + (incident_since_ns - baseline_since_ns) // 2
    old: dict[str, set[str]] = defaultdict(set)
    new: dict[str, dict[str, int]] = defaultdict(dict)
    for row in versions:
        version, first = row["version"] or "unknown", int(row["first_seen_ns"])
        if first < recent_ns:
            old[row["service"]].add(version)
        else:
            new[row["service"]][version] = first
    return {
        service: (sorted(old[service]), sorted(seen), min(seen.values()))
        for service, seen in new.items()
        if old[service]
    }


class _Ranker:
    def __init__(
        self,
        evidence: dict[EntityKey, EntityEvidence],
        versions: dict[str, tuple[list[str], list[str], int]],
        resources: Mapping[str, Mapping[str, tuple[float, float]]],
        logs: Mapping[str, ServiceLogEvidence],
        instance_logs: Mapping[str, ServiceLogEvidence],
    ) -> None:
        self.evidence = evidence
        self.versions = versions
        self.resources = resources
        self.logs = logs
        self.instance_logs = instance_logs
        self.instances_of: dict[str, list[EntityEvidence]] = defaultdict(list)
        for (signal, kind, _, _), entry in evidence.items():
            if signal == "self" and kind == "instance" and entry.incident.n and entry.service:
                self.instances_of[entry.service].append(entry)
        self.edges = _EdgeBlame(evidence)

    def candidates(self) -> list[Candidate]:
        found = [
            *self._services(),
            *self._operations(),
            *self._instances(),
            *self._hosts(),
            *self._dependencies(),
        ]
        self._hand_log_blame_down(found)
        self._downweight_victims(found)
        return [c for c in found if c.score > 0]

    def _hand_log_blame_down(self, candidates: list[Candidate]) -> None:
        """A service whose logs changed because its callee failed is that callee's victim.

        Callers log a callee's failure, or stop early when it fails, whether or not the callee's
        own logs changed against a baseline that may hold the same failure; so the callee
        gets the caller's log strength (times the share of changed spans it explains) and the
        caller is weighed as a victim.
        """
        services = {c.name: c for c in candidates if c.kind == "service"}
        for name, logs in sorted(self.logs.items()):
            caller = services.get(name)
            change = next((c for c in logs.changes if c.z > 0), None)
            if caller is None or change is None or change.handoff is None or caller.score > logs.strength:
                continue
            callee_name, share = change.handoff
            callee = services.get(callee_name)
            if callee is None:
                continue
            callee.score = max(callee.score, logs.strength * share)
            detail = (
                f"{callee_name} logged errors during {share:.0%} of the {name} spans whose logs changed "
                f"({change.detail})"
            )
            callee.evidence.append(
                {"signal": "log_propagation", "caller": name, "share": round(share, 4), "detail": detail}
            )
            caller.score *= VICTIM_FACTOR
            caller.evidence.append(
                {
                    "signal": "propagation",
                    "detail": f"its callee {callee_name} logged errors during {share:.0%} of its changed "
                    "spans: this is more likely a victim",
                }
            )

    def _callees(self) -> dict[str, set[str]]:
        """caller service -> the services and dependencies it called in the incident window."""
        callees: dict[str, set[str]] = defaultdict(set)
        for (signal, kind, _, name), entry in self.evidence.items():
            if signal in ("network", "dependency") and kind != "edge":
                for caller in entry.incident.callers:
                    if caller != name:
                        callees[caller].add(name)
        return callees

    def _downweight_victims(self, candidates: list[Candidate]) -> None:
        """A service whose callee is about as anomalous is more likely its victim than the cause.

        Retries, back-off and time-outs make a caller look slow or failing when its callee is
        the one at fault; the anomaly propagates upstream, so the cause is the deepest one.
        """
        strength = {c.name: c.score for c in candidates if c.kind in ("service", *DEPENDENCY_KINDS)}
        callees = self._callees()
        for candidate in candidates:
            if candidate.kind not in ("service", "operation", "instance") or candidate.service is None:
                continue
            # sorted: ties resolve the same in every process; a callee whose slow calls are this
            # caller's doing (a shared network endpoint) is not a culprit
            options = sorted(n for n in callees.get(candidate.service, ()) if not self.edges.moved_off(n))
            culprit = max(options, key=lambda n: strength.get(n, 0.0), default=None)
            if culprit is not None and strength.get(culprit, 0.0) >= 0.5 * candidate.score:
                candidate.score *= VICTIM_FACTOR
                candidate.evidence.append(
                    {
                        "signal": "propagation",
                        "detail": f"its callee {culprit} is anomalous too (score {strength[culprit]:.2f}): "
                        "this is more likely a victim",
                    }
                )

    # --- services, operations, instances ----------------------------------------------------

    def _services(self) -> list[Candidate]:
        result = []
        services = {name for (signal, kind, _, name) in self.evidence if kind == "service" and signal == "self"}
        for service in sorted(services):
            own = self.evidence[evidence_key("self", "service", service, service)]
            network = self.evidence.get(evidence_key("network", "service", service, service))
            if network is not None and self.edges.moved_off(service):
                network = None  # its callers are the shared endpoint of the slow calls
            outbound = self.edges.blamed_on(service)
            strength = max(own.strength, network.strength if network else 0.0, *(e.strength for e in outbound))
            evidence = _signal_evidence(own, "its own processing")
            if network is not None and network.strength > 0:
                evidence += _signal_evidence(network, "the network between its callers and it")
            if outbound:
                evidence.append(self.edges.evidence(service))
                network = max([network, *outbound] if network else outbound, key=lambda e: e.strength)
            change = self.versions.get(service)
            # pods of the new version carry a bad deploy's anomaly: that is the service's doing,
            # however many requests the old pods still served in the window
            concentration = 1.0 if change is not None else self._concentration(service)
            if change is not None:
                new_pods = [p.strength for p in self.instances_of.get(service, []) if not p.baseline.n]
                strength = max([strength, *new_pods])
            score = strength * concentration
            if change is not None:
                evidence.append(
                    {
                        "signal": "version",
                        "before": change[0],
                        "after": change[1],
                        "first_seen_ns": change[2],
                        "detail": f"service.version {', '.join(change[1])} replaced {', '.join(change[0])} "
                        "shortly before or during the incident",
                    }
                )
                score = min(1.0, score * 1.25 + 0.05) if strength > 0 else score
            if concentration < 1 and strength > 0:
                evidence.append({"signal": "concentration", "detail": self._concentration_detail(service)})
            remediation = _service_remediation(service, own, network, change)
            logs, log_strength = self._log_strength(service, change is not None)
            if logs is not None and log_strength > 0:
                evidence += [item.as_dict() for item in logs.changes]
                if change is not None:
                    log_strength = min(1.0, log_strength * 1.25 + 0.05)
                if log_strength > score:
                    score, remediation = log_strength, _log_remediation(service, logs)
                    if change is not None:
                        remediation = _service_remediation(service, own, network, change)
            result.append(Candidate("service", service, service, score, evidence, remediation))
        return result

    def _log_strength(self, service: str, new_version: bool) -> tuple[ServiceLogEvidence | None, float]:
        """The service's log evidence and strength; after a new version, those of its most changed
        pod when stronger (the new pods carry the change, the old ones dilute it)."""
        options = [self.logs[service]] if service in self.logs else []
        if new_version:
            options += [
                self.instance_logs[p.name] for p in self.instances_of.get(service, []) if p.name in self.instance_logs
            ]
        best = max(options, key=lambda e: e.strength, default=None)
        return best, best.strength if best is not None else 0.0

    def _concentration(self, service: str) -> float:
        """How much of the service-level anomaly its instances share (1: all; low: one pod only).

        A sibling whose counts are statistically consistent with the most anomalous pod's
        (overlapping Wilson intervals) counts as sharing it: few requests prove nothing.
        """
        pods = self.instances_of.get(service, [])
        if not pods:
            return 1.0
        if len(pods) == 1:
            return 0.85 if self._resource_shift(pods[0].name) else 1.0
        top = max(pods, key=lambda p: p.strength)
        if top.strength <= 0:
            return 1.0
        sharing = sum(1 for p in pods if p is top or not _stands_out(top, p))
        return 0.3 + 0.7 * (sharing - 1) / (len(pods) - 1)

    def _concentration_detail(self, service: str) -> str:
        pods = sorted(self.instances_of.get(service, []), key=lambda p: -p.strength)
        parts = [f"{p.name} {p.incident.exceeded}/{p.incident.n} slow, {p.incident.errors} errors" for p in pods]
        return "per instance: " + "; ".join(parts)

    def _operations(self) -> list[Candidate]:
        result = []
        for (signal, kind, _, name), entry in self.evidence.items():
            if signal != "self" or kind != "operation" or not entry.incident.n:
                continue
            service = self.evidence.get(evidence_key("self", "service", entry.service, entry.service or ""))
            # an operation is the cause only if it is more anomalous than its service as a whole
            sharper = service is None or entry.strength > service.strength * 1.15
            score = entry.strength * (1.0 if sharper else 0.85) * self._concentration(entry.service or "")
            remediation = (
                f"Only {name} of {entry.service} changed: profile that handler and review what it does differently "
                "(a query, a lock, a call that is not instrumented)."
            )
            result.append(
                Candidate(
                    "operation", name, entry.service, score, _signal_evidence(entry, "this operation"), remediation
                )
            )
        return result

    def _instances(self) -> list[Candidate]:
        result = []
        for service, pods in self.instances_of.items():
            alone = len(pods) == 1
            for pod in pods:
                shift = self._resource_shift(pod.name)
                if service in self.versions:
                    factor = 0.8  # the pods of a new version carry the deploy's anomaly: the service's
                elif alone:
                    factor = 1.0 if shift else 0.85
                else:
                    factor = 1.0 if all(_stands_out(pod, p) for p in pods if p is not pod) else 0.8
                evidence = _signal_evidence(pod, "this instance") + _resource_evidence(shift)
                remediation = _instance_remediation(pod.name, service, shift)
                score = max(pod.strength * factor, _saturation(shift))
                # a single pod's logs are its service's: the service is the candidate for them
                logs = None if alone else self.instance_logs.get(pod.name)
                if logs is not None and logs.strength > 0:
                    evidence += [item.as_dict() for item in logs.changes]
                    siblings = [
                        self.instance_logs[p.name].strength
                        for p in pods
                        if p is not pod and p.name in self.instance_logs
                    ]
                    if service in self.versions or max(siblings, default=0.0) >= 0.5 * logs.strength:
                        factor = 0.8  # a new version's pods, or all pods alike: the service's doing
                    else:
                        factor = 1.0
                    if logs.strength * factor > score:
                        score, remediation = logs.strength * factor, _log_remediation(pod.name, logs)
                result.append(Candidate("instance", pod.name, service, score, evidence, remediation))
        return result

    def _alone_in_service(self, pod: EntityEvidence) -> bool:
        siblings = [p for p in self.instances_of.get(pod.service or "", []) if p is not pod]
        return all(_stands_out(pod, s) for s in siblings)

    def _resource_shift(self, instance: str) -> dict[str, tuple[float, float]]:
        moved = {}
        for signal, threshold in RESOURCE_SHIFT.items():
            before_after = self.resources.get(instance, {}).get(signal)
            if before_after is not None and before_after[1] - before_after[0] >= threshold:
                moved[signal] = before_after
        return moved

    # --- hosts and dependencies --------------------------------------------------------------

    def _hosts(self) -> list[Candidate]:
        # instance names are unique across services in practice (pods, service.instance.id)
        pod_strength = {p.name: p for pods in self.instances_of.values() for p in pods}
        result = []
        for (signal, kind, _, name), entry in self.evidence.items():
            if signal != "self" or kind != "host" or not entry.incident.n:
                continue
            pods = [pod_strength[i] for i in entry.incident.instances if i in pod_strength]
            # a pod counts when it, not its whole service, is anomalous (it stands out from its siblings)
            anomalous = [p for p in pods if p.strength >= ANOMALOUS and self._alone_in_service(p)]
            services = {p.service for p in anomalous}
            if len(services) >= 2:
                score = 1 - math.prod(1 - p.strength for p in anomalous)
                score = min(1.0, max(score, max(p.strength for p in anomalous)) * (0.9 + 0.1 * len(services) / 3))
            else:
                score = entry.strength * 0.5
            detail = ", ".join(f"{p.name} ({p.service}) {p.strength:.2f}" for p in anomalous) or "none"
            evidence = [
                *_signal_evidence(entry, "the pods on this host"),
                {
                    "signal": "co-location",
                    "anomalous_instances": len(anomalous),
                    "instances": len(pods),
                    "services": sorted(s for s in services if s),
                    "detail": f"anomalous pods on this host: {detail}",
                },
            ]
            remediation = (
                f"Several services' pods on {name} degraded together: cordon and drain the node, then check its CPU, "
                "memory, disk and network pressure and noisy neighbours."
                if len(services) >= 2
                else f"Check node {name}; only one service's pods on it look affected."
            )
            result.append(Candidate("host", name, None, score, evidence, remediation))
        return result

    def _dependencies(self) -> list[Candidate]:
        result = []
        for (signal, kind, _, name), entry in self.evidence.items():
            if signal != "dependency" or kind == "edge" or not entry.incident.n:
                continue
            callers = ", ".join(entry.incident.callers)
            score = entry.strength * (0.5 if self.edges.moved_off(name) else 1.0)
            remediation = {
                "database": f"Slow or failing calls to database {name} (from {callers}): look at its slow query log "
                "and the statements in db.query.text, missing indexes and locks, and the callers' connection pools.",
                "messaging": f"Publishing to {name} slowed (from {callers}): check the broker's health, partitions "
                "and producer acknowledgements.",
                "external": f"External dependency {name} is slow or failing (from {callers}): check its status, add "
                "timeouts, retries with backoff and a circuit breaker or fallback.",
            }.get(kind, f"Check {name}.")
            result.append(Candidate(kind, name, None, score, _signal_evidence(entry, f"calls to {name}"), remediation))
        return result


class _EdgeBlame:
    """Which end of each slow call is to blame: the endpoint that more slow calls share.

    Every edge (caller -> callee service, or caller -> dependency) whose client-side gap or
    call time grew counts for both its ends; an edge is blamed on the end with more such
    edges (the callee when they tie, as one slow edge says nothing about its caller).
    """

    def __init__(self, evidence: Mapping[EntityKey, EntityEvidence]) -> None:
        slow = [
            (entry.incident.callers[0], entry.name.split(" -> ", 1)[1], entry)
            for (signal, kind, _, _), entry in evidence.items()
            if kind == "edge" and signal in ("network", "dependency") and entry.incident.callers and entry.strength > 0
        ]
        degree: dict[str, int] = defaultdict(int)
        for caller, callee, _ in slow:
            degree[caller] += 1
            degree[callee] += 1
        self._on_caller: dict[str, list[EntityEvidence]] = defaultdict(list)
        self._moved: set[str] = set()
        for caller, callee, entry in slow:
            if caller != callee and degree[caller] > degree[callee]:
                self._on_caller[caller].append(entry)
                self._moved.add(callee)

    def blamed_on(self, service: str) -> list[EntityEvidence]:
        """The service's own slow outbound calls that are blamed on it."""
        return self._on_caller.get(service, [])

    def moved_off(self, name: str) -> bool:
        """True if slow calls into ``name`` were blamed on their caller instead."""
        return name in self._moved

    def evidence(self, service: str) -> dict[str, Any]:
        edges = sorted(self._on_caller[service], key=lambda e: (-e.strength, e.name))
        return {
            "signal": "network",
            "edges": [e.name for e in edges],
            "strength": round(max(e.strength for e in edges), 4),
            "detail": f"its calls out slowed too ({', '.join(e.name for e in edges)}): the slow calls share "
            f"{service} as their endpoint, in and out",
        }


def _weigh_by_spectrum(candidates: list[Candidate], spectrum: Iterable[Mapping[str, Any]]) -> None:
    """Spectrum evidence (Ochiai): how much more the anomalous traces pass through an entity.

    On its own it cannot tell a cause from the services on the same paths, so it only
    weighs in a little (a factor from 0.9 to 1.0) and is shown as evidence.
    """
    rows = {(r["kind"], r["name"]): r for r in spectrum}
    for candidate in candidates:
        kind = {"operation": "service", **{k: "peer" for k in DEPENDENCY_KINDS}}.get(candidate.kind, candidate.kind)
        name = candidate.service if candidate.kind == "operation" else candidate.name
        row = rows.get((kind, name or ""))
        if row is None or not row["anomalous_traces"]:
            continue
        ef, ep = int(row["ef"]), int(row["ep"])
        ochiai = ef / math.sqrt(int(row["anomalous_traces"]) * (ef + ep)) if ef else 0.0
        candidate.score *= 0.9 + 0.1 * ochiai
        candidate.evidence.append(
            {
                "signal": "spectrum",
                "anomalous_traces": ef,
                "of_anomalous": int(row["anomalous_traces"]),
                "normal_traces": ep,
                "ochiai": round(ochiai, 4),
                "detail": f"in {ef} of the {row['anomalous_traces']} anomalous traces and {ep} normal ones "
                f"(Ochiai {ochiai:.2f})",
            }
        )


def _weigh_by_critical_path(candidates: list[Candidate], shares: Mapping[str, tuple[float, float]]) -> None:
    """Critical-path shift: how much a service's share of the traces' critical paths grew.

    The cause of a slowdown takes a larger share of the critical path; its callers' share
    shrinks or holds. Like the spectrum it only weighs in a little (a factor from 0.9 to
    1.0, the largest growth of the incident getting 1.0) and is shown as evidence.
    """
    growth = {service: max(0.0, after - before) for service, (before, after) in shares.items()}
    most = max(growth.values(), default=0.0)
    for candidate in candidates:
        service = candidate.service if candidate.kind in ("service", "operation", "instance") else None
        if service is None or service not in shares:
            continue
        before, after = shares[service]
        candidate.score *= 0.9 + 0.1 * (growth[service] / most if most > 0 else 0.0)
        candidate.evidence.append(
            {
                "signal": "critical_path",
                "before": round(before, 4),
                "after": round(after, 4),
                "detail": f"{after:.1%} of the critical-path time of the incident's traces (baseline {before:.1%})",
            }
        )


def _stands_out(pod: EntityEvidence, sibling: EntityEvidence) -> bool:
    """True if ``pod``'s anomaly is significantly stronger than ``sibling``'s (intervals apart)."""
    use_errors = pod.errors > pod.latency
    k_pod = pod.incident.errors if use_errors else pod.incident.exceeded
    k_sib = sibling.incident.errors if use_errors else sibling.incident.exceeded
    low, _ = wilson_bounds(k_pod, pod.incident.n)
    _, high = wilson_bounds(k_sib, sibling.incident.n)
    return high < low


def _signal_evidence(entry: EntityEvidence, what: str) -> list[dict[str, Any]]:
    evidence = []
    before, after = entry.baseline, entry.incident
    label = {"self": "latency", "network": "network", "dependency": "latency"}[entry.signal]
    if entry.latency > 0:
        evidence.append(
            {
                "signal": label,
                "unit": "ms",
                "before": {"p50": _ms(before.p50_ns), "p90": _ms(before.p90_ns), "count": before.n},
                "after": {"p50": _ms(after.p50_ns), "p90": _ms(after.p90_ns), "count": after.n},
                "share_above_baseline_p99": round(after.exceeded / after.n, 4) if after.n else 0.0,
                "strength": round(entry.latency, 4),
                "detail": f"{after.exceeded} of {after.n} spans of {what} beyond the baseline's 99th percentile "
                f"(p50 {_ms(before.p50_ns)} -> {_ms(after.p50_ns)} ms)",
                "trace_ids": after.slow_traces,
            }
        )
    if entry.errors > 0:
        evidence.append(
            {
                "signal": "errors",
                "before": {"errors": before.errors, "count": before.n, "rate": _rate(before.errors, before.n)},
                "after": {"errors": after.errors, "count": after.n, "rate": _rate(after.errors, after.n)},
                "strength": round(entry.errors, 4),
                "detail": f"{after.errors} of {after.n} spans of {what} failed where the error originates "
                f"(baseline {before.errors} of {before.n})",
                "trace_ids": after.error_traces,
            }
        )
    return evidence


def _saturation(shift: Mapping[str, tuple[float, float]]) -> float:
    """A pod's own resource jump as a strength: how far it moved beyond the shift that counts,
    as a share of the headroom it had (0 -> 86% CPU: 0.6; 40 -> 60%: 0.06).

    A pod that saturates while its requests barely slow (a CPU-hungry neighbour process, a
    throttled container) is a cause on its own; a small rise with the load is not.
    """
    strengths = [
        max(0.0, after - before - RESOURCE_SHIFT[signal]) / max(1 - before, 0.05) * SATURATION_WEIGHT
        for signal, (before, after) in shift.items()
    ]
    return min(1.0, max(strengths, default=0.0))


def _resource_evidence(shift: Mapping[str, tuple[float, float]]) -> list[dict[str, Any]]:
    return [
        {
            "signal": signal.removesuffix("_utilization"),
            "unit": "ratio",
            "before": round(before, 4),
            "after": round(after, 4),
            "detail": f"{signal.replace('_', ' ')} {before:.0%} -> {after:.0%}",
        }
        for signal, (before, after) in shift.items()
    ]


def _service_remediation(
    service: str,
    own: EntityEvidence,
    network: EntityEvidence | None,
    change: tuple[list[str], list[str], int] | None,
) -> str:
    if change is not None:
        return (
            f"{service} {', '.join(change[1])} replaced {', '.join(change[0])} as the incident began: roll back, "
            "then compare the releases."
        )
    if network is not None and network.strength > own.strength:
        return (
            f"Calls into or out of {service} spend longer on the wire than before: check its pods' network (traffic "
            "shaping, the CNI, the sidecar proxy), DNS, the nodes' network and cross-zone traffic."
        )
    if own.errors >= own.latency:
        return (
            f"Errors originate in {service}: read its exceptions and logs for the example traces; callers that "
            "pass the failure on could fall back instead."
        )
    return (
        f"{service} itself got slower (not its callees): profile its handlers; check thread and connection pools, "
        "garbage collection, and work that is not instrumented; scale out if it is load-bound."
    )


def _log_remediation(service: str, logs: ServiceLogEvidence) -> str:
    top = logs.changes[0]
    # a span that now ends early, or goes on differently, is told by the statement that stopped
    stopped = next(
        (c for c in logs.changes if c.z < 0 and (c.operation, c.before) == (top.operation, top.before)), None
    )
    if stopped is not None and (top.z < 0 or top.after == END_OF_SPAN):
        return (
            f"{service}'s own logs changed: '{stopped.after}' stopped following '{stopped.before}' in "
            f"{stopped.operation}, so the code between them no longer completes. Look for an exception swallowed "
            "or thrown there (the span ends early, often without an error status)."
        )
    where = f" ({top.location})" if top.location else ""
    return (
        f"{service}'s own logs changed: the log line '{top.after}'{where} {top.change} after '{top.before}' in "
        f"{top.operation}. Read that statement's code path and the example line; an error return or a failing "
        "dependency call starts there."
    )


def _instance_remediation(pod: str, service: str, shift: Mapping[str, tuple[float, float]]) -> str:
    if "memory_utilization" in shift:
        return (
            f"Memory of {pod} keeps rising: a leak is likely. Restart the pod to relieve it, take a heap profile, and "
            "set a memory limit that restarts it before it slows."
        )
    if "cpu_utilization" in shift:
        return (
            f"{pod} is CPU-saturated while other {service} pods are not: restart or reschedule it, and check its CPU "
            "limit and noisy neighbours on its node."
        )
    return f"Only {pod} of {service} misbehaves: restart or reschedule that pod and compare it with its siblings."


def _ms(ns: float) -> float:
    return round(ns / 1e6, 3)


def _rate(errors: int, count: int) -> float:
    return round(errors / count, 4) if count else 0.0
