-- Ends a log search (filtered.sql, then any_template.sql or of_templates.sql): the newest
-- $limit matching records (ties by service, trace, span, severity and message, so that the
-- order is total). The masked message is left out: it costs regular expression passes over
-- every matching record, so the caller looks it up for the rows it keeps (message_masks.sql).
SELECT
    epoch_ns(timestamp) AS time_ns,
    service_name AS service,
    instance,
    severity_text,
    severity_number,
    message,
    location,
    trace_id,
    span_id
FROM kept
ORDER BY timestamp DESC, service_name, trace_id, span_id, severity_number, message
LIMIT $limit
