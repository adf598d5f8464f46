-- Spans per $bucket-wide bucket of [$since, $until), counted from $since (bucket 0 is the
-- oldest): where automatic incident detection starts so as to read the latest data only,
-- and which window the console opens a large store on.
SELECT (epoch_ns(timestamp) - $since) // $bucket AS bucket, count(*) AS spans
FROM otel_spans
WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
GROUP BY bucket
ORDER BY bucket
