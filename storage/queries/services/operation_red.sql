-- Per (operation, span kind) of one service, all its spans (no time buckets): count, errors,
-- quantiles (of one trace in $sample, as services/red.sql).
SELECT
    span_name AS operation,
    span_kind AS kind,
    count(*) AS requests,
    count(*) FILTER (WHERE status_code = 'Error') AS errors,
    quantile_cont(duration, [0.5, 0.95, 0.99])
        FILTER (WHERE {in_trace_sample}) AS ns_quantiles
FROM otel_spans
WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
  AND service_name = $service
GROUP BY span_name, span_kind
ORDER BY requests DESC, operation, kind
