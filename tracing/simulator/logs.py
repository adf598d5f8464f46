"""The log lines of simulated requests: fixed statements per operation, normal noise, fault lines.

Every operation of a service that logs (``Service.logs``) has 2-4 statements (most just
two) in a fixed order, derived from the names alone, so the same in every run and seed: an
opening line early in its span, then 1-3 lines after its calls, the last a completion line. The
constant text names the operation, tables and callees, as code does; the variable parts
(numbers, uuids, hex ids, words) come from the :class:`Narrator`'s own seeded generator, so
switching logs on or off leaves the spans exactly as they were.

Besides those:

- **noise**: 2% of requests log one WARN or ERROR line from templates that occur in normal
  periods too (slow queries, connection retries, cache refresh failures, GC pauses);
- **failures**: a span that fails with an exception logs an ERROR line; a caller whose call
  fails logs a WARN when it retries or falls back and an ERROR when it fails too (passing the
  callee's failure on); the statements after a failure are not logged;
- **code faults** (:mod:`tracing.simulator.faults`): ``code_error`` adds an ERROR line from a
  template that never occurs otherwise; ``code_exception`` cuts the span after its opening line.

Each statement has a logger (its class, the record's instrumentation scope) and a code
location; services with ``log_code_attributes`` send it as ``code.function.name``,
``code.file.path`` and ``code.line.number``, as a Java logging appender does with code
attributes enabled.
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tracing.simulator.topology import Operation, Service, Topology

__all__ = ["NOISE_SHARE", "Narrator", "OperationLogs", "SimLog", "Statement", "method_name", "template_pattern"]

NOISE_SHARE = 0.02
WORDS = ("standard", "express", "premium", "gift", "bulk", "digital", "mobile", "web", "partner", "internal")
REASONS = (
    "missing field 'address'",
    "amount must be positive",
    "unknown currency code",
    "quantity exceeds limit",
    "invalid state transition",
    "expired token",
)
OPENINGS = (
    "Handling {op} request for user {user_id}",
    "Received {op} request {uuid}",
    "Processing {op} for session {hex}",
    "Start {op}: user={user_id} channel={word}",
)
COMPLETIONS = (
    "Request {uuid} completed in {elapsed_ms} ms",
    "Finished {op} for user {user_id} in {elapsed_ms} ms",
    "{op} done: status=OK items={n}",
)
GENERIC_STEPS = (
    "Validated {n} fields of {word} payload",
    "Computed total {amount} for {n} items",
    "Applied {n} {word} rules",
)
ERROR_RETURNS = (
    "Order {id} validation failed: {reason}",
    "Could not apply coupon {code} to cart {hex}: {reason}",
    "Rejected {op} for user {user_id}: {reason}",
    "Stock reservation for item SKU-{id} failed: {reason}",
)

Field = Callable[[random.Random], str]
# random() rather than randint(): several times faster, and these lines are on the hot path
FIELDS: dict[str, Field] = {
    "user_id": lambda r: str(10_000 + int(r.random() * 90_000)),
    "uuid": lambda r: _uuid(r.getrandbits(128)),
    "hex": lambda r: f"{r.getrandbits(64):016x}",
    "id": lambda r: str(100_000 + int(r.random() * 900_000)),
    "n": lambda r: str(1 + int(r.random() * 48)),
    "slow_ms": lambda r: str(800 + int(r.random() * 3_200)),
    "gc_ms": lambda r: str(210 + int(r.random() * 690)),
    "attempt": lambda r: str(2 + int(r.random() * 3)),
    "amount": lambda r: f"{5 + r.random() * 895:.2f}",
    "code": lambda r: f"{r.getrandbits(40):010X}",
    "word": lambda r: WORDS[int(r.random() * len(WORDS))],
    "reason": lambda r: REASONS[int(r.random() * len(REASONS))],
}
GIVEN_FIELDS = frozenset({"elapsed_ms", "calls_ms", "error", "exception", "peer"})  # known where it is logged
NOTHING: Mapping[str, str] = {}


class SimLog(NamedTuple):
    """One log record, tied to the span it is stored on."""

    time_ns: int
    severity: str  # INFO | WARN | ERROR
    body: str
    logger: str  # the logger's name: the record's instrumentation scope
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class Statement:
    """One log statement in the code: its template, level, logger and location."""

    template: str  # str.format fields: FIELDS (drawn) or GIVEN_FIELDS (passed to log)
    severity: str
    logger: str
    attributes: Mapping[str, Any]  # the code.* attributes, when the service sends them
    drawn: tuple[tuple[str, Field], ...] = field(init=False)

    def __post_init__(self) -> None:
        names = [name for _, name, _, _ in string.Formatter().parse(self.template) if name]
        object.__setattr__(self, "drawn", tuple((n, FIELDS[n]) for n in names if n not in GIVEN_FIELDS))

    def log(self, time_ns: int, rng: random.Random, given: Mapping[str, str] = NOTHING) -> SimLog:
        values = {name: draw(rng) for name, draw in self.drawn}
        values.update(given)
        return SimLog(time_ns, self.severity, self.template.format_map(values), self.logger, self.attributes)


@dataclass(frozen=True)
class OperationLogs:
    opening: Statement
    steps: tuple[Statement, ...]  # after the calls; the last is the completion line
    error_return: Statement  # code_error's line
    failure: Statement  # the span failed with an exception


class _Code:
    """Where a service's statements live: Java-style classes, methods, files and lines."""

    def __init__(self, topology: Topology, service: Service) -> None:
        self.package = f"com.{_identifier(topology.namespace)}.{_identifier(service.name)}"
        self.send = service.log_code_attributes

    def statement(self, template: str, severity: str, cls: str, method: str, line: int) -> Statement:
        logger = f"{self.package}.{cls}"
        attributes: dict[str, Any] = {}
        if self.send:
            path = f"src/main/java/{logger.replace('.', '/')}.java"
            attributes = {"code.function.name": f"{logger}.{method}", "code.file.path": path, "code.line.number": line}
        return Statement(template, severity, logger, attributes)


