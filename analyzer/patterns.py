"""Performance anti-patterns in traces, each with evidence and an estimated saving.

Detectors (thresholds are keyword arguments with these defaults):

* ``n_plus_one``: at least 5 sibling spans of the same operation one after another
  (none overlaps the next): a loop of calls that one batched call could replace.
  Saving: their total time minus the longest one.
* ``sequential_calls``: at least 2 sibling CLIENT/PRODUCER spans of different operations
  one after another. They could run in parallel if they do not depend on each other (the
  trace cannot tell; the finding says so). Saving: their total minus the longest; reported
  when it is at least 10% of the parent.
* ``uninstrumented_gap``: the longest stretch of a span with children that no child
  covers, when it is at least 20% of the span and 5 ms. Saving: the gap (time to explain).
* ``retries``: sibling spans of one operation where an error is followed by another
  attempt. Saving: the time of the failed attempts.
* ``fan_out``: a span with at least 20 direct children. Saving: the span's time beyond
  its slowest child (what batching could win, at best).
* ``slow_handoff``: a CONSUMER span starting at least 100 ms after its PRODUCER parent
  ended. Saving: the hand-off time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from analyzer.trace_views import TraceView

__all__ = ["Finding", "PatternSummary", "detect_patterns", "summarise_findings"]

MS = 1_000_000


@dataclass(frozen=True)
class Finding:
    """One occurrence: which spans (indices into the trace view) and what fixing it may save."""

    pattern: str
    trace: int  # trace number
    parent: int  # the span under which it happens
    spans: tuple[int, ...]
    op: int  # the operation that repeats, waits or fans out
    saving_ns: int
    note: str = ""


@dataclass(frozen=True)
class PatternSummary:
    """All findings of one pattern on one operation, with the strongest examples."""

    pattern: str
    op: int
    occurrences: int
    traces: int
    saving_ns: int
    examples: list[Finding] = field(default_factory=list)


def detect_patterns(
    view: TraceView,
    *,
    n_plus_one_min: int = 5,
    sequential_min_share: float = 0.1,
    gap_min_share: float = 0.2,
    gap_min_ns: int = 5 * MS,
    fan_out_min: int = 20,
    handoff_min_ns: int = 100 * MS,
) -> list[Finding]:
    """Every finding in one trace."""
    findings: list[Finding] = []
    for parent, kids in enumerate(view.children):
        if not kids:
            continue
        findings += _repeated_calls(view, parent, kids, n_plus_one_min)
        findings += _sequential_calls(view, parent, kids, sequential_min_share)
        findings += _gap(view, parent, kids, gap_min_share, gap_min_ns)
        if len(kids) >= fan_out_min:
            slowest = max(view.ends[k] - view.starts[k] for k in kids)
            own = view.ends[parent] - view.starts[parent]
            findings.append(
                Finding(
                    "fan_out",
                    view.number,
                    parent,
                    tuple(kids),
                    view.ops[parent],
                    max(own - slowest, 0),
                    f"{len(kids)} children",
                )
            )
        for kid in kids:
            handoff = view.starts[kid] - view.ends[parent]
            if view.producer[parent] and view.consumer[kid] and handoff >= handoff_min_ns:
                findings.append(Finding("slow_handoff", view.number, parent, (parent, kid), view.ops[kid], handoff))
    return findings


def _sequential_runs(view: TraceView, kids: list[int]) -> list[list[int]]:
    """Maximal runs of children each starting at or after the previous one ended."""
    runs: list[list[int]] = []
    for kid in kids:
        if runs and view.starts[kid] >= view.ends[runs[-1][-1]]:
            runs[-1].append(kid)
        else:
            runs.append([kid])
    return runs


def _repeated_calls(view: TraceView, parent: int, kids: list[int], minimum: int) -> list[Finding]:
    findings: list[Finding] = []
    by_op: dict[int, list[int]] = defaultdict(list)
    for kid in kids:
        by_op[view.ops[kid]].append(kid)
    for op, same in by_op.items():
        if len(same) < 2:
            continue
        failed = [k for k in same[:-1] if view.errors[k]]
        if failed:
            saving = sum(view.ends[k] - view.starts[k] for k in failed)
            findings.append(
                Finding(
                    "retries",
                    view.number,
                    parent,
                    tuple(same),
                    op,
                    saving,
                    f"{len(failed)} failed attempt(s) before the last",
                )
            )
        for run in _sequential_runs(view, same):
            if len(run) >= minimum:
                run_durations = [view.ends[k] - view.starts[k] for k in run]
                findings.append(
                    Finding(
                        "n_plus_one",
                        view.number,
                        parent,
                        tuple(run),
                        op,
                        sum(run_durations) - max(run_durations),
                        f"{len(run)} calls in a row",
                    )
                )
    return findings


def _sequential_calls(view: TraceView, parent: int, kids: list[int], min_share: float) -> list[Finding]:
    calls = [k for k in kids if view.client[k] or view.producer[k]]
    findings: list[Finding] = []
    for run in _sequential_runs(view, calls):
        if len(run) < 2 or len({view.ops[k] for k in run}) < len(run):
            continue
        durations = [view.ends[k] - view.starts[k] for k in run]
        saving = sum(durations) - max(durations)
        if saving >= min_share * (view.ends[parent] - view.starts[parent]) and saving > 0:
            findings.append(
                Finding(
                    "sequential_calls",
                    view.number,
                    parent,
                    tuple(run),
                    view.ops[parent],
                    saving,
                    "could run in parallel if independent",
                )
            )
    return findings


def _gap(view: TraceView, parent: int, kids: list[int], min_share: float, min_ns: int) -> list[Finding]:
    start, end = view.starts[parent], view.ends[parent]
    covered_until = start
    longest, at = 0, start
    for kid in kids:
        kid_start = min(max(view.starts[kid], start), end)  # a child outside the span covers nothing
        if kid_start - covered_until > longest:
            longest, at = kid_start - covered_until, covered_until
        covered_until = max(covered_until, min(view.ends[kid], end))
    if end - covered_until > longest:
        longest, at = end - covered_until, covered_until
    if longest >= min_ns and longest >= min_share * (end - start):
        offset_ms = (at - start) / MS
        return [
            Finding(
                "uninstrumented_gap",
                view.number,
                parent,
                (parent,),
                view.ops[parent],
                longest,
                f"{longest / MS:.1f} ms with no child span, from +{offset_ms:.1f} ms",
            )
        ]
    return []


def summarise_findings(findings: Iterable[Finding], *, examples: int = 3) -> list[PatternSummary]:
    """Group by (pattern, operation); the largest total saving first."""
    groups: dict[tuple[str, int], list[Finding]] = defaultdict(list)
    for finding in findings:
        groups[(finding.pattern, finding.op)].append(finding)
    summaries = [
        PatternSummary(
            pattern,
            op,
            len(group),
            len({f.trace for f in group}),
            sum(f.saving_ns for f in group),
            sorted(group, key=lambda f: -f.saving_ns)[:examples],
        )
        for (pattern, op), group in groups.items()
    ]
    return sorted(summaries, key=lambda s: (-s.saving_ns, s.pattern, s.op))
