"""The span-time window every analysis reads: half-open, in unix nanoseconds."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["END_OF_TIME_NS", "SpanWindow"]

END_OF_TIME_NS = 2**62  # year 2116: within TIMESTAMP_NS


@dataclass(frozen=True)
class SpanWindow:
    """A half-open span-time window [since_ns, until_ns) in unix nanoseconds.

    >>> SpanWindow(0, 3_000_000_000).seconds
    3.0
    """

    since_ns: int
    until_ns: int

    @property
    def seconds(self) -> float:
        return max(self.until_ns - self.since_ns, 1) / 1e9

    @property
    def params(self) -> dict[str, int]:
        """The window as the ``$since``/``$until`` parameters of a query."""
        return {"since": self.since_ns, "until": self.until_ns}

    def as_dict(self) -> dict[str, int]:
        return {"since_ns": self.since_ns, "until_ns": self.until_ns}