class Narrator:
    """Writes the log lines of simulated spans, for the services that log.

    Parameters
    ----------
    topology:
        The system; its services' ``logs`` and ``log_code_attributes`` say who logs and how.
    seed:
        Seeds the variable parts and the noise (a generator of their own).
    """

    def __init__(self, topology: Topology, seed: int) -> None:
        self.topology = topology
        self.rng = random.Random(seed * 7_919 + 104_729)  # a stream apart from the engine's
        self._code = {s: _Code(topology, svc) for s, svc in topology.services.items() if svc.logs}
        self._plans = {
            (s, o): _plan(self._code[s], topology.services[s], op)
            for s in self._code
            for o, op in topology.services[s].operations.items()
        }
        self._noise = {s: _noise(self._code[s], topology, s) for s in self._code}
        self._calls: dict[tuple[str, str, str, str], Statement] = {}

    def logs(self, service: str) -> bool:
        return service in self._code

    def plan(self, service: str, operation: str) -> OperationLogs:
        """The statements of ``service operation`` (for docs and tests)."""
        return self._plans[service, operation]

    def opening(self, service: str, operation: str, time_ns: int) -> SimLog:
        return self._plans[service, operation].opening.log(time_ns, self.rng)

    def steps(self, service: str, operation: str, span_ns: tuple[int, int, int], *, error_return: bool) -> list[SimLog]:
        """The statements after the calls, spread between the calls' end and the span's end.

        ``span_ns`` is (span start, end of its calls, span end); with ``error_return``,
        code_error's line comes before the last statement.
        """
        start_ns, after_calls_ns, end_ns = span_ns
        plan = self._plans[service, operation]
        statements = list(plan.steps)
        if error_return:
            statements.insert(len(statements) - 1, plan.error_return)
        gap = (end_ns - after_calls_ns) // (len(statements) + 1)
        times = [after_calls_ns + gap * (i + 1) for i in range(len(statements))]
        calls_ms = _ms(after_calls_ns - start_ns)
        return [
            s.log(t, self.rng, {"elapsed_ms": _ms(t - start_ns), "calls_ms": calls_ms})
            for s, t in zip(statements, times, strict=True)
        ]

    def failure(self, service: str, operation: str, time_ns: int, exception: str) -> SimLog:
        return self._plans[service, operation].failure.log(time_ns, self.rng, {"exception": exception})

    def call_failed(self, service: str, callee: str, operation: str, outcome: str, time_ns: int, error: str) -> SimLog:
        """A caller's line about a failed call: ``outcome`` is retry, fallback (WARN) or fail (ERROR)."""
        key = (service, callee, operation, outcome)
        if key not in self._calls:
            self._calls[key] = _call_statement(self._code[service], callee, operation, outcome)
        return self._calls[key].log(time_ns, self.rng, {"error": error})

    def noise(self, service: str, start_ns: int, end_ns: int) -> SimLog | None:
        """In :data:`NOISE_SHARE` of requests, a WARN or ERROR line that normal periods have too."""
        if self.rng.random() >= NOISE_SHARE:
            return None
        statements, peers = self._noise[service]
        statement = statements[int(self.rng.random() * len(statements))]
        time_ns = start_ns + int(self.rng.random() * (end_ns - start_ns))
        return statement.log(time_ns, self.rng, {"peer": peers[int(self.rng.random() * len(peers))]})


