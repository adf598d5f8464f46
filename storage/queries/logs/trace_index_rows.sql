-- The otel_log_trace_index rows of the log records in {source} (a registered table shaped
-- like otel_logs): one row per trace. Records tied to no trace (trace_id '') get no row.
SELECT ('0x' || trace_id)::UHUGEINT AS trace_key,
       min(coalesce(timestamp, observed_timestamp)) AS first_time,
       max(coalesce(timestamp, observed_timestamp)) AS last_time,
       count(*) AS records,
       count(*) FILTER (WHERE timestamp IS NULL AND observed_timestamp IS NOT NULL) AS untimed,
       count(*) FILTER (WHERE timestamp IS NULL AND observed_timestamp IS NULL) AS timeless
FROM {source}
WHERE TRY_CAST('0x' || trace_id AS UHUGEINT) IS NOT NULL
GROUP BY trace_id
