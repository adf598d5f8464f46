"""Pure decoders: OTLP export requests (protobuf messages) -> columnar store batches.

Each decoder validates item by item: an item with an invalid id is left out and
counted, the rest is kept, and the caller answers with OTLP partial success.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from opentelemetry.proto.metrics.v1 import metrics_pb2 as METRICS_PB2

from collector.values import any_value, attribute_map, attributes_json
from storage.batch import Batch
from storage.columns import LOG_SCHEMA, METRIC_SCHEMAS, RESOURCE_SCHEMA, SPAN_SCHEMA
from tracing.attributes import dumps
from tracing.ids import is_valid_span_id, is_valid_trace_id
from tracing.semconv import RESOURCE_PROMOTED, SPAN_PROMOTED, promote

__all__ = ["UNKNOWN_SERVICE", "Decoded", "decode_logs", "decode_metrics", "decode_traces", "span_batch"]

UNKNOWN_SERVICE = "unknown_service"
SPAN_KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
STATUS_CODES = ("Unset", "Ok", "Error")
TEMPORALITIES = ("Unspecified", "Delta", "Cumulative")

_BAD_TRACE_ID = "trace_id is not 16 bytes (or is all zero)"
_BAD_SPAN_ID = "span_id is not 8 bytes (or is all zero)"
_BAD_PARENT_ID = "parent_span_id is neither empty nor 8 bytes"
_BAD_LINK_ID = "a link's trace_id or span_id is invalid"
_BAD_LOG_IDS = "trace_id or span_id has the wrong length"
_BAD_EXEMPLAR_IDS = "an exemplar's trace_id or span_id has the wrong length"


@dataclass(frozen=True)
class Decoded:
    """What one request yields: the batch to store and what was rejected, and why."""

    batch: Batch
    accepted: int
    rejected: int
    message: str


def _rejection_message(noun: str, reasons: Counter[str]) -> str:
    if not reasons:
        return ""
    total = sum(reasons.values())
    details = "; ".join(f"{reason} ({count})" for reason, count in reasons.most_common())
    return f"rejected {total} {noun}: {details}"


def _resource_columns(resource: Any, schema_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Resource-level values shared by every item under one resource."""
    attributes = attribute_map(resource.attributes)
    service = attributes.get("service.name")
    shared = {
        "service_name": service if isinstance(service, str) and service else UNKNOWN_SERVICE,
        "resource_attributes": dumps(attributes) if attributes else "{}",
        "resource_schema_url": schema_url,
    }
    return shared, promote(attributes, RESOURCE_PROMOTED)


def _scope_columns(scope: Any, schema_url: str) -> dict[str, Any]:
    return {
        "scope_name": scope.name,
        "scope_version": scope.version,
        "scope_attributes": attributes_json(scope.attributes),
        "scope_schema_url": schema_url,
    }


def _nanos_or_none(value: int) -> int | None:
    return value if value else None


# ---------------------------------------------------------------- traces


def decode_traces(request: Any) -> Decoded:
    """``ExportTraceServiceRequest`` -> rows for ``otel_spans`` and ``otel_resources``."""
    columns: dict[str, list[Any]] = {name: [] for name in SPAN_SCHEMA.names if name not in _BLOCK_COLUMNS}
    blocks: list[dict[str, Any]] = []  # the resource and scope values of each run of spans
    counts: list[int] = []
    reasons: Counter[str] = Counter()
    for resource_spans in request.resource_spans:
        shared, resource_promoted = _resource_columns(resource_spans.resource, resource_spans.schema_url)
        shared["resource_dropped_attributes_count"] = resource_spans.resource.dropped_attributes_count
        shared.update(resource_promoted)
        for scope_spans in resource_spans.scope_spans:
            count = _append_spans(columns, scope_spans.spans, reasons)
            if count:
                blocks.append({**shared, **_scope_columns(scope_spans.scope, scope_spans.schema_url)})
                counts.append(count)
    own = {name: pa.array(values, type=SPAN_SCHEMA.field(name).type) for name, values in columns.items()}
    batch = span_batch(own, blocks, counts)
    rejected = sum(reasons.values())
    return Decoded(batch, sum(counts), rejected, _rejection_message("spans", reasons))


