"""Trace assembly: spans -> a tree, with the repairs reported rather than hidden.

* Spans whose parent is not in the trace become *provisional roots* (listed as such).
* Duplicate span ids keep their first occurrence (the store already dedupes; data from
  elsewhere may not be).
* Clock-skew adjustment (opt-in): a SERVER span that lies outside its CLIENT parent is
  shifted, with its subtree, into the client: centred when it is shorter than the client,
  aligned on the client's start otherwise. Every shifted span records its shift.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

__all__ = ["Span", "Trace", "assemble_trace"]


@dataclass(frozen=True)
class Span:
    """One span, times in unix nanoseconds."""

    span_id: str
    parent_span_id: str
    service: str
    name: str
    kind: str  # Unspecified|Internal|Server|Client|Producer|Consumer
    start_ns: int
    end_ns: int
    error: bool = False
    skew_shift_ns: int = 0  # set by clock-skew adjustment

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True)
class Trace:
    """A span tree. ``children`` lists are sorted by start time (then input order)."""

    trace_id: str
    spans: dict[str, Span]
    children: dict[str, list[str]]
    roots: list[str]  # true roots and provisional roots, by start time
    provisional_roots: list[str] = field(default_factory=list)
    duplicates: int = 0
    skew_adjusted: list[str] = field(default_factory=list)

    def depth_first(self) -> list[tuple[str, int]]:
        """(span id, depth) in pre-order, roots in order."""
        order: list[tuple[str, int]] = []
        stack = [(root, 0) for root in reversed(self.roots)]
        while stack:
            span_id, depth = stack.pop()
            order.append((span_id, depth))
            stack.extend((child, depth + 1) for child in reversed(self.children.get(span_id, [])))
        return order


def assemble_trace(trace_id: str, spans: Iterable[Span], *, adjust_skew: bool = False) -> Trace:
    """Build the tree of one trace's spans (in any order)."""
    by_id: dict[str, Span] = {}
    duplicates = 0
    for span in spans:
        if span.span_id in by_id:
            duplicates += 1
            continue
        by_id[span.span_id] = span
    children, roots, provisional = _link(by_id)
    adjusted: list[str] = []
    if adjust_skew:
        by_id, adjusted = _adjust_skew(by_id, children, roots)
        children, roots, provisional = _link(by_id)
    return Trace(trace_id, by_id, children, roots, provisional, duplicates, adjusted)


def _link(by_id: dict[str, Span]) -> tuple[dict[str, list[str]], list[str], list[str]]:
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    provisional: list[str] = []
    for span in by_id.values():
        parent = span.parent_span_id
        if parent and parent in by_id and parent != span.span_id:
            children.setdefault(parent, []).append(span.span_id)
        else:
            roots.append(span.span_id)
            if parent:
                provisional.append(span.span_id)
    order = {span_id: position for position, span_id in enumerate(by_id)}

    def key(span_id: str) -> tuple[int, int]:
        return by_id[span_id].start_ns, order[span_id]

    for kids in children.values():
        kids.sort(key=key)
    roots.sort(key=key)
    provisional.sort(key=key)
    return children, roots, provisional


def _adjust_skew(
    by_id: dict[str, Span], children: dict[str, list[str]], roots: list[str]
) -> tuple[dict[str, Span], list[str]]:
    adjusted = dict(by_id)
    shifted: list[str] = []
    stack = [(root, 0) for root in roots]
    while stack:
        span_id, inherited = stack.pop()
        span = adjusted[span_id]
        shift = inherited
        if inherited:
            span = replace(
                span,
                start_ns=span.start_ns + inherited,
                end_ns=span.end_ns + inherited,
                skew_shift_ns=span.skew_shift_ns + inherited,
            )
        parent = adjusted.get(span.parent_span_id)
        if parent is not None and span.kind == "Server" and parent.kind == "Client":
            own = _skew_shift(parent, span)
            if own:
                span = replace(
                    span, start_ns=span.start_ns + own, end_ns=span.end_ns + own, skew_shift_ns=span.skew_shift_ns + own
                )
                shift += own
        if span.skew_shift_ns:
            shifted.append(span_id)
        adjusted[span_id] = span
        stack.extend((child, shift) for child in children.get(span_id, []))
    return adjusted, shifted


def _skew_shift(client: Span, server: Span) -> int:
    """How far to move a server span so that it lies inside its client span (0: it does)."""
    if client.start_ns <= server.start_ns and server.end_ns <= client.end_ns:
        return 0
    if server.duration_ns <= client.duration_ns:
        latency = (client.duration_ns - server.duration_ns) // 2
        return client.start_ns + latency - server.start_ns
    return client.start_ns - server.start_ns
