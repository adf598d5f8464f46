"""The loop that exports closed hours of the store to the Parquet lake inside ``glimpse serve``.

Every ``interval_s`` it exports the hours that ended at least ``delay_s`` ago
(:func:`storage.lake.export_hours`) on a read cursor of the server's database, in a thread
of its own, off the ingest path: the writer never waits for it. An hour is rewritten only
when the store's row count for it differs from the lake's, so a pass over unchanged hours
reads one count per table and hour. On stop it exports once more.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from storage.errors import StorageError
from storage.lake import LakeLocation, export_hours

__all__ = ["LakeExporter", "LakeStats"]

logger = logging.getLogger(__name__)


@dataclass
class LakeStats:
    """What the exporter did (read them, do not write them)."""

    passes: int = 0
    partitions_written: int = 0
    last_pass_s: float = 0.0
    last_error: str = ""


class LakeExporter:
    """Exports the closed hours of the store ``connect`` opens to ``lake`` (a directory, an
    object-store URI, or a location already opened) as node ``node``."""

    def __init__(
        self,
        lake: str | LakeLocation,
        node: str,
        *,
        connect: Callable[[], duckdb.DuckDBPyConnection],
        interval_s: float,
        delay_s: float,
    ) -> None:
        self.lake, self.node = lake, node
        self._connect = connect
        self.interval_s, self.delay_s = interval_s, delay_s
        self.stats = LakeStats()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one pass at a time
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="glimpse-lake", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop and export once more (what closed since the last pass)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.export_now()

    def export_now(self) -> int:
        """One pass; the partitions written (0 after a failure, which is logged)."""
        with self._lock:
            started = time.perf_counter()
            con = self._connect()
            try:
                closed_before = time.time_ns() - int(self.delay_s * 1e9)
                done = export_hours(con, self.lake, self.node, closed_before_ns=closed_before)
            except (StorageError, duckdb.Error, OSError) as exc:
                self.stats.last_error = str(exc)
                logger.error("lake export failed: %s", exc)
                return 0
            finally:
                con.close()
            written = sum(part.written for part in done)
            self.stats.passes += 1
            self.stats.partitions_written += written
            self.stats.last_pass_s = round(time.perf_counter() - started, 3)
            self.stats.last_error = ""
            return written

    def _run(self) -> None:
        while True:
            self.export_now()
            if self._stop.wait(self.interval_s):
                return
