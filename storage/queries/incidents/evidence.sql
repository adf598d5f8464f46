-- Root-cause evidence: every span of a baseline window [$b_since, $b_until) and an incident
-- window [$i_since, $i_until) is blamed on the entity whose own behaviour it measures, and
-- compared with the baseline of the same (signal, service, operation):
--   self      server/consumer/internal spans: the span's exclusive time (its duration minus
--             the union of its children's), blamed on its service, operation, instance and host
--   network   client/producer spans answered by an instrumented server: the client's time
--             outside the server span, blamed on the called service and on the edge
--             (caller -> callee); a span without a kind whose child belongs to another
--             service is such a call too (the gap is the child's start minus the parent's,
--             plus the parent's end minus the child's)
--   dependency client/producer spans nothing instrumented answered: their whole duration,
--             blamed on the database, broker or external peer they name
-- An error "originates" in a span that failed while none of its children did; a client span
-- that failed over a server span that did not (a timeout) is blamed on the called service.
-- An entity is its kind, its service and its own name: two services' operations of the same
-- name are two entities. One row per (signal, level, service, entity, window) with counts, the share above the baseline's
-- (robust) 99th percentile, originating errors, quantiles and example trace ids. $service (or NULL)
-- keeps only the traces that pass through that service; $sample > 1 one trace in $sample.
WITH spans AS (
    SELECT trace_id, span_id, parent_span_id, span_kind, service_name, span_name, duration,
           epoch_ns(timestamp) AS start_ns, status_code = 'Error' AS failed,
           coalesce(k8s_pod_name, service_instance_id, container_id, service_name) AS instance,
           coalesce(k8s_node_name, host_name) AS host,
           timestamp >= make_timestamp_ns($i_since) AND timestamp < make_timestamp_ns($i_until) AS incident,
           CASE
               WHEN messaging_system IS NOT NULL OR span_kind = 'Producer' THEN 'messaging'
               WHEN db_system_name IS NOT NULL OR db_namespace IS NOT NULL THEN 'database'
               ELSE 'external'
           END AS peer_kind,
           CASE
               WHEN messaging_system IS NOT NULL OR span_kind = 'Producer' THEN coalesce(
                   peer_service, concat_ws('/', messaging_system, messaging_destination_name), server_address)
               WHEN db_system_name IS NOT NULL OR db_namespace IS NOT NULL THEN coalesce(
                   peer_service, server_address, network_peer_address, db_namespace, db_system_name)
               ELSE coalesce(peer_service, server_address, network_peer_address)
           END AS peer
    FROM otel_traces
    WHERE {compared_spans}
),
-- the time a span's children cover (their union: parallel children overlap), counted once;
-- a child that answers a call: a server or consumer span, or a kind-less span of another service
covering AS (
    SELECT c.trace_id, c.parent_span_id AS span_id, c.span_kind, c.service_name, c.duration, c.failed,
           c.span_kind IN ('Server', 'Consumer')
           OR (c.span_kind = 'Unspecified' AND p.service_name IS DISTINCT FROM c.service_name) AS answers,
           greatest(0, c.start_ns + c.duration - greatest(c.start_ns, coalesce(max(c.start_ns + c.duration) OVER (
               PARTITION BY c.trace_id, c.parent_span_id ORDER BY c.start_ns, c.duration
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), c.start_ns))) AS new_ns
    FROM spans AS c
    LEFT JOIN spans AS p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
    WHERE c.parent_span_id <> ''
),
children AS (
    SELECT trace_id, span_id,
           sum(new_ns) AS child_ns,
           bool_or(failed) AS child_failed,
           max(duration) FILTER (WHERE answers) AS server_ns,
           bool_or(failed) FILTER (WHERE answers) AS server_failed,
           arg_max(service_name, (duration, service_name)) FILTER (WHERE answers) AS callee
    FROM covering
    GROUP BY trace_id, span_id
),
measured AS (
    SELECT s.*, c.child_ns, c.child_failed, c.server_ns, c.server_failed, c.callee,
           CASE
               WHEN s.span_kind IN ('Client', 'Producer', 'Unspecified') AND c.server_ns IS NOT NULL THEN 'network'
               WHEN s.span_kind IN ('Client', 'Producer') AND s.peer IS NOT NULL THEN 'dependency'
               ELSE 'self'
           END AS signal
    FROM spans AS s
    LEFT JOIN children AS c USING (trace_id, span_id)
),
blamed AS (
    SELECT incident, trace_id, signal,
           CASE signal WHEN 'network' THEN callee ELSE service_name END AS service,
           CASE signal WHEN 'dependency' THEN peer ELSE NULL END AS peer,
           peer_kind, span_name AS operation, instance, host, service_name AS caller,
           CASE signal
               WHEN 'self' THEN greatest(duration - coalesce(child_ns, 0), 0)
               WHEN 'network' THEN greatest(duration - server_ns, 0)
               ELSE duration
           END AS value_ns,
           CASE signal
               WHEN 'self' THEN failed AND NOT coalesce(child_failed, false)
               WHEN 'network' THEN failed AND NOT coalesce(server_failed, false)
               ELSE failed
           END AS originated
    FROM measured
),
-- Per (signal, service, operation, peer): a robust 99th percentile of the baseline,
-- exp(median + 2.33 sigma) of log time with sigma from the interquartile range, so that
-- an incident that leaked into the baseline window (late detection) does not lift it.
thresholds AS (
    SELECT signal, service, operation, coalesce(peer, '') AS peer_key,
           quantile_cont(ln(value_ns + 1000), [0.25, 0.5, 0.75]) AS q
    FROM blamed
    WHERE NOT incident
    GROUP BY ALL
),
flagged AS (
    SELECT b.*,
           coalesce(b.value_ns > exp(t.q[2] + 2.33 * (t.q[3] - t.q[1]) / 1.349) * 1.1 + 1000000, false) AS exceeded
    FROM blamed AS b
    LEFT JOIN thresholds AS t
        ON t.signal = b.signal AND t.service IS NOT DISTINCT FROM b.service AND t.operation = b.operation
       AND t.peer_key = coalesce(b.peer, '')
),
levels AS (
    SELECT signal, 'service' AS kind, service AS name, service, * EXCLUDE (signal, service)
    FROM flagged WHERE signal IN ('self', 'network')
    UNION ALL
    SELECT signal, 'operation', operation, service, * EXCLUDE (signal, service)
    FROM flagged WHERE signal = 'self'
    UNION ALL
    SELECT signal, 'edge', caller || ' -> ' || CASE signal WHEN 'network' THEN service ELSE peer END,
           CASE signal WHEN 'network' THEN service END, * EXCLUDE (signal, service)
    FROM flagged WHERE signal IN ('network', 'dependency')
    UNION ALL
    SELECT signal, 'instance', instance, service, * EXCLUDE (signal, service)
    FROM flagged WHERE signal = 'self'
    UNION ALL
    SELECT signal, 'host', host, NULL, * EXCLUDE (signal, service)
    FROM flagged WHERE signal = 'self' AND host IS NOT NULL
    UNION ALL
    SELECT signal, peer_kind, peer, NULL, * EXCLUDE (signal, service)
    FROM flagged WHERE signal = 'dependency'
)
SELECT signal, kind, name, service, incident,
       count(*) AS n,
       count(*) FILTER (WHERE exceeded) AS exceeded,
       count(*) FILTER (WHERE originated) AS errors,
       quantile_cont(value_ns, [0.5, 0.9]) AS p50_p90_ns,
       -- ordered, and ties broken by trace id: the same data always gives the same answer.
       -- DISTINCT aggregates, not the distinct values of a list of every row: those lists held
       -- a window's every span at once, more than the server's DuckDB share
       list(DISTINCT instance ORDER BY instance) FILTER (WHERE kind = 'host') AS instances,
       list(DISTINCT caller ORDER BY caller) AS callers,
       arg_max(trace_id, (value_ns, trace_id), 3) FILTER (WHERE exceeded) AS slow_traces,
       arg_max(trace_id, (value_ns, trace_id), 3) FILTER (WHERE originated) AS error_traces
FROM levels
WHERE name IS NOT NULL
GROUP BY signal, kind, name, service, incident
ORDER BY signal, kind, service NULLS FIRST, name, incident
