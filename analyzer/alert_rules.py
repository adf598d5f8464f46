"""Alert rules: the YAML format, read and validated in one pass.

A rules file is a mapping with a ``rules:`` list. Each rule::

    - alert: CheckoutErrors          # name, unique in the file
      signal: error_rate             # see SIGNALS
      service: checkout              # scope: service, and at most one of operation, edge, pod
      above: 0.05                    # or below: (exactly one; slo_burn and anomaly need neither)
      window: 1m                     # the span-time window the signal is measured over
      for: 1m                        # how long the condition holds before firing (default 0s)
      labels: {severity: page}
      annotations: {summary: "..."}  # templated: {value}, {scope}, {root_causes}, {alert}

A rule may name a remediation ``action``: ``{webhook: URL, dry_run: true, cooldown: 30m}``
(``dry_run`` is true unless set to false; at most one action per target per ``cooldown``).

A top-level ``notify:`` block may name ``alertmanager`` and ``webhook`` URLs.

``slo_burn`` takes ``objective`` (e.g. 0.999: of availability, or with ``latency_ms`` the
share of requests at most that slow) and optionally ``burn_windows`` (a list of
``{long, short, factor}``; default: the Google SRE workbook's 1h/5m at 14.4x and 6h/30m at 6x).
``error_rate`` may take ``confidence`` (e.g. 0.99): the rule then breaches only when the
window's error count is that unlikely under the threshold itself (a one-sided binomial test
of the errors among the requests), so that one failure among a handful of requests does not
page; without it the plain ratio is compared, as Prometheus would.
``anomaly`` fires while glimpse's detector flags the scope (``above`` a score, default 0).
``forecast_capacity`` fires when the insights forecast of the service's throughput,
``horizon`` ahead (default 30m), reaches 80% of the load at which its p95 latency degraded
before, within the rule's ``window`` of history (default 6h).

:func:`parse_rules` reports every mistake at once, each with the rule's name (or its
position) and the field, as ``promtool check rules`` does; nothing is loaded when one is found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from analyzer.errors import InvalidQueryError

__all__ = [
    "DEFAULT_BURN_WINDOWS",
    "SIGNALS",
    "Action",
    "BurnWindow",
    "NotifyTargets",
    "Rule",
    "RulesDocument",
    "RulesError",
    "parse_duration_ns",
    "parse_rules",
    "parse_rules_document",
    "read_rules",
    "read_rules_document",
]

SIGNALS = (
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "throughput_rps",
    "anomaly",
    "slo_burn",
    "forecast_capacity",
)
NO_THRESHOLD = frozenset({"slo_burn", "forecast_capacity"})  # they breach on their own test
SCOPE_FIELDS = ("operation", "edge", "pod")
KNOWN_FIELDS = frozenset(
    {
        "alert",
        "signal",
        "service",
        *SCOPE_FIELDS,
        "above",
        "below",
        "window",
        "for",
        "labels",
        "annotations",
        "objective",
        "burn_windows",
        "action",
        "horizon",
        "latency_ms",
        "confidence",
    }
)
ACTION_FIELDS = frozenset({"webhook", "dry_run", "cooldown"})
DEFAULT_COOLDOWN = "30m"
DEFAULT_WINDOW = "5m"
DEFAULT_FORECAST_WINDOW = "6h"
DEFAULT_HORIZON = "30m"
_S = 1_000_000_000
_UNITS_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_:.-]*$")


class RulesError(InvalidQueryError):
    """A rules file with mistakes; ``problems`` lists each, as ``rule NAME: field: what``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class BurnWindow:
    """One multi-window pair: fire while both windows burn the error budget ``factor`` times too fast."""

    long_ns: int
    short_ns: int
    factor: float


# The Google SRE workbook, "Alerting on SLOs", recommendation 6 (the paging pairs)
DEFAULT_BURN_WINDOWS = (
    BurnWindow(3600 * _S, 300 * _S, 14.4),
    BurnWindow(6 * 3600 * _S, 1800 * _S, 6.0),
)


@dataclass(frozen=True)
class NotifyTargets:
    """The ``notify:`` block: where the alerts go (the server's options win over it)."""

    alertmanager: str | None = None
    webhook: str | None = None


@dataclass(frozen=True)
class RulesDocument:
    rules: tuple[Rule, ...]
    notify: NotifyTargets


@dataclass(frozen=True)
class Action:
    """A remediation hook: the alert and its top root cause go to ``webhook`` (unless ``dry_run``)."""

    webhook: str
    dry_run: bool = True
    cooldown_ns: int = 1800 * _S