def _plan(code: _Code, service: Service, operation: Operation) -> OperationLogs:
    digest = _digest(f"{service.name}/{operation.name}")
    cls = _class_name(service)
    method = method_name(operation.name)
    op = _literal(operation.name)
    count = (2, 2, 2, 3, 4)[(digest >> 16) % 5]  # 2-4 statements; most handlers log just start and end
    middle = (_step_templates(operation) + list(GENERIC_STEPS))[: count - 2]
    templates = [
        OPENINGS[digest % len(OPENINGS)],
        *middle,
        COMPLETIONS[(digest >> 4) % len(COMPLETIONS)],
    ]
    first_line = 30 + (digest >> 8) % 170
    opening, *steps = [
        code.statement(t.replace("{op}", op), "INFO", cls, method, first_line + 6 * i) for i, t in enumerate(templates)
    ]
    error_return = ERROR_RETURNS[(digest >> 12) % len(ERROR_RETURNS)].replace("{op}", op)
    return OperationLogs(
        opening=opening,
        steps=tuple(steps),
        error_return=code.statement(error_return, "ERROR", cls, method, first_line + 3),
        failure=code.statement(f"Unhandled exception in {op}: {{exception}}", "ERROR", cls, method, first_line - 2),
    )


def _step_templates(operation: Operation) -> list[str]:
    """One line per distinct thing the operation calls, in call order, naming it as code would."""
    templates: list[str] = []
    for call in operation.calls:
        target = _literal(call.table or call.target)
        line = {
            "service": f"Fetched {{n}} results from {target} in {{calls_ms}} ms",
            "database": f"Loaded {{n}} rows from {target} in {{calls_ms}} ms"
            if call.table
            else f"Loaded {{n}} items from {target} in {{calls_ms}} ms",
            "external": f"{target} answered in {{calls_ms}} ms",
            "publish": f"Published event {{uuid}} to {target}",
        }[call.kind]
        if line not in templates:
            templates.append(line)
    return templates


def _call_statement(code: _Code, callee: str, operation: str, outcome: str) -> Statement:
    what = _literal(f"{callee} {operation}")
    template, severity = {
        "retry": (f"Call to {what} failed ({{error}}), retrying", "WARN"),
        "fallback": (f"Call to {what} failed ({{error}}), using fallback", "WARN"),
        "fail": (f"Call to {what} failed: {{error}}", "ERROR"),
    }[outcome]
    line = 40 + _digest(f"{callee}/{operation}/{outcome}") % 120
    return code.statement(template, severity, f"client.{_pascal(callee)}Client", method_name(operation), line)


def _noise(code: _Code, topology: Topology, service: str) -> tuple[list[Statement], list[str]]:
    """A service's noise statements and the peers they name (what it calls, else its config server)."""
    calls = [c for op in topology.services[service].operations.values() for c in op.calls]
    peers = sorted({c.target for c in calls}) or ["config-server"]
    statements = [
        code.statement("Retrying connection to {peer} (attempt {attempt})", "WARN", "support.RetryPolicy", "retry", 88),
        code.statement("GC pause of {gc_ms} ms exceeded the 200 ms target", "WARN", "support.JvmMonitor", "check", 51),
        code.statement(
            "Failed to refresh {word} cache from {peer}: connection reset by peer",
            "ERROR",
            "cache.Refresher",
            "run",
            64,
        ),
    ]
    if any(c.kind == "database" for c in calls):
        statements.append(
            code.statement("Slow query detected: {slow_ms} ms", "WARN", "repository.QueryMonitor", "afterQuery", 37)
        )
    return statements, peers


def template_pattern(template: str) -> str:
    """A regular expression that matches the lines ``template`` renders (any text for a field).

    >>> import re
    >>> bool(re.fullmatch(template_pattern("Loaded {n} rows from orders"), "Loaded 7 rows from orders"))
    True
    """
    parts = [
        re.escape(text) + (".+" if name is not None else "") for text, name, _, _ in string.Formatter().parse(template)
    ]
    return "".join(parts)


def method_name(operation: str) -> str:
    """The handler method of an operation, as Java code would name it.

    >>> method_name("GET /product/{id}"), method_name("PlaceOrder"), method_name("GET /")
    ('getProduct', 'placeOrder', 'getIndex')
    """
    words: list[str] = re.findall(r"[A-Za-z0-9]+", re.sub(r"\{[^}]*\}", "", operation)) or ["handle"]
    if len(words) == 1 and words[0].isupper():
        words.append("index")  # GET /
    first, *rest = words
    head = first.lower() if first.isupper() else first[0].lower() + first[1:]
    return head + _pascal(rest)


def _pascal(words: str | list[str]) -> str:
    parts = re.split(r"[-_ ]", words) if isinstance(words, str) else words
    return "".join(p[:1].upper() + p[1:] for p in parts if p)


def _class_name(service: Service) -> str:
    return _pascal(service.name) + ("Controller" if service.protocol == "http" else "ServiceImpl")


def _identifier(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _literal(text: str) -> str:
    """``text`` as constant template text (its braces are not fields)."""
    return text.replace("{", "{{").replace("}", "}}")


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.1f}"


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big")


def _uuid(bits: int) -> str:
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
