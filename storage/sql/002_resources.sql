-- glimpse schema version 2: each span's resource and instrumentation scope are stored
-- once in otel_resources, keyed by a hash of their content, instead of on every span.
-- Spans from one process share a handful of resources, and their attributes were most
-- of the bytes of every insert: this makes ingest about twice as fast. otel_traces
-- becomes a view with exactly the columns (and order) of the old table, so every query
-- reads as before. URLs and query texts are left to DuckDB's own choice of compression
-- (dictionary and FSST): forcing ZSTD on them cost bytes. Span attributes stay ZSTD.

CREATE TABLE otel_resources (
    resource_key                 UBIGINT PRIMARY KEY,    -- how it is computed: see the first INSERT below
    service_name                 VARCHAR NOT NULL,
    resource_attributes          JSON NOT NULL,
    resource_schema_url          VARCHAR NOT NULL,
    resource_dropped_attributes_count UINTEGER NOT NULL,
    scope_name                   VARCHAR NOT NULL,
    scope_version                VARCHAR NOT NULL,
    scope_attributes             JSON NOT NULL,
    scope_schema_url             VARCHAR NOT NULL,
    -- promoted resource attributes
    service_namespace            VARCHAR,
    service_version              VARCHAR,
    service_instance_id          VARCHAR,
    deployment_environment       VARCHAR,
    k8s_namespace_name           VARCHAR,
    k8s_pod_name                 VARCHAR,
    k8s_node_name                VARCHAR,
    k8s_deployment_name          VARCHAR,
    container_id                 VARCHAR,
    host_name                    VARCHAR,
    cloud_provider               VARCHAR,
    cloud_region                 VARCHAR,
    cloud_availability_zone      VARCHAR
);

CREATE TABLE otel_spans (
    timestamp                    TIMESTAMP_NS NOT NULL,  -- span start
    trace_id                     VARCHAR NOT NULL,       -- 32 lowercase hex
    span_id                      VARCHAR NOT NULL,       -- 16 lowercase hex
    parent_span_id               VARCHAR NOT NULL,       -- '' for a root span
    trace_state                  VARCHAR NOT NULL,
    flags                        UINTEGER NOT NULL,
    span_name                    VARCHAR NOT NULL,
    span_kind                    VARCHAR NOT NULL,       -- Unspecified|Internal|Server|Client|Producer|Consumer
    service_name                 VARCHAR NOT NULL,
    resource_key                 UBIGINT NOT NULL,       -- otel_resources.resource_key
    span_attributes              JSON USING COMPRESSION zstd NOT NULL,
    duration                     BIGINT NOT NULL,        -- end - start, nanoseconds
    status_code                  VARCHAR NOT NULL,       -- Unset|Ok|Error
    status_message               VARCHAR NOT NULL,
    events STRUCT(
        timestamp TIMESTAMP_NS, name VARCHAR, attributes JSON, dropped_attributes_count UINTEGER
    )[] NOT NULL,
    links STRUCT(
        trace_id VARCHAR, span_id VARCHAR, trace_state VARCHAR, attributes JSON,
        dropped_attributes_count UINTEGER, flags UINTEGER
    )[] NOT NULL,
    dropped_attributes_count     UINTEGER NOT NULL,
    dropped_events_count         UINTEGER NOT NULL,
    dropped_links_count          UINTEGER NOT NULL,
    -- promoted span attributes, old and new semantic conventions normalised
    http_request_method          VARCHAR,
    http_response_status_code    BIGINT,
    http_route                   VARCHAR,
    url_full                     VARCHAR,
    server_address               VARCHAR,
    server_port                  BIGINT,
    network_peer_address         VARCHAR,
    network_peer_port            BIGINT,
    peer_service                 VARCHAR,
    db_system_name               VARCHAR,
    db_namespace                 VARCHAR,
    db_operation_name            VARCHAR,
    db_query_text                VARCHAR,
    rpc_system                   VARCHAR,
    rpc_service                  VARCHAR,
    rpc_method                   VARCHAR,
    messaging_system             VARCHAR,
    messaging_destination_name   VARCHAR,
    messaging_operation_type     VARCHAR,
    error_type                   VARCHAR
);

-- the resource key: the low 64 bits of the MD5 of the resource and scope fields joined
-- by U+001F (collector/decode.py computes the same for new spans)
INSERT INTO otel_resources
SELECT DISTINCT ON (resource_key) *
FROM (
    SELECT
        md5_number_lower(concat_ws(chr(31), resource_attributes, resource_schema_url,
        resource_dropped_attributes_count::VARCHAR, scope_name, scope_version, scope_attributes, scope_schema_url)) AS resource_key,
        service_name, resource_attributes, resource_schema_url, resource_dropped_attributes_count, scope_name, scope_version, scope_attributes, scope_schema_url,
        service_namespace, service_version, service_instance_id, deployment_environment, k8s_namespace_name, k8s_pod_name, k8s_node_name, k8s_deployment_name, container_id, host_name, cloud_provider, cloud_region, cloud_availability_zone
    FROM otel_traces
);

INSERT INTO otel_spans BY NAME
SELECT
    * EXCLUDE (resource_attributes, resource_schema_url, resource_dropped_attributes_count, scope_name, scope_version, scope_attributes, scope_schema_url, service_namespace, service_version, service_instance_id, deployment_environment, k8s_namespace_name, k8s_pod_name, k8s_node_name, k8s_deployment_name, container_id, host_name, cloud_provider, cloud_region, cloud_availability_zone),
    md5_number_lower(concat_ws(chr(31), resource_attributes, resource_schema_url,
        resource_dropped_attributes_count::VARCHAR, scope_name, scope_version, scope_attributes, scope_schema_url)) AS resource_key
FROM otel_traces;

DROP TABLE otel_traces;

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
    s.http_response_status_code,
    s.http_route,
    s.url_full,
    s.server_address,
    s.server_port,
    s.network_peer_address,
    s.network_peer_port,
    s.peer_service,
    s.db_system_name,
    s.db_namespace,
    s.db_operation_name,
    s.db_query_text,
    s.rpc_system,
    s.rpc_service,
    s.rpc_method,
    s.messaging_system,
    s.messaging_destination_name,
    s.messaging_operation_type,
    s.error_type
FROM otel_spans AS s
LEFT JOIN otel_resources AS r ON r.resource_key = s.resource_key;
