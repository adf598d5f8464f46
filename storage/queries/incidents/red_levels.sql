-- The requests of [$since, $until) at each level they count in, $bucket ns wide buckets
-- (CTE `levels`: level, entity, service, bucket, ms, failed, sampled), for red_series.sql,
-- alerts/scope_cells.sql and alerts/slow_requests.sql. Levels: service, operation ("service
-- span name"), instance (pod or service instance), host (node or host), and edge ("caller ->
-- peer", from the caller's client spans, so that uninstrumented peers have edges too).
-- `sampled`: the span's trace is one in $sample (by trace-id hash, as in services/red.sql).
WITH spans AS (
    SELECT trace_id, span_id, parent_span_id, service_name, span_name, span_kind, duration / 1e6 AS ms, status_code = 'Error' AS failed,
           coalesce(k8s_pod_name, service_instance_id) AS instance,
           coalesce(k8s_node_name, host_name) AS host,
           coalesce(peer_service, server_address, network_peer_address) AS peer,
           (epoch_ns(timestamp) - $since) // $bucket AS bucket,
           {in_trace_sample} AS sampled
    FROM otel_traces
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
),
{requests},
requests AS (
    SELECT * FROM request_spans WHERE is_request
),
levels AS (
    SELECT 'service' AS level, service_name AS entity, service_name AS service, bucket, ms, failed, sampled FROM requests
    UNION ALL
    SELECT 'operation', service_name || ' ' || span_name, service_name, bucket, ms, failed, sampled FROM requests
    UNION ALL
    SELECT 'instance', instance, service_name, bucket, ms, failed, sampled FROM requests WHERE instance IS NOT NULL
    UNION ALL
    SELECT 'host', host, NULL, bucket, ms, failed, sampled FROM requests WHERE host IS NOT NULL
    UNION ALL
    SELECT 'edge', service_name || ' -> ' || peer, service_name, bucket, ms, failed, sampled
    FROM spans WHERE span_kind IN ('Client', 'Producer') AND peer IS NOT NULL
)
