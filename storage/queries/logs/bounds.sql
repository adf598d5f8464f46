-- The first and the last log record time in the store (unix ns; NULL when there is none): a
-- record's time is its timestamp, else its observed time, as in records.sql.
SELECT epoch_ns(min(coalesce(timestamp, observed_timestamp))) AS first_ns,
       epoch_ns(max(coalesce(timestamp, observed_timestamp))) AS last_ns
FROM otel_logs
