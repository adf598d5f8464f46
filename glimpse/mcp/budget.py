"""Bounded answers: a tool's JSON stays under a byte budget and says what it left out.

An agent reads every byte of an answer into its context window, so each answer is built
as an :class:`Answer`: lists are capped at the tool's item limit first (:meth:`Answer.put`),
strings longer than :data:`MAX_STRING_CHARS` are clipped, and then, while the compact
JSON is still over the budget, the lists the tool names are cut from their ends (they are
ranked or ordered: the end matters least). Whatever was left out is said at the top of the
answer: ``truncated`` (always there), ``omitted`` (list -> items left out) and ``narrow``
(how to ask a smaller question).

Tokens are about bytes / 4 for English and JSON; hex ids cost more (about 2 bytes a
token), so the default budget of 32,000 bytes stays well under 25,000 tokens either way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["DEFAULT_MAX_BYTES", "MAX_STRING_CHARS", "Answer", "clip_strings", "dumps"]

DEFAULT_MAX_BYTES = 32_000
MAX_STRING_CHARS = 500
MORE = "more (count unknown)"  # omitted, when the query only said that more matched


def dumps(value: Any) -> str:
    """Compact JSON, UTF-8 characters as they are.

    >>> dumps({"a": [1, 2], "b": "é"})
    '{"a":[1,2],"b":"é"}'
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def clip_strings(value: Any, max_chars: int = MAX_STRING_CHARS) -> Any:
    """``value`` with every string longer than ``max_chars`` cut to at most ``max_chars``,
    saying by how much (so that clipping again changes nothing).

    >>> clip_strings({"m": "x" * 40, "n": ["short"]}, max_chars=30)
    {'m': 'xxxxxxxxxx… (+30 chars)', 'n': ['short']}
    """
    if isinstance(value, str):
        if len(value) <= max_chars:
            return value
        head = value[: max(max_chars - 20, 1)]
        return f"{head}… (+{len(value) - len(head)} chars)"
    if isinstance(value, dict):
        return {key: clip_strings(item, max_chars) for key, item in value.items()}
    if isinstance(value, list):
        return [clip_strings(item, max_chars) for item in value]
    return value


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


class Answer:
    """One tool's answer under construction: ``fields`` in order, ``narrow`` for a cut.

    >>> answer = Answer("ask for fewer", window="w")
    >>> answer.put("items", list(range(100)), limit=10)
    >>> answer.text(trim=["items"], max_bytes=100)
    '{"truncated":true,"omitted":{"items":95},"narrow":"ask for fewer","window":"w","items":[0,1,2,3,4]}'
    """

    def __init__(self, narrow: str, **fields: Any) -> None:
        self.narrow = narrow
        self.fields: dict[str, Any] = dict(fields)
        self.omitted: dict[str, int | str] = {}

    def put(self, key: str, items: Sequence[Any], limit: int | None = None, *, more: bool = False) -> None:
        """``items[:limit]`` as ``key``; what the limit left out (or ``more``: the source had
        more it did not count) is recorded."""
        kept = list(items if limit is None else items[:limit])
        self.fields[key] = kept
        if len(items) > len(kept):
            self.omitted[key] = len(items) - len(kept)
        elif more:
            self.omitted[key] = MORE

    def note(self, key: str, omitted: int) -> None:
        """Record ``omitted`` items of ``key`` left out before the answer was built."""
        if omitted > 0:
            self.omitted[key] = omitted
        else:
            self.omitted.pop(key, None)

    def size(self) -> int:
        """Bytes of the answer as it stands (strings clipped)."""
        self.fields = clip_strings(self.fields)
        return _size(self._render())

    def text(self, *, trim: Sequence[str] = (), max_bytes: int = DEFAULT_MAX_BYTES) -> str:
        """The answer as compact JSON within ``max_bytes``, cutting the ``trim`` lists (in
        that order) from their ends as far as needed."""
        self.fields = clip_strings(self.fields)
        text = self._render()
        for key in trim:
            if _size(text) <= max_bytes:
                break
            self._cut(key, max_bytes)
            text = self._render()
        if _size(text) > max_bytes:  # fields outside the lists are too big: nothing to trim
            return dumps({"truncated": True, "error": "the answer is too large to return", "narrow": self.narrow})
        return text

    def _cut(self, key: str, max_bytes: int) -> None:
        """Keep the longest head of the list ``key`` that fits (binary search)."""
        items = self.fields.get(key)
        if not isinstance(items, list) or not items:
            return
        before = self.omitted.get(key, 0)
        low, high = 0, len(items)
        while low < high:
            middle = (low + high + 1) // 2
            self.fields[key] = items[:middle]
            self._count_cut(key, before, len(items) - middle)
            if _size(self._render()) <= max_bytes:
                low = middle
            else:
                high = middle - 1
        self.fields[key] = items[:low]
        self._count_cut(key, before, len(items) - low)

    def _count_cut(self, key: str, before: int | str, cut: int) -> None:
        if cut == 0:
            if before:
                self.omitted[key] = before
            else:
                self.omitted.pop(key, None)
        else:
            self.omitted[key] = before + cut if isinstance(before, int) else f"{cut} + {before}"

    def _render(self) -> str:
        head: dict[str, Any] = {"truncated": bool(self.omitted)}
        if self.omitted:
            head.update(omitted=self.omitted, narrow=self.narrow)
        return dumps({**head, **self.fields})
