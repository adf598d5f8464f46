"""The transport-independent core of a receiver: bytes in, committed rows out."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError as ProtobufDecodeError

from collector.decode import Decoded
from collector.errors import DecodeError
from collector.otlp_json import message_from_json
from collector.signals import Signal
from storage.writer import BatchWriter

__all__ = ["DEFAULT_COMMIT_TIMEOUT_S", "DEFAULT_MAX_REQUEST_BYTES", "Ingestor", "Submitted"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
DEFAULT_COMMIT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Submitted:
    """A decoded request handed to the writer (``future`` is None when nothing was valid)."""

    decoded: Decoded
    future: Future[int] | None


class Ingestor:
    """Parses and decodes export requests and submits them to the writer."""

    def __init__(
        self,
        writer: BatchWriter,
        *,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        commit_timeout_s: float = DEFAULT_COMMIT_TIMEOUT_S,
    ) -> None:
        if max_request_bytes < 1:
            raise ValueError("max_request_bytes must be positive")
        self.writer = writer
        self.max_request_bytes = max_request_bytes
        self.commit_timeout_s = commit_timeout_s

    def parse(self, signal: Signal, body: bytes, *, json: bool) -> Any:
        """Bytes -> request message; raises :class:`DecodeError` when undecodable."""
        if json:
            return message_from_json(body, signal.request_type)
        try:
            return signal.request_type.FromString(body)
        except (ProtobufDecodeError, ValueError, RuntimeError) as exc:
            raise DecodeError(f"request body is not a valid {signal.request_type.__name__}: {exc}") from exc

    def submit(self, signal: Signal, message: Any) -> Submitted:
        """Decode and queue; raises the writer's QueueFullError/WriterClosedError."""
        try:
            decoded = signal.decode(message)
        except (ValueError, TypeError, OverflowError) as exc:
            raise DecodeError(f"cannot convert the {signal.name} request: {exc}") from exc
        if decoded.rejected:
            logger.info("%s export: %s", signal.name, decoded.message)
        if not decoded.accepted:
            return Submitted(decoded, None)
        return Submitted(decoded, self.writer.submit(decoded.batch))
