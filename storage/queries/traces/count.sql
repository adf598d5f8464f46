-- Traces with at least one span starting in [$since, $until).
SELECT count(DISTINCT trace_id) AS traces
FROM otel_spans
WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
