"""What the store holds, for pickers and autocompletion: service names, each service's
operations, attribute names and values of the spans of a window."""

from __future__ import annotations

from typing import Any

import duckdb

from analyzer.errors import InvalidQueryError
from storage.catalog_queries import attribute_names, field_values, operation_rows, service_names
from storage.graph_queries import resolve_window
from storage.span_filters import Attribute, Intrinsic, SpanFilter
from storage.window import SpanWindow

__all__ = ["DEFAULT_CATALOG_WINDOW_NS", "SPAN_KINDS", "attribute_values", "attributes", "operations", "services"]

# without a window, names and values come from the last hour of data (a recent window, as
# Tempo answers from its recent blocks): reading every span's attributes would not scale
DEFAULT_CATALOG_WINDOW_NS = 3600 * 1_000_000_000
SPAN_KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")


def services(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The services with spans in the store, sorted."""
    return service_names(con)


def operations(con: duckdb.DuckDBPyConnection, service: str, *, kind: str | None = None) -> list[dict[str, str]]:
    """``{"name", "kind"}`` for each span name of ``service`` and kind (``kind``: only that
    one, a member of :data:`SPAN_KINDS`), sorted by name."""
    if kind is not None and kind not in SPAN_KINDS:
        raise InvalidQueryError(f"not a span kind: {kind!r} (one of {', '.join(SPAN_KINDS)})")
    return operation_rows(con, service, kind)


def catalog_window(con: duckdb.DuckDBPyConnection, since_ns: int | None, until_ns: int | None) -> SpanWindow:
    """The window asked for; without a start, the last hour of it (of the data when open)."""
    window = resolve_window(con, since_ns, until_ns)
    if since_ns is None:
        window = SpanWindow(max(window.until_ns - DEFAULT_CATALOG_WINDOW_NS, 0), window.until_ns)
    return window


def attributes(
    con: duckdb.DuckDBPyConnection, *, since_ns: int | None = None, until_ns: int | None = None, limit: int = 1000
) -> dict[str, Any]:
    """The span and resource attribute keys seen in the window (see :func:`catalog_window`):
    ``{"window", "span": [...], "resource": [...]}``, each sorted, at most ``limit``."""
    window = catalog_window(con, since_ns, until_ns)
    return {
        "window": window.as_dict(),
        "span": attribute_names(con, window, "span", limit=limit),
        "resource": attribute_names(con, window, "resource", limit=limit),
    }


def attribute_values(
    con: duckdb.DuckDBPyConnection,
    field: Intrinsic | Attribute,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    span_filter: SpanFilter | None = None,
    limit: int = 1000,
) -> dict[str, Any]:
    """The distinct scalar values of ``field`` on the window's spans (those satisfying
    ``span_filter``): ``{"window", "values": [{"value": text, "type": JSON type}]}``."""
    window = catalog_window(con, since_ns, until_ns)
    found = field_values(con, window, field, span_filter=span_filter, limit=limit)
    return {"window": window.as_dict(), "values": [{"value": value, "type": kind} for value, kind in found]}
