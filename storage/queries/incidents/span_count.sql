-- How many spans the baseline [$b_since, $b_until) and the incident [$i_since, $i_until) hold
-- together: whether root-cause queries read every trace or a sample of them.
SELECT count(*) AS spans
FROM otel_traces
WHERE (timestamp >= make_timestamp_ns($b_since) AND timestamp < make_timestamp_ns($b_until))
   OR (timestamp >= make_timestamp_ns($i_since) AND timestamp < make_timestamp_ns($i_until))
