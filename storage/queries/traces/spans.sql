-- The spans of one trace ($trace_id), named as tracing.trace.Span names its fields, in
-- start order (then span id). The trace index bounds the scan to the trace's time.
WITH {trace_bounds}
SELECT span_id, parent_span_id, service_name AS service, span_name AS name, span_kind AS kind,
       epoch_ns(timestamp) AS start_ns, epoch_ns(timestamp) + duration AS end_ns,
       status_code = 'Error' AS error
FROM otel_spans, trace_bounds AS b
WHERE trace_id = $trace_id AND timestamp BETWEEN b.first_start AND b.last_start
ORDER BY timestamp, span_id
