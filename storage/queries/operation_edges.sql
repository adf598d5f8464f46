-- One row per (client service, client operation, server service, server operation, connection_type)
-- with call statistics (after service_calls.sql). Virtual peers have no operation; nor has `user`.
SELECT
    client, client_op, server, server_op, server_kind, connection_type,
    count(*) AS calls,
    count(*) FILTER (WHERE failed) AS errors,
    quantile_cont(client_ns, [0.5, 0.95, 0.99]) AS client_ns_quantiles,
    quantile_cont(server_ns, [0.5, 0.95, 0.99]) AS server_ns_quantiles,
    avg(client_ns - server_ns) AS gap_ns_mean,
    avg(handoff_ns) AS handoff_ns_mean,
    epoch_ns(min(seen)) AS first_seen_ns,
    epoch_ns(max(seen)) AS last_seen_ns
FROM calls
GROUP BY ALL
ORDER BY client, client_op, server, server_op, connection_type
