"""OTLP receivers: pure decoders, the gRPC services, the HTTP endpoints."""

from collector.decode import Decoded, decode_logs, decode_metrics, decode_traces
from collector.errors import CollectorError, DecodeError, RequestTooLargeError, UnsupportedMediaError
from collector.grpc_server import GrpcReceiver
from collector.http_app import build_otlp_http_app
from collector.ingest import DEFAULT_MAX_REQUEST_BYTES, Ingestor, decode_body
from collector.signals import SIGNALS, Signal

__all__ = [
    "DEFAULT_MAX_REQUEST_BYTES",
    "SIGNALS",
    "CollectorError",
    "DecodeError",
    "Decoded",
    "GrpcReceiver",
    "Ingestor",
    "RequestTooLargeError",
    "Signal",
    "UnsupportedMediaError",
    "build_otlp_http_app",
    "decode_body",
    "decode_logs",
    "decode_metrics",
    "decode_traces",
]
