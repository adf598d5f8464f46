"""Errors raised by the store.

GlimpseError                      (tracing.errors)
└── StorageError
    ├── SchemaError               the file is not a glimpse store, or is newer than this code
    ├── QueueFullError            the writer's queue is full: retry later
    ├── WriterClosedError         the writer is shutting down
    ├── QueryError                a read-only query was refused or failed
    └── QueryMemoryError          a query needed more memory than DuckDB may use here
"""

from __future__ import annotations

from tracing.errors import GlimpseError

__all__ = ["QueryError", "QueryMemoryError", "QueueFullError", "SchemaError", "StorageError", "WriterClosedError"]


class StorageError(GlimpseError):
    """Base class for store failures."""


class SchemaError(StorageError):
    """The database cannot be used with this version of glimpse."""


class QueueFullError(StorageError):
    """The write queue has no room; the caller should ask the client to retry."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class WriterClosedError(StorageError):
    """The writer no longer accepts batches."""


class QueryError(StorageError):
    """A SQL query was refused (not read-only, too slow) or failed."""


class QueryMemoryError(StorageError):
    """A query needed more memory than the process lets DuckDB use (its ``memory_limit``)."""
