-- Every explicit-bucket histogram point in [$since, $until), per resource instance and
-- series, in time order.
SELECT coalesce(resource_attributes->>'$."k8s.pod.name"', resource_attributes->>'$."service.instance.id"',
                service_name) AS instance,
       service_name AS service, metric_name, metric_unit, attributes::VARCHAR AS series,
       epoch_ns(time_unix) AS time_ns, aggregation_temporality AS temporality, bucket_counts, explicit_bounds
FROM otel_metrics_histogram
WHERE time_unix >= make_timestamp_ns($since) AND time_unix < make_timestamp_ns($until)
ORDER BY instance, metric_name, series, time_unix