# otel_spans columns that come from the span's resource and scope rather than the span
_BLOCK_COLUMNS = frozenset({"service_name", "resource_key"})


_KEY_FIELDS = (
    "resource_attributes",
    "resource_schema_url",
    "resource_dropped_attributes_count",
    "scope_name",
    "scope_version",
    "scope_attributes",
    "scope_schema_url",
)
# resource and scope fields -> their key: a server sees the same few resources in every
# request, and the MD5 was a fifth of the Python time of decoding one
_known_keys: dict[tuple[Any, ...], int] = {}
_KNOWN_KEYS_LIMIT = 4096


def _resource_key(block: Mapping[str, Any]) -> int:
    """The key of one resource and scope in ``otel_resources``: the low 64 bits of the MD5
    of their fields joined by U+001F (schema migration 002 computes the same in SQL)."""
    fields = tuple(block[name] for name in _KEY_FIELDS)
    key = _known_keys.get(fields)
    if key is None:
        text = "\x1f".join(str(value) for value in fields)
        key = int.from_bytes(hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()[8:], "little")
        if len(_known_keys) >= _KNOWN_KEYS_LIMIT:
            _known_keys.clear()  # a churn of resources: start over rather than grow
        _known_keys[fields] = key
    return key


def span_batch(
    own: dict[str, pa.Array],
    blocks: list[dict[str, Any]],
    counts: list[int],
    stored_resources: Container[int] = frozenset(),
) -> Batch:
    """The rows to store from each span's own columns and the resource and scope ``blocks``
    (``counts[i]`` spans in a row share ``blocks[i]``).

    ``otel_resources`` gets each distinct block once, and none whose key is in
    ``stored_resources`` (rows the store already holds): the batch leaves the table out when
    every block is known, as nearly every request to a running server finds.
    """
    keys = [_resource_key(block) for block in blocks]
    block_of_row = pa.array(np.repeat(np.arange(len(blocks), dtype=np.int32), counts), type=pa.int32())
    services = pa.array([block["service_name"] for block in blocks], type=pa.string())
    own = {
        **own,
        "service_name": pa.DictionaryArray.from_arrays(block_of_row, services),
        "resource_key": pa.array(np.repeat(np.array(keys, dtype=np.uint64), counts), type=pa.uint64()),
    }
    tables = {"otel_spans": pa.Table.from_arrays([own[name] for name in SPAN_SCHEMA.names], names=SPAN_SCHEMA.names)}
    new = {key: block for key, block in zip(keys, blocks, strict=True) if key not in stored_resources}
    if new:  # rare once the server runs: the rows built the simple way
        tables["otel_resources"] = pa.Table.from_pylist(
            [{**block, "resource_key": key} for key, block in new.items()], schema=RESOURCE_SCHEMA
        )
    return Batch(tables)


def _append_spans(columns: dict[str, list[Any]], spans: Any, reasons: Counter[str]) -> int:
    """Append the valid spans' own columns; return how many were appended."""
    timestamp, trace_id, span_id = columns["timestamp"], columns["trace_id"], columns["span_id"]
    parent_span_id, trace_state, flags = columns["parent_span_id"], columns["trace_state"], columns["flags"]
    span_name, span_kind, span_attributes = columns["span_name"], columns["span_kind"], columns["span_attributes"]
    duration, status_code, status_message = columns["duration"], columns["status_code"], columns["status_message"]
    events, links = columns["events"], columns["links"]
    dropped_attrs = columns["dropped_attributes_count"]
    dropped_events, dropped_links = columns["dropped_events_count"], columns["dropped_links_count"]
    promoted_lists = [(name, columns[name]) for name in SPAN_PROMOTED]
    count = 0
    for span in spans:
        reason = _invalid_span_reason(span)
        if reason:
            reasons[reason] += 1
            continue
        attributes = attribute_map(span.attributes)
        start = span.start_time_unix_nano
        timestamp.append(start)
        trace_id.append(span.trace_id.hex())
        span_id.append(span.span_id.hex())
        parent_span_id.append(span.parent_span_id.hex())
        trace_state.append(span.trace_state)
        flags.append(span.flags)
        span_name.append(span.name)
        span_kind.append(SPAN_KINDS[span.kind] if 0 <= span.kind < 6 else SPAN_KINDS[0])
        span_attributes.append(dumps(attributes) if attributes else "{}")
        duration.append(span.end_time_unix_nano - start)
        status = span.status
        status_code.append(STATUS_CODES[status.code] if 0 <= status.code < 3 else STATUS_CODES[0])
        status_message.append(status.message)
        events.append([_event(event) for event in span.events] if span.events else [])
        links.append([_link(link) for link in span.links] if span.links else [])
        dropped_attrs.append(span.dropped_attributes_count)
        dropped_events.append(span.dropped_events_count)
        dropped_links.append(span.dropped_links_count)
        promoted = promote(attributes, SPAN_PROMOTED)
        for name, values in promoted_lists:
            values.append(promoted[name])
        count += 1
    return count


