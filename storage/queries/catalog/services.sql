-- The names of the services that have spans in the store, sorted: from the few rows of
-- otel_resources whose key some span still names (retention leaves resources behind).
SELECT DISTINCT service_name AS service
FROM otel_resources
WHERE resource_key IN (SELECT DISTINCT resource_key FROM otel_spans)
ORDER BY service
