"""OTLP ``AnyValue``/``KeyValue`` protobuf -> typed-JSON-ready Python objects.

The output follows tracing/attributes.py's typed JSON: it is what gets stored, so the
walk happens once per attribute. This is the hot path of ingest: keep it flat.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable
from typing import Any

from tracing.attributes import dumps, encode_attribute_value

__all__ = ["any_value", "attribute_map", "attributes_json"]

_EMPTY_JSON = "{}"
_TAGS = ("bytesValue", "doubleValue", "kvlistValue")


def any_value(value: Any) -> Any:
    """One ``AnyValue`` as a typed-JSON object (None when no value is set)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        number = value.double_value
        return number if math.isfinite(number) else encode_attribute_value(number)
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        mapping = attribute_map(value.kvlist_value.values)
        if len(mapping) == 1 and next(iter(mapping)) in _TAGS:
            return {"kvlistValue": mapping}
        return mapping
    if kind == "bytes_value":
        return {"bytesValue": base64.b64encode(value.bytes_value).decode("ascii")}
    return None


def attribute_map(key_values: Iterable[Any]) -> dict[str, Any]:
    """Repeated ``KeyValue`` -> dict (a repeated key keeps its last value)."""
    out: dict[str, Any] = {}
    for kv in key_values:
        value = kv.value
        kind = value.WhichOneof("value")
        if kind == "string_value":
            out[kv.key] = value.string_value
        elif kind == "int_value":
            out[kv.key] = value.int_value
        elif kind == "bool_value":
            out[kv.key] = value.bool_value
        else:
            out[kv.key] = any_value(value)
    return out


def attributes_json(key_values: Any) -> str:
    """Repeated ``KeyValue`` -> typed JSON text."""
    if not key_values:
        return _EMPTY_JSON
    return dumps(attribute_map(key_values))
