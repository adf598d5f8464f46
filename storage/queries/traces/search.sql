-- Traces with a span that starts in [$since, $until) and matches every span condition
-- (service, operation, attributes: filled in by storage/console_queries.py), summarised
-- like otel_trace_summary; then trace-level filters (duration, errors), the most recent
-- first. Without a trace-level filter only the newest matches are summarised.
WITH matched AS (
    SELECT trace_id, min(timestamp) AS first_match
    FROM otel_traces  -- the view: conditions may look at resource attributes
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
      {conditions}
    GROUP BY trace_id
    {matched_limit}
),
traces AS (
    SELECT
        t.trace_id,
        arg_min(t.service_name, (t.parent_span_id <> '', t.timestamp)) AS root_service,
        arg_min(t.span_name, (t.parent_span_id <> '', t.timestamp)) AS root_operation,
        epoch_ns(min(t.timestamp)) AS start_ns,
        max(epoch_ns(t.timestamp) + t.duration) - min(epoch_ns(t.timestamp)) AS duration_ns,
        count(*) AS span_count,
        count(*) FILTER (WHERE t.status_code = 'Error') AS error_count,
        list(DISTINCT t.service_name ORDER BY t.service_name) AS services
    FROM otel_spans t
    SEMI JOIN matched m ON t.trace_id = m.trace_id
    GROUP BY t.trace_id
)
SELECT *
FROM traces
WHERE ($min_ns IS NULL OR duration_ns >= $min_ns)
  AND ($max_ns IS NULL OR duration_ns <= $max_ns)
  AND ($errors IS NULL OR (error_count > 0) = $errors)
ORDER BY start_ns DESC, trace_id
LIMIT $limit
