"""Log evidence for root causes: what changed in a service's own logs between baseline and incident.

Input: the rows of ``storage/queries/logs/transitions.sql``, how often one event followed
another inside a span (the span's start, its log records in order, its end), per window,
service and operation. The statistic is the conditional share of each next event given the
current one, so it does not move with the traffic mix (more requests of one kind change how
often an event occurs, not what follows it):

- a template that **appears** or **surges** (a new ERROR line of an error return) raises the
  share of its transition;
- a statement that **stops appearing** (a silent exception ending the span early) lowers the
  share of the transition into it and raises the one that now follows instead.

Each change is a two-proportion z-score with add-one smoothing, so an event seen a handful
of times cannot score high, and an event never seen in the baseline (rare traffic) scores at
most about 2. A service's strength is its largest change, squashed into [0, 1] like the trace
signals. A caller whose logs changed because its callee failed (the callee logged an ERROR or
worse during most of the changed spans) names that callee as the likely origin
(:attr:`LogChange.handoff`), and the ranker hands the blame down to it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from analyzer.log_templates import LogTemplate, MinedTemplates, mine_templates

__all__ = ["END_OF_SPAN", "LogChange", "ServiceLogEvidence", "log_evidence", "row_templates"]

Z_FLOOR = 3.0  # changes below this are the noise of a normal window
Z_SCALE = 6.0  # z = floor + scale gives strength 0.63
MAX_CHANGES = 3  # changes kept as evidence per service
HANDOFF_SHARE = 0.5  # a callee logged an error during at least this share of the changed spans

START, END = "start", "end"
END_OF_SPAN = "end of span"  # the event name of a span's end


@dataclass(frozen=True)
class LogChange:
    """One transition whose share changed: ``after`` followed ``before`` in ``operation``'s spans."""

    operation: str
    before: str
    after: str
    baseline: tuple[int, int]  # (this transition, all transitions from ``before``)
    incident: tuple[int, int]
    z: float
    severity: str
    example_before: str
    example_after: str
    template_id: str | None
    location: str
    callee_errors: tuple[int, str] = (0, "")  # incident transitions during which a callee logged an error, and which
    trace_ids: tuple[str, ...] = ()  # incident traces that show the change

    @property
    def handoff(self) -> tuple[str, float] | None:
        """(callee, share) when a callee logged errors during most of this new behaviour."""
        count, callee = self.callee_errors
        share = count / self.incident[0] if self.incident[0] else 0.0
        return (callee, share) if self.z > 0 and callee and share >= HANDOFF_SHARE else None

    @property
    def change(self) -> str:
        if self.z > 0:
            return "appeared" if self.baseline[0] == 0 else "surged"
        return "stopped appearing" if self.incident[0] == 0 else "dropped"

    def as_dict(self) -> dict[str, Any]:
        b_n, b_total = self.baseline
        i_n, i_total = self.incident
        return {
            "signal": "logs",
            "change": self.change,
            "operation": self.operation,
            "follows": self.before,
            "event": self.after,
            "template_id": self.template_id,
            "location": self.location or None,
            "severity": self.severity or None,
            "baseline": {"count": b_n, "of": b_total, "share": round(b_n / b_total, 4) if b_total else None},
            "incident": {"count": i_n, "of": i_total, "share": round(i_n / i_total, 4) if i_total else None},
            "z": round(self.z, 2),
            "erring_callee": self.handoff[0] if self.handoff else None,
            "example_before": self.example_before or None,
            "example_after": self.example_after or None,
            "trace_ids": list(self.trace_ids),
            "detail": self.detail,
        }

    @property
    def detail(self) -> str:
        b_n, b_total = self.baseline
        i_n, i_total = self.incident
        return (
            f"in {self.operation}, '{self.after}' after '{self.before}' {self.change}: "
            f"{i_n}/{i_total} of the incident's transitions against {b_n}/{b_total} before"
        )


@dataclass
class ServiceLogEvidence:
    """What changed in the logs of a service, or of one instance (``entity``) of it."""

    service: str
    entity: str = ""
    z: float = 0.0
    changes: list[LogChange] = field(default_factory=list)

    @property
    def strength(self) -> float:
        return 1 - math.exp(-(self.z - Z_FLOOR) / Z_SCALE) if self.z > Z_FLOOR else 0.0


@dataclass
class _Event:
    key: str
    template_id: str | None = None
    location: str = ""


_State = tuple[str, str, str]  # service, operation, event


def _event(kind: str, location: str, masked: str, operation: str, templates: Mapping[str, LogTemplate]) -> _Event:
    if kind == START:
        return _Event(f"start of {operation}")
    if kind == END:
        return _Event(END_OF_SPAN)
    if location:
        return _Event(location, location=location)
    template = templates[masked]
    return _Event(template.text or "(empty message)", template_id=template.template_id)


def row_templates(rows: Iterable[Mapping[str, Any]]) -> MinedTemplates:
    """The templates of the masked messages of transition rows."""
    return mine_templates(
        masked for row in rows for masked in (row["from_masked"], row["to_masked"]) if masked is not None
    )


