-- Every stored field of every span of the traces $trace_ids (a list of normalised ids), by
-- trace id, then start (then span id): what OTLP carries, so that the spans go out as they
-- came in. The trace index bounds the scan to the traces' time.
WITH bounds AS (
    SELECT min(first_start) AS first_start, max(last_start) AS last_start
    FROM otel_trace_index
    WHERE trace_key IN (SELECT TRY_CAST('0x' || id AS UHUGEINT) FROM unnest($trace_ids::VARCHAR[]) AS t(id))
)
SELECT
    trace_id,
    span_id,
    parent_span_id,
    trace_state,
    flags,
    span_name AS name,
    span_kind AS kind,
    epoch_ns(timestamp) AS start_ns,
    epoch_ns(timestamp) + duration AS end_ns,
    service_name AS service,
    resource_attributes::VARCHAR AS resource_attributes,
    resource_schema_url,
    resource_dropped_attributes_count,
    scope_name,
    scope_version,
    scope_attributes::VARCHAR AS scope_attributes,
    scope_schema_url,
    span_attributes::VARCHAR AS span_attributes,
    status_code,
    status_message,
    list_transform(events, lambda e: {
        'time_ns': epoch_ns(e.timestamp), 'name': e.name, 'attributes': e.attributes::VARCHAR,
        'dropped_attributes_count': e.dropped_attributes_count
    }) AS events,
    list_transform(links, lambda l: {
        'trace_id': l.trace_id, 'span_id': l.span_id, 'trace_state': l.trace_state,
        'attributes': l.attributes::VARCHAR, 'dropped_attributes_count': l.dropped_attributes_count,
        'flags': l.flags
    }) AS links,
    dropped_attributes_count,
    dropped_events_count,
    dropped_links_count
FROM otel_traces, bounds AS b
WHERE list_contains($trace_ids::VARCHAR[], trace_id) AND timestamp BETWEEN b.first_start AND b.last_start
ORDER BY trace_id, timestamp, span_id
