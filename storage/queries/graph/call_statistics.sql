-- Call statistics over the `calls` of service_calls.sql, grouped by {keys}.
SELECT
    {keys},
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
ORDER BY {keys}
