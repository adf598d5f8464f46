"""The critical paths of many traces at once, on the columns of storage.rows.WindowSpans.

The same algorithm as :func:`analyzer.critical_path.critical_sections` (Jaeger's), computed
with numpy over every trace of a window together instead of one trace at a time:

1. *Sanitise*, breadth first from the roots: a CONSUMER child of a PRODUCER is pruned, a
   child is clipped to its parent's clipped times and dropped (with its subtree) when it
   lies wholly outside them.
2. *Chains*: at a span, the walk takes the last-finishing child (the first in start order
   on ties), descends, comes back at that child's start and takes the last-finishing child
   among those ending strictly before it, and so on. The chain of children depends only on
   the span's own children, so every span's chain is found at once: children sorted by
   (parent, end descending, start order), the next link a binary search below the current
   link's start.
3. A span is on the path when it is a root or a link of the chain of a span on the path.
   Its sections add up to its clipped duration less its links' clipped durations; the
   walk emits at least one (non-empty) section for it unless every piece is empty.

Per (trace, operation) the nanoseconds charged are then summed: what analyzer.bottlenecks
aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storage.rows import WindowSpans

__all__ = ["ChargeTable", "charge_table"]


@dataclass(frozen=True)
class ChargeTable:
    """Critical-path nanoseconds per (trace, operation), sorted by trace then operation.

    ``endpoint[n]`` is the operation of trace n's first root (-1 for a trace with no root:
    its spans form a cycle, and it has no critical path).
    """

    trace: np.ndarray
    op: np.ndarray
    nanos: np.ndarray
    endpoint: np.ndarray


def charge_table(spans: WindowSpans) -> ChargeTable:
    """The critical path of every trace in ``spans``, charged to its operations."""
    count = spans.span_count
    trace_count = int(spans.trace_no[-1]) + 1 if count else 0
    empty = np.zeros(0, dtype=np.int64)
    if not count:
        return ChargeTable(empty, empty, empty, np.full(trace_count, -1, dtype=np.int64))
    parent = _global_parents(spans)
    roots = np.flatnonzero(parent < 0)
    endpoint = np.full(trace_count, -1, dtype=np.int64)
    first_roots = roots[np.unique(spans.trace_no[roots], return_index=True)[1]]
    endpoint[spans.trace_no[first_roots]] = spans.op[first_roots]
    start, end, levels = _sanitised(spans, parent, roots)
    links, link_parents = _chain_links(parent, start, end, levels)
    on_path = _on_path(parent, links, levels, count)
    charged, sections = _section_totals(start, end, links, link_parents, count)
    chosen = np.flatnonzero(on_path & sections)
    key = spans.trace_no[chosen].astype(np.int64) * (int(spans.op.max()) + 1) + spans.op[chosen]
    keys, inverse = np.unique(key, return_inverse=True)
    nanos = np.zeros(len(keys), dtype=np.int64)
    np.add.at(nanos, inverse, charged[chosen])
    ops = int(spans.op.max()) + 1
    return ChargeTable(keys // ops, keys % ops, nanos, endpoint)


def _global_parents(spans: WindowSpans) -> np.ndarray:
    """Each span's parent as a row number, -1 for a root (no parent in the trace, or itself)."""
    boundaries = np.flatnonzero(np.diff(spans.trace_no)) + 1
    offsets = np.zeros(spans.span_count, dtype=np.int64)
    offsets[boundaries] = np.diff(np.concatenate(([0], boundaries)))
    offsets = np.cumsum(offsets)  # row number of the first span of each span's trace
    local = np.arange(spans.span_count, dtype=np.int64) - offsets
    parent_idx = spans.parent_idx.astype(np.int64)
    is_root = (parent_idx < 0) | (parent_idx == local)
    return np.where(is_root, -1, offsets + parent_idx)


