-- What follows what inside a span, in the baseline [$b_since, $b_until) and the incident
-- [$i_since, $i_until) (by span start; $since and $until bound the log records of both).
-- A span is a sequence of events: its start (named by its operation), its log records in
-- time order, its end. Per (window, service, instance, operation, event, next event): how
-- often one followed the other, an example message of the next event and up to three
-- example traces. A log event is its code location when the record names one, else its
-- masked message (the caller maps that to a template). Counting transitions instead of
-- records makes the figures independent of the traffic mix: a statement that stops
-- appearing shows as its predecessor followed by something else, a new ERROR line as a
-- transition never seen before. Spans of services that log but with no record of their own
-- are one transition, start -> end (an operation that stops logging altogether shows so).
-- `callee_errors` counts the transitions in spans during which another service of the same
-- trace logged an ERROR or worse (a span of it that started within this span's time: a
-- callee, in a synchronous call chain), and `erring_callee` names the latest-starting such
-- service: when a caller's logs change because its callee failed, the blame goes down to it.
WITH {sampled_log_records},
spans AS (
    SELECT trace_id, span_id, span_name, service_name, timestamp, duration,
           coalesce(k8s_pod_name, service_instance_id, '') AS instance,
           timestamp >= make_timestamp_ns($i_since) AS incident
    FROM otel_traces
    WHERE {compared_spans}
),
-- only the records without a code location need their message masked (the records are of
-- one trace in $sample already)
log_events AS (
    SELECT trace_id, span_id, timestamp, severity_number, severity_text, message, location, '' AS masked
    FROM log_rows WHERE location <> ''
    UNION ALL
    SELECT trace_id, span_id, timestamp, severity_number, severity_text, message, location, masked
    FROM log_records WHERE location = ''
),
logged AS (
    SELECT s.trace_id, s.span_id, s.service_name, s.instance, s.span_name, s.incident, s.timestamp AS span_start,
           e.timestamp AS event_time, e.location, e.masked, e.severity_number, e.severity_text, e.message
    FROM log_events AS e
    JOIN spans AS s ON s.trace_id = e.trace_id AND s.span_id = e.span_id
),
erring_spans AS (
    SELECT DISTINCT trace_id, service_name, span_start
    FROM logged
    WHERE severity_number >= 17
       OR (severity_number = 0 AND upper(severity_text) IN ('ERROR', 'FATAL', 'CRITICAL'))
),
handoffs AS (
    SELECT p.trace_id, p.span_id, arg_max(w.service_name, (w.span_start, w.service_name)) AS erring_callee
    FROM spans AS p
    JOIN erring_spans AS w
      ON w.trace_id = p.trace_id AND w.service_name <> p.service_name
     AND w.span_start >= p.timestamp AND w.span_start < p.timestamp + to_microseconds(p.duration // 1000)
    GROUP BY p.trace_id, p.span_id
),
logged_spans AS (
    SELECT DISTINCT trace_id, span_id, service_name, instance, span_name, incident, span_start FROM logged
),
-- each record with the event before it (the span's start before the first) and whether it is
-- the last (the span's end follows it): one window over the records alone
ordered AS (
    SELECT l.*, h.erring_callee,
           lag('log', 1, 'start') OVER span_events AS from_kind,
           lag(location, 1, '') OVER span_events AS from_location,
           lag(masked, 1, '') OVER span_events AS from_masked,
           lead(true, 1, false) OVER span_events AS followed
    FROM logged AS l
    LEFT JOIN handoffs AS h USING (trace_id, span_id)
    WINDOW span_events AS (PARTITION BY hash(trace_id, span_id) ORDER BY event_time, location, masked)
),
transitions AS (
    SELECT trace_id, service_name, instance, span_name, incident, span_start, erring_callee,
           from_kind, from_location, from_masked, 'log' AS kind, location, masked,
           event_time, severity_text AS severity, message
    FROM ordered
    UNION ALL
    SELECT trace_id, service_name, instance, span_name, incident, span_start, erring_callee,
           'log', location, masked, 'end', '', '', span_start, '', ''
    FROM ordered
    WHERE NOT followed
),
-- the spans of services that log, with no record of their own
silent AS (
    SELECT s.*, h.erring_callee
    FROM spans AS s
    LEFT JOIN handoffs AS h USING (trace_id, span_id)
    WHERE s.service_name IN (SELECT DISTINCT service_name FROM logged_spans)
      AND NOT EXISTS (SELECT 1 FROM logged_spans AS l WHERE l.trace_id = s.trace_id AND l.span_id = s.span_id)
)
SELECT incident, service_name AS service, instance, span_name AS operation,
       from_kind, from_location, from_masked, kind AS to_kind, location AS to_location, masked AS to_masked,
       count(*) AS n,
       count(erring_callee) AS callee_errors,
       coalesce(mode(erring_callee ORDER BY erring_callee) FILTER (WHERE erring_callee IS NOT NULL), '') AS erring_callee,
       arg_min(severity, (event_time, message)) AS severity,
       arg_min(message, (event_time, message)) AS example,
       arg_min(trace_id, (span_start, trace_id), 3) AS trace_ids
FROM transitions
GROUP BY ALL
UNION ALL
SELECT incident, service_name, instance, span_name,
       'start', '', '', 'end', '', '',
       count(*), count(erring_callee),
       coalesce(mode(erring_callee ORDER BY erring_callee) FILTER (WHERE erring_callee IS NOT NULL), ''),
       '', '', arg_min(trace_id, (timestamp, trace_id), 3)
FROM silent
GROUP BY ALL
ORDER BY ALL