@dataclass(frozen=True)
class Rule:
    alert: str
    signal: str
    service: str
    operation: str | None = None
    edge: tuple[str, str] | None = None  # (caller, callee)
    pod: str | None = None
    above: float | None = None
    below: float | None = None
    window_ns: int = 300 * _S
    for_ns: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    objective: float | None = None
    burn_windows: tuple[BurnWindow, ...] = DEFAULT_BURN_WINDOWS
    action: Action | None = None
    horizon_ns: int = 1800 * _S  # forecast_capacity: how far ahead
    latency_ms: float | None = None  # slo_burn: a latency objective (requests slower than this are bad)
    confidence: float | None = None  # error_rate: breach only on a significant count (binomial test)

    @property
    def scope(self) -> str:
        """The scope as text: ``checkout``, ``checkout GET /cart``, ``checkout -> payment``, ``checkout pod p-1``."""
        if self.operation is not None:
            return f"{self.service} {self.operation}"
        if self.edge is not None:
            return f"{self.edge[0]} -> {self.edge[1]}"
        if self.pod is not None:
            return f"{self.service} pod {self.pod}"
        return self.service

    def breached(self, value: float) -> bool:
        """Whether ``value`` meets the threshold (slo_burn rules breach on their burn-rate pairs instead)."""
        if self.below is not None:
            return value < self.below
        return value > (self.above if self.above is not None else 0.0)


def parse_duration_ns(text: object) -> int:
    """A duration like ``30s``, ``5m``, ``1.5h``, ``250ms`` as nanoseconds (``0`` and ``0s`` are 0).

    >>> parse_duration_ns("5m") == 300 * 10**9, parse_duration_ns("0")
    (True, 0)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", str(text))
    if not match or (match.group(2) is None and float(match.group(1)) != 0):
        raise ValueError(f"not a duration (like 30s, 5m, 1h): {text!r}")
    return round(float(match.group(1)) * _UNITS_S[match.group(2) or "s"] * _S)


def read_rules(path: str) -> list[Rule]:
    """The rules of the file at ``path`` (see :func:`parse_rules`)."""
    return list(read_rules_document(path).rules)


def read_rules_document(path: str) -> RulesDocument:
    """The rules and the ``notify:`` block of the file at ``path``."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise RulesError([f"cannot read {path}: {exc.strerror or exc}"]) from None
    return parse_rules_document(text)


def parse_rules(text: str) -> list[Rule]:
    """Every rule of a rules document; :class:`RulesError` listing every mistake if there is one."""
    return list(parse_rules_document(text).rules)


def parse_rules_document(text: str) -> RulesDocument:
    """A rules document: its rules and its ``notify:`` block, or every mistake at once."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError([f"not valid YAML: {exc}"]) from None
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise RulesError(["the file must be a mapping with a 'rules:' list"])
    unknown = sorted(set(document) - {"rules", "notify"})
    problems = [f"unknown top-level field {key!r}" for key in unknown]
    notify = _notify(document.get("notify"), problems)
    rules: list[Rule] = []
    seen: set[str] = set()
    for position, entry in enumerate(document["rules"], start=1):
        rule, found = _parse_rule(entry, position)
        name = _name_of(entry, position)
        if name in seen:
            found.append(f"rule {name}: alert: the name is used by an earlier rule")
        problems += found
        seen.add(name)
        if rule is not None:
            rules.append(rule)
    if problems:
        raise RulesError(problems)
    return RulesDocument(tuple(rules), notify)


def _notify(raw: object, problems: list[str]) -> NotifyTargets:
    if raw is None:
        return NotifyTargets()
    if not isinstance(raw, dict):
        problems.append("notify: must be a mapping with alertmanager and/or webhook")
        return NotifyTargets()
    problems += [f"notify: {key}: unknown field" for key in sorted(set(map(str, raw)) - {"alertmanager", "webhook"})]
    urls: dict[str, str | None] = {}
    for key in ("alertmanager", "webhook"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not re.match(r"^https?://[^/\s]+", value)):
            problems.append(f"notify: {key}: must be an http:// or https:// URL (got {value!r})")
            value = None
        urls[key] = value
    return NotifyTargets(urls["alertmanager"], urls["webhook"])


def _name_of(entry: object, position: int) -> str:
    if isinstance(entry, dict) and isinstance(entry.get("alert"), str) and entry["alert"]:
        return str(entry["alert"])
    return f"#{position}"


class _Problems:
    """Mistakes of one rule, each prefixed with its name and field."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found: list[str] = []

    def add(self, field_name: str, what: str) -> None:
        self.found.append(f"rule {self.name}: {field_name}: {what}")