def _invalid_span_reason(span: Any) -> str:
    if not is_valid_trace_id(span.trace_id):
        return _BAD_TRACE_ID
    if not is_valid_span_id(span.span_id):
        return _BAD_SPAN_ID
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return _BAD_PARENT_ID
    for link in span.links:
        if not is_valid_trace_id(link.trace_id) or not is_valid_span_id(link.span_id):
            return _BAD_LINK_ID
    return ""


def _event(event: Any) -> dict[str, Any]:
    return {
        "timestamp": event.time_unix_nano,
        "name": event.name,
        "attributes": attributes_json(event.attributes),
        "dropped_attributes_count": event.dropped_attributes_count,
    }


def _link(link: Any) -> dict[str, Any]:
    return {
        "trace_id": link.trace_id.hex(),
        "span_id": link.span_id.hex(),
        "trace_state": link.trace_state,
        "attributes": attributes_json(link.attributes),
        "dropped_attributes_count": link.dropped_attributes_count,
        "flags": link.flags,
    }


# ---------------------------------------------------------------- metrics


def decode_metrics(request: Any) -> Decoded:
    """``ExportMetricsServiceRequest`` -> rows for the five ``otel_metrics_*`` tables."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in METRIC_SCHEMAS}
    reasons: Counter[str] = Counter()
    accepted = 0
    for resource_metrics in request.resource_metrics:
        shared, _ = _resource_columns(resource_metrics.resource, resource_metrics.schema_url)
        for scope_metrics in resource_metrics.scope_metrics:
            scope_shared = {**shared, **_scope_columns(scope_metrics.scope, scope_metrics.schema_url)}
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue
                metric_shared = {
                    **scope_shared,
                    "metric_name": metric.name,
                    "metric_description": metric.description,
                    "metric_unit": metric.unit,
                    "metric_metadata": attributes_json(metric.metadata),
                }
                data = getattr(metric, kind)
                extra = _metric_extra(kind, data)
                target = rows[f"otel_metrics_{kind}"]
                for point in data.data_points:
                    if not _exemplars_valid(point):
                        reasons[_BAD_EXEMPLAR_IDS] += 1
                        continue
                    target.append({**metric_shared, **extra, **_point_common(point), **_POINT_COLUMNS[kind](point)})
                    accepted += 1
    tables = {
        name: pa.Table.from_pylist(points, schema=METRIC_SCHEMAS[name]) for name, points in rows.items() if points
    }
    rejected = sum(reasons.values())
    return Decoded(Batch(tables), accepted, rejected, _rejection_message("data points", reasons))


def _metric_extra(kind: str, data: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if kind in ("sum", "histogram", "exponential_histogram"):
        temporality = data.aggregation_temporality
        extra["aggregation_temporality"] = TEMPORALITIES[temporality] if 0 <= temporality < 3 else TEMPORALITIES[0]
    if kind == "sum":
        extra["is_monotonic"] = data.is_monotonic
    return extra


def _exemplars(point: Any) -> Any:
    return () if isinstance(point, METRICS_PB2.SummaryDataPoint) else point.exemplars


def _exemplars_valid(point: Any) -> bool:
    for exemplar in _exemplars(point):
        if exemplar.trace_id and len(exemplar.trace_id) != 16:
            return False
        if exemplar.span_id and len(exemplar.span_id) != 8:
            return False
    return True


def _number(holder: Any) -> tuple[float | None, int | None]:
    kind = holder.WhichOneof("value")
    if kind == "as_int":
        return float(holder.as_int), holder.as_int
    if kind == "as_double":
        return holder.as_double, None
    return None, None


def _point_common(point: Any) -> dict[str, Any]:
    return {
        "attributes": attributes_json(point.attributes),
        "start_time_unix": _nanos_or_none(point.start_time_unix_nano),
        "time_unix": point.time_unix_nano,
        "flags": point.flags,
        "exemplars": [_exemplar(exemplar) for exemplar in _exemplars(point)],
    }


def _exemplar(exemplar: Any) -> dict[str, Any]:
    value, value_int = _number(exemplar)
    return {
        "filtered_attributes": attributes_json(exemplar.filtered_attributes),
        "time_unix": exemplar.time_unix_nano,
        "value": value,
        "value_int": value_int,
        "span_id": exemplar.span_id.hex(),
        "trace_id": exemplar.trace_id.hex(),
    }


def _number_point(point: Any) -> dict[str, Any]:
    value, value_int = _number(point)
    return {"value": value, "value_int": value_int}


def _histogram_point(point: Any) -> dict[str, Any]:
    return {
        "count": point.count,
        "sum": point.sum if point.HasField("sum") else None,
        "bucket_counts": list(point.bucket_counts),
        "explicit_bounds": list(point.explicit_bounds),
        "min": point.min if point.HasField("min") else None,
        "max": point.max if point.HasField("max") else None,
    }


def _exponential_histogram_point(point: Any) -> dict[str, Any]:
    return {
        "count": point.count,
        "sum": point.sum if point.HasField("sum") else None,
        "scale": point.scale,
        "zero_count": point.zero_count,
        "zero_threshold": point.zero_threshold,
        "positive_offset": point.positive.offset,
        "positive_bucket_counts": list(point.positive.bucket_counts),
        "negative_offset": point.negative.offset,
        "negative_bucket_counts": list(point.negative.bucket_counts),
        "min": point.min if point.HasField("min") else None,
        "max": point.max if point.HasField("max") else None,
    }


def _summary_point(point: Any) -> dict[str, Any]:
    return {
        "count": point.count,
        "sum": point.sum,
        "value_at_quantiles": [{"quantile": q.quantile, "value": q.value} for q in point.quantile_values],
    }


_POINT_COLUMNS = {
    "gauge": _number_point,
    "sum": _number_point,
    "histogram": _histogram_point,
    "exponential_histogram": _exponential_histogram_point,
    "summary": _summary_point,
}


# ---------------------------------------------------------------- logs


def decode_logs(request: Any) -> Decoded:
    """``ExportLogsServiceRequest`` -> rows for ``otel_logs``."""
    rows: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    for resource_logs in request.resource_logs:
        shared, _ = _resource_columns(resource_logs.resource, resource_logs.schema_url)
        for scope_logs in resource_logs.scope_logs:
            scope_shared = {**shared, **_scope_columns(scope_logs.scope, scope_logs.schema_url)}
            for record in scope_logs.log_records:
                if (record.trace_id and len(record.trace_id) != 16) or (record.span_id and len(record.span_id) != 8):
                    reasons[_BAD_LOG_IDS] += 1
                    continue
                rows.append({**scope_shared, **_log_columns(record)})
    table = pa.Table.from_pylist(rows, schema=LOG_SCHEMA)
    rejected = sum(reasons.values())
    return Decoded(Batch({"otel_logs": table}), len(rows), rejected, _rejection_message("log records", reasons))


def _log_columns(record: Any) -> dict[str, Any]:
    body = any_value(record.body) if record.HasField("body") else None
    return {
        "timestamp": _nanos_or_none(record.time_unix_nano),
        "observed_timestamp": _nanos_or_none(record.observed_time_unix_nano),
        "trace_id": record.trace_id.hex(),
        "span_id": record.span_id.hex(),
        "flags": record.flags,
        "severity_text": record.severity_text,
        "severity_number": record.severity_number,
        "body": None if body is None and not record.HasField("body") else dumps(body),
        "event_name": record.event_name,
        "log_attributes": attributes_json(record.attributes),
        "dropped_attributes_count": record.dropped_attributes_count,
    }
