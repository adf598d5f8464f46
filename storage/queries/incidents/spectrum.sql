-- Spectrum of the incident window [$i_since, $i_until): which entities the anomalous traces
-- pass through, against the normal ones (as MicroRank and TraceRCA do). A trace is
-- anomalous when its root span is slower than the baseline window's robust 99th percentile
-- of the same root operation, or when any of its spans failed. Per (kind, name): anomalous
-- traces through it (ef), normal traces through it (ep), and the window's totals; over one
-- trace in $sample (by trace-id hash, the evidence's sample).
WITH window_spans AS (
    SELECT trace_id, parent_span_id, span_name, service_name, duration, status_code = 'Error' AS failed,
           coalesce(k8s_pod_name, service_instance_id) AS instance,
           coalesce(k8s_node_name, host_name) AS host,
           CASE WHEN span_kind IN ('Client', 'Producer') THEN coalesce(peer_service, server_address) END AS peer,
           timestamp >= make_timestamp_ns($i_since) AS incident
    FROM otel_traces
    WHERE ((timestamp >= make_timestamp_ns($b_since) AND timestamp < make_timestamp_ns($b_until))
           OR (timestamp >= make_timestamp_ns($i_since) AND timestamp < make_timestamp_ns($i_until)))
      AND {in_trace_sample}
),
roots AS (
    SELECT trace_id, min(service_name || ' ' || span_name) AS endpoint, max(duration) AS duration,
           bool_or(incident) AS incident
    FROM window_spans WHERE parent_span_id = ''
    GROUP BY trace_id
),
limits AS (
    SELECT endpoint, quantile_cont(ln(duration + 1000), [0.25, 0.5, 0.75]) AS q
    FROM roots WHERE NOT incident GROUP BY endpoint
),
traces AS (
    SELECT r.trace_id,
           coalesce(r.duration > exp(l.q[2] + 2.33 * (l.q[3] - l.q[1]) / 1.349) * 1.1 + 1000000, false)
           OR coalesce(f.failed, false) AS anomalous
    FROM roots AS r
    LEFT JOIN limits AS l USING (endpoint)
    LEFT JOIN (SELECT trace_id, bool_or(failed) AS failed FROM window_spans WHERE incident GROUP BY trace_id) AS f
        USING (trace_id)
    WHERE r.incident
),
-- each incident trace's distinct places, one kind at a time (four narrow DISTINCTs cost less
-- than one over every span's four places)
touching AS (
    SELECT s.trace_id, t.anomalous, s.service_name, s.instance, s.host, s.peer
    FROM window_spans AS s
    JOIN traces AS t USING (trace_id)
    WHERE s.incident
),
touches AS (
    SELECT DISTINCT trace_id, anomalous, 'service' AS kind, service_name AS name
    FROM touching WHERE service_name IS NOT NULL
    UNION ALL
    SELECT DISTINCT trace_id, anomalous, 'instance', instance FROM touching WHERE instance IS NOT NULL
    UNION ALL
    SELECT DISTINCT trace_id, anomalous, 'host', host FROM touching WHERE host IS NOT NULL
    UNION ALL
    SELECT DISTINCT trace_id, anomalous, 'peer', peer FROM touching WHERE peer IS NOT NULL
)
SELECT kind, name,
       count(*) FILTER (WHERE anomalous) AS ef,
       count(*) FILTER (WHERE NOT anomalous) AS ep,
       (SELECT count(*) FILTER (WHERE anomalous) FROM traces) AS anomalous_traces,
       (SELECT count(*) FROM traces) AS traces
FROM touches
GROUP BY kind, name
ORDER BY kind, name
