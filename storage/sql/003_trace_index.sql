-- glimpse schema version 3: small indexes of traces, so that one trace (its spans, its log
-- records) is found without scanning every span and record. Spans are stored in arrival order (close to time order), so DuckDB's
-- per-row-group min/max of `timestamp` skips nearly everything once a query knows when a
-- trace's spans started; this table says when. The writer adds one row per trace and
-- committed chunk (a trace whose spans arrive in several chunks has several rows), and
-- retention deletes rows with the spans they describe. The key is the trace id as a
-- 128-bit integer: comparing it costs a fraction of comparing 32 characters (measured on
-- 740,000 traces: a lookup 8 ms against 21 ms).

CREATE TABLE otel_trace_index (
    trace_key   UHUGEINT NOT NULL,      -- the trace id, 32 hex digits, as a number
    first_start TIMESTAMP_NS NOT NULL,  -- the earliest span start among this row's spans
    last_start  TIMESTAMP_NS NOT NULL,  -- the latest span start
    last_end    TIMESTAMP_NS NOT NULL,  -- the latest span end
    spans       UINTEGER NOT NULL,
    errors      UINTEGER NOT NULL       -- spans with status Error
);

INSERT INTO otel_trace_index
SELECT ('0x' || trace_id)::UHUGEINT, min(timestamp), max(timestamp),
       max(make_timestamp_ns((epoch_ns(timestamp) + duration)::BIGINT)), count(*),
       count(*) FILTER (WHERE status_code = 'Error')
FROM otel_spans
WHERE TRY_CAST('0x' || trace_id AS UHUGEINT) IS NOT NULL
GROUP BY trace_id;

-- The same for log records tied to a trace: when each trace's records were written (their
-- time, else their observed time), and how many have only an observed time, or none.
CREATE TABLE otel_log_trace_index (
    trace_key  UHUGEINT NOT NULL,
    first_time TIMESTAMP_NS,          -- NULL when no record of the row has a time
    last_time  TIMESTAMP_NS,
    records    UINTEGER NOT NULL,
    untimed    UINTEGER NOT NULL,     -- records with only an observed time
    timeless   UINTEGER NOT NULL      -- records with neither
);

INSERT INTO otel_log_trace_index
SELECT ('0x' || trace_id)::UHUGEINT, min(coalesce(timestamp, observed_timestamp)),
       max(coalesce(timestamp, observed_timestamp)), count(*),
       count(*) FILTER (WHERE timestamp IS NULL AND observed_timestamp IS NOT NULL),
       count(*) FILTER (WHERE timestamp IS NULL AND observed_timestamp IS NULL)
FROM otel_logs
WHERE TRY_CAST('0x' || trace_id AS UHUGEINT) IS NOT NULL
GROUP BY trace_id;
