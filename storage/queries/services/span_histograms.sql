-- The spans that start in [$since, $until) per (service, name, kind, status), as the
-- Collector's spanmetrics connector counts them: the spans, the bucket counts of their
-- durations over the upper bounds $bounds_ns (as graph/call_histograms.sql buckets them) and
-- the durations' sum.
SELECT
    service_name AS service,
    span_name AS name,
    span_kind AS kind,
    status_code,
    count(*) AS calls,
    histogram(len(list_filter($bounds_ns::BIGINT[], lambda b: b < duration))) AS buckets,
    sum(duration)::BIGINT AS sum_ns
FROM otel_spans
WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
GROUP BY service_name, span_name, span_kind, status_code
ORDER BY service, name, kind, status_code
