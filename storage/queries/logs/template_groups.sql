-- Ends a log search (filtered.sql, then any_template.sql or of_templates.sql): the matching
-- records counted per masked message, service and severity (number and upper-case text), with
-- their first and last time and an example (the earliest record's message and code location;
-- ties by message). The query service merges the groups of the masked messages of one
-- template.
SELECT
    masked,
    service_name AS service,
    severity_number,
    upper(trim(severity_text)) AS severity_text,
    count(*) AS records,
    epoch_ns(min(timestamp)) AS first_ns,
    epoch_ns(max(timestamp)) AS last_ns,
    min({'t': timestamp, 'm': message, 'l': location}) AS example
FROM kept
GROUP BY ALL
ORDER BY masked, service, severity_number, severity_text
