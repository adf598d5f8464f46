-- Every log record of one trace ($trace_id), whatever its time, with its attributes (typed JSON
-- text), in time order; a record sent twice (the same in every column shown) counts once, as
-- in records.sql. The message and the instance are made as records.sql makes them; the
-- masked message is looked up for the records' own time (storage/log_queries.py), not
-- masked over every record of the store.
WITH records AS (
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
SELECT *
FROM records
ORDER BY time_ns NULLS LAST, span_id, severity_number, message, attributes
