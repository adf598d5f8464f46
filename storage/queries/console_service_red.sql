-- Rate, errors and duration of each service's requests (SERVER and CONSUMER spans, as the
-- graph's nodes count them) over [$since, $until): one row per service (bucket NULL) with
-- p50/p95/p99, and one row per service and time bucket of $bucket ns (for sparklines).
-- Services that served no request in the window still get their span count.
WITH spans AS (
    SELECT
        service_name AS service,
        span_kind IN ('Server', 'Consumer') AS request,
        status_code = 'Error' AS error,
        duration,
        (epoch_ns(timestamp) - $since) // $bucket AS bucket
    FROM otel_spans
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
      AND ($service IS NULL OR service_name = $service)
)
SELECT
    service,
    bucket,
    count(*) AS span_count,
    count(*) FILTER (WHERE request) AS requests,
    count(*) FILTER (WHERE request AND error) AS errors,
    quantile_cont(duration, [0.5, 0.95, 0.99]) FILTER (WHERE request) AS ns_quantiles
FROM spans
GROUP BY GROUPING SETS ((service), (service, bucket))
ORDER BY service, bucket NULLS FIRST
