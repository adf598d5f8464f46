-- Which host (node or host name) each service instance (pod or service instance) ran on
-- in [$since, $until).
SELECT DISTINCT service_name AS service, coalesce(k8s_pod_name, service_instance_id) AS instance,
       coalesce(k8s_node_name, host_name) AS host
FROM otel_traces
WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
  AND coalesce(k8s_pod_name, service_instance_id) IS NOT NULL AND coalesce(k8s_node_name, host_name) IS NOT NULL
ORDER BY service, instance, host
