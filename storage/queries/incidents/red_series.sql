-- RED series in [$since, $until), $bucket ns wide, after red_levels.sql: per (level, entity,
-- bucket) the requests, errors and latency percentiles (ms). Counts are exact; the
-- percentiles are of one trace in $sample.
-- a pod or host can serve several services: it is one entity, labelled by the first of them
SELECT level, entity, min(service) AS service, bucket,
       count(*) AS requests,
       count(*) FILTER (WHERE failed) AS errors,
       quantile_cont(ms, [0.5, 0.95, 0.99]) FILTER (WHERE sampled) AS latency_ms
FROM levels
GROUP BY level, entity, bucket
ORDER BY level, entity, bucket
