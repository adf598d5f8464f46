-- Log series in [$since, $until), $bucket ns wide, for anomaly detection: per (service,
-- bucket) of every service that logs, the requests it served (queries/requests.sql), its
-- log records and those at ERROR or worse. Records per request move when statements appear
-- or stop appearing; error records per request when error lines surge (judged against the
-- service's own normal rate: ERROR lines occur in normal periods too).
WITH {log_records},
records AS (
    SELECT service_name, (epoch_ns(timestamp) - $since) // $bucket AS bucket, count(*) AS records,
           count(*) FILTER (WHERE severity_number >= 17
                            OR (severity_number = 0 AND upper(severity_text) IN ('ERROR', 'FATAL', 'CRITICAL'))) AS errors
    FROM log_records
    GROUP BY ALL
),
spans AS (
    SELECT trace_id, span_id, parent_span_id, service_name, span_kind,
           (epoch_ns(timestamp) - $since) // $bucket AS bucket
    FROM otel_traces
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
      AND service_name IN (SELECT service_name FROM records)
),
{requests},
served AS (
    SELECT service_name, bucket, count(*) AS requests FROM request_spans WHERE is_request GROUP BY ALL
)
SELECT service_name AS service, bucket,
       coalesce(s.requests, 0) AS requests, coalesce(r.records, 0) AS records, coalesce(r.errors, 0) AS errors
FROM served AS s
FULL JOIN records AS r USING (service_name, bucket)
ORDER BY service, bucket
