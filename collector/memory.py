"""A bound on the server's memory as a whole: past it, exports are refused as retryable.

The write queue, the bytes in flight and DuckDB's own limit each bound one part of the
process; what they leave out (Arrow buffers of the chunk being stored, gRPC's buffers,
memory the allocator has not given back) still adds up under overload. The guard reads
the process's resident size and adds what the process will still grow by for what it has
already admitted: the acknowledged spans' copy into storage order (the writer's
``unprepared_bytes``) and DuckDB's share, which each commit fills. Past a high-water mark
of the limit it answers "retry later" to every export while the server still has work of
its own: once the queue, the requests in flight and the spans waiting to be put in
storage order are done, one request always gets in, so that a limit set below what the
server needs when idle slows ingest down instead of stopping it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from storage.errors import QueueFullError

__all__ = ["DEFAULT_HIGH_WATER", "MemoryGuard", "MemoryLimitError", "resident_bytes"]

# refuse past this share of the limit: besides the growth the guard is told of, the
# requests being decoded and the allocator's free but resident pages move the RSS too
DEFAULT_HIGH_WATER = 0.85
# reading /proc costs microseconds, but hundreds of requests a second need not each pay it
SAMPLE_INTERVAL_S = 0.05
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class MemoryLimitError(QueueFullError):
    """The server is at its memory limit; the client should retry later."""


def resident_bytes() -> int | None:
    """The process's resident set size now (None where /proc is not there)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return None


class MemoryGuard:
    """Says whether the process is past ``high_water`` of ``limit_bytes`` (thread-safe)."""

    def __init__(
        self,
        limit_bytes: int,
        *,
        high_water: float = DEFAULT_HIGH_WATER,
        retry_after_s: float = 1.0,
        measure: Callable[[], int | None] = resident_bytes,
        on_pressure: Callable[[], object] | None = None,
        reserve_bytes: int = 0,
    ) -> None:
        """``on_pressure`` runs (at most once a second) when the mark is passed: a chance
        to hand freed memory back to the system before the next measurement.
        ``reserve_bytes`` is counted on top of every reading (DuckDB's share: each commit
        fills it, on top of the row group it commits)."""
        if limit_bytes <= 0:
            raise ValueError("the memory limit must be positive")
        if not 0 < high_water <= 1:
            raise ValueError("the high-water mark is a share of the limit, above 0 and at most 1")
        self.limit_bytes = limit_bytes
        self.high_water_bytes = int(limit_bytes * high_water)
        self.reserve_bytes = reserve_bytes
        self.retry_after_s = retry_after_s
        self.refusals = 0
        self._measure = measure
        self._on_pressure = on_pressure
        self._lock = threading.Lock()
        self._measured_at = float("-inf")
        self._resident = 0
        self._relieved_at = float("-inf")

    def check(self, growth_bytes: int = 0) -> None:
        """Raise :class:`MemoryLimitError` when the process is past its high-water mark, or
        would be once it grows by ``growth_bytes`` and the reserve."""
        ahead = growth_bytes + self.reserve_bytes
        resident = self._sample(ahead)
        if resident + ahead < self.high_water_bytes:
            return
        with self._lock:
            self.refusals += 1
        raise MemoryLimitError(
            f"the server is at its memory limit ({resident >> 20} MiB resident, "
            f"{ahead >> 20} MiB more on the way, limit {self.limit_bytes >> 20} MiB)",
            retry_after_s=self.retry_after_s,
        )

    def _sample(self, ahead: int) -> int:
        """The resident size (measured at most every SAMPLE_INTERVAL_S); past the mark with
        ``ahead`` counted, glibc's free pages are handed back first and it is measured again."""
        now = time.monotonic()
        with self._lock:
            if now - self._measured_at < SAMPLE_INTERVAL_S:
                return self._resident
            self._measured_at = now
        resident = self._measure() or 0  # unknown: never refuse
        relieve = resident + ahead >= self.high_water_bytes and self._on_pressure is not None
        with self._lock:
            if relieve and now - self._relieved_at >= 1.0:
                self._relieved_at = now
            else:
                relieve = False
        if relieve:
            assert self._on_pressure is not None
            self._on_pressure()
            resident = self._measure() or 0
        with self._lock:
            self._resident = resident
        return resident
