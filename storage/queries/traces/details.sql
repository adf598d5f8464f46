-- Every span of one trace as the waterfall shows it: the fields of spans.sql (named as
-- tracing.trace.Span names them), then attributes, resource, scope, status message, events
-- and links; one scan, bounded by the trace index to the trace's time.
WITH {trace_bounds}
SELECT
    span_id,
    parent_span_id,
    service_name AS service,
    span_name AS name,
    span_kind AS kind,
    epoch_ns(timestamp) AS start_ns,
    epoch_ns(timestamp) + duration AS end_ns,
    status_code = 'Error' AS error,
    trace_state,
    flags,
    scope_name,
    scope_version,
    resource_attributes,
    span_attributes,
    status_code,
    status_message,
    list_transform(events, lambda e: {
        'time_ns': epoch_ns(e.timestamp), 'name': e.name, 'attributes': e.attributes::VARCHAR,
        'dropped_attributes_count': e.dropped_attributes_count
    }) AS events,
    list_transform(links, lambda l: {
        'trace_id': l.trace_id, 'span_id': l.span_id, 'trace_state': l.trace_state,
        'attributes': l.attributes::VARCHAR
    }) AS links,
    dropped_attributes_count,
    dropped_events_count,
    dropped_links_count
FROM otel_traces, trace_bounds AS b
WHERE trace_id = $trace_id AND timestamp BETWEEN b.first_start AND b.last_start
