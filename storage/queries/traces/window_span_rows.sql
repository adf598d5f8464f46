-- The spans of the traces in a span-time window, as integers ready for per-trace work (the
-- CTE chain that Spark jobs group by trace_key; window_spans.sql is the store's own, numbered):
-- span index within its trace (by start, then id),
-- the parent's index (-1 when the parent is not in the trace), times, kinds and an
-- operation number. Optional: only traces whose root is $root_service/$root_operation;
-- a deterministic sample of $sample_per_million traces per million (by trace id hash).
WITH {window_trace_ids},
s AS (
    SELECT t.trace_id, span_id, parent_span_id, service_name, span_name, span_kind, status_code,
           epoch_ns(timestamp) AS start_ns, duration,
           row_number() OVER (PARTITION BY t.trace_id ORDER BY timestamp, span_id) - 1 AS idx
    FROM otel_spans AS t SEMI JOIN window_trace_ids USING (trace_id)
),
ops AS (
    SELECT service_name, span_name, (row_number() OVER (ORDER BY service_name, span_name) - 1)::INTEGER AS op
    FROM (SELECT DISTINCT service_name, span_name FROM s)
),
span_rows AS (
    SELECT s.trace_id AS trace_key,
           s.idx::INTEGER AS idx,
           coalesce(p.idx, -1)::INTEGER AS parent_idx,
           s.start_ns, s.start_ns + s.duration AS end_ns,
           s.span_kind = 'Producer' AS producer, s.span_kind = 'Consumer' AS consumer, s.span_kind = 'Client' AS client,
           s.status_code = 'Error' AS error, s.span_id,
           ops.op,
           CASE WHEN s.idx = 0 THEN s.trace_id END AS trace_id,
           ops.service_name, ops.span_name
    FROM s
    LEFT JOIN s AS p ON p.trace_id = s.trace_id AND p.span_id = s.parent_span_id AND p.span_id <> s.span_id
    JOIN ops ON ops.service_name = s.service_name AND ops.span_name = s.span_name
)
