-- The spans of the traces $trace_ids that start in [$since, $until) and satisfy a span
-- filter ({condition}: storage/span_filters.py): the earliest $per_trace of each trace, with
-- how many of the trace's spans match. Bounded by the trace index to the traces' time.
WITH bounds AS (
    SELECT min(first_start) AS first_start, max(last_start) AS last_start
    FROM otel_trace_index
    WHERE trace_key IN (SELECT TRY_CAST('0x' || id AS UHUGEINT) FROM unnest($trace_ids::VARCHAR[]) AS t(id))
),
matched AS (
    SELECT trace_id, span_id, span_name AS name, service_name AS service,
           epoch_ns(timestamp) AS start_ns, duration AS duration_ns,
           row_number() OVER (PARTITION BY trace_id ORDER BY timestamp, span_id) AS n,
           count(*) OVER (PARTITION BY trace_id) AS matched
    FROM otel_traces, bounds AS b
    WHERE list_contains($trace_ids::VARCHAR[], trace_id)
      AND timestamp BETWEEN b.first_start AND b.last_start
      AND timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
      AND {condition}
)
SELECT trace_id, span_id, name, service, start_ns, duration_ns, matched
FROM matched
WHERE n <= $per_trace
ORDER BY trace_id, n
