-- One slice's share of call_statistics.sql over the `calls` of service_calls.sql, grouped by
-- {keys}, in parts that add up across the slices of a long window: counts, sums, first and
-- last seen, and instead of quantiles the durations' histograms (histogram() gives bucket
-- -> count) over buckets $per_ln to a factor of e, about 1 % wide at 100.
SELECT
    {keys},
    count(*) AS calls,
    count(*) FILTER (WHERE failed) AS errors,
    histogram(floor(ln(greatest(client_ns, 1)) * $per_ln)::INTEGER) FILTER (WHERE client_ns IS NOT NULL)
        AS client_buckets,
    histogram(floor(ln(greatest(server_ns, 1)) * $per_ln)::INTEGER) FILTER (WHERE server_ns IS NOT NULL)
        AS server_buckets,
    sum(client_ns - server_ns) AS gap_ns_sum,
    count(client_ns - server_ns) AS gaps,
    sum(handoff_ns) AS handoff_ns_sum,
    count(handoff_ns) AS handoffs,
    epoch_ns(min(seen)) AS first_seen_ns,
    epoch_ns(max(seen)) AS last_seen_ns
FROM calls
GROUP BY ALL
