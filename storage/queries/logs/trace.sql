-- Every log record of one trace ($trace_id), whatever its time, with its attributes (typed JSON
-- text) and its masked message, in time order; a record sent twice (the same in every column
-- shown) counts once, as in records.sql. The message and the instance are made as
-- records.sql makes them. The log trace index (storage/sql/003_trace_index.sql) says when
-- the trace's records were written, so that only those row groups are read: records with a
-- time by it, records with only an observed time (if the trace has any) by that, records
-- with neither (if it has any) by a scan.
WITH bounds AS (
    SELECT min(first_time) AS first_time, max(last_time) AS last_time, sum(untimed) AS untimed,
           sum(timeless) AS timeless
    FROM otel_log_trace_index
    WHERE trace_key = TRY_CAST('0x' || $trace_id AS UHUGEINT)
),
trace_logs AS (
    SELECT l.* FROM otel_logs AS l, bounds AS b
    WHERE l.trace_id = $trace_id AND l.timestamp BETWEEN b.first_time AND b.last_time
    UNION ALL
    SELECT l.* FROM otel_logs AS l, bounds AS b
    WHERE l.trace_id = $trace_id AND b.untimed > 0 AND l.timestamp IS NULL
      AND l.observed_timestamp BETWEEN b.first_time AND b.last_time
    UNION ALL
    SELECT l.* FROM otel_logs AS l, bounds AS b
    WHERE l.trace_id = $trace_id AND b.timeless > 0 AND l.timestamp IS NULL AND l.observed_timestamp IS NULL
),
records AS (
    SELECT DISTINCT
        epoch_ns(coalesce(l.timestamp, l.observed_timestamp)) AS time_ns,
        l.span_id,
        l.service_name AS service,
        coalesce(l.resource_attributes->>'k8s.pod.name', l.resource_attributes->>'service.instance.id', '') AS instance,
        l.severity_text,
        l.severity_number,
        l.event_name,
        CASE WHEN l.body IS NULL THEN ''
             WHEN json_type(l.body) = 'VARCHAR' THEN l.body->>'$'
             ELSE CAST(l.body AS VARCHAR) END AS message,
        CAST(l.log_attributes AS VARCHAR) AS attributes
    FROM trace_logs AS l
)
SELECT *, {masked_message} AS masked
FROM records
ORDER BY time_ns NULLS LAST, span_id, severity_number, message, attributes
