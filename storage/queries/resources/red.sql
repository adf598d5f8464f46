-- Per (service, resource) in [$since, $until): spans, requests (see requests.sql), request
-- errors, request p95 (ns; of one trace in $sample, as services/red.sql) and the last span start.
WITH spans AS (
    SELECT trace_id, span_id, parent_span_id, service_name, span_kind, resource_attributes,
           status_code, duration, timestamp
    FROM otel_traces
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
),
{requests}
SELECT service_name AS service, resource_attributes::VARCHAR AS resource,
       count(*) AS spans,
       count(*) FILTER (WHERE is_request) AS requests,
       count(*) FILTER (WHERE is_request AND status_code = 'Error') AS errors,
       quantile_cont(duration, 0.95)
           FILTER (WHERE is_request AND {in_trace_sample}) AS p95_ns,
       epoch_ns(max(timestamp)) AS last_seen_ns
FROM request_spans
GROUP BY ALL
ORDER BY service, resource
