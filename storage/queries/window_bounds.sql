-- The first and the last span start in the store (unix ns; NULL when it is empty).
SELECT epoch_ns(min(timestamp)) AS first_ns, epoch_ns(max(timestamp)) AS last_ns FROM otel_spans
