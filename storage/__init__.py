"""The DuckDB trace store: schema and migrations, the single writer, read-only SQL."""

from storage.errors import QueryError, QueueFullError, SchemaError, StorageError, WriterClosedError
from storage.query import QueryResult, run_read_only
from storage.schema import SCHEMA_VERSION
from storage.store import open_read_only, open_writable
from storage.writer import Batch, BatchWriter, WriterStats

__all__ = [
    "SCHEMA_VERSION",
    "Batch",
    "BatchWriter",
    "QueryError",
    "QueryResult",
    "QueueFullError",
    "SchemaError",
    "StorageError",
    "WriterClosedError",
    "WriterStats",
    "open_read_only",
    "open_writable",
    "run_read_only",
]
