-- Resource metrics of every platform's Collector receiver, normalised to one set of
-- signals per resource and time bucket [$since, $until), $bucket_ns wide.
--   kind 'gauge': the bucket's average (scaled);   kind 'counter': the bucket's increase
--   per series (delta sums: their sum; cumulative sums: last minus first point in the
--   bucket), summed over series, per second when per_second.
-- The mapping lives here as data; the README has the same table.
WITH mapping(metric_name, signal, kind, scale, attribute, attribute_value, per_second) AS (
    VALUES
    -- kubeletstats (Kubernetes)
    ('k8s.pod.cpu_limit_utilization', 'cpu_utilization', 'gauge', 1.0, NULL, NULL, false),
    ('k8s.pod.memory_limit_utilization', 'memory_utilization', 'gauge', 1.0, NULL, NULL, false),
    ('k8s.pod.memory.usage', 'memory_usage_bytes', 'gauge', 1.0, NULL, NULL, false),
    ('k8s.pod.network.io', 'network_in_bytes_per_s', 'counter', 1.0, 'direction', 'receive', true),
    ('k8s.pod.network.io', 'network_out_bytes_per_s', 'counter', 1.0, 'direction', 'transmit', true),
    ('k8s.container.restarts', 'restarts', 'counter', 1.0, NULL, NULL, false),
    -- docker_stats (Docker): percentages
    ('container.cpu.utilization', 'cpu_utilization', 'gauge', 0.01, NULL, NULL, false),
    ('container.memory.percent', 'memory_utilization', 'gauge', 0.01, NULL, NULL, false),
    ('container.memory.usage.total', 'memory_usage_bytes', 'gauge', 1.0, NULL, NULL, false),
    ('container.network.io.usage.rx_bytes', 'network_in_bytes_per_s', 'counter', 1.0, NULL, NULL, true),
    ('container.network.io.usage.tx_bytes', 'network_out_bytes_per_s', 'counter', 1.0, NULL, NULL, true),
    ('container.restarts', 'restarts', 'counter', 1.0, NULL, NULL, false),
    -- hostmetrics (hosts and VMs): CPU busy = 1 - idle, averaged over CPUs
    ('system.cpu.utilization', 'cpu_idle', 'gauge', 1.0, 'state', 'idle', false),
    ('system.memory.utilization', 'memory_utilization', 'gauge', 1.0, 'state', 'used', false),
    ('system.memory.usage', 'memory_usage_bytes', 'gauge', 1.0, 'state', 'used', false),
    ('system.network.io', 'network_in_bytes_per_s', 'counter', 1.0, 'direction', 'receive', true),
    ('system.network.io', 'network_out_bytes_per_s', 'counter', 1.0, 'direction', 'transmit', true),
    -- FaaS semantic conventions (Lambda and other serverless)
    ('faas.mem_usage', 'memory_usage_bytes', 'gauge', 1.0, NULL, NULL, false),
    ('faas.invocations', 'invocations', 'counter', 1.0, NULL, NULL, false),
    ('faas.coldstarts', 'cold_starts', 'counter', 1.0, NULL, NULL, false)
),
points AS (
    SELECT resource_attributes::VARCHAR AS resource, metric_name, attributes::VARCHAR AS series,
           attributes, time_unix, value, NULL AS temporality
    FROM otel_metrics_gauge
    WHERE time_unix >= make_timestamp_ns($since) AND time_unix < make_timestamp_ns($until)
    UNION ALL
    SELECT resource_attributes::VARCHAR, metric_name, attributes::VARCHAR, attributes, time_unix, value,
           aggregation_temporality
    FROM otel_metrics_sum
    WHERE time_unix >= make_timestamp_ns($since) AND time_unix < make_timestamp_ns($until)
),
mapped AS (
    SELECT p.resource, m.signal, m.kind, m.per_second, p.series, p.temporality, p.value * m.scale AS value,
           (epoch_ns(p.time_unix) - $since) // $bucket_ns AS bucket, p.time_unix
    FROM points AS p
    JOIN mapping AS m ON m.metric_name = p.metric_name
    WHERE m.attribute IS NULL OR p.attributes ->> m.attribute = m.attribute_value
),
per_series AS (
    SELECT resource, signal, kind, per_second, series, bucket,
           CASE
               WHEN kind = 'gauge' THEN avg(value)
               WHEN temporality = 'Delta' THEN sum(value)
               ELSE arg_max(value, time_unix) - arg_min(value, time_unix)  -- cumulative: first to last point
           END AS value
    FROM mapped
    GROUP BY resource, signal, kind, per_second, series, temporality, bucket
)
SELECT resource, signal, bucket,
       CASE
           WHEN kind = 'gauge' THEN avg(value)
           WHEN per_second THEN sum(value) / ($bucket_ns / 1e9)
           ELSE sum(value)
       END AS value
FROM per_series
GROUP BY resource, signal, kind, per_second, bucket
ORDER BY resource, signal, bucket
