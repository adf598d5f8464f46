"""What a decode worker process runs: bytes of one export request -> a Decoded batch.

This module and what it imports stay free of DuckDB, gRPC and the web stack, so that
each worker process holds only protobuf and Arrow in memory.
"""

from __future__ import annotations

import signal

from google.protobuf.message import DecodeError as ProtobufDecodeError

from collector.decode import Decoded
from collector.errors import DecodeError
from collector.otlp_json import message_from_json
from collector.signals import SIGNALS

__all__ = ["decode_body", "ignore_interrupts", "warm_up"]


def decode_body(signal_name: str, body: bytes, is_json: bool) -> Decoded:
    """Bytes of one export request -> the rows to store and what was rejected, by the
    reference decoders (the C fast path runs in the server process: collector/ingest.py).

    Raises :class:`DecodeError` when the request cannot be decoded at all.
    """
    signal = SIGNALS[signal_name]
    if is_json:
        message = message_from_json(body, signal.request_type)
    else:
        try:
            message = signal.request_type.FromString(body)
        except (ProtobufDecodeError, ValueError, RuntimeError) as exc:
            raise DecodeError(f"request body is not a valid {signal.request_type.__name__}: {exc}") from exc
    try:
        return signal.decode(message)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DecodeError(f"cannot convert the {signal.name} request: {exc}") from exc


def warm_up() -> None:
    """Runs once in each worker so that its imports happen before the first request."""


def ignore_interrupts() -> None:
    """Worker initializer: Ctrl-C reaches the whole process group, but only the server
    process decides when to stop (it drains, then shuts the workers down)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
