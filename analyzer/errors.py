"""Errors raised by analyses and the query service.

GlimpseError                      (tracing.errors)
└── AnalysisError                 an analysis cannot answer
    ├── InvalidQueryError         the question is malformed: a bad parameter, window or id
    └── NotFoundError             nothing to analyse: no such service, trace or incident

Front doors map these in one place each: the HTTP API to 400 and 404, the CLI to one
``error:`` line.
"""

from __future__ import annotations

from tracing.errors import GlimpseError

__all__ = ["AnalysisError", "InvalidQueryError", "NotFoundError"]


class AnalysisError(GlimpseError):
    """Base class for analysis failures."""


class InvalidQueryError(AnalysisError):
    """A parameter, window or id that cannot be analysed as given."""


class NotFoundError(AnalysisError):
    """The service, trace or incident asked about is not in the data."""
