-- The records stored in the window [$since, $until) (copies an exporter sent twice counted
-- twice): what a read of the window goes through, counted without reading a message.
SELECT count(*) AS records
FROM otel_logs AS l
WHERE coalesce(l.timestamp, l.observed_timestamp) >= make_timestamp_ns($since)
  AND coalesce(l.timestamp, l.observed_timestamp) < make_timestamp_ns($until)
  AND (l.timestamp IS NULL
       OR (l.timestamp >= make_timestamp_ns($since) AND l.timestamp < make_timestamp_ns($until)))
