-- After incidents/red_levels.sql ($sample 1): per (level, entity, bucket) of the scopes in
-- $scopes ('level|entity'), the requests, the errors and the durations' histogram (bucket ->
-- count over $per_ln buckets to a factor of e of the ns, as graph/call_parts.sql): parts of a
-- long rule window that add up (analyzer/query_service/alert_cells.py).
SELECT level, entity, bucket,
       count(*) AS requests,
       count(*) FILTER (WHERE failed) AS errors,
       histogram(floor(ln(greatest(ms * 1e6, 1)) * $per_ln)::INTEGER) AS latency_buckets
FROM levels
WHERE list_contains($scopes, level || '|' || entity)
GROUP BY level, entity, bucket
