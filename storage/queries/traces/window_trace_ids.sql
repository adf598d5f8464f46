-- The traces with a span starting in the window [$since, $until) (the loader puts this where
-- a query names it in braces: `{window_trace_ids}`). Optional: only traces whose root is
-- $root_service/$root_operation; a deterministic sample of $sample_per_million traces per
-- million (by trace id hash).
window_trace_ids AS (
    SELECT DISTINCT trace_id
    FROM otel_spans
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
      AND ($root_service IS NULL OR (parent_span_id = '' AND service_name = $root_service
                                     AND span_name = $root_operation))
      AND hash(trace_id) % 1000000::UBIGINT < $sample_per_million
)
