"""Read queries about what the store holds: service names, operations, attribute names and
values (SQL in queries/catalog/). Nothing found gives an empty list."""

from __future__ import annotations

from typing import Any

import duckdb

from storage.named_queries import run_query
from storage.span_filters import ATTRIBUTE_SCOPES, INTRINSICS, Attribute, Intrinsic, SpanFilter, span_filter_sql
from storage.window import SpanWindow

__all__ = ["attribute_names", "field_values", "operation_rows", "service_names"]


def service_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The services with spans in the store, sorted."""
    return [row["service"] for row in run_query(con, "catalog/services")]


def operation_rows(con: duckdb.DuckDBPyConnection, service: str, kind: str | None = None) -> list[dict[str, str]]:
    """``{"name", "kind"}`` of each span name of ``service`` and the kinds it has (``kind``:
    only that one, as stored: ``Server``, ``Client``, ...), sorted."""
    return run_query(con, "catalog/operations", params={"service": service, "kind": kind})


def attribute_names(con: duckdb.DuckDBPyConnection, window: SpanWindow, scope: str, *, limit: int) -> list[str]:
    """The attribute keys of the window's spans (``scope="span"``) or of their resources
    (``"resource"``), sorted, at most ``limit``."""
    name = {"span": "catalog/span_attribute_names", "resource": "catalog/resource_attribute_names"}[scope]
    return [row["name"] for row in run_query(con, name, params={**window.params, "limit": limit})]


def field_values(
    con: duckdb.DuckDBPyConnection,
    window: SpanWindow,
    field: Intrinsic | Attribute,
    *,
    span_filter: SpanFilter | None = None,
    limit: int,
) -> list[tuple[str, str]]:
    """``(value as text, JSON type)`` of each distinct scalar value the field takes on the
    window's spans (those satisfying ``span_filter``), sorted, at most ``limit``. An
    intrinsic's type is ``VARCHAR`` (``BIGINT`` for the duration)."""
    params: dict[str, Any] = {**window.params, "limit": limit}
    condition = "TRUE"
    if span_filter is not None:
        condition, filter_params = span_filter_sql(span_filter)
        params.update(filter_params)
    if isinstance(field, Intrinsic):
        column = INTRINSICS[field.name]
        value, kind = f"{column}::VARCHAR", "'BIGINT'" if column == "duration" else "'VARCHAR'"
    else:
        params["path"] = '$."' + field.key.replace("\\", "\\\\").replace('"', '\\"') + '"'
        columns = ATTRIBUTE_SCOPES[field.scope]
        value = "coalesce(" + ", ".join(f"json_extract_string({c}, $path)" for c in columns) + ")"
        kind = "coalesce(" + ", ".join(f"json_type({c}, $path)" for c in columns) + ")"
    parts = {"value": value, "type": kind, "condition": condition}
    return [(row["value"], row["type"]) for row in run_query(con, "catalog/values", params=params, parts=parts)]
