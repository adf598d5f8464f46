-- glimpse schema version 5: the promoted span columns that none of glimpse's own queries
-- read are no longer stored; otel_traces reads them from span_attributes when a query asks
-- for them, by the rule the writer used (tracing/semconv.py: the first key present whose
-- value fits, newest convention first). They took about six bytes a span on disk and a
-- sixth of DuckDB's insert, mostly for NULLs. Columns the graph, the diagnosis and span
-- metrics group or join on stay stored (SPAN_PROMOTED).

-- A scalar attribute value as text: strings as they are, integers and booleans as JSON
-- writes them, doubles as DuckDB writes them; NULL for arrays, maps and JSON null.
CREATE MACRO glimpse_attribute_text(value) AS
    CASE WHEN json_type(value) IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN') THEN value ->> '$' END;

-- An integer attribute value, or a string of a plain decimal, in BIGINT range; else NULL.
CREATE MACRO glimpse_attribute_integer(value) AS
    CASE
        WHEN json_type(value) IN ('BIGINT', 'UBIGINT')
          OR (json_type(value) = 'VARCHAR' AND regexp_full_match(value ->> '$', '[+-]?[0-9]+'))
        THEN TRY_CAST(value ->> '$' AS BIGINT)
    END;

-- The first of `paths` whose value fits, reading the attributes once.
CREATE MACRO glimpse_first_text(attributes, paths) AS
    list_filter(list_transform(json_extract(attributes, paths), lambda v: glimpse_attribute_text(v)), lambda v: v IS NOT NULL)[1];

CREATE MACRO glimpse_first_integer(attributes, paths) AS
    list_filter(list_transform(json_extract(attributes, paths), lambda v: glimpse_attribute_integer(v)), lambda v: v IS NOT NULL)[1];

DROP VIEW otel_traces;

ALTER TABLE otel_spans DROP COLUMN http_response_status_code;
ALTER TABLE otel_spans DROP COLUMN http_route;
ALTER TABLE otel_spans DROP COLUMN server_port;
ALTER TABLE otel_spans DROP COLUMN db_operation_name;
ALTER TABLE otel_spans DROP COLUMN db_query_text;
ALTER TABLE otel_spans DROP COLUMN rpc_service;
ALTER TABLE otel_spans DROP COLUMN rpc_method;
ALTER TABLE otel_spans DROP COLUMN messaging_operation_type;
ALTER TABLE otel_spans DROP COLUMN error_type;

CREATE VIEW otel_traces AS
SELECT
    s.timestamp,
    s.trace_id,
    s.span_id,
    s.parent_span_id,
    s.trace_state,
    s.flags,
    s.span_name,
    s.span_kind,
    s.service_name,
    r.resource_attributes,
    r.resource_schema_url,
    r.resource_dropped_attributes_count,
    r.scope_name,
    r.scope_version,
    r.scope_attributes,
    r.scope_schema_url,
    s.span_attributes,
    s.duration,
    s.status_code,
    s.status_message,
    s.events,
    s.links,
    s.dropped_attributes_count,
    s.dropped_events_count,
    s.dropped_links_count,
    r.service_namespace,
    r.service_version,
    r.service_instance_id,
    r.deployment_environment,
    r.k8s_namespace_name,
    r.k8s_pod_name,
    r.k8s_node_name,
    r.k8s_deployment_name,
    r.container_id,
    r.host_name,
    r.cloud_provider,
    r.cloud_region,
    r.cloud_availability_zone,
    s.http_request_method,
    glimpse_first_integer(s.span_attributes, ['$."http.response.status_code"', '$."http.status_code"']) AS http_response_status_code,
    glimpse_first_text(s.span_attributes, ['$."http.route"']) AS http_route,
    s.url_full,
    s.server_address,
    glimpse_first_integer(s.span_attributes, ['$."server.port"', '$."net.peer.port"', '$."net.host.port"']) AS server_port,
    s.network_peer_address,
    s.network_peer_port,
    s.peer_service,
    s.db_system_name,
    s.db_namespace,
    glimpse_first_text(s.span_attributes, ['$."db.operation.name"', '$."db.operation"']) AS db_operation_name,
    glimpse_first_text(s.span_attributes, ['$."db.query.text"', '$."db.statement"']) AS db_query_text,
    s.rpc_system,
    glimpse_first_text(s.span_attributes, ['$."rpc.service"']) AS rpc_service,
    glimpse_first_text(s.span_attributes, ['$."rpc.method"']) AS rpc_method,
    s.messaging_system,
    s.messaging_destination_name,
    glimpse_first_text(s.span_attributes, ['$."messaging.operation.type"', '$."messaging.operation"']) AS messaging_operation_type,
    glimpse_first_text(s.span_attributes, ['$."error.type"']) AS error_type
FROM otel_spans AS s
LEFT JOIN otel_resources AS r ON r.resource_key = s.resource_key;
