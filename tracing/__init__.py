"""The trace model: attribute values, semantic-convention normalisation, ids."""

from tracing.attributes import AttributeValue, decode_attributes_json, encode_attributes_json
from tracing.ids import is_valid_span_id, is_valid_trace_id
from tracing.semconv import RESOURCE_PROMOTED, SPAN_PROMOTED, promote

__all__ = [
    "RESOURCE_PROMOTED",
    "SPAN_PROMOTED",
    "AttributeValue",
    "decode_attributes_json",
    "encode_attributes_json",
    "is_valid_span_id",
    "is_valid_trace_id",
    "promote",
]
