"""Arrow schemas of the rows the store accepts, one per table.

Decoders build ``pyarrow.Table`` objects with exactly these schemas; the writer
inserts them by column name. JSON columns travel as Arrow strings.
"""

from __future__ import annotations

import pyarrow as pa

from tracing.semconv import INTEGER_COLUMNS, RESOURCE_PROMOTED, SPAN_PROMOTED

__all__ = [
    "EVENT_TYPE",
    "EXEMPLAR_TYPE",
    "LINK_TYPE",
    "LOG_SCHEMA",
    "METRIC_SCHEMAS",
    "RESOURCE_SCHEMA",
    "SPAN_SCHEMA",
]

_TS = pa.timestamp("ns")

EVENT_TYPE = pa.struct(
    [("timestamp", _TS), ("name", pa.string()), ("attributes", pa.string()), ("dropped_attributes_count", pa.uint32())]
)
LINK_TYPE = pa.struct(
    [
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("trace_state", pa.string()),
        ("attributes", pa.string()),
        ("dropped_attributes_count", pa.uint32()),
        ("flags", pa.uint32()),
    ]
)
EXEMPLAR_TYPE = pa.struct(
    [
        ("filtered_attributes", pa.string()),
        ("time_unix", _TS),
        ("value", pa.float64()),
        ("value_int", pa.int64()),
        ("span_id", pa.string()),
        ("trace_id", pa.string()),
    ]
)

_RESOURCE_AND_SCOPE = [
    ("resource_attributes", pa.string()),
    ("resource_schema_url", pa.string()),
    ("scope_name", pa.string()),
    ("scope_version", pa.string()),
    ("scope_attributes", pa.string()),
    ("scope_schema_url", pa.string()),
    ("service_name", pa.string()),
]


def _promoted(columns: dict[str, tuple[str, ...]]) -> list[tuple[str, pa.DataType]]:
    return [(name, pa.int64() if name in INTEGER_COLUMNS else pa.string()) for name in columns]


# otel_spans: each span's own columns; its resource and scope are one row of otel_resources
SPAN_SCHEMA = pa.schema(
    [
        ("timestamp", _TS),
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("parent_span_id", pa.string()),
        ("trace_state", pa.string()),
        ("flags", pa.uint32()),
        ("span_name", pa.string()),
        ("span_kind", pa.string()),
        ("service_name", pa.string()),
        ("resource_key", pa.uint64()),
        ("span_attributes", pa.string()),
        ("duration", pa.int64()),
        ("status_code", pa.string()),
        ("status_message", pa.string()),
        ("events", pa.list_(EVENT_TYPE)),
        ("links", pa.list_(LINK_TYPE)),
        ("dropped_attributes_count", pa.uint32()),
        ("dropped_events_count", pa.uint32()),
        ("dropped_links_count", pa.uint32()),
        *_promoted(SPAN_PROMOTED),
    ]
)

# otel_resources: one row per distinct resource and instrumentation scope
RESOURCE_SCHEMA = pa.schema(
    [
        ("resource_key", pa.uint64()),
        ("service_name", pa.string()),
        ("resource_attributes", pa.string()),
        ("resource_schema_url", pa.string()),
        ("resource_dropped_attributes_count", pa.uint32()),
        ("scope_name", pa.string()),
        ("scope_version", pa.string()),
        ("scope_attributes", pa.string()),
        ("scope_schema_url", pa.string()),
        *_promoted(RESOURCE_PROMOTED),
    ]
)

_METRIC_COMMON = [
    *_RESOURCE_AND_SCOPE,
    ("metric_name", pa.string()),
    ("metric_description", pa.string()),
    ("metric_unit", pa.string()),
    ("metric_metadata", pa.string()),
    ("attributes", pa.string()),
    ("start_time_unix", _TS),
    ("time_unix", _TS),
    ("flags", pa.uint32()),
    ("exemplars", pa.list_(EXEMPLAR_TYPE)),
]

METRIC_SCHEMAS: dict[str, pa.Schema] = {
    "otel_metrics_gauge": pa.schema([*_METRIC_COMMON, ("value", pa.float64()), ("value_int", pa.int64())]),
    "otel_metrics_sum": pa.schema(
        [
            *_METRIC_COMMON,
            ("value", pa.float64()),
            ("value_int", pa.int64()),
            ("aggregation_temporality", pa.string()),
            ("is_monotonic", pa.bool_()),
        ]
    ),
    "otel_metrics_histogram": pa.schema(
        [
            *_METRIC_COMMON,
            ("count", pa.uint64()),
            ("sum", pa.float64()),
            ("bucket_counts", pa.list_(pa.uint64())),
            ("explicit_bounds", pa.list_(pa.float64())),
            ("min", pa.float64()),
            ("max", pa.float64()),
            ("aggregation_temporality", pa.string()),
        ]
    ),
    "otel_metrics_exponential_histogram": pa.schema(
        [
            *_METRIC_COMMON,
            ("count", pa.uint64()),
            ("sum", pa.float64()),
            ("scale", pa.int32()),
            ("zero_count", pa.uint64()),
            ("zero_threshold", pa.float64()),
            ("positive_offset", pa.int32()),
            ("positive_bucket_counts", pa.list_(pa.uint64())),
            ("negative_offset", pa.int32()),
            ("negative_bucket_counts", pa.list_(pa.uint64())),
            ("min", pa.float64()),
            ("max", pa.float64()),
            ("aggregation_temporality", pa.string()),
        ]
    ),
    "otel_metrics_summary": pa.schema(
        [
            *_METRIC_COMMON,
            ("count", pa.uint64()),
            ("sum", pa.float64()),
            ("value_at_quantiles", pa.list_(pa.struct([("quantile", pa.float64()), ("value", pa.float64())]))),
        ]
    ),
}

LOG_SCHEMA = pa.schema(
    [
        ("timestamp", _TS),
        ("observed_timestamp", _TS),
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("flags", pa.uint32()),
        ("severity_text", pa.string()),
        ("severity_number", pa.int32()),
        ("service_name", pa.string()),
        ("body", pa.string()),
        ("event_name", pa.string()),
        *_RESOURCE_AND_SCOPE[:6],
        ("log_attributes", pa.string()),
        ("dropped_attributes_count", pa.uint32()),
    ]
)
