-- Records stored per $cell-wide cell of [$since, $until), counted from $since (copies an
-- exporter sent twice counted twice): where a window of more records than one query holds
-- is cut into slices (storage/log_queries.py).
SELECT (epoch_ns(coalesce(l.timestamp, l.observed_timestamp)) - $since) // $cell AS cell, count(*) AS records
FROM otel_logs AS l
WHERE coalesce(l.timestamp, l.observed_timestamp) >= make_timestamp_ns($since)
  AND coalesce(l.timestamp, l.observed_timestamp) < make_timestamp_ns($until)
  AND (l.timestamp IS NULL
       OR (l.timestamp >= make_timestamp_ns($since) AND l.timestamp < make_timestamp_ns($until)))
GROUP BY cell
ORDER BY cell
