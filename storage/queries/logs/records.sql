-- The log records of a window, as every log query reads them (the loader puts this where a
-- query names it in braces: `{log_records}`). Needs the parameters $since and $until (unix
-- ns, by record time; a record without a time counts at its observed time), $sample where a
-- query names it as the sampled log records (one trace in $sample, by trace-id hash), and
-- $record_sample, $kept_from and $kept_texts where it names the level-sampled log records
-- (storage/log_queries.py: the records below a level, one in $record_sample).
--   message:  the body as text (a string body as it is, any other body as its JSON);
--   masked:   the message with its variable parts masked, the input of template mining:
--             timestamps, uuids, IP addresses, hex ids and numbers become <TS>, <UUID>,
--             <IP>, <HEX>, <NUM>;
--   location: the code location the record names through the semantic-convention attributes
--             (code.file.path / code.filepath / code.namespace / code.function.name /
--             code.function, then code.line.number / code.lineno), '' when it names none;
--   instance: the pod, else the service instance, of the record's resource.
-- Log records have no identity, so a record an exporter sent twice is stored twice; two
-- records of the same service and span with the same time to the nanosecond, severity, body
-- and attributes are one record sent twice, and count once.
log_rows AS (
    SELECT timestamp, trace_id, span_id, severity_text, severity_number, service_name,
        coalesce(resource[1], resource[2], '') AS instance,
        coalesce(json_extract_string(body, '$'), '') AS message,
        concat_ws(':', nullif(coalesce(code[1], code[2], code[3], code[4], code[5]), ''),
                       nullif(coalesce(code[6], code[7]), '')) AS location
    FROM (
        -- one row per record identity (a 64-bit hash: grouping on it is three times faster
        -- than on the columns, and two different records collide about once in 10^19
        -- pairs), holding only the keys read from its JSON documents (one parse of each for
        -- all of them), not the documents: a record then takes less than half the memory
        SELECT any_value(coalesce(l.timestamp, l.observed_timestamp)) AS timestamp,
               any_value(l.trace_id) AS trace_id, any_value(l.span_id) AS span_id,
               any_value(l.severity_text) AS severity_text, any_value(l.severity_number) AS severity_number,
               any_value(l.service_name) AS service_name, any_value(l.body) AS body,
               -- (the columns unqualified: storage/spark_lake.py rewrites this form for Spark)
               any_value(json_extract_string(resource_attributes, ['$."k8s.pod.name"', '$."service.instance.id"']))
                   AS resource,
               any_value(json_extract_string(log_attributes, [
                   '$."code.file.path"', '$."code.filepath"', '$."code.namespace"',
                   '$."code.function.name"', '$."code.function"', '$."code.line.number"',
                   '$."code.lineno"'])) AS code
        FROM otel_logs AS l
        WHERE coalesce(l.timestamp, l.observed_timestamp) >= make_timestamp_ns($since)
          AND coalesce(l.timestamp, l.observed_timestamp) < make_timestamp_ns($until)
          -- the same, in a form whose per-row-group min/max skip the row groups of other
          -- times (a coalesce alone reads every row group)
          AND (l.timestamp IS NULL
               OR (l.timestamp >= make_timestamp_ns($since) AND l.timestamp < make_timestamp_ns($until)))
          -- every trace, or one in $sample for the sampled records (a record's copies share its trace)
          AND {trace_sample}
          -- every record, or (the level-sampled records) every one at or above $kept_from
          -- and one in $record_sample of the others, by the hash of its time and body
          -- (which a record's copies share)
          AND {record_sample}
        GROUP BY hash(coalesce(l.timestamp, l.observed_timestamp), l.trace_id, l.span_id, l.severity_text,
                      l.severity_number, l.service_name, l.body, l.log_attributes)
    )
),
log_records AS (
    SELECT *,
        {masked_message} AS masked
    FROM log_rows
)
