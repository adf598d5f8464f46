-- Rate, errors and duration of each service's requests (see requests.sql) over [$since, $until): one row per service (bucket NULL) with
-- p50/p95/p99, and one row per service and time bucket of $bucket ns (for sparklines).
-- Services that served no request in the window still get their span count. Counts are
-- exact; the quantiles are of one trace in $sample (by trace-id hash): DuckDB holds every
-- duration an exact quantile reads, and a long window's would not fit its memory.
WITH spans AS (
    SELECT
        trace_id, span_id, parent_span_id, service_name, span_kind,
        status_code = 'Error' AS error,
        duration,
        {in_trace_sample} AS sampled,
        (epoch_ns(timestamp) - $since) // $bucket AS bucket
    FROM otel_spans
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
      AND ($service IS NULL OR service_name = $service)
),
{requests}
SELECT
    service_name AS service,
    bucket,
    count(*) AS span_count,
    count(*) FILTER (WHERE is_request) AS requests,
    count(*) FILTER (WHERE is_request AND error) AS errors,
    quantile_cont(duration, [0.5, 0.95, 0.99]) FILTER (WHERE is_request AND sampled) AS ns_quantiles
FROM request_spans
GROUP BY GROUPING SETS ((service_name), (service_name, bucket))
ORDER BY service_name, bucket NULLS FIRST
