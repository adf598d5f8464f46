-- Every log record of one trace ($trace_id), whatever its time, with its attributes (typed JSON
-- text) and its masked message, in time order; a record sent twice (the same in every column
-- shown) counts once, as in records.sql. The masked message comes from records.sql (over all
-- time: $since and $until are the store's whole range), joined on the message, which
-- determines it; the message and the instance are made as records.sql makes them.
WITH {log_records},
masks AS (
    SELECT DISTINCT message, masked FROM log_records WHERE trace_id = $trace_id
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
    FROM otel_logs AS l
    WHERE l.trace_id = $trace_id
)
SELECT r.*, m.masked
FROM records AS r
LEFT JOIN masks AS m USING (message)
ORDER BY r.time_ns NULLS LAST, r.span_id, r.severity_number, r.message, r.attributes
