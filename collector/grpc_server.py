"""OTLP/gRPC receiver: TraceService, MetricsService and LogsService on one port.

With :class:`collector.security.TlsFiles` the port speaks TLS only (and, with a client CA,
asks every client for its certificate); with a :class:`collector.security.TokenStore`
every call must carry ``authorization: Bearer <token>`` metadata, as the OTLP exporters
send it from ``OTEL_EXPORTER_OTLP_HEADERS``, or is refused ``UNAUTHENTICATED`` before its
body is decoded.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from collector.errors import DecodeError
from collector.ingest import Ingestor
from collector.outcomes import NO_OBSERVER, ReceiverObserver
from collector.security import UNAUTHORIZED_MESSAGE, TlsFiles, TokenStore
from collector.signals import SIGNALS, Signal
from storage.errors import QueueFullError, WriterClosedError

__all__ = ["BearerInterceptor", "GrpcReceiver"]

logger = logging.getLogger(__name__)

DEFAULT_GRPC_WORKERS = 32


class GrpcReceiver:
    """A ``grpc.Server`` with the three OTLP services, bound to ``host:port``."""

    def __init__(
        self,
        ingestor: Ingestor,
        *,
        host: str,
        port: int,
        workers: int = DEFAULT_GRPC_WORKERS,
        tls: TlsFiles | None = None,
        tokens: TokenStore | None = None,
    ) -> None:
        self._ingestor = ingestor
        cap = ingestor.max_request_bytes
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="glimpse-grpc"),
            interceptors=[BearerInterceptor(tokens, ingestor.observer)] if tokens is not None else None,
            options=[
                ("grpc.max_receive_message_length", cap),
                ("grpc.max_send_message_length", 4 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
            ],
            maximum_concurrent_rpcs=workers * 4,
        )
        for signal in SIGNALS.values():
            handler = grpc.unary_unary_rpc_method_handler(
                self._export_handler(signal),
                request_deserializer=None,  # raw bytes: glimpse parses, to answer INVALID_ARGUMENT itself
                response_serializer=lambda message: message.SerializeToString(),
            )
            self._server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(signal.grpc_service, {"Export": handler}),)
            )
        if tls is None:
            self.port = self._server.add_insecure_port(_address(host, port))
        else:
            self.port = self._server.add_secure_port(_address(host, port), _server_credentials(tls))
        if self.port == 0:
            raise OSError(f"cannot bind gRPC receiver to {host}:{port}")

    def start(self) -> None:
        self._server.start()

    def stop(self, grace_s: float) -> None:
        """Refuse new calls, let calls in flight finish (up to ``grace_s``)."""
        self._server.stop(grace_s).wait(grace_s + 1)

    def _export_handler(self, signal: Signal) -> Any:
        ingestor = self._ingestor

        def export(body: bytes, context: grpc.ServicerContext) -> Any:
            try:
                decoded = ingestor.export(signal, body, json=False, transport="grpc")
            except DecodeError as exc:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            except QueueFullError as exc:
                _abort_unavailable(context, str(exc), exc.retry_after_s)
            except WriterClosedError as exc:
                _abort_unavailable(context, str(exc), 1.0)
            except FutureTimeout:
                _abort_unavailable(context, "the store did not commit in time", 1.0)
            except Exception:
                logger.exception("%s export failed", signal.name)
                _abort_unavailable(context, "the store failed to commit; retry later", 1.0)
            return signal.response(decoded)

        return export


class BearerInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Lets a call through only with ``authorization: Bearer <token>`` for one of ``tokens``."""

    def __init__(self, tokens: TokenStore, observer: ReceiverObserver = NO_OBSERVER) -> None:
        self._tokens = tokens
        self._observer = observer
        # request_deserializer None: the refused body stays bytes, never parsed
        self._refuse = grpc.unary_unary_rpc_method_handler(_refuse_unauthenticated)

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        metadata = details.invocation_metadata or ()
        authorization = next((value for key, value in metadata if key == "authorization"), None)
        if isinstance(authorization, bytes):
            authorization = authorization.decode("latin-1")
        if self._tokens.accepts_header(authorization):
            return continuation(details)
        signal = _SIGNAL_OF_METHOD.get(details.method)
        if signal is not None:
            self._observer.refused(signal, "grpc", "unauthenticated")
        return self._refuse


_SIGNAL_OF_METHOD = {f"/{signal.grpc_service}/Export": signal.name for signal in SIGNALS.values()}


def _refuse_unauthenticated(_: bytes, context: grpc.ServicerContext) -> NoReturn:
    context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHORIZED_MESSAGE)
    raise AssertionError("unreachable")  # abort raises


def _server_credentials(tls: TlsFiles) -> grpc.ServerCredentials:
    cert, key, client_ca = tls.pem()
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def _abort_unavailable(context: grpc.ServicerContext, message: str, retry_after_s: float) -> NoReturn:
    """UNAVAILABLE with ``RetryInfo``: the OTLP answer that makes SDKs back off and retry."""
    retry = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=int(retry_after_s), nanos=int(retry_after_s % 1 * 1e9))
    )
    detail = any_pb2.Any()
    detail.Pack(retry)
    status = rpc_status.to_status(status_pb2.Status(code=code_pb2.UNAVAILABLE, message=message, details=[detail]))
    # the OpenTelemetry Python exporter reads the delay from this trailer, not from the details
    trailers = (*status.trailing_metadata, ("google.rpc.retryinfo-bin", retry.SerializeToString()))
    context.abort_with_status(_Status(status.code, status.details, trailers))
    raise AssertionError("unreachable")  # abort_with_status raises


@dataclass(frozen=True)
class _Status(grpc.Status):  # type: ignore[misc]
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, bytes], ...]


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
