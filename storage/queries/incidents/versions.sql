-- Per (service, service.version) with requests in the baseline [$b_since, $b_until) or the
-- incident [$i_since, $i_until): request spans and when the version was first seen.
WITH spans AS (
    SELECT trace_id, span_id, parent_span_id, service_name, span_kind, service_version, timestamp
    FROM otel_traces
    WHERE (timestamp >= make_timestamp_ns($b_since) AND timestamp < make_timestamp_ns($b_until))
       OR (timestamp >= make_timestamp_ns($i_since) AND timestamp < make_timestamp_ns($i_until))
),
{requests}
SELECT service_name AS service, service_version AS version,
       count(*) AS spans,
       epoch_ns(min(timestamp)) AS first_seen_ns
FROM request_spans
WHERE is_request
GROUP BY ALL
ORDER BY service, version NULLS FIRST
