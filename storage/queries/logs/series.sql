-- Log series in [$since, $until), $bucket ns wide, for anomaly detection: per (service,
-- bucket) of every service that logs, its spans, its log records and those at ERROR or
-- worse. Records per span move when statements appear or stop appearing; error records per
-- span when error lines surge (judged against the service's own normal rate: ERROR lines
-- occur in normal periods too).
WITH {log_records},
records AS (
    SELECT service_name, (epoch_ns(timestamp) - $since) // $bucket AS bucket, count(*) AS records,
           count(*) FILTER (WHERE severity_number >= 17
                            OR (severity_number = 0 AND upper(severity_text) IN ('ERROR', 'FATAL', 'CRITICAL'))) AS errors
    FROM log_records
    GROUP BY ALL
),
spans AS (
    SELECT service_name, (epoch_ns(timestamp) - $since) // $bucket AS bucket, count(*) AS spans
    FROM otel_traces
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
      AND service_name IN (SELECT service_name FROM records)
    GROUP BY ALL
)
SELECT service_name AS service, bucket,
       coalesce(s.spans, 0) AS spans, coalesce(r.records, 0) AS records, coalesce(r.errors, 0) AS errors
FROM spans AS s
FULL JOIN records AS r USING (service_name, bucket)
ORDER BY service, bucket
