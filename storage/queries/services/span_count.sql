-- How many spans [$since, $until) holds (of $service only, unless NULL): whether the
-- quantiles of services/red.sql read every request or a sample.
SELECT count(*) AS spans
FROM otel_spans
WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
  AND ($service IS NULL OR service_name = $service)
