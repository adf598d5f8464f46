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

from collections.abc import Sequence
from dataclasses import dataclass

from tracing.trace import Trace

__all__ = ["Section", "critical_path", "critical_sections", "self_times"]


@dataclass(frozen=True)
class Section:
    """A stretch of the critical path spent in one span: [start_ns, end_ns)."""

    span_id: str
    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


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
    ids = list(trace.spans)
    index = {span_id: position for position, span_id in enumerate(ids)}
    spans = [trace.spans[span_id] for span_id in ids]
    sections = critical_sections(
        [span.start_ns for span in spans],
        [span.end_ns for span in spans],
        [[index[child] for child in trace.children.get(span_id, [])] for span_id in ids],
        [index[root] for root in trace.roots],
        producer=[span.kind == "Producer" for span in spans],
        consumer=[span.kind == "Consumer" for span in spans],
    )
    return [Section(ids[i], start, end) for i, start, end in sections]


def critical_sections(
    starts: Sequence[int],
    ends: Sequence[int],
    children: Sequence[Sequence[int]],
    roots: Sequence[int],
    *,
    producer: Sequence[bool],
    consumer: Sequence[bool],
) -> list[tuple[int, int, int]]:
    """The algorithm on plain arrays (span i: times, children sorted by start, kinds).

    Returns (span index, start, end) sections. :func:`critical_path` uses it for one
    trace; analyzer.bottlenecks uses it over many traces without building span objects.
    """
    sections: list[tuple[int, int, int]] = []
    for root in roots:
        tree = _sanitized_tree(root, starts, ends, children, producer, consumer)
        _walk(root, tree, sections)
    return sections


# node -> [clipped start, clipped end, children kept, parent or -1]
_Tree = dict[int, tuple[int, int, list[int], int]]


def _sanitized_tree(
    root: int,
    starts: Sequence[int],
    ends: Sequence[int],
    children: Sequence[Sequence[int]],
    producer: Sequence[bool],
    consumer: Sequence[bool],
) -> _Tree:
    """Pre-order copy of one root's tree: non-blocking consumers pruned, children clipped."""
    tree: _Tree = {}
    nodes, parents = [root], [-1]  # two stacks: no tuple per span on this hot path
    while nodes:
        node, parent = nodes.pop(), parents.pop()
        start, end = starts[node], ends[node]
        if parent >= 0:
            parent_node = tree.get(parent)
            if parent_node is None:
                continue  # the parent was dropped: so is its subtree
            clipped = _clip(start, end, parent_node[0], parent_node[1])
            if clipped is None:
                parent_node[2].remove(node)
                continue
            start, end = clipped
        kept = [c for c in children[node] if not consumer[c]] if producer[node] else list(children[node])
        tree[node] = (start, end, kept, parent)
        nodes.extend(reversed(kept))
        parents.extend([node] * len(kept))
    return tree


def _clip(start: int, end: int, parent_start: int, parent_end: int) -> tuple[int, int] | None:
    if start >= parent_start:
        if start >= parent_end:
            return None
        return start, min(end, parent_end)
    if end <= parent_start:
        return None
    return parent_start, min(end, parent_end)


def _walk(root: int, tree: _Tree, sections: list[tuple[int, int, int]]) -> None:
    node = root
    returning = 0  # 0 means "none", as in Jaeger, which tests the value for truthiness
    while node >= 0:
        start, end, kept, parent = tree[node]
        upper = returning or end
        child, child_end = -1, 0
        for candidate in kept:  # the last-finishing child; the first one wins a tie
            candidate_end = tree[candidate][1]
            if (not returning or candidate_end < returning) and (child < 0 or candidate_end > child_end):
                child, child_end = candidate, candidate_end
        if child >= 0:
            if child_end != upper:
                sections.append((node, child_end, upper))
            node, returning = child, 0
            continue
        if start != upper:
            sections.append((node, start, upper))
        node, returning = parent, start


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