def _parse_rule(entry: object, position: int) -> tuple[Rule | None, list[str]]:
    problems = _Problems(_name_of(entry, position))
    if not isinstance(entry, dict):
        problems.add("rule", "must be a mapping")
        return None, problems.found
    for key in sorted(set(map(str, entry)) - KNOWN_FIELDS):
        problems.add(key, "unknown field")
    alert = entry.get("alert")
    if not isinstance(alert, str) or not _NAME.match(alert):
        problems.add("alert", "required: a name of letters, digits, '_', ':', '.', '-'")
    signal = entry.get("signal")
    if signal not in SIGNALS:
        problems.add("signal", f"must be one of {', '.join(SIGNALS)} (got {signal!r})")
    service, operation, edge, pod = _scope(entry, problems)
    above, below = _threshold(entry, signal, problems)
    default_window = DEFAULT_FORECAST_WINDOW if signal == "forecast_capacity" else DEFAULT_WINDOW
    window_ns = _duration(entry, "window", default_window, problems, positive=True)
    horizon_ns = _horizon(entry, signal, problems)
    for_ns = _duration(entry, "for", "0s", problems, positive=False)
    labels = _text_map(entry, "labels", problems)
    annotations = _text_map(entry, "annotations", problems)
    objective, burn = _slo(entry, signal, problems)
    latency_ms = _latency_objective(entry, signal, problems)
    confidence = _confidence(entry, signal, problems)
    action = _action(entry, problems)
    if problems.found:
        return None, problems.found
    rule = Rule(
        alert=str(alert),
        signal=str(signal),
        service=service,
        operation=operation,
        edge=edge,
        pod=pod,
        above=above,
        below=below,
        window_ns=window_ns,
        for_ns=for_ns,
        labels=labels,
        annotations=annotations,
        objective=objective,
        burn_windows=burn,
        action=action,
        horizon_ns=horizon_ns,
        latency_ms=latency_ms,
        confidence=confidence,
    )
    return rule, []


def _scope(entry: dict[str, Any], problems: _Problems) -> tuple[str, str | None, tuple[str, str] | None, str | None]:
    service = entry.get("service")
    if not isinstance(service, str) or not service.strip():
        problems.add("service", "required: the service the rule watches")
        service = ""
    given = [key for key in SCOPE_FIELDS if key in entry]
    if len(given) > 1:
        problems.add(given[1], f"give at most one of {', '.join(SCOPE_FIELDS)} (got {', '.join(given)})")
    for key in given:
        if not isinstance(entry[key], str) or not entry[key].strip():
            problems.add(key, "must be a non-empty string")
    edge = None
    if isinstance(entry.get("edge"), str):
        caller, arrow, callee = entry["edge"].partition("->")
        if not arrow or not caller.strip() or not callee.strip():
            problems.add("edge", f"must be 'caller->callee' (got {entry['edge']!r})")
        else:
            edge = (caller.strip(), callee.strip())
            if service and edge[0] != service:
                problems.add("edge", f"the caller must be the rule's service {service!r} (got {edge[0]!r})")
    operation = entry.get("operation") if isinstance(entry.get("operation"), str) else None
    pod = entry.get("pod") if isinstance(entry.get("pod"), str) else None
    return service, operation, edge, pod


def _threshold(entry: dict[str, Any], signal: object, problems: _Problems) -> tuple[float | None, float | None]:
    values: dict[str, float | None] = {}
    for key in ("above", "below"):
        raw = entry.get(key)
        if raw is None:
            values[key] = None
        elif isinstance(raw, bool) or not isinstance(raw, (int, float)):
            problems.add(key, f"must be a number (got {raw!r})")
            values[key] = None
        else:
            values[key] = float(raw)
    given = [key for key in ("above", "below") if key in entry]
    if signal in NO_THRESHOLD:
        why = "its burn-rate pairs" if signal == "slo_burn" else "the forecast reaching the load that degraded it"
        for key in given:
            problems.add(key, f"{signal} takes no threshold: it fires on {why}")
    elif signal == "anomaly":
        if "below" in entry:
            problems.add("below", "anomaly takes only 'above' (a detector score, default 0)")
    elif signal in SIGNALS and len(given) != 1:
        problems.add("above", "give exactly one of 'above' or 'below'")
    if signal == "error_rate":
        for key in given:
            value = values[key]
            if value is not None and not 0 <= value <= 1:
                problems.add(key, f"an error rate is a ratio from 0 to 1 (got {value})")
    return values["above"], values["below"]


def _duration(entry: dict[str, Any], key: str, default: str, problems: _Problems, *, positive: bool) -> int:
    try:
        value = parse_duration_ns(entry.get(key, default))
    except ValueError as exc:
        problems.add(key, str(exc))
        return 0
    if positive and value <= 0:
        problems.add(key, "must be longer than 0")
    return value


