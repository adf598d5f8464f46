-- Every call between services (and to virtual peers) in a span-time window [$since, $until):
-- the CTE chain that call_statistics.sql and service_edge_samples.sql end with a SELECT over `calls`.
-- `spans` is read by several CTEs; inlining each read (rather than materializing the
-- projection once) lets DuckDB prune columns per use: about 30% faster at 10^6 spans.
WITH spans AS NOT MATERIALIZED (
    SELECT trace_id, span_id, parent_span_id, service_name, span_name, span_kind, timestamp, duration,
           hash(trace_id, span_id) AS span_key, hash(trace_id, parent_span_id) AS parent_key,
           status_code = 'Error' AS failed,
           peer_service, server_address, network_peer_address, network_peer_port,
           db_system_name, db_namespace, messaging_system, messaging_destination_name,
           rpc_system, http_request_method, url_full, links
    FROM otel_spans
    WHERE timestamp >= make_timestamp_ns($since) AND timestamp < make_timestamp_ns($until)
),
-- every parent -> child pair inside the window, matched on a 64-bit hash of
-- (trace id, span id): 20% faster than joining the two strings; a false match needs a
-- hash collision between two spans of the window (about 1 in 10^7 for 10^6 spans)
pairs AS (
    SELECT p.service_name AS client, c.service_name AS server,
           p.span_name AS client_op, c.span_name AS server_op,
           p.span_kind AS parent_kind, c.span_kind AS child_kind,
           p.span_key AS parent_key,
           p.failed OR c.failed AS failed,
           p.duration AS client_ns, c.duration AS server_ns,
           p.timestamp AS seen,
           epoch_ns(c.timestamp) - (epoch_ns(p.timestamp) + p.duration) AS handoff_ns,
           coalesce(p.rpc_system, c.rpc_system) AS rpc_system,
           coalesce(p.http_request_method, c.http_request_method) AS http_method,
           coalesce(p.messaging_system, c.messaging_system) AS messaging
    FROM spans AS p
    JOIN spans AS c ON c.parent_key = p.span_key
),
-- CLIENT -> SERVER and PRODUCER -> CONSUMER pairs (any services, as the service-graph
-- connector pairs them), and, for spans without those kinds, parent -> child pairs
-- whose services differ (as Jaeger and Zipkin derive them)
direct AS (
    SELECT client, server, client_op, server_op, failed, client_ns, server_ns, seen,
           CASE
               WHEN parent_kind = 'Producer' AND child_kind = 'Consumer' THEN 'messaging'
               WHEN messaging IS NOT NULL AND parent_kind = 'Producer' THEN 'messaging'
               WHEN rpc_system IS NOT NULL THEN 'rpc'
               WHEN http_method IS NOT NULL THEN 'http'
               ELSE ''
           END AS connection_type,
           CASE WHEN parent_kind = 'Producer' THEN handoff_ns END AS handoff_ns
    FROM pairs
    WHERE (parent_kind = 'Client' AND child_kind = 'Server')
       OR (parent_kind = 'Producer' AND child_kind = 'Consumer')
       OR (client <> server
           AND NOT (parent_kind IN ('Client', 'Producer') AND child_kind IN ('Server', 'Consumer')))
),
-- batch consumers: a CONSUMER span linked to the PRODUCER spans of its messages
linked AS (
    SELECT p.service_name AS client, c.service_name AS server,
           p.span_name AS client_op, c.span_name AS server_op,
           p.failed OR c.failed AS failed, p.duration AS client_ns, c.duration AS server_ns,
           p.timestamp AS seen, 'messaging' AS connection_type,
           epoch_ns(c.timestamp) - (epoch_ns(p.timestamp) + p.duration) AS handoff_ns
    FROM (SELECT *, unnest(links) AS link FROM spans WHERE span_kind = 'Consumer' AND len(links) > 0) AS c
    JOIN spans AS p ON p.trace_id = c.link.trace_id AND p.span_id = c.link.span_id AND p.span_kind = 'Producer'
),
-- (with repeats: the anti join below needs no DISTINCT, whose two hash aggregates cost
-- about 15% of the query)
answered AS (
    SELECT parent_key FROM pairs WHERE child_kind IN ('Server', 'Consumer') OR client <> server
    UNION ALL
    SELECT hash(link.trace_id, link.span_id)
    FROM (SELECT unnest(links) AS link FROM spans WHERE span_kind = 'Consumer' AND len(links) > 0)
),
-- CLIENT or PRODUCER spans that nothing instrumented answered: virtual peers
unanswered AS (
    SELECT s.* FROM spans AS s
    ANTI JOIN answered AS a ON a.parent_key = s.span_key
    WHERE s.span_kind IN ('Client', 'Producer')
),
virtual AS (
    SELECT service_name AS client, span_name AS client_op, NULL AS server_op,
           CASE
               WHEN span_kind = 'Producer' OR messaging_system IS NOT NULL THEN coalesce(
                   peer_service,
                   concat_ws('/', messaging_system, messaging_destination_name),
                   server_address, 'unknown')
               WHEN db_system_name IS NOT NULL OR db_namespace IS NOT NULL THEN coalesce(
                   peer_service, server_address,
                   network_peer_address || coalesce(':' || network_peer_port, ''),
                   db_namespace, db_system_name)
               ELSE coalesce(
                   peer_service, server_address,
                   nullif(regexp_extract(url_full, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^:/?#]+)', 1), ''),
                   network_peer_address, 'unknown')
           END AS server,
           CASE
               WHEN span_kind = 'Producer' OR messaging_system IS NOT NULL THEN 'messaging'
               WHEN db_system_name IS NOT NULL OR db_namespace IS NOT NULL THEN 'database'
               ELSE 'external'
           END AS server_kind,
           failed, duration AS client_ns, NULL::BIGINT AS server_ns, timestamp AS seen
    FROM unanswered
),
-- root SERVER/CONSUMER spans: somebody outside the system called them
users AS (
    SELECT 'user' AS client, service_name AS server, NULL AS client_op, span_name AS server_op, failed,
           NULL::BIGINT AS client_ns, duration AS server_ns, timestamp AS seen
    FROM spans
    WHERE parent_span_id = '' AND span_kind IN ('Server', 'Consumer')
),
calls AS (
    SELECT client, server, client_op, server_op, 'service' AS server_kind, connection_type,
           failed, client_ns, server_ns, seen, handoff_ns
    FROM direct
    UNION ALL
    SELECT client, server, client_op, server_op, 'service', connection_type, failed, client_ns, server_ns, seen,
           handoff_ns
    FROM linked
    UNION ALL
    -- an uninstrumented database or broker names the connection; other peers are 'virtual'
    SELECT client, server, client_op, server_op, server_kind,
           CASE server_kind WHEN 'external' THEN 'virtual' ELSE server_kind END,
           failed, client_ns, server_ns, seen, NULL
    FROM virtual
    UNION ALL
    SELECT client, server, client_op, server_op, 'service', 'virtual', failed, client_ns, server_ns, seen, NULL
    FROM users
)
