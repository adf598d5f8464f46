"""OTLP/JSON -> protobuf messages, following the OTLP/JSON encoding rules.

Differences from protobuf's canonical JSON mapping that OTLP requires: trace and span
ids are hex strings (any letter case), not base64. Everything else (lowerCamelCase or
original field names, enums as integers or names, 64-bit integers as strings or
numbers) protobuf's ``json_format`` already accepts; unknown fields are ignored.
"""

from __future__ import annotations

import base64
import json
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from collector.errors import DecodeError

__all__ = ["message_from_json", "message_to_json"]

M = TypeVar("M", bound=Message)

_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})
# An id that is not hex becomes bytes of an impossible length, so that the item it
# belongs to is rejected (partial success) instead of the whole request.
_INVALID_ID = base64.b64encode(b"\x00").decode("ascii")


def message_from_json(body: bytes, message_type: type[M]) -> M:
    """Parse an OTLP/JSON request body into ``message_type``."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecodeError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise DecodeError("request body must be a JSON object")
    _hex_ids_to_base64(document)
    message: M = message_type()
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise DecodeError(f"request does not match the OTLP schema: {exc}") from exc
    return message


def message_to_json(message: Message) -> bytes:
    """Serialise a response message as OTLP/JSON."""
    text: str = json_format.MessageToJson(message, indent=None)
    return text.encode("utf-8")


def _hex_ids_to_base64(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                node[key] = _hex_to_base64(value)
            elif isinstance(value, (dict, list)):
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                _hex_ids_to_base64(item)


def _hex_to_base64(text: str) -> str:
    if not text:
        return ""
    try:
        return base64.b64encode(bytes.fromhex(text)).decode("ascii")
    except ValueError:
        return _INVALID_ID
