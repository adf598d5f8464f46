-- Traces with at least one span starting in [$since, $until), and those spans.
SELECT count(DISTINCT trace_id) AS traces, count(*) AS spans
FROM otel_spans
WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
