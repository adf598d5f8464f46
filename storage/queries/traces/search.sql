-- Traces with a span that starts in [$since, $until) and matches every span condition
-- (service, operation, attributes: filled in by storage/trace_queries.py), summarised
-- like otel_trace_summary; then trace-level filters (duration, errors), the most recent
-- first. Without a trace-level filter only the newest matches are considered. Duration and
-- errors come from the trace index (storage/sql/003_trace_index.sql), so only the traces
-- shown are read span by span, within their own time.
WITH matched AS (
    SELECT trace_id, min(timestamp) AS first_match
    FROM otel_traces  -- the view: conditions may look at resource attributes
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
      {conditions}
    GROUP BY trace_id
    {matched_limit}
),
chosen AS (
    SELECT m.trace_id, min(i.first_start) AS first_start, max(i.last_start) AS last_start
    FROM matched AS m
    JOIN otel_trace_index AS i ON i.trace_key = TRY_CAST('0x' || m.trace_id AS UHUGEINT)
    GROUP BY m.trace_id
    HAVING ($min_ns IS NULL OR epoch_ns(max(i.last_end)) - epoch_ns(min(i.first_start)) >= $min_ns)
       AND ($max_ns IS NULL OR epoch_ns(max(i.last_end)) - epoch_ns(min(i.first_start)) <= $max_ns)
       AND ($errors IS NULL OR (sum(i.errors) > 0) = $errors)
    ORDER BY first_start DESC, m.trace_id
    LIMIT $limit
)
SELECT
    t.trace_id,
    arg_min(t.service_name, (t.parent_span_id <> '', t.timestamp)) AS root_service,
    arg_min(t.span_name, (t.parent_span_id <> '', t.timestamp)) AS root_operation,
    epoch_ns(min(t.timestamp)) AS start_ns,
    max(epoch_ns(t.timestamp) + t.duration) - min(epoch_ns(t.timestamp)) AS duration_ns,
    count(*) AS span_count,
    count(*) FILTER (WHERE t.status_code = 'Error') AS error_count,
    list(DISTINCT t.service_name ORDER BY t.service_name) AS services
FROM otel_spans AS t
SEMI JOIN chosen AS c ON t.trace_id = c.trace_id
WHERE t.timestamp BETWEEN (SELECT min(first_start) FROM chosen) AND (SELECT max(last_start) FROM chosen)
GROUP BY t.trace_id
ORDER BY start_ns DESC, t.trace_id
