"""Many traces from storage.trace_queries.WindowSpans, one light view at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from storage.rows import WindowSpans

__all__ = ["TraceView", "iter_trace_views"]


@dataclass(frozen=True)
class TraceView:
    """One trace's spans as lists indexed 0..n-1 (in start order); ``offset`` maps back."""

    number: int
    offset: int
    starts: list[int]
    ends: list[int]
    ops: list[int]
    errors: list[bool]
    producer: list[bool]
    consumer: list[bool]
    client: list[bool]
    children: list[list[int]]  # sorted by start
    roots: list[int]  # sorted by start


def iter_trace_views(spans: WindowSpans, *, limit: int | None = None) -> Iterator[TraceView]:
    """Views of the first ``limit`` traces (all by default), in trace number order.

    Columns become Python lists a chunk of traces at a time (about CHUNK_SPANS spans), so
    that memory stays proportional to the chunk, not the window.
    """
    if not spans.span_count:
        return
    boundaries = np.flatnonzero(np.diff(spans.trace_no)) + 1
    lows = [0, *boundaries.tolist()]
    highs = [*boundaries.tolist(), spans.span_count]
    if limit is not None:
        lows, highs = lows[:limit], highs[:limit]
    first = 0
    while first < len(lows):
        last = first
        while last + 1 < len(lows) and highs[last + 1] - lows[first] <= CHUNK_SPANS:
            last += 1
        yield from _chunk_views(spans, first, lows[first : last + 1], highs[first : last + 1])
        first = last + 1


CHUNK_SPANS = 200_000


def _chunk_views(spans: WindowSpans, first: int, lows: list[int], highs: list[int]) -> Iterator[TraceView]:
    base, top = lows[0], highs[-1]

    def part(column: np.ndarray) -> list[Any]:
        values: list[Any] = column[base:top].tolist()
        return values

    parent_all, start_all, end_all = part(spans.parent_idx), part(spans.start_ns), part(spans.end_ns)
    producer_all, consumer_all, client_all = part(spans.producer), part(spans.consumer), part(spans.client)
    error_all, op_all = part(spans.error), part(spans.op)
    for number, (low, high) in enumerate(zip(lows, highs, strict=True), start=first):
        a, b = low - base, high - base
        starts = start_all[a:b]
        children: list[list[int]] = [[] for _ in range(b - a)]
        roots: list[int] = []
        for index, parent in enumerate(parent_all[a:b]):
            if parent < 0 or parent == index:
                roots.append(index)
            else:
                children[parent].append(index)  # rows come in start order: lists stay sorted
        roots.sort(key=lambda index: (starts[index], index))
        yield TraceView(
            number,
            low,
            starts,
            end_all[a:b],
            op_all[a:b],
            error_all[a:b],
            producer_all[a:b],
            consumer_all[a:b],
            client_all[a:b],
            children,
            roots,
        )