def _text_map(entry: dict[str, Any], key: str, problems: _Problems) -> dict[str, str]:
    raw = entry.get(key, {})
    if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
        problems.add(key, "must be a mapping of names to text")
        return {}
    bad = sorted(k for k, v in raw.items() if not isinstance(v, (str, int, float)) or isinstance(v, bool))
    for name in bad:
        problems.add(f"{key}.{name}", "must be text")
    return {k: str(v) for k, v in raw.items() if k not in bad}


def _slo(entry: dict[str, Any], signal: object, problems: _Problems) -> tuple[float | None, tuple[BurnWindow, ...]]:
    if signal != "slo_burn":
        for key in ("objective", "burn_windows", "latency_ms"):
            if key in entry:
                problems.add(key, "only slo_burn rules take it")
        return None, DEFAULT_BURN_WINDOWS
    objective = entry.get("objective")
    if isinstance(objective, bool) or not isinstance(objective, (int, float)) or not 0 < objective < 1:
        problems.add("objective", f"required: an objective between 0 and 1, like 0.999 (got {objective!r})")
        objective = None
    if "burn_windows" not in entry:
        return objective, DEFAULT_BURN_WINDOWS
    raw = entry["burn_windows"]
    if not isinstance(raw, list) or not raw:
        problems.add("burn_windows", "must be a non-empty list of {long, short, factor}")
        return objective, DEFAULT_BURN_WINDOWS
    return objective, tuple(_burn_window(item, index, problems) for index, item in enumerate(raw))


def _burn_window(item: object, index: int, problems: _Problems) -> BurnWindow:
    where = f"burn_windows[{index}]"
    if not isinstance(item, dict) or set(item) != {"long", "short", "factor"}:
        problems.add(where, "must be a mapping with exactly long, short and factor")
        return DEFAULT_BURN_WINDOWS[0]
    try:
        long_ns, short_ns = parse_duration_ns(item["long"]), parse_duration_ns(item["short"])
    except ValueError as exc:
        problems.add(where, str(exc))
        return DEFAULT_BURN_WINDOWS[0]
    factor = item["factor"]
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
        problems.add(f"{where}.factor", f"must be a positive number (got {factor!r})")
        factor = 1.0
    if not 0 < short_ns < long_ns:
        problems.add(where, "the short window must be shorter than the long one, and both longer than 0")
    return BurnWindow(long_ns, short_ns, float(factor))


def _action(entry: dict[str, Any], problems: _Problems) -> Action | None:
    if "action" not in entry:
        return None
    raw = entry["action"]
    if not isinstance(raw, dict):
        problems.add("action", "must be a mapping with webhook, and optionally dry_run and cooldown")
        return None
    for key in sorted(set(map(str, raw)) - ACTION_FIELDS):
        problems.add(f"action.{key}", "unknown field (glimpse never runs a command: an action is a webhook)")
    webhook = raw.get("webhook")
    if not isinstance(webhook, str) or not re.match(r"^https?://[^/\s]+", webhook):
        problems.add("action.webhook", f"required: an http:// or https:// URL (got {webhook!r})")
        webhook = ""
    dry_run = raw.get("dry_run", True)
    if not isinstance(dry_run, bool):
        problems.add("action.dry_run", f"must be true or false (got {dry_run!r})")
        dry_run = True
    try:
        cooldown_ns = parse_duration_ns(raw.get("cooldown", DEFAULT_COOLDOWN))
    except ValueError as exc:
        problems.add("action.cooldown", str(exc))
        cooldown_ns = 0
    return Action(webhook, dry_run, cooldown_ns)


def _horizon(entry: dict[str, Any], signal: object, problems: _Problems) -> int:
    if signal != "forecast_capacity":
        if "horizon" in entry:
            problems.add("horizon", "only forecast_capacity rules take it")
        return parse_duration_ns(DEFAULT_HORIZON)
    return _duration(entry, "horizon", DEFAULT_HORIZON, problems, positive=True)


def _latency_objective(entry: dict[str, Any], signal: object, problems: _Problems) -> float | None:
    raw = entry.get("latency_ms")
    if signal != "slo_burn" or raw is None:
        return None  # _slo names latency_ms on another signal
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
        problems.add("latency_ms", f"must be a positive number of milliseconds (got {raw!r})")
        return None
    return float(raw)


def _confidence(entry: dict[str, Any], signal: object, problems: _Problems) -> float | None:
    raw = entry.get("confidence")
    if raw is None:
        return None
    if signal != "error_rate":
        problems.add("confidence", "only error_rate rules take it")
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0.5 <= raw < 1:
        problems.add("confidence", f"must be a number from 0.5 up to 1 (got {raw!r})")
        return None
    return float(raw)
