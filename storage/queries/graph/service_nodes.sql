-- Per-service statistics over a span-time window [$since, $until): all spans, and the
-- latency and errors of the spans that serve requests (see requests.sql), the latency of
-- one trace in $sample (by trace-id hash; see services/red.sql, whose sample it is); then
-- where each service runs, from the distinct resources of its spans (joining those
-- few rows, not every span, to otel_resources).
WITH spans AS (
    SELECT trace_id, span_id, parent_span_id, service_name, span_kind, status_code, duration,
           {in_trace_sample} AS sampled
    FROM otel_spans
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
),
{requests},
stats AS (
    SELECT
        service_name AS service,
        count(*) AS span_count,
        count(*) FILTER (WHERE is_request) AS requests,
        count(*) FILTER (WHERE is_request AND status_code = 'Error') AS request_errors,
        quantile_cont(duration, [0.5, 0.95, 0.99]) FILTER (WHERE is_request AND sampled) AS server_ns_quantiles
    FROM request_spans
    GROUP BY service_name
),
placement AS (
    SELECT
        s.service_name AS service,
        string_agg(DISTINCT coalesce(service_namespace, k8s_namespace_name), ',' ORDER BY coalesce(service_namespace, k8s_namespace_name)) AS namespace,
        string_agg(DISTINCT coalesce(k8s_pod_name, service_instance_id, container_id), ',' ORDER BY coalesce(k8s_pod_name, service_instance_id, container_id)) AS instances,
        string_agg(DISTINCT coalesce(k8s_node_name, host_name), ',' ORDER BY coalesce(k8s_node_name, host_name)) AS hosts,
        string_agg(DISTINCT cloud_availability_zone, ',' ORDER BY cloud_availability_zone) AS zones
    FROM (
        SELECT DISTINCT service_name, resource_key FROM otel_spans
        WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
    ) AS s
    LEFT JOIN otel_resources AS r ON r.resource_key = s.resource_key
    GROUP BY s.service_name
)
SELECT stats.*, namespace, instances, hosts, zones
FROM stats JOIN placement USING (service)
ORDER BY service
