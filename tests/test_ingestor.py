"""The ingestor's CPU-bound steps run on at most ``busy_threads`` receiver threads at once."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Container
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from collector.decode import Decoded
from collector.ingest import Ingestor
from collector.signals import SIGNALS
from collector.span_wire import decode_traces_wire
from storage.store import open_writable
from storage.writer import BatchWriter
from tests.spans import raw_request


class _Overlap:
    """Wraps the real decoder and records how many threads were inside it at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.inside = 0
        self.most = 0

    def decode(self, body: bytes, stored_resources: Container[int]) -> Decoded | None:
        with self._lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        try:
            time.sleep(0.02)  # long enough for the other threads to arrive
            return decode_traces_wire(body, stored_resources)
        finally:
            with self._lock:
                self.inside -= 1


@pytest.mark.parametrize("busy_threads", [1, 2])
def test_at_most_busy_threads_decode_at_once_and_every_span_lands(tmp_path: Path, busy_threads: int) -> None:
    path = tmp_path / "busy.duckdb"
    con = open_writable(path)
    writer = BatchWriter(con, database_path=str(path), flush_interval_s=0.05)
    writer.start()
    ingestor = Ingestor(writer, busy_threads=busy_threads)
    overlap = _Overlap()
    traces = dataclasses.replace(SIGNALS["traces"], decode_wire=overlap.decode)
    bodies = [raw_request(20, seed=seed)[0] for seed in range(12)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        decoded = pool.map(lambda body: ingestor.export(traces, body, json=False, transport="grpc"), bodies)
        accepted = [each.accepted for each in decoded]
    ingestor.close()
    writer.close(timeout_s=30)
    assert accepted == [20] * 12
    assert overlap.most == busy_threads
    assert con.execute("SELECT count(DISTINCT span_id) FROM otel_spans").fetchone() == (240,)
    con.close()
