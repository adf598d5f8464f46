-- Spans per $cell-wide cell of [$since, $until), counted from $since, and the longest of
-- them: where a window too long for one query of the service graph is cut into slices, and
-- how far past a slice what answers its calls may have started.
SELECT (epoch_ns(timestamp) - $since) // $cell AS cell, count(*) AS spans, max(duration) AS longest_ns
FROM otel_spans
WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
GROUP BY cell
ORDER BY cell
