-- The `calls` of service_calls.sql per (client, server, connection type, failed), as the
-- Collector's servicegraph connector counts them: the calls, and the bucket counts of their
-- client- and server-side durations over the upper bounds $bounds_ns (a duration lands in
-- the first bucket whose bound it does not exceed, past the last one in the overflow bucket;
-- histogram() gives bucket index -> count), their sums, and the calls that had no such side.
SELECT
    client,
    server,
    connection_type,
    failed,
    count(*) AS calls,
    histogram(len(list_filter($bounds_ns::BIGINT[], lambda b: b < client_ns))) FILTER (WHERE client_ns IS NOT NULL)
        AS client_buckets,
    coalesce(sum(client_ns), 0)::BIGINT AS client_sum_ns,
    count(*) FILTER (WHERE client_ns IS NULL) AS client_missing,
    histogram(len(list_filter($bounds_ns::BIGINT[], lambda b: b < server_ns))) FILTER (WHERE server_ns IS NOT NULL)
        AS server_buckets,
    coalesce(sum(server_ns), 0)::BIGINT AS server_sum_ns,
    count(*) FILTER (WHERE server_ns IS NULL) AS server_missing
FROM calls
GROUP BY client, server, connection_type, failed
ORDER BY client, server, connection_type, failed
