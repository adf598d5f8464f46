-- Requests in [$since, $until) and how many took longer than $slow_ms, per (level, entity) as
-- incidents/red_series.sql names them (service, operation, instance, edge): the bad events of
-- a latency objective (docs/alerting.md, slo_burn with latency_ms).
WITH spans AS (
    SELECT trace_id, span_id, parent_span_id, service_name, span_name, span_kind, duration / 1e6 AS ms,
           coalesce(k8s_pod_name, service_instance_id) AS instance,
           coalesce(peer_service, server_address, network_peer_address) AS peer
    FROM otel_traces
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
),
{requests},
requests AS (
    SELECT * FROM request_spans WHERE is_request
),
levels AS (
    SELECT 'service' AS level, service_name AS entity, ms FROM requests
    UNION ALL
    SELECT 'operation', service_name || ' ' || span_name, ms FROM requests
    UNION ALL
    SELECT 'instance', instance, ms FROM requests WHERE instance IS NOT NULL
    UNION ALL
    SELECT 'edge', service_name || ' -> ' || peer, ms
    FROM spans WHERE span_kind IN ('Client', 'Producer') AND peer IS NOT NULL
)
SELECT level, entity, count(*) AS requests, count(*) FILTER (WHERE ms > $slow_ms) AS slow
FROM levels
GROUP BY level, entity
ORDER BY level, entity
