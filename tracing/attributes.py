"""Typed JSON: how glimpse stores OpenTelemetry attribute maps and log bodies.

OTLP attribute values (``AnyValue``) are strings, booleans, 64-bit integers, doubles,
bytes, arrays and key-value lists. glimpse stores a map of them as one JSON object so
that SQL reads naturally (``span_attributes->>'http.route'``) while every value type
stays recoverable:

* string, bool, int and array map to the JSON type of the same name; a kvlist maps to
  a JSON object;
* a double is always written with a decimal point or an exponent (``1.0``, ``1e+20``),
  so it never reads back as an integer;
* the values JSON cannot express carry the OTLP/JSON tag of their type as a one-key
  object: ``{"bytesValue": "<base64>"}`` and ``{"doubleValue": "NaN" | "Infinity" |
  "-Infinity"}``; a kvlist that would look like such a tag is wrapped as
  ``{"kvlistValue": {...}}``;
* an empty ``AnyValue`` is JSON ``null``.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from typing import Any, Union

import orjson

__all__ = [
    "AttributeValue",
    "decode_attribute_value",
    "decode_attributes_json",
    "encode_attribute_value",
    "encode_attributes_json",
]

AttributeValue = Union[str, bool, int, float, bytes, list[Any], dict[str, Any], None]

_TAGS = frozenset({"bytesValue", "doubleValue", "kvlistValue"})
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def encode_attribute_value(value: AttributeValue) -> Any:
    """Turn one attribute value into its typed-JSON form (a JSON-serialisable object)."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"doubleValue": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    if isinstance(value, (bytes, bytearray)):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list):
        return [encode_attribute_value(item) for item in value]
    if isinstance(value, dict):
        encoded = {key: encode_attribute_value(item) for key, item in value.items()}
        if len(encoded) == 1 and next(iter(encoded)) in _TAGS:
            return {"kvlistValue": encoded}
        return encoded
    raise TypeError(f"not an attribute value: {type(value).__name__}")


def decode_attribute_value(encoded: Any) -> AttributeValue:
    """Inverse of :func:`encode_attribute_value`."""
    if isinstance(encoded, list):
        return [decode_attribute_value(item) for item in encoded]
    if isinstance(encoded, dict):
        if len(encoded) == 1:
            ((key, inner),) = encoded.items()
            if key == "bytesValue":
                return base64.b64decode(inner)
            if key == "doubleValue":
                return _NON_FINITE[inner]
            if key == "kvlistValue":
                return {k: decode_attribute_value(v) for k, v in inner.items()}
        return {k: decode_attribute_value(v) for k, v in encoded.items()}
    return encoded  # type: ignore[no-any-return]


def encode_attributes_json(attributes: Mapping[str, AttributeValue]) -> str:
    """Serialise an attribute map to typed JSON text (keys kept in their order)."""
    return dumps({key: encode_attribute_value(value) for key, value in attributes.items()})


def decode_attributes_json(text: str | None) -> dict[str, AttributeValue]:
    """Parse typed JSON text back into Python values with their OTLP types."""
    if not text:
        return {}
    return {key: decode_attribute_value(value) for key, value in json.loads(text).items()}


def dumps(value: Any) -> str:
    """Compact UTF-8 JSON of typed-JSON-ready values (non-finite doubles are already tagged).

    orjson is about ten times faster than the standard library here, and this runs for
    every attribute map on the ingest path.
    """
    return orjson.dumps(value).decode("utf-8")
