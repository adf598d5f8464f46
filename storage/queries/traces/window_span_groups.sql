-- The spans of window_span_rows.sql as they are, for a Spark job that groups them by trace_key.
SELECT * FROM span_rows
