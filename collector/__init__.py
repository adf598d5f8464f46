"""OTLP receivers: pure decoders, the gRPC services, the HTTP endpoints."""

# Names load on first use: a decode worker that imports one submodule must not pull in
# the whole package (DuckDB, gRPC, the web stack).

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_MAX_REQUEST_BYTES": "collector.ingest",
    "SIGNALS": "collector.signals",
    "CollectorError": "collector.errors",
    "DecodeError": "collector.errors",
    "Decoded": "collector.decode",
    "GrpcReceiver": "collector.grpc_server",
    "Ingestor": "collector.ingest",
    "RequestTooLargeError": "collector.errors",
    "Signal": "collector.signals",
    "UnsupportedMediaError": "collector.errors",
    "build_otlp_http_app": "collector.http_app",
    "decode_body": "collector.worker",
    "decode_logs": "collector.decode",
    "decode_metrics": "collector.decode",
    "decode_traces": "collector.decode",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
