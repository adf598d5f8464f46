"""OTLP/HTTP receiver: ``POST /v1/traces``, ``/v1/metrics``, ``/v1/logs``.

Bodies are ``application/x-protobuf`` or ``application/json`` (OTLP/JSON), optionally
gzip- or deflate-compressed. Answers come in the request's encoding; errors carry a
``google.rpc.Status`` as the OTLP specification asks. With a token store, a request
without one of its bearer tokens gets 401 and such a status (``UNAUTHENTICATED``) before
its body is read.
"""

from __future__ import annotations

import logging
import zlib
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import partial
from typing import Any

from google.rpc import code_pb2, status_pb2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.errors import CollectorError, DecodeError, RequestTooLargeError, UnsupportedMediaError
from collector.ingest import Ingestor
from collector.otlp_json import message_to_json
from collector.outcomes import refusal_reason
from collector.security import UNAUTHORIZED_MESSAGE, BearerAuth, TokenStore
from collector.signals import SIGNALS, Signal
from storage.errors import QueueFullError, WriterClosedError

__all__ = ["build_otlp_http_app"]

logger = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_PROTOBUF_TYPES = {PROTOBUF, "application/protobuf", "application/vnd.google.protobuf"}


# Exports whose bodies are read and handled at once; past it an export is answered 503
# with Retry-After and an OTLP status before its body is read (a body waiting for its turn
# would hold memory for nothing). uvicorn's own connection limit stays above it as a
# backstop: its 503 carries neither.
OTLP_HTTP_CONCURRENCY = 16


@dataclass
class _Gate:
    """Exports in progress on one listener (touched only on the event loop's thread)."""

    limit: int
    busy: int = 0


def build_otlp_http_app(ingestor: Ingestor, *, tokens: TokenStore | None = None) -> Starlette:
    """The ASGI app that serves the three OTLP/HTTP endpoints (only to token holders, with ``tokens``)."""
    gate = _Gate(OTLP_HTTP_CONCURRENCY)
    routes = [
        Route(signal.http_path, _endpoint(ingestor, signal, gate), methods=["POST"]) for signal in SIGNALS.values()
    ]
    reject = partial(_unauthenticated, ingestor)
    middleware = [Middleware(BearerAuth, tokens=tokens, reject=reject)] if tokens is not None else []
    return Starlette(routes=routes, middleware=middleware)


_SIGNAL_OF_PATH = {signal.http_path: signal.name for signal in SIGNALS.values()}


def _unauthenticated(ingestor: Ingestor, path: str, headers: dict[str, str]) -> tuple[str, bytes]:
    """Count the refusal; the 401 body: a google.rpc.Status in the request's encoding."""
    if path in _SIGNAL_OF_PATH:
        ingestor.observer.refused(_SIGNAL_OF_PATH[path], "http", "unauthenticated")
    status = status_pb2.Status(code=code_pb2.UNAUTHENTICATED, message=UNAUTHORIZED_MESSAGE)
    if headers.get("content-type", "").split(";")[0].strip().lower() == JSON:
        return JSON, message_to_json(status)
    return PROTOBUF, status.SerializeToString()


def _endpoint(ingestor: Ingestor, signal: Signal, gate: _Gate) -> Any:
    async def export(request: Request) -> Response:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if gate.busy >= gate.limit:
            ingestor.observer.refused(signal.name, "http", "queue_full")
            return _retry_later(f"{gate.busy} exports in progress on this listener", 1.0, is_json=media == JSON)
        gate.busy += 1
        try:
            return await handle(request, media)
        finally:
            gate.busy -= 1

    async def handle(request: Request, media: str) -> Response:
        is_json = media == JSON
        try:
            if not is_json and media not in _PROTOBUF_TYPES:
                raise UnsupportedMediaError(f"unsupported content type {media or '(none)'!r}: use {PROTOBUF} or {JSON}")
            body = await _read_body(request, ingestor.max_request_bytes)
        except CollectorError as exc:  # refused before the Ingestor sees it: counted here
            ingestor.observer.refused(signal.name, "http", refusal_reason(exc))
            return _refusal(exc, is_json=is_json)
        try:
            decoded = await run_in_threadpool(ingestor.export, signal, body, json=is_json, transport="http")
        except DecodeError as exc:
            return _refusal(exc, is_json=is_json)
        except QueueFullError as exc:
            return _retry_later(str(exc), exc.retry_after_s, is_json=is_json)
        except (WriterClosedError, FutureTimeout) as exc:
            return _retry_later(str(exc) or "the store did not commit in time", 1.0, is_json=is_json)
        except Exception:
            logger.exception("%s export failed", signal.name)
            return _retry_later("the store failed to commit; retry later", 1.0, is_json=is_json)
        return _message(200, signal.response(decoded), is_json=is_json)

    return export


def _refusal(exc: CollectorError, *, is_json: bool) -> Response:
    """The answer to a request the client must not send again as it is."""
    if isinstance(exc, UnsupportedMediaError):
        return _error(415, code_pb2.INVALID_ARGUMENT, str(exc), is_json=is_json)
    if isinstance(exc, RequestTooLargeError):
        return _error(413, code_pb2.RESOURCE_EXHAUSTED, str(exc), is_json=is_json)
    return _error(400, code_pb2.INVALID_ARGUMENT, str(exc), is_json=is_json)


async def _read_body(request: Request, cap: int) -> bytes:
    """The request body, decompressed, never longer than ``cap`` bytes."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "", "gzip", "deflate"):
        raise UnsupportedMediaError(f"unsupported content encoding {encoding!r}: use gzip or none")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise RequestTooLargeError(f"request body of {declared} bytes exceeds the {cap}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise RequestTooLargeError(f"request body exceeds the {cap}-byte limit")
    body = b"".join(chunks)  # one copy of the body, not two
    chunks.clear()
    if encoding in ("gzip", "deflate"):
        return await run_in_threadpool(_decompress, body, encoding, cap)
    return body


def _decompress(body: bytes, encoding: str, cap: int) -> bytes:
    # wbits: 16+ for a gzip header, + 32 to accept zlib or gzip for "deflate"
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else 32 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, cap + 1)
        if len(data) > cap or inflater.unconsumed_tail:
            raise RequestTooLargeError(f"decompressed request exceeds the {cap}-byte limit")
        data += inflater.flush()
    except zlib.error as exc:
        raise DecodeError(f"request body is not valid {encoding}: {exc}") from exc
    if not inflater.eof:
        raise DecodeError(f"request body is truncated {encoding} data")
    return data


def _message(status: int, message: Any, *, is_json: bool, headers: dict[str, str] | None = None) -> Response:
    if is_json:
        return Response(message_to_json(message), status_code=status, media_type=JSON, headers=headers)
    return Response(message.SerializeToString(), status_code=status, media_type=PROTOBUF, headers=headers)


def _error(status: int, code: int, text: str, *, is_json: bool, headers: dict[str, str] | None = None) -> Response:
    return _message(status, status_pb2.Status(code=code, message=text), is_json=is_json, headers=headers)


def _retry_later(text: str, retry_after_s: float, *, is_json: bool) -> Response:
    seconds = str(max(1, round(retry_after_s)))
    return _error(503, code_pb2.UNAVAILABLE, text, is_json=is_json, headers={"Retry-After": seconds})
