-- Spans per $bucket-wide bucket of [$since, $until), counted from $since: where automatic
-- incident detection starts so as to read the latest data only (bucket 0 is the oldest).
SELECT (epoch_ns(timestamp) - $since) // $bucket AS bucket, count(*) AS spans
FROM otel_traces
WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
GROUP BY bucket
ORDER BY bucket