def log_evidence(
    rows: Iterable[Mapping[str, Any]], *, by: str = "service", templates: Mapping[str, LogTemplate] | None = None
) -> dict[str, ServiceLogEvidence]:
    """service (``by="service"``) or instance (``by="instance"``) -> its log evidence (those
    whose logs did not change have z 0). One pod of several that changes stands out at the
    instance level; all of them together are stronger at the service level. ``templates``
    (from :func:`row_templates` of the same rows) saves mining them again."""
    rows = [row for row in rows if row[by]]
    if templates is None:
        templates = row_templates(rows)
    counts: dict[_State, list[dict[str, int]]] = defaultdict(lambda: [defaultdict(int), defaultdict(int)])
    events: dict[str, _Event] = {}
    examples: dict[tuple[_State, str, bool], tuple[str, str]] = {}
    erred: dict[tuple[_State, str], tuple[int, str]] = {}
    usual_errors: dict[_State, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    service_of: dict[str, str] = {}
    traces: dict[tuple[_State, str], list[str]] = defaultdict(list)
    for row in rows:
        operation = row["operation"]
        before = _event(row["from_kind"], row["from_location"], row["from_masked"], operation, templates)
        after = _event(row["to_kind"], row["to_location"], row["to_masked"], operation, templates)
        state = (row[by], operation, before.key)
        service_of[row[by]] = row["service"]
        counts[state][int(bool(row["incident"]))][after.key] += int(row["n"])
        events[after.key] = after
        if row["incident"]:
            traces[(state, after.key)].extend(row.get("trace_ids") or ())
        examples.setdefault((state, after.key, bool(row["incident"])), (row["severity"] or "", row["example"] or ""))
        if row["incident"] and row["callee_errors"]:
            count, callee = erred.get((state, after.key), (0, ""))
            erred[(state, after.key)] = (count + int(row["callee_errors"]), callee or row["erring_callee"])
        elif row["callee_errors"]:
            usual_errors[state][row["erring_callee"]] += int(row["callee_errors"])
    found: dict[str, ServiceLogEvidence] = {}
    unusual = _unusual(erred, usual_errors, counts)
    for state in sorted(counts):
        evidence = found.setdefault(state[0], ServiceLogEvidence(service_of[state[0]], entity=state[0]))
        for change in _changes(state, counts[state], events, examples, unusual, traces):
            evidence.z = max(evidence.z, abs(change.z))
            evidence.changes.append(change)
    for evidence in found.values():
        evidence.changes = sorted(evidence.changes, key=lambda c: (-abs(c.z), c.operation, c.before, c.after))
        evidence.changes = evidence.changes[:MAX_CHANGES]
    return found


def _changes(
    state: _State,
    windows: list[dict[str, int]],
    events: Mapping[str, _Event],
    examples: Mapping[tuple[_State, str, bool], tuple[str, str]],
    erred: Mapping[tuple[_State, str], tuple[int, str]],
    traces: Mapping[tuple[_State, str], list[str]],
) -> Iterable[LogChange]:
    baseline, incident = windows
    b_total, i_total = sum(baseline.values()), sum(incident.values())
    if not i_total:
        return
    for after in sorted(set(baseline) | set(incident)):
        z = _z(incident.get(after, 0), i_total, baseline.get(after, 0), b_total)
        if abs(z) <= Z_FLOOR:
            continue
        severity_before, example_before = examples.get((state, after, False), ("", ""))
        severity_after, example_after = examples.get((state, after, True), ("", ""))
        event = events[after]
        yield LogChange(
            operation=state[1],
            before=state[2],
            after=after,
            baseline=(baseline.get(after, 0), b_total),
            incident=(incident.get(after, 0), i_total),
            z=z,
            severity=severity_after or severity_before,
            example_before=example_before,
            example_after=example_after,
            template_id=event.template_id,
            location=event.location,
            callee_errors=erred.get((state, after), (0, "")),
            trace_ids=_examples(state, after, z, incident, traces),
        )


def _examples(
    state: _State, after: str, z: float, incident: Mapping[str, int], traces: Mapping[tuple[_State, str], list[str]]
) -> tuple[str, ...]:
    """Up to three incident traces that show the change: the new transition's, or for one that
    dropped, those of what followed instead."""
    if z > 0:
        found = traces.get((state, after), [])
    else:
        found = [t for other in sorted(incident) if other != after for t in traces.get((state, other), [])]
    return tuple(sorted(set(found))[:3])


def _unusual(
    erred: Mapping[tuple[_State, str], tuple[int, str]],
    usual: Mapping[_State, Mapping[str, int]],
    counts: Mapping[_State, list[dict[str, int]]],
) -> dict[tuple[_State, str], tuple[int, str]]:
    """The callee errors during incident transitions, where that callee erred during a smaller
    share of the same state's baseline spans (a callee that always logs an ERROR there explains
    nothing new)."""
    kept = {}
    for (state, after), (count, callee) in erred.items():
        incident_n = counts[state][1].get(after, 0)
        baseline_n = sum(counts[state][0].values())
        usual_share = usual.get(state, {}).get(callee, 0) / baseline_n if baseline_n else 0.0
        if incident_n and usual_share < count / incident_n:
            kept[(state, after)] = (count, callee)
    return kept


def _z(i_n: int, i_total: int, b_n: int, b_total: int) -> float:
    """Two-proportion z-score of the incident share against the baseline's, add-one smoothed.

    >>> round(_z(30, 30, 0, 300), 1)  # a transition in every incident span, never before
    17.9
    >>> round(_z(3, 3, 0, 0), 1)  # no baseline at all: little evidence
    2.2
    """
    pooled = (i_n + b_n + 1) / (i_total + b_total + 2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / max(i_total, 1) + 1 / max(b_total, 1)))
    share_before = b_n / b_total if b_total else 0.0
    return (i_n / i_total - share_before) / spread if spread else 0.0
