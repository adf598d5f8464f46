-- The keys of the resource attributes of the spans that start in [$since, $until), sorted,
-- at most $limit: read from the window's few distinct resources, not from every span.
SELECT DISTINCT unnest(json_keys(resource_attributes)) AS name
FROM otel_resources
WHERE resource_key IN (
    SELECT DISTINCT resource_key FROM otel_spans
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
)
ORDER BY name
LIMIT $limit
