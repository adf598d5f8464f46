-- When the spans of trace $trace_id started and ended, from otel_trace_index (the loader puts
-- this where a query names it in braces: `{trace_bounds}`). A query that adds
-- `timestamp BETWEEN b.first_start AND b.last_start` reads only the row groups of that time
-- instead of every span; an unknown trace gets NULL bounds, so no rows.
trace_bounds AS (
    SELECT min(first_start) AS first_start, max(last_start) AS last_start, max(last_end) AS last_end
    FROM otel_trace_index
    WHERE trace_key = TRY_CAST('0x' || $trace_id AS UHUGEINT)
)
