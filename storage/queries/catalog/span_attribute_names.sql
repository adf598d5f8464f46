-- The keys of the span attributes of the spans that start in [$since, $until), sorted, at
-- most $limit.
SELECT DISTINCT unnest(json_keys(span_attributes)) AS name
FROM otel_spans
WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
ORDER BY name
LIMIT $limit
