"""Errors raised by the receivers.

GlimpseError                      (tracing.errors)
└── CollectorError
    ├── DecodeError               the request cannot be decoded: nothing is stored
    ├── RequestTooLargeError      the request exceeds the size cap after decompression
    ├── UnsupportedMediaError     wrong content type or content encoding
    └── SecurityConfigError       a certificate, key or token file cannot be used
"""

from __future__ import annotations

from tracing.errors import GlimpseError

__all__ = ["CollectorError", "DecodeError", "RequestTooLargeError", "SecurityConfigError", "UnsupportedMediaError"]


class CollectorError(GlimpseError):
    """Base class for receiver failures."""


class DecodeError(CollectorError):
    """The request is not valid OTLP (protobuf or JSON)."""


class RequestTooLargeError(CollectorError):
    """The request is larger than the configured cap."""


class UnsupportedMediaError(CollectorError):
    """The request's content type or content encoding is not supported."""


class SecurityConfigError(CollectorError):
    """A TLS certificate, key, client CA or token file is missing, unreadable or invalid."""
