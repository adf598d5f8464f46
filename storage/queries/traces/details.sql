-- What the waterfall's span details show beyond the critical-path fields: attributes,
-- resource, scope, status message, events and links of every span of one trace (the trace
-- index bounds the scan to the trace's time).
WITH {trace_bounds}
SELECT
    span_id,
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
