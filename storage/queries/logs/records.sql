-- The log records of a window, as every log query reads them (the loader puts this where a
-- query names it in braces: `{log_records}`). Needs the parameters $since and $until (unix
-- ns, by record time; a record without a time counts at its observed time).
--   message:  the body as text (a string body as it is, any other body as its JSON);
--   masked:   the message with its variable parts masked, the input of template mining:
--             timestamps, uuids, IP addresses, hex ids and numbers become <TS>, <UUID>,
--             <IP>, <HEX>, <NUM>;
--   location: the code location the record names through the semantic-convention attributes
--             (code.file.path / code.filepath / code.namespace / code.function.name /
--             code.function, then code.line.number / code.lineno), '' when it names none;
--   instance: the pod, else the service instance, of the record's resource.
-- Log records have no identity, so a record an exporter sent twice is stored twice; two
-- records of the same span with the same time to the nanosecond, severity, body and code
-- location are one record sent twice, and count once.
log_rows AS (
    SELECT DISTINCT
        timestamp, trace_id, span_id, severity_text, severity_number, service_name,
        coalesce(resource[1], resource[2], '') AS instance,
        message,
        concat_ws(':', nullif(coalesce(code[1], code[2], code[3], code[4], code[5]), ''),
                       nullif(coalesce(code[6], code[7]), '')) AS location
    FROM (
        SELECT
            coalesce(l.timestamp, l.observed_timestamp) AS timestamp,
            l.trace_id, l.span_id, l.severity_text, l.severity_number, l.service_name,
            -- one parse of each JSON document for all the keys read from it
            json_extract_string(l.resource_attributes, ['$."k8s.pod.name"', '$."service.instance.id"']) AS resource,
            json_extract_string(l.log_attributes, [
                '$."code.file.path"', '$."code.filepath"', '$."code.namespace"',
                '$."code.function.name"', '$."code.function"', '$."code.line.number"', '$."code.lineno"']) AS code,
            CASE WHEN l.body IS NULL THEN ''
                 WHEN json_type(l.body) = 'VARCHAR' THEN l.body->>'$'
                 ELSE CAST(l.body AS VARCHAR) END AS message
        FROM otel_logs AS l
        WHERE coalesce(l.timestamp, l.observed_timestamp) >= make_timestamp_ns($since)
          AND coalesce(l.timestamp, l.observed_timestamp) < make_timestamp_ns($until)
    )
),
log_records AS (
    SELECT *,
        regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(message,
            '\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?|\b\d\d:\d\d:\d\d(\.\d+)?', '<TS>', 'g'),
            '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '<UUID>', 'g'),
            '\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(:\d+)?\b', '<IP>', 'g'),
            '\b(0[xX][0-9a-fA-F]+|[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*|[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*[0-9][0-9a-fA-F]*)\b', '<HEX>', 'g'),
            '[-+]?\d+(\.\d+)?', '<NUM>', 'g') AS masked
    FROM log_rows
)
