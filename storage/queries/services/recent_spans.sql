-- Spans that started in the last 24 hours, 6 hours, hour, 15 and 5 minutes before $until
-- (the console's presets): the window the console opens a large store on.
SELECT count(*) AS spans_24h,
       count(*) FILTER (WHERE timestamp >= make_timestamp_ns($until - 21600000000000)) AS spans_6h,
       count(*) FILTER (WHERE timestamp >= make_timestamp_ns($until - 3600000000000)) AS spans_1h,
       count(*) FILTER (WHERE timestamp >= make_timestamp_ns($until - 900000000000)) AS spans_15m,
       count(*) FILTER (WHERE timestamp >= make_timestamp_ns($until - 300000000000)) AS spans_5m
FROM otel_spans
WHERE timestamp >= make_timestamp_ns($until - 86400000000000) AND timestamp < make_timestamp_ns($until)
