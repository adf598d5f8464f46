"""DuckDB result values as JSON-ready values, in one place (the API, the CLI and analyses use it)."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from typing import Any

from storage.query import QueryResult

__all__ = ["jsonable", "jsonable_rows", "query_payload"]


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return str(value)


def jsonable_rows(rows: list[tuple[Any, ...]], types: list[str]) -> list[list[Any]]:
    """Rows as JSON-ready lists; top-level JSON columns become JSON values."""
    json_columns = {index for index, name in enumerate(types) if name == "JSON"}
    out = []
    for row in rows:
        out.append(
            [
                json.loads(value) if index in json_columns and isinstance(value, str) else jsonable(value)
                for index, value in enumerate(row)
            ]
        )
    return out


def query_payload(result: QueryResult) -> dict[str, Any]:
    """The JSON shape of a SQL answer, shared by the API and the CLI's file path."""
    return {
        "columns": result.columns,
        "types": result.types,
        "rows": jsonable_rows(result.rows, result.types),
        "truncated": result.truncated,
        "elapsed_ms": round(result.elapsed_ms, 3),
    }
