-- Which spans a diagnosis compares (the loader puts this condition where a query names it in
-- braces: `{compared_spans}`, in the WHERE clause over otel_traces): those of the baseline
-- [$b_since, $b_until) and the incident [$i_since, $i_until), one trace in $sample (by
-- trace-id hash, when the windows are large), and with $service only the traces that pass
-- through that service.
((timestamp >= make_timestamp_ns($b_since) AND timestamp < make_timestamp_ns($b_until))
    OR (timestamp >= make_timestamp_ns($i_since) AND timestamp < make_timestamp_ns($i_until)))
AND {in_trace_sample}
AND ($service IS NULL OR trace_id IN (
    SELECT trace_id FROM otel_traces
    WHERE service_name = $service
      AND timestamp >= make_timestamp_ns(least($b_since, $i_since))
      AND timestamp < make_timestamp_ns(greatest($b_until, $i_until))))
