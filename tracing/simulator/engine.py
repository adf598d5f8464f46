"""The request engine: walks a topology for one incoming request and times every span.

Pure and seeded: given the topology, the instances, the active fault effects and a random
generator, :meth:`Engine.request` returns a tree of :class:`SimSpan` with nanosecond start
and end times, semantic-convention attributes, statuses, exception events and, with a
:class:`~tracing.simulator.logs.Narrator`, the log lines of each span. Emitting the tree
through OpenTelemetry is :mod:`tracing.simulator.emit`'s job.

Timing model: an operation's own work is log-normal around its median, split 40/60 around
its outgoing calls; calls run one after another unless marked ``parallel`` (then alongside
the previous call); a call to a service crosses the network each way; a client with a
timeout gives up, records a timeout and retries if allowed while the server carries on. A
network fault on a service delays every packet into and out of its pods: both legs of the
calls into it, of its own calls to services, databases and APIs, and its messages.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from tracing.simulator.faults import HANG_MS, Effects, Instance
from tracing.simulator.logs import Narrator, SimLog
from tracing.simulator.topology import Call, Dependency, Operation, Service, Topology

__all__ = ["Engine", "SimEvent", "SimSpan", "span_name"]

MS = 1_000_000
NETWORK_MS = 0.25
BACKOFF_MS = 50.0
SERVICE_PORT = 8080
MAX_DEPTH = 24
HTTP_METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}
EXCEPTIONS = {
    "http": ("java.lang.IllegalStateException", "order state invalid"),
    "grpc": ("InternalError", "unexpected nil reference in handler"),
}


@dataclass
class SimEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any]


@dataclass
class SimSpan:
    name: str
    kind: str  # server | client | producer | consumer
    instance: Instance
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    error: str | None = None  # status message when the span failed
    events: list[SimEvent] = field(default_factory=list)
    children: list[SimSpan] = field(default_factory=list)
    logs: list[SimLog] = field(default_factory=list)


@dataclass
class Served:
    span: SimSpan
    failed: bool
    error_type: str | None


def span_name(topology: Topology, service: str, operation: str) -> str:
    """The server span name of ``service operation`` as the telemetry shows it."""
    svc = topology.services[service]
    if svc.protocol == "grpc":
        return f"{_rpc_service(topology, service)}/{operation}"
    method, route = _http_route(operation)
    return f"{method} {route}"


def _rpc_service(topology: Topology, service: str) -> str:
    camel = "".join(part.capitalize() for part in re.split(r"[-_]", service))
    return f"{topology.namespace}.{camel}Service"


def _http_route(operation: str) -> tuple[str, str]:
    first, _, rest = operation.partition(" ")
    if first in HTTP_METHODS and rest:
        return first, rest
    return "POST", "/" + re.sub(r"(?<!^)(?=[A-Z])", "-", operation).lower()


class Engine:
    """Generates timed request trees for a topology under the active fault effects."""

    def __init__(
        self,
        topology: Topology,
        instances: dict[str, list[Instance]],
        rng: random.Random,
        narrator: Narrator | None = None,
    ) -> None:
        self.topology = topology
        self.instances = instances  # service -> instances currently serving
        self.rng = rng
        self.narrator = narrator  # None: no logs
        self.effects: Effects | None = None
        self._names = {
            (s, o): span_name(topology, s, o) for s, svc in topology.services.items() for o in svc.operations
        }

    def request(self, service: str, operation: str, start_ns: int) -> SimSpan:
        """One user request into ``service operation`` at ``start_ns``: the root SERVER span's tree."""
        return self._serve(service, operation, start_ns, depth=0).span

    # --- server side -----------------------------------------------------------------------

    def _serve(self, service: str, operation: str, start_ns: int, depth: int, kind: str = "server") -> Served:
        svc = self.topology.services[service]
        instance = self.rng.choice(self.instances[service])
        op = svc.operations[operation]
        effects = self.effects
        work_ms = self._lognormal(op.self_ms, op.sigma)
        if effects is not None:
            work_ms = work_ms * effects.slowdown(instance.pod) + effects.extra_ms(service, operation)
            if self.rng.random() < effects.hang_probability(service):
                work_ms += HANG_MS
        span = SimSpan(self._names[service, operation], kind, instance, start_ns, start_ns, {})
        cursor = start_ns + int(work_ms * 0.4 * MS)
        if self._logs(service):
            span.logs.append(self._narrator.opening(service, operation, start_ns + (cursor - start_ns) // 4))
        if self._code_fault("code_exception", service):
            return self._swallow_exception(span, svc, operation, cursor)
        failed, error_type = False, None
        if depth < MAX_DEPTH:
            cursor, failed, callee_error = self._call_all(span, op, cursor, depth)
            if failed:
                error_type = "500" if svc.protocol == "http" else "UNAVAILABLE"
                span.error = f"a downstream call failed: {callee_error}"
        own_error = self._own_error(svc, op, instance)
        span.end_ns = cursor + int(work_ms * 0.6 * MS)
        if own_error:
            failed, error_type = True, self._raise(span, svc)
        self._server_attributes(span, svc, operation, failed, error_type)
        if self._logs(service):
            exception = f"{error_type}: {span.error}" if own_error else None
            self._close_logs(span, operation, cursor, steps=not failed, exception=exception)
        return Served(span, failed, error_type)

    def _swallow_exception(self, span: SimSpan, svc: Service, operation: str, at_ns: int) -> Served:
        """code_exception: the handler throws after its opening line and a catch-all answers normally.

        The calls, the rest of the work and the later log statements never happen; no status, no ERROR line.
        """
        span.end_ns = at_ns
        self._server_attributes(span, svc, operation, False, None)
        if self._logs(svc.name):
            self._close_logs(span, operation, at_ns, steps=False, exception=None)
        return Served(span, False, None)

    # --- logs ----------------------------------------------------------------------------------

    @property
    def _narrator(self) -> Narrator:
        assert self.narrator is not None
        return self.narrator

    def _logs(self, service: str) -> bool:
        return self.narrator is not None and self.narrator.logs(service)

    def _close_logs(
        self, span: SimSpan, operation: str, after_calls_ns: int, *, steps: bool, exception: str | None
    ) -> None:
        """The span's lines after its calls: the statements (unless it failed), its ERROR, maybe noise."""
        narrator, service = self._narrator, span.instance.service
        if exception is not None:
            span.logs.append(narrator.failure(service, operation, span.end_ns, exception))
        elif steps:
            error_return = self._code_fault("code_error", service)
            times = (span.start_ns, after_calls_ns, span.end_ns)
            span.logs.extend(narrator.steps(service, operation, times, error_return=error_return))
        if (noise := narrator.noise(service, span.start_ns, span.end_ns)) is not None:
            span.logs.append(noise)
        span.logs.sort(key=itemgetter(0))  # by time

    def _log_call_failure(self, parent: SimSpan, call: Call, time_ns: int, error: str, *, retrying: bool) -> None:
        """The caller's line about a failed call: WARN when it retries or falls back, ERROR when it fails too."""
        if not self._logs(parent.instance.service):
            return
        outcome = "retry" if retrying else "fallback" if call.on_error == "fallback" else "fail"
        parent.logs.append(
            self._narrator.call_failed(parent.instance.service, call.target, call.operation, outcome, time_ns, error)
        )

    def _code_fault(self, fault_type: str, service: str) -> bool:
        """Whether this request of ``service`` hits an active code fault (drawn only under one)."""
        share = self.effects.code_fault_share(fault_type, service) if self.effects is not None else 0.0
        return share > 0 and self.rng.random() < share

    def _own_error(self, svc: Service, op: Operation, instance: Instance) -> bool:
        rate = op.error_rate + self.topology.background_error_rate
        if self.effects is not None:
            rate += self.effects.error_rate(svc.name, instance.version)
        return self.rng.random() < rate

    def _raise(self, span: SimSpan, svc: Service) -> str:
        """Record the exception that fails ``span``; returns its type (its message becomes the status)."""
        exc_type, message = EXCEPTIONS[svc.protocol]
        span.events.append(
            SimEvent(
                "exception",
                span.end_ns,
                {
                    "exception.type": exc_type,
                    "exception.message": message,
                    "exception.stacktrace": f"{exc_type}: {message}\n\tat {svc.name}.handler(Handler.java:42)",
                },
            )
        )
        span.error = message
        return exc_type

    def _call_all(self, span: SimSpan, op: Operation, cursor: int, depth: int) -> tuple[int, bool, str | None]:
        group_start = group_end = cursor
        for call in op.calls:
            if call.probability < 1.0 and self.rng.random() >= call.probability:
                continue
            for _ in range(call.repeat):
                begin = group_start if call.parallel else group_end
                if not call.parallel:
                    group_start = begin
                end, ok, error_type = self._call(span, call, begin, depth)
                group_end = max(group_end, end)
                if not ok and call.on_error == "fail":
                    return group_end, True, error_type
        return group_end, False, None

    # --- client side -----------------------------------------------------------------------

    def _call(self, parent: SimSpan, call: Call, start_ns: int, depth: int) -> tuple[int, bool, str | None]:
        if call.kind == "service":
            return self._call_service(parent, call, start_ns, depth)
        dependency = self.topology.dependencies[call.target]
        if call.kind == "publish":
            return self._publish(parent, call, dependency, start_ns, depth)
        return self._call_dependency(parent, call, dependency, start_ns)

    def _call_service(self, parent: SimSpan, call: Call, start_ns: int, depth: int) -> tuple[int, bool, str | None]:
        callee = self.topology.services[call.target]
        network_ms = NETWORK_MS
        if self.effects is not None:  # each leg leaves one pod and enters the other
            network_ms += self._delay_ms(call.target) + self._delay_ms(parent.instance.service)
        attempt_start = start_ns
        for attempt in range(call.retries + 1):
            client = SimSpan(
                self._client_name(callee, call.operation), "client", parent.instance, attempt_start, attempt_start, {}
            )
            parent.children.append(client)
            arrival = attempt_start + int(self._lognormal(network_ms, 0.15) * MS)
            served = self._serve(call.target, call.operation, arrival, depth + 1)
            client.children.append(served.span)
            answered = served.span.end_ns + int(self._lognormal(network_ms, 0.15) * MS)
            timed_out = call.timeout_ms is not None and answered - attempt_start > call.timeout_ms * MS
            client.end_ns = attempt_start + int(call.timeout_ms * MS) if timed_out and call.timeout_ms else answered
            error_type = _timeout_type(callee) if timed_out else served.error_type if served.failed else None
            self._client_attributes(client, callee, call.operation, attempt, error_type, timed_out, served.failed)
            if error_type is None:
                return client.end_ns, True, None
            self._log_call_failure(parent, call, client.end_ns, error_type, retrying=attempt < call.retries)
            if attempt == call.retries:
                return client.end_ns, False, error_type
            attempt_start = client.end_ns + int(BACKOFF_MS * MS)
        raise AssertionError("unreachable")

    def _call_dependency(
        self, parent: SimSpan, call: Call, dependency: Dependency, start_ns: int
    ) -> tuple[int, bool, str | None]:
        duration_ms = self._lognormal(dependency.latency_ms, dependency.sigma)
        if self.effects is not None and dependency.kind == "database":
            duration_ms *= self.effects.database_factor(dependency.name)
        duration_ms += 2 * self._delay_ms(parent.instance.service)  # the query leaves the pod, its answer enters it
        end = start_ns + int(duration_ms * MS)
        timed_out = call.timeout_ms is not None and duration_ms > call.timeout_ms
        if timed_out and call.timeout_ms is not None:
            end = start_ns + int(call.timeout_ms * MS)
        if dependency.kind == "database":
            span = self._database_span(parent, call, dependency, start_ns, end)
        else:
            span = self._external_span(parent, call, dependency, start_ns, end)
        if timed_out:
            span.error = "deadline exceeded"
            span.attributes["error.type"] = "timeout"
            self._log_call_failure(parent, call, end, "timeout", retrying=False)
        parent.children.append(span)
        return end, not timed_out, "timeout" if timed_out else None

    def _database_span(self, parent: SimSpan, call: Call, dep: Dependency, start: int, end: int) -> SimSpan:
        target = call.table or dep.namespace or dep.name
        attributes: dict[str, Any] = {
            "db.system.name": dep.system,
            "db.operation.name": call.operation,
            "server.address": dep.name,
            "server.port": dep.port,
        }
        if dep.namespace:
            attributes["db.namespace"] = dep.namespace
        if call.table:
            attributes["db.collection.name"] = call.table
        if call.statement:
            attributes["db.query.text"] = call.statement
        return SimSpan(f"{call.operation} {target}", "client", parent.instance, start, end, attributes)

    def _external_span(self, parent: SimSpan, call: Call, dep: Dependency, start: int, end: int) -> SimSpan:
        method, route = _http_route(call.operation)
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.full": f"https://{dep.name}{route}",
            "url.template": route,
            "server.address": dep.name,
            "server.port": dep.port,
            "http.response.status_code": 200,
        }
        return SimSpan(f"{method} {route}", "client", parent.instance, start, end, attributes)

    def _publish(
        self, parent: SimSpan, call: Call, dep: Dependency, start_ns: int, depth: int
    ) -> tuple[int, bool, str | None]:
        send_ms = self._lognormal(dep.latency_ms, dep.sigma) + 2 * self._delay_ms(parent.instance.service)
        end = start_ns + int(send_ms * MS)
        messaging = {
            "messaging.system": dep.system,
            "messaging.destination.name": dep.name,
            "server.address": dep.name,
            "server.port": dep.port,
        }
        producer = SimSpan(
            f"send {dep.name}",
            "producer",
            parent.instance,
            start_ns,
            end,
            {**messaging, "messaging.operation.type": "send", "messaging.operation.name": "send"},
        )
        parent.children.append(producer)
        if call.consumer is not None and depth < MAX_DEPTH:
            lag_ms = self._lognormal(15.0, 0.6)  # waiting in the topic until the consumer polls
            lag_ms += self._delay_ms(call.consumer)  # the fetched message enters the consumer's pod
            served = self._serve(call.consumer, call.operation, end + int(lag_ms * MS), depth + 1, kind="consumer")
            served.span.attributes.update(
                {
                    **messaging,
                    "messaging.operation.type": "process",
                    "messaging.operation.name": "process",
                    "messaging.consumer.group.name": call.consumer,
                }
            )
            producer.children.append(served.span)
        return end, True, None

    # --- attributes --------------------------------------------------------------------------

    def _client_name(self, callee: Service, operation: str) -> str:
        if callee.protocol == "grpc":
            return self._names[callee.name, operation]
        method, route = _http_route(operation)
        return f"{method} {route}"

    def _server_attributes(self, span: SimSpan, svc: Service, operation: str, failed: bool, error: str | None) -> None:
        attrs = span.attributes
        if span.kind == "consumer":
            pass  # a consumer's attributes are the messaging ones its producer call sets
        elif svc.protocol == "grpc":
            attrs.update(_rpc_attributes(span.name, svc.name, 13 if failed else 0))
        else:
            method, route = _http_route(operation)
            attrs.update(
                {
                    "http.request.method": method,
                    "http.route": route,
                    "url.path": route.replace("{id}", str(self.rng.randint(1, 9999))),
                    "url.scheme": "http",
                    "http.response.status_code": 500 if failed else 200,
                    "server.address": svc.name,
                    "server.port": SERVICE_PORT,
                }
            )
        if failed:
            attrs["error.type"] = error or "500"
            span.error = span.error or str(error)

    def _client_attributes(
        self,
        span: SimSpan,
        callee: Service,
        operation: str,
        attempt: int,
        error: str | None,
        timed_out: bool,
        callee_failed: bool,
    ) -> None:
        attrs = span.attributes
        if callee.protocol == "grpc":
            attrs.update(_rpc_attributes(span.name, callee.name, 4 if timed_out else 14 if callee_failed else 0))
        else:
            method, route = _http_route(operation)
            attrs.update(
                {
                    "http.request.method": method,
                    "url.full": f"http://{callee.name}:{SERVICE_PORT}{route}",
                    "url.template": route,
                    "server.address": callee.name,
                    "server.port": SERVICE_PORT,
                }
            )
            if not timed_out:
                attrs["http.response.status_code"] = 500 if callee_failed else 200
        if attempt:
            attrs["http.request.resend_count" if callee.protocol == "http" else "rpc.request.attempt"] = attempt + 1
        if error is not None:
            attrs["error.type"] = error
            span.error = "deadline exceeded" if timed_out else f"{callee.name} answered {error}"

    def _delay_ms(self, service: str) -> float:
        """A network fault's delay of each packet into or out of ``service``'s pods."""
        return self.effects.network_delay_ms(service) if self.effects is not None else 0.0

    def _lognormal(self, median_ms: float, sigma: float) -> float:
        return median_ms * math.exp(self.rng.gauss(0.0, sigma))


def _rpc_attributes(span_name: str, server: str, status: int) -> dict[str, Any]:
    """gRPC attributes of either side of a call named ``package.Service/Method``."""
    rpc_service, _, method = span_name.partition("/")
    return {
        "rpc.system": "grpc",
        "rpc.service": rpc_service,
        "rpc.method": method,
        "rpc.grpc.status_code": status,
        "server.address": server,
        "server.port": SERVICE_PORT,
    }


def _timeout_type(callee: Service) -> str:
    return "DEADLINE_EXCEEDED" if callee.protocol == "grpc" else "timeout"
