-- The span-time extent of the store: first and last span start (unix ns, NULL when
-- empty), the span count and the service names (sorted).
SELECT epoch_ns(min(timestamp)) AS first_ns, epoch_ns(max(timestamp)) AS last_ns,
       count(*) AS spans, list(DISTINCT service_name ORDER BY service_name) AS service_names
FROM otel_spans
