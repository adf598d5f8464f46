-- The spans of window_span_rows.sql with their trace number (in trace id order), sorted by
-- trace number and span index.
SELECT (dense_rank() OVER (ORDER BY trace_key) - 1)::INTEGER AS trace_no, * EXCLUDE (trace_key)
FROM span_rows
ORDER BY trace_no, idx