def _sanitised(
    spans: WindowSpans, parent: np.ndarray, roots: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Clipped start and end of every span kept, and the kept spans level by level from
    the roots (spans not reached, pruned or dropped are in no level)."""
    start = spans.start_ns.astype(np.int64)
    end = spans.end_ns.astype(np.int64)
    by_parent = np.flatnonzero(parent >= 0)
    by_parent = by_parent[np.argsort(parent[by_parent], kind="stable")]
    first_child = np.searchsorted(parent[by_parent], np.arange(len(parent) + 1))
    levels = [roots]
    frontier = roots
    while len(frontier):
        children = by_parent[_ranges(first_child[frontier], first_child[frontier + 1])]
        up = parent[children]
        pruned = spans.producer[up].astype(bool) & spans.consumer[children].astype(bool)
        up_start, up_end = start[up], end[up]
        outside = np.where(start[children] >= up_start, start[children] >= up_end, end[children] <= up_start)
        children = children[~(pruned | outside)]
        up_start, up_end = start[parent[children]], end[parent[children]]
        start[children] = np.maximum(start[children], up_start)
        end[children] = np.minimum(end[children], up_end)
        levels.append(children)
        frontier = children
    return start, end, levels


def _ranges(lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(low, high)`` for each pair."""
    lengths = highs - lows
    nonempty = lengths > 0
    lows, lengths = lows[nonempty], lengths[nonempty]
    if not len(lows):
        return np.zeros(0, dtype=np.int64)
    steps = np.ones(int(lengths.sum()), dtype=np.int64)
    firsts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    steps[firsts] = lows - np.concatenate(([0], lows[:-1] + lengths[:-1] - 1))  # jump to the next range
    return np.cumsum(steps)


def _chain_links(
    parent: np.ndarray, start: np.ndarray, end: np.ndarray, levels: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Every kept span's chain of children (see the module's docstring): the links, and
    the span each link belongs to."""
    kept = np.concatenate(levels[1:]) if len(levels) > 1 else np.zeros(0, dtype=np.int64)
    if not len(kept):
        return kept, kept
    distinct_ends, end_rank = np.unique(end[kept], return_inverse=True)
    width = len(distinct_ends) + 1
    # parent major, end descending; equal keys keep row order (= start order)
    key = parent[kept] * width + (len(distinct_ends) - 1 - end_rank)
    order = np.lexsort((kept, key))
    key, kept = key[order], kept[order]
    segment_end = np.searchsorted(key, (parent[kept] + 1) * width)
    heads = np.flatnonzero(np.concatenate(([True], parent[kept][1:] != parent[kept][:-1])))
    link_positions = [heads]
    current = heads
    while len(current):
        link = kept[current]
        below = np.searchsorted(distinct_ends, start[link])  # distinct ends < the link's start
        nxt = np.searchsorted(key, parent[link] * width + len(distinct_ends) - below)
        nxt = np.maximum(nxt, current + 1)  # only a negative duration could point back
        current = nxt[nxt < segment_end[current]]
        link_positions.append(current)
    links = kept[np.concatenate(link_positions)]
    return links, parent[links]


def _on_path(parent: np.ndarray, links: np.ndarray, levels: list[np.ndarray], count: int) -> np.ndarray:
    """Roots, and links of the chains of spans on the path, top down."""
    is_link = np.zeros(count, dtype=bool)
    is_link[links] = True
    on_path = np.zeros(count, dtype=bool)
    on_path[levels[0]] = True
    for level in levels[1:]:
        on_path[level] = is_link[level] & on_path[parent[level]]
    return on_path


def _section_totals(
    start: np.ndarray, end: np.ndarray, links: np.ndarray, link_parents: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per span: the nanoseconds its sections add up to, were it on the path, and whether
    the walk emits any non-empty section for it."""
    link_nanos = np.zeros(count, dtype=np.int64)
    np.add.at(link_nanos, link_parents, end[links] - start[links])
    link_count = np.bincount(link_parents, minlength=count)
    only_link = np.full(count, -1, dtype=np.int64)
    only_link[link_parents] = links  # the span's link when it has exactly one
    single = link_count == 1
    covers_all = np.zeros(count, dtype=bool)
    covers_all[single] = (start[only_link[single]] == start[single]) & (end[only_link[single]] == end[single])
    sections = (link_count >= 2) | ((link_count == 0) & (start != end)) | (single & ~covers_all)
    return end - start - link_nanos, sections
