-- Every call between services (and to virtual peers) in a span-time window [$since, $until):
-- the CTE chain that call_statistics.sql and service_edge_samples.sql end with a SELECT over `calls`.
-- What answers a call is looked for in [$reach_since, $reach_until), which holds the window:
-- the window itself, or, for one slice of a long window, the slice and a margin around it
-- (the calls of a slice are those whose caller started in it; see storage/graph_queries.py).
-- `spans` is read by several CTEs; inlining each read (rather than materializing the
-- projection once) lets DuckDB prune columns per use: about 30% faster at 10^6 spans.
WITH spans AS NOT MATERIALIZED (
    SELECT trace_id, span_id, parent_span_id, service_name, span_name, span_kind, timestamp, duration,
           hash(trace_id, span_id) AS span_key, hash(trace_id, parent_span_id) AS parent_key,
           status_code = 'Error' AS failed,
           -- the kind as OTLP numbers it (SpanKind): 2 SERVER, 3 CLIENT, 4 PRODUCER, 5 CONSUMER;
           -- a byte instead of a string through the join below: 5% of the query
           CASE span_kind WHEN 'Internal' THEN 1 WHEN 'Server' THEN 2 WHEN 'Client' THEN 3
                          WHEN 'Producer' THEN 4 WHEN 'Consumer' THEN 5 ELSE 0 END::TINYINT AS kind,
           peer_service, server_address, network_peer_address, network_peer_port,
           db_system_name, db_namespace, messaging_system, messaging_destination_name,
           rpc_system, http_request_method, url_full, links,
           timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until) AS in_window
    FROM otel_spans
    WHERE timestamp >= make_timestamp_ns($reach_since) AND timestamp < make_timestamp_ns($reach_until)
),
-- what answers a span: its children, and the CONSUMER spans that link to it (a batch
-- consumer's messages), keyed by the answered span's 64-bit hash of (trace id, span id)
answers AS (
    SELECT parent_key AS answered_key, service_name, span_name, kind, failed, duration, timestamp,
           rpc_system, http_request_method, messaging_system, FALSE AS via_link
    FROM spans
    UNION ALL
    SELECT hash(link.trace_id, link.span_id), service_name, span_name, kind, failed, duration, timestamp,
           rpc_system, http_request_method, messaging_system, TRUE
    FROM (SELECT *, unnest(links) AS link FROM spans WHERE span_kind = 'Consumer' AND len(links) > 0)
),
-- one join for every call: each span with what answered it, a link, a SERVER or CONSUMER
-- child, or a child of another service (matched on the hashes: 20% faster than joining
-- the strings; a false match needs a hash collision between two spans of the window,
-- about 1 in 10^7 for 10^6 spans); a span that nothing answered comes once, with NULLs.
-- `pairs` is read once below (a second read would materialize it): this one join costs
-- 10% less than the pair join, the anti join of the answered clients and the link join
-- it replaces.
pairs AS (
    SELECT p.service_name AS client, a.service_name AS server,
           p.span_name AS client_op, a.span_name AS server_op,
           p.kind AS parent_kind, a.kind AS child_kind, a.via_link,
           a.answered_key IS NULL AS unanswered,
           p.failed OR coalesce(a.failed, FALSE) AS failed,
           p.duration AS client_ns, a.duration AS server_ns,
           p.timestamp AS seen,
           epoch_ns(a.timestamp) - (epoch_ns(p.timestamp) + p.duration) AS handoff_ns,
           coalesce(p.rpc_system, a.rpc_system) AS rpc_system,
           coalesce(p.http_request_method, a.http_request_method) AS http_method,
           coalesce(p.messaging_system, a.messaging_system) AS messaging,
           p.peer_service, p.server_address, p.network_peer_address, p.network_peer_port,
           p.db_system_name, p.db_namespace, p.messaging_system, p.messaging_destination_name, p.url_full
    FROM spans AS p
    LEFT JOIN answers AS a ON a.answered_key = p.span_key
        AND (a.via_link OR a.kind IN (2, 5) OR a.service_name <> p.service_name)
    WHERE p.in_window
),
-- the calls among them:
-- - CLIENT -> SERVER and PRODUCER -> CONSUMER pairs (any services, as the service-graph
--   connector pairs them), and, for spans without those kinds, parent -> child pairs
--   whose services differ (as Jaeger and Zipkin derive them);
-- - PRODUCER spans -> the batch consumers that link to them (connection type messaging);
-- - CLIENT or PRODUCER spans that nothing instrumented answered: calls to virtual peers
--   (an uninstrumented database or broker names the connection; other peers are 'virtual')
pair_calls AS (
    SELECT client,
           CASE server_kind
               WHEN 'service' THEN server
               WHEN 'messaging' THEN coalesce(
                   peer_service,
                   concat_ws('/', messaging_system, messaging_destination_name),
                   server_address, 'unknown')
               WHEN 'database' THEN coalesce(
                   peer_service, server_address,
                   network_peer_address || coalesce(':' || network_peer_port, ''),
                   db_namespace, db_system_name)
               ELSE coalesce(
                   peer_service, server_address,
                   nullif(regexp_extract(url_full, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^:/?#]+)', 1), ''),
                   network_peer_address, 'unknown')
           END AS server,
           client_op, server_op, server_kind,
           CASE
               WHEN via_link THEN 'messaging'
               WHEN unanswered THEN CASE server_kind WHEN 'external' THEN 'virtual' ELSE server_kind END
               WHEN parent_kind = 4 AND child_kind = 5 THEN 'messaging'
               WHEN messaging IS NOT NULL AND parent_kind = 4 THEN 'messaging'
               WHEN rpc_system IS NOT NULL THEN 'rpc'
               WHEN http_method IS NOT NULL THEN 'http'
               ELSE ''
           END AS connection_type,
           failed, client_ns, server_ns, seen,
           CASE WHEN via_link OR (NOT unanswered AND parent_kind = 4) THEN handoff_ns END AS handoff_ns
    FROM (
        SELECT *,
               CASE
                   WHEN NOT unanswered THEN 'service'
                   WHEN parent_kind = 4 OR messaging_system IS NOT NULL THEN 'messaging'
                   WHEN db_system_name IS NOT NULL OR db_namespace IS NOT NULL THEN 'database'
                   ELSE 'external'
               END AS server_kind
        FROM pairs
        WHERE CASE
            WHEN unanswered THEN parent_kind IN (3, 4)
            WHEN via_link THEN parent_kind = 4
            ELSE (parent_kind = 3 AND child_kind = 2)
                OR (parent_kind = 4 AND child_kind = 5)
                OR (client <> server
                    AND NOT (parent_kind IN (3, 4) AND child_kind IN (2, 5)))
        END
    )
),
-- root SERVER/CONSUMER spans: somebody outside the system called them
users AS (
    SELECT 'user' AS client, service_name AS server, NULL AS client_op, span_name AS server_op, failed,
           NULL::BIGINT AS client_ns, duration AS server_ns, timestamp AS seen
    FROM spans
    WHERE parent_span_id = '' AND span_kind IN ('Server', 'Consumer') AND in_window
),
calls AS (
    SELECT client, server, client_op, server_op, server_kind, connection_type,
           failed, client_ns, server_ns, seen, handoff_ns
    FROM pair_calls
    UNION ALL
    SELECT client, server, client_op, server_op, 'service', 'virtual', failed, client_ns, server_ns, seen, NULL
    FROM users
)
