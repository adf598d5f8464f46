-- The otel_trace_index rows of the spans in {source} (a registered table or a query shaped like
-- otel_spans): one row per trace. Ids that are not 32 hex digits get no row (the decoders
-- refuse them, so none should be stored).
SELECT ('0x' || trace_id)::UHUGEINT AS trace_key,
       min(timestamp) AS first_start,
       max(timestamp) AS last_start,
       max(make_timestamp_ns((epoch_ns(timestamp) + duration)::BIGINT)) AS last_end,
       count(*) AS spans,
       count(*) FILTER (WHERE status_code = 'Error') AS errors
FROM {source}
WHERE TRY_CAST('0x' || trace_id AS UHUGEINT) IS NOT NULL
GROUP BY trace_id
