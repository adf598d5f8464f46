"""What became of each export request, told to an observer (glimpse's self-metrics).

A request ends in exactly one call: :meth:`ReceiverObserver.accepted` when it is answered
with success (OTLP partial success included: the items left out are ``rejected``), or
:meth:`ReceiverObserver.refused` when it is answered with an error, with the reason. The
call is made where the outcome is known: by the :class:`~collector.ingest.Ingestor` for
everything that happens inside :meth:`~collector.ingest.Ingestor.export` (it knows the
item counts once a request is decoded), by a receiver for what it refuses before handing
the request on (an unsupported content type, a body over the size cap, bad compression,
a missing credential).
"""

from __future__ import annotations

from typing import Literal, Protocol, get_args

from collector.errors import DecodeError, RequestTooLargeError, UnsupportedMediaError
from collector.memory import MemoryLimitError
from storage.errors import QueueFullError

__all__ = [
    "NO_OBSERVER",
    "REFUSAL_REASONS",
    "TRANSPORTS",
    "NoObserver",
    "ReceiverObserver",
    "RefusalReason",
    "Transport",
    "refusal_reason",
]

Transport = Literal["grpc", "http"]
TRANSPORTS: tuple[Transport, ...] = get_args(Transport)

RefusalReason = Literal[
    "invalid",  # not valid OTLP, or bad compression: 400 / INVALID_ARGUMENT
    "partial",  # items left out of an accepted request (OTLP partial success)
    "too_large",  # over --max-request-bytes: 413
    "unsupported_media",  # content type or encoding: 415
    "queue_full",  # the write queue is full: 503 / UNAVAILABLE, retried by the client
    "memory_limit",  # the server is at --memory-limit: 503 / UNAVAILABLE, retried by the client
    "unavailable",  # shutting down, a commit failed or timed out: 503 / UNAVAILABLE
    "unauthenticated",  # a missing or wrong credential: 401 / UNAUTHENTICATED
]
REFUSAL_REASONS: tuple[RefusalReason, ...] = get_args(RefusalReason)


class ReceiverObserver(Protocol):
    """Told the outcome of every export request; must be cheap and thread-safe."""

    def accepted(self, signal: str, transport: Transport, items: int, rejected: int = 0) -> None:
        """A request answered with success: ``items`` stored, ``rejected`` left out."""

    def refused(self, signal: str, transport: Transport, reason: RefusalReason, items: int | None = None) -> None:
        """A request answered with an error; ``items`` once it was decoded (else unknown)."""


class NoObserver:
    """Records nothing (an Ingestor without self-metrics)."""

    def accepted(self, signal: str, transport: Transport, items: int, rejected: int = 0) -> None:
        pass

    def refused(self, signal: str, transport: Transport, reason: RefusalReason, items: int | None = None) -> None:
        pass


NO_OBSERVER = NoObserver()


def refusal_reason(exc: BaseException) -> RefusalReason:
    """The reason a request that raised ``exc`` is refused (the receivers' status mapping)."""
    if isinstance(exc, UnsupportedMediaError):
        return "unsupported_media"
    if isinstance(exc, RequestTooLargeError):
        return "too_large"
    if isinstance(exc, DecodeError):
        return "invalid"
    if isinstance(exc, MemoryLimitError):
        return "memory_limit"
    if isinstance(exc, QueueFullError):
        return "queue_full"
    return "unavailable"  # shutting down, a dead decode worker, a commit failed or timed out
