-- The records of the window [$since, $until) that pass a log search: the start of a CTE chain
-- (then any_template.sql or of_templates.sql, then search.sql or template_groups.sql). Every
-- filter is optional (NULL: no filter):
--   $service         the record's service.name;
--   $min_severity    a severity number (1-24): records at or above it by severity_number, and
--                    records without a number (0) whose severity_text is one of
--                    $severity_texts (upper case; storage/log_queries.py names them);
--   $trace_id, $span_id  lowercase hex;
--   $text            a case-insensitive substring of the message.
-- $record_sample is 1 for a search (every record); above 1, a count of templates reads every
-- record at or above $kept_from and one in $record_sample of the others (logs/records.sql).
WITH {level_sampled_log_records},
matched AS (
    SELECT *
    FROM log_records
    WHERE ($service IS NULL OR service_name = $service)
      AND ($min_severity IS NULL OR severity_number >= $min_severity
           OR (severity_number = 0 AND list_contains($severity_texts, upper(trim(severity_text)))))
      AND ($trace_id IS NULL OR trace_id = $trace_id)
      AND ($span_id IS NULL OR span_id = $span_id)
      AND ($text IS NULL OR contains(lower(message), lower($text)))
)
