"""The query service's answers in the shape an agent reads best: pure functions, no I/O.

Times become RFC 3339 strings (``start_ns`` -> ``start``), durations milliseconds with the
unit in the name (``self_ns`` -> ``self_ms``), ids stay lowercase hex, empty fields go.
A trace becomes a compact topology: one line per span, with its place in the tree as a path
(``1.2.3``: the third child of the second child of the first root).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from glimpse.timeparse import format_ns

__all__ = [
    "SPAN_COLUMNS",
    "TIME_KEYS",
    "SpanLine",
    "agent_units",
    "ms",
    "rfc3339",
    "select_spans",
    "span_lines",
    "span_texts",
    "without_empty",
]

# keys whose nanoseconds are a moment (every other ``*_ns`` is a duration)
TIME_KEYS = frozenset(
    {
        "start_ns",
        "end_ns",
        "since_ns",
        "until_ns",
        "time_ns",
        "first_ns",
        "last_ns",
        "first_seen_ns",
        "last_seen_ns",
        "bucket_start_ns",
    }
)


def rfc3339(ns: int | float | None) -> str | None:
    """Unix nanoseconds as RFC 3339 UTC, to the microsecond.

    >>> rfc3339(1700000150000000000)
    '2023-11-14T22:15:50.000000Z'
    """
    return None if ns is None else format_ns(int(ns), digits=6)


def ms(ns: int | float | None) -> float | None:
    """Nanoseconds as milliseconds to the microsecond.

    >>> ms(162928799), ms(None)
    (162.929, None)
    """
    return None if ns is None else round(ns / 1e6, 3)


def agent_units(value: Any) -> Any:
    """``value`` with every ``*_ns`` key converted: moments to RFC 3339 (the suffix
    dropped), durations to ``*_ms``.

    >>> agent_units({"start_ns": 1700000150000000000, "spans": [{"self_ns": 1500000}]})
    {'start': '2023-11-14T22:15:50.000000Z', 'spans': [{'self_ms': 1.5}]}
    """
    if isinstance(value, Mapping):
        converted: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and key.endswith("_ns") and (item is None or isinstance(item, (int, float))):
                if key in TIME_KEYS:
                    converted[key[:-3]] = rfc3339(item)
                else:
                    converted[key[:-3] + "_ms"] = ms(item)
            else:
                converted[key] = agent_units(item)
        return converted
    if isinstance(value, list):
        return [agent_units(item) for item in value]
    return value


def without_empty(value: Any) -> Any:
    """``value`` without None, empty strings, lists and objects in its objects.

    >>> without_empty({"a": None, "b": "", "c": [{"d": None, "e": 1}], "f": {}})
    {'c': [{'e': 1}]}
    """
    if isinstance(value, Mapping):
        kept = {key: without_empty(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if not _empty(item)}
    if isinstance(value, list):
        return [without_empty(item) for item in value]
    return value


def _empty(value: Any) -> bool:
    # no ==: a NumPy number compared with [] answers with an array
    return value is None or (isinstance(value, (str, list, dict)) and not value)


SPAN_COLUMNS = "path | span_id | service | operation | kind | duration_ms | self_ms | critical_ms | flags"


@dataclass(frozen=True)
class SpanLine:
    """One span of a trace in depth-first order, with its place in the tree."""

    index: int
    path: str
    depth: int
    parent: int | None  # index of the parent line, None for a root
    span: Mapping[str, Any]  # a span of the critical-path answer
    subtree: int  # spans in its subtree, itself included


def span_lines(spans: Sequence[Mapping[str, Any]]) -> list[SpanLine]:
    """The spans of a critical-path answer (depth-first, each with ``depth``) with paths,
    parents and subtree sizes.

    >>> lines = span_lines([{"depth": 0}, {"depth": 1}, {"depth": 2}, {"depth": 1}, {"depth": 0}])
    >>> [(line.path, line.parent, line.subtree) for line in lines]
    [('1', None, 4), ('1.1', 0, 2), ('1.1.1', 1, 1), ('1.2', 0, 1), ('2', None, 1)]
    """
    counters: list[int] = []
    stack: list[int] = []  # indexes of the open ancestors
    paths: list[str] = []
    parents: list[int | None] = []
    sizes = [1] * len(spans)
    for index, span in enumerate(spans):
        depth = min(int(span["depth"]), len(counters))
        del counters[depth + 1 :]
        del stack[depth:]
        if len(counters) == depth:
            counters.append(0)
        counters[depth] += 1
        paths.append(".".join(str(count) for count in counters[: depth + 1]))
        parents.append(stack[-1] if stack else None)
        for ancestor in stack:
            sizes[ancestor] += 1
        stack.append(index)
    return [SpanLine(i, paths[i], paths[i].count("."), parents[i], span, sizes[i]) for i, span in enumerate(spans)]


def select_spans(pool: Sequence[SpanLine], limit: int) -> list[SpanLine]:
    """At most ``limit`` lines of ``pool``, in tree order, the most telling first: spans on
    the critical path or in error, then the shallowest, then the longest; each with its
    ancestors in the pool, so that every path shown hangs from shown spans.

    >>> lines = span_lines([{"depth": 0, "critical_ns": 5, "error": False, "duration_ns": 9},
    ...                     {"depth": 1, "critical_ns": 0, "error": False, "duration_ns": 2},
    ...                     {"depth": 1, "critical_ns": 0, "error": True, "duration_ns": 1}])
    >>> [line.path for line in select_spans(lines, 2)]
    ['1', '1.2']
    """
    if len(pool) <= limit:
        return list(pool)
    by_index = {line.index: line for line in pool}
    chosen: set[int] = set()
    for line in sorted(pool, key=_telling):
        needed = []
        current: SpanLine | None = line
        while current is not None and current.index not in chosen:
            needed.append(current.index)
            current = by_index.get(current.parent) if current.parent is not None else None
        if len(chosen) + len(needed) <= limit:
            chosen.update(needed)
        if len(chosen) >= limit:
            break
    return [line for line in pool if line.index in chosen]


def _telling(line: SpanLine) -> tuple[int, int, int, int]:
    span = line.span
    notable = bool(span.get("critical_ns")) or bool(span.get("error"))
    return (0 if notable else 1, line.depth, -int(span.get("duration_ns") or 0), line.index)


def span_texts(shown: Sequence[SpanLine]) -> list[str]:
    """The lines of :data:`SPAN_COLUMNS` for ``shown`` (each with its shown ancestors);
    ``flags``: error, logs=N, skew_shifted=MSms, and hidden_below=N when spans under it
    are not shown.

    >>> lines = span_lines([{"depth": 0, "span_id": "a1", "service": "web", "operation": "GET /",
    ...     "kind": "Server", "error": True, "duration_ns": 9e6, "self_ns": 4e6, "critical_ns": 9e6},
    ...     {"depth": 1, "span_id": "b2", "service": "db", "operation": "SELECT", "kind": "Client",
    ...     "error": False, "duration_ns": 5e6, "self_ns": 5e6, "critical_ns": 5e6}])
    >>> span_texts(lines[:1])
    ['1 | a1 | web | GET / | Server | 9.0 | 4.0 | 9.0 | error,hidden_below=1']
    """
    shown_below = dict.fromkeys((line.index for line in shown), 0)
    by_index = {line.index: line for line in shown}
    for line in shown:
        parent = line.parent
        while parent is not None and parent in by_index:
            shown_below[parent] += 1
            parent = by_index[parent].parent
    return [_span_text(line, line.subtree - 1 - shown_below[line.index]) for line in shown]


def _span_text(line: SpanLine, hidden: int) -> str:
    span = line.span
    flags = []
    if span.get("error"):
        flags.append("error")
    if span.get("logs"):
        flags.append(f"logs={len(span['logs'])}")
    if span.get("skew_shift_ns"):
        flags.append(f"skew_shifted={ms(span['skew_shift_ns'])}ms")
    if hidden:
        flags.append(f"hidden_below={hidden}")
    cells = [
        line.path,
        str(span["span_id"]),
        str(span["service"]),
        str(span["operation"]),
        str(span.get("kind") or ""),
        str(ms(span["duration_ns"])),
        str(ms(span["self_ns"])),
        str(ms(span["critical_ns"])),
        ",".join(flags),
    ]
    return " | ".join(cells)
