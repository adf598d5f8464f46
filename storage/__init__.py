"""The DuckDB trace store: schema and migrations, the single writer, read-only SQL."""

# Names load on first use: a decode worker that imports one submodule must not pull in
# the whole package (DuckDB, gRPC, the web stack).

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SCHEMA_VERSION": "storage.schema",
    "Batch": "storage.batch",
    "BatchWriter": "storage.writer",
    "QueryError": "storage.errors",
    "QueryResult": "storage.query",
    "QueueFullError": "storage.errors",
    "SchemaError": "storage.errors",
    "StorageError": "storage.errors",
    "WriterClosedError": "storage.errors",
    "WriterStats": "storage.writer",
    "open_read_only": "storage.store",
    "open_writable": "storage.store",
    "run_read_only": "storage.query",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
