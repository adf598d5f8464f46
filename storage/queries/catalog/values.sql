-- The distinct scalar values of one field of the spans (otel_traces) that start in
-- [$since, $until) and satisfy {condition}: {value} as text and {type} its JSON type
-- (VARCHAR, BIGINT, UBIGINT, DOUBLE, BOOLEAN), sorted, at most $limit.
SELECT value, type
FROM (
    SELECT {value} AS value, {type} AS type
    FROM otel_traces
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
      AND {condition}
)
WHERE value IS NOT NULL AND type IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN')
GROUP BY value, type
ORDER BY value, type
LIMIT $limit
