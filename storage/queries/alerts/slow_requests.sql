-- After incidents/red_levels.sql (one $bucket, $sample 1): requests in [$since, $until) and
-- how many took longer than $slow_ms, per (level, entity) as red_series.sql names them
-- (service, operation, instance, edge): the bad events of a latency objective
-- (docs/alerting.md, slo_burn with latency_ms).
SELECT level, entity, count(*) AS requests, count(*) FILTER (WHERE ms > $slow_ms) AS slow
FROM levels
WHERE level <> 'host'
GROUP BY level, entity
ORDER BY level, entity
