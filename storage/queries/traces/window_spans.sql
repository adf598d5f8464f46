-- The spans of the traces in a span-time window, as integers ready for per-trace work: the
-- trace number (in trace id order), span index within its trace (by start, then id), the
-- parent's index (-1 when the parent is not in the trace), times, kinds and an operation
-- number. Optional: only traces whose root is $root_service/$root_operation; a
-- deterministic sample of $sample_per_million traces per million (by trace id hash).
-- Rows come unordered (the caller sorts the integers, cheaper than sorting rows here);
-- a trace's id is on its span 0, an operation's names on its first span.
-- window_span_rows.sql computes the same per span, keyed by trace id, for Spark.
WITH {window_trace_ids},
chosen AS (
    SELECT trace_id, (row_number() OVER (ORDER BY trace_id) - 1)::INTEGER AS trace_no
    FROM window_trace_ids
),
-- when the chosen traces' spans started, from the trace index, so that the scan below reads
-- only the row groups of that time and not weeks of store (a trace's spans may start before
-- or after the window). Without index rows (DuckDB over the lake) every span is read.
-- The keys come out of a list: DuckDB then expects few of them and builds the join's hash
-- table on them, not on the index of every trace in the store (measured on 50 million
-- spans, 1.35 million traces: the bounds 34 ms -> 7.5 ms).
chosen_bounds AS (
    SELECT coalesce(min(i.first_start), '-infinity'::TIMESTAMP_NS) AS first_start,
           coalesce(max(i.last_start), 'infinity'::TIMESTAMP_NS) AS last_start
    FROM otel_trace_index AS i
    SEMI JOIN (SELECT unnest(list(TRY_CAST('0x' || trace_id AS UHUGEINT))) AS trace_key FROM chosen) AS c
        ON i.trace_key = c.trace_key
),
-- kinds and status as booleans, and no trace id, before the rows are sorted and joined:
-- DuckDB holds a sixth less memory; the parent join below matches 64-bit hashes of the
-- ids, not the strings (a false match needs two spans of one trace whose ids collide):
-- on 1.5 million spans DuckDB's peak buffer memory 449 -> 358 MiB, the same CPU
s AS (
    SELECT c.trace_no, span_id, hash(span_id) AS span_key, hash(parent_span_id) AS parent_key,
           service_name, span_name,
           span_kind = 'Producer' AS producer, span_kind = 'Consumer' AS consumer, span_kind = 'Client' AS client,
           status_code = 'Error' AS error,
           epoch_ns(timestamp) AS start_ns, duration,
           (row_number() OVER (PARTITION BY c.trace_no ORDER BY timestamp, span_id) - 1)::INTEGER AS idx
    FROM otel_spans AS t JOIN chosen AS c USING (trace_id), chosen_bounds AS b
    WHERE t.timestamp BETWEEN b.first_start AND b.last_start
),
ops AS (
    SELECT service_name, span_name, (row_number() OVER (ORDER BY service_name, span_name) - 1)::INTEGER AS op,
           first_span
    FROM (SELECT service_name, span_name, min((trace_no, idx)) AS first_span FROM s GROUP BY ALL)
)
SELECT s.trace_no, s.idx,
       coalesce(p.idx, -1)::INTEGER AS parent_idx,
       s.start_ns, s.start_ns + s.duration AS end_ns,
       s.producer, s.consumer, s.client, s.error, s.span_id,
       ops.op,
       CASE WHEN s.idx = 0 THEN (SELECT trace_id FROM chosen WHERE chosen.trace_no = s.trace_no) END AS trace_id,
       CASE WHEN (s.trace_no, s.idx) = ops.first_span THEN ops.service_name END AS service_name,
       CASE WHEN (s.trace_no, s.idx) = ops.first_span THEN ops.span_name END AS span_name
FROM s
LEFT JOIN (SELECT trace_no, span_key, idx FROM s) AS p
    ON p.trace_no = s.trace_no AND p.span_key = s.parent_key AND p.span_key <> s.span_key
JOIN ops ON ops.service_name = s.service_name AND ops.span_name = s.span_name
