"""The critical path of one trace, with the Jaeger UI's semantics, and Jaeger's self time.

Critical path (jaeger-ui ``TracePage/CriticalPath``), per root in start order:

1. the tree is copied; a CONSUMER child of a PRODUCER is pruned with its subtree
   (non-blocking);
2. children are clipped to their parent (the parent's clipped times), and dropped with
   their subtree when they lie wholly outside it;
3. from the root: take the last-finishing child (LFC; among children ending strictly
   before the point we return to, if any; the first in start order on ties), emit the
   parent's section after it, descend into it; with no such child, emit the span's
   section from its start and return to the parent at that start. Zero-length sections
   are left out; sections come out latest first.

Self time (jaeger-ui ``utils/compute-span-self-time``): the span's duration minus the
time covered by its direct children, swept in start order.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracing.trace import Trace

__all__ = ["Section", "critical_path", "self_times"]


@dataclass(frozen=True)
class Section:
    """A stretch of the critical path spent in one span: [start_ns, end_ns)."""

    span_id: str
    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass
class _Node:
    span_id: str
    parent: str | None
    start: int
    end: int
    children: list[str]


def critical_path(trace: Trace) -> list[Section]:
    """Sections of the critical path, root by root, each root's latest first.

    Examples
    --------
    >>> from tracing.trace import Span, assemble_trace
    >>> spans = [Span("c", "", "s", "C", "Server", 1, 101), Span("d", "c", "s", "D", "Client", 20, 40),
    ...          Span("e", "c", "s", "E", "Client", 50, 60)]
    >>> [(s.span_id, s.start_ns, s.end_ns) for s in critical_path(assemble_trace("t", spans))]
    [('c', 60, 101), ('e', 50, 60), ('c', 40, 50), ('d', 20, 40), ('c', 1, 20)]
    """
    sections: list[Section] = []
    for root in trace.roots:
        nodes = _sanitized_tree(trace, root)
        sections.extend(_walk(nodes, root))
    return sections


def _sanitized_tree(trace: Trace, root: str) -> dict[str, _Node]:
    """Pre-order copy of one root's tree: non-blocking consumers pruned, children clipped."""
    nodes: dict[str, _Node] = {}
    stack: list[tuple[str, str | None]] = [(root, None)]
    while stack:
        span_id, parent_id = stack.pop()
        span = trace.spans[span_id]
        kids = [
            child
            for child in trace.children.get(span_id, [])
            if not (span.kind == "Producer" and trace.spans[child].kind == "Consumer")
        ]
        if parent_id is not None:
            parent = nodes.get(parent_id)
            clipped = None if parent is None else _clip(span.start_ns, span.end_ns, parent.start, parent.end)
            if parent is None or clipped is None:
                if parent is not None:
                    parent.children.remove(span_id)
                continue  # dropped: its subtree finds no parent and goes too
            start, end = clipped
        else:
            start, end = span.start_ns, span.end_ns
        nodes[span_id] = _Node(span_id, parent_id, start, end, list(kids))
        stack.extend((child, span_id) for child in reversed(kids))
    return nodes


def _clip(start: int, end: int, parent_start: int, parent_end: int) -> tuple[int, int] | None:
    if start >= parent_start:
        if start >= parent_end:
            return None
        return start, min(end, parent_end)
    if end <= parent_start:
        return None
    return parent_start, min(end, parent_end)


def _last_finishing_child(nodes: dict[str, _Node], node: _Node, returning: int | None) -> _Node | None:
    best: _Node | None = None
    for child_id in node.children:
        child = nodes[child_id]
        if returning and not child.end < returning:
            continue
        if best is None or child.end > best.end:
            best = child
    return best


def _walk(nodes: dict[str, _Node], root: str) -> list[Section]:
    sections: list[Section] = []
    current: _Node | None = nodes[root]
    returning: int | None = None
    while current is not None:
        upper = returning if returning else current.end
        child = _last_finishing_child(nodes, current, returning)
        if child is not None:
            if child.end != upper:
                sections.append(Section(current.span_id, child.end, upper))
            current, returning = child, None
            continue
        if current.start != upper:
            sections.append(Section(current.span_id, current.start, upper))
        returning = current.start
        current = nodes[current.parent] if current.parent is not None else None
    return sections


def self_times(trace: Trace) -> dict[str, int]:
    """Self time (ns) of every span: its duration less what its direct children cover."""
    result: dict[str, int] = {}
    for span_id, span in trace.spans.items():
        covered = 0
        previous_end = span.start_ns
        for child_id in trace.children.get(span_id, []):
            child = trace.spans[child_id]
            if child.start_ns > span.end_ns or child.end_ns < previous_end:
                continue
            covered += min(span.end_ns, child.end_ns) - max(previous_end, child.start_ns)
            previous_end = child.end_ns
            if child.end_ns >= span.end_ns:
                break
        result[span_id] = max(span.duration_ns - covered, 0)
    return result
