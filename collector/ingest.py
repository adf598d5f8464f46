"""The transport-independent core of a receiver: request bytes in, committed rows out.

OTLP/protobuf trace and log requests are decoded in the calling thread by the C fast
path (collector/span_wire.py, collector/log_wire.py), which releases the GIL. Everything
else (metrics, OTLP/JSON, and requests the fast path hands back) goes to the reference decoders,
which are pure Python: with ``decode_workers > 0`` they run in a pool of worker
processes and only the finished Arrow tables come back to the process that owns the
DuckDB writer; with 0, in the calling thread.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager

from collector.decode import Decoded
from collector.memory import MemoryGuard
from collector.outcomes import NO_OBSERVER, ReceiverObserver, Transport, refusal_reason
from collector.signals import Signal
from collector.worker import decode_body, ignore_interrupts, warm_up
from storage.errors import QueueFullError, WriterClosedError
from storage.writer import DEFAULT_RETRY_AFTER_S, BatchWriter

__all__ = ["DEFAULT_COMMIT_TIMEOUT_S", "DEFAULT_MAX_REQUEST_BYTES", "Ingestor", "default_busy_threads"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
DEFAULT_COMMIT_TIMEOUT_S = 30.0
# The write queue is bounded in rows, but requests waiting for a decoder hold their bytes
# before they are rows: past this many request bytes in the server, "retry later".
# Measured under overload (bench.overload: 96 exporters of 4,096 spans, 20 s), peak RSS
# 1,125 MiB with it against 1,533 MiB without.
DEFAULT_MAX_INFLIGHT_BYTES = 64 * 1024 * 1024


def default_busy_threads() -> int:
    """One receiver thread per two CPUs decodes and encodes at a time (see Ingestor): the
    writer's sort and DuckDB's compression keep the other half busy."""
    return max(1, (os.cpu_count() or 1) // 2)


class Ingestor:
    """Decodes export requests (in-process or in worker processes) and commits them."""

    def __init__(
        self,
        writer: BatchWriter,
        *,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        commit_timeout_s: float = DEFAULT_COMMIT_TIMEOUT_S,
        decode_workers: int = 0,
        busy_threads: int | None = None,
        observer: ReceiverObserver = NO_OBSERVER,
        max_inflight_bytes: int = DEFAULT_MAX_INFLIGHT_BYTES,
        memory_guard: MemoryGuard | None = None,
    ) -> None:
        if max_request_bytes < 1:
            raise ValueError("max_request_bytes must be positive")
        if decode_workers < 0:
            raise ValueError("decode_workers must be 0 or more")
        self.writer = writer
        self.max_request_bytes = max_request_bytes
        self.commit_timeout_s = commit_timeout_s
        self.observer = observer  # receivers tell it what they refuse before calling export
        self._decode_workers = decode_workers
        self._pool: ProcessPoolExecutor | None = None  # started by the first request that needs it
        self._pool_lock = threading.Lock()
        self._closed = False
        # The receivers' CPU-bound steps (decoding, encoding the journal record) let go of
        # the GIL many times a request; with dozens of gRPC threads each of those hands
        # the GIL to another thread, and context switches cost more than the decoding
        # (measured, 16 threads: 7.6 ms a request against 3.8 with two at a time, 453,000
        # context switches against 39,000). Threads beyond these wait on a semaphore. On 2
        # CPUs one at a time stored 10 % more spans than two (bench.ingest, five pairs of
        # runs: medians 122,744 against 111,893 a second; log records the same).
        self._busy = threading.BoundedSemaphore(busy_threads or default_busy_threads())
        self.max_inflight_bytes = max_inflight_bytes
        self._inflight_bytes = 0  # guarded by _inflight_lock
        self._inflight_lock = threading.Lock()
        self.memory_guard = memory_guard

    def _decoder_pool(self) -> ProcessPoolExecutor | None:
        """The decode workers, started on first use: a server that only receives
        protobuf traces (decoded in-process by the C fast path) runs none."""
        if not self._decode_workers:
            return None
        pool = self._pool
        if pool is None:
            with self._pool_lock:
                if self._closed:
                    raise WriterClosedError("the server is shutting down")
                if self._pool is None:
                    self._pool = self._start_pool()
                pool = self._pool
        return pool

    def _start_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server process already runs gRPC and writer threads
        pool = ProcessPoolExecutor(
            self._decode_workers, mp_context=multiprocessing.get_context("spawn"), initializer=ignore_interrupts
        )
        for future in [pool.submit(warm_up) for _ in range(self._decode_workers)]:
            future.result()
        return pool

    def _decode_in_pool(self, pool: ProcessPoolExecutor, signal: Signal, body: bytes, json: bool) -> Decoded:
        try:
            return pool.submit(decode_body, signal.name, body, json).result(timeout=self.commit_timeout_s)
        except BrokenProcessPool:
            # a worker died (killed, out of memory): replace the pool once, and let the
            # client retry this request rather than failing every request from now on
            with self._pool_lock:
                if self._pool is pool and not self._closed:
                    logger.error("a decode worker died; starting a new pool")
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._start_pool()
            raise WriterClosedError("a decode worker stopped; retry") from None
        except RuntimeError as exc:  # after BrokenProcessPool, its base: the pool was shut down
            raise WriterClosedError("the server is shutting down") from exc

    def export(self, signal: Signal, body: bytes, *, json: bool, transport: Transport) -> Decoded:
        """Decode, queue and wait for the commit; return what was stored and rejected.

        Raises DecodeError, and the writer's QueueFullError or WriterClosedError;
        ``concurrent.futures.TimeoutError`` when the commit takes too long. Each outcome
        is told to :attr:`observer`, with the item counts once the request is decoded.
        """
        with ExitStack() as admitted:  # the request's bytes count until its batch is committed
            try:
                self.writer.check_room()  # refuse before paying for a decode the queue cannot take
                self._check_memory()
                admitted.enter_context(self._admitted(len(body)))
                decoded = self._decode(signal, body, json)
            except Exception as exc:
                self.observer.refused(signal.name, transport, refusal_reason(exc))
                raise
            if decoded.rejected:
                logger.info("%s export: %s", signal.name, decoded.message)
            if decoded.accepted:
                try:
                    with self._busy:
                        committed: Future[int] = self.writer.submit(decoded.batch)  # encodes the journal record
                    committed.result(timeout=self.commit_timeout_s)
                except Exception as exc:
                    items = decoded.accepted + decoded.rejected
                    self.observer.refused(signal.name, transport, refusal_reason(exc), items)
                    raise
        self.observer.accepted(signal.name, transport, decoded.accepted, decoded.rejected)
        return decoded

    def _check_memory(self) -> None:
        """Refuse past the memory limit, counting what the writer still has to copy into
        storage order, while the server has work of its own (a request that finds nothing
        queued, in flight or waiting to be put in storage order always gets in)."""
        if self.memory_guard is None:
            return
        with self._inflight_lock:
            busy = self._inflight_bytes > 0
        unprepared = self.writer.unprepared_bytes
        if busy or self.writer.queued_rows or unprepared:
            self.memory_guard.check(unprepared)

    @contextmanager
    def _admitted(self, size: int) -> Iterator[None]:
        """Count ``size`` request bytes in while the block runs; raise QueueFullError when
        that would pass the budget (one request alone always gets in)."""
        with self._inflight_lock:
            if self._inflight_bytes and self._inflight_bytes + size > self.max_inflight_bytes:
                raise QueueFullError(
                    f"{self._inflight_bytes} request bytes already being decoded and committed",
                    retry_after_s=DEFAULT_RETRY_AFTER_S,
                )
            self._inflight_bytes += size
        try:
            yield
        finally:
            with self._inflight_lock:
                self._inflight_bytes -= size

    def _decode(self, signal: Signal, body: bytes, json: bool) -> Decoded:
        decoded = None
        if not json and signal.decode_wire is not None:
            with self._busy:
                decoded = signal.decode_wire(body, self.writer.stored_resources)
        if decoded is None:
            pool = self._decoder_pool()
            if pool is None:
                with self._busy:
                    decoded = decode_body(signal.name, body, json)
            else:
                decoded = self._decode_in_pool(pool, signal, body, json)
        return decoded

    def close(self) -> None:
        with self._pool_lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
