-- Per-service statistics over a span-time window [$since, $until): all spans, and the
-- latency and errors of the spans that serve requests (SERVER and CONSUMER kinds).
SELECT
    service_name AS service,
    count(*) AS span_count,
    count(*) FILTER (WHERE span_kind IN ('Server', 'Consumer')) AS requests,
    count(*) FILTER (WHERE span_kind IN ('Server', 'Consumer') AND status_code = 'Error') AS request_errors,
    quantile_cont(duration, [0.5, 0.95, 0.99]) FILTER (WHERE span_kind IN ('Server', 'Consumer')) AS server_ns_quantiles,
    string_agg(DISTINCT coalesce(service_namespace, k8s_namespace_name), ',' ORDER BY coalesce(service_namespace, k8s_namespace_name)) AS namespace,
    string_agg(DISTINCT coalesce(k8s_pod_name, service_instance_id, container_id), ',' ORDER BY coalesce(k8s_pod_name, service_instance_id, container_id)) AS instances,
    string_agg(DISTINCT coalesce(k8s_node_name, host_name), ',' ORDER BY coalesce(k8s_node_name, host_name)) AS hosts,
    string_agg(DISTINCT cloud_availability_zone, ',' ORDER BY cloud_availability_zone) AS zones
FROM otel_traces
WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
GROUP BY service_name
ORDER BY service_name
