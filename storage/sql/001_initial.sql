-- glimpse schema version 1: spans, the five metric point types, logs.
-- Layout follows the OpenTelemetry Collector's ClickHouse exporter, in snake_case.
-- Attribute maps and log bodies are typed JSON (see tracing/attributes.py).

CREATE TABLE otel_traces (
    timestamp                    TIMESTAMP_NS NOT NULL,  -- span start
    trace_id                     VARCHAR NOT NULL,       -- 32 lowercase hex
    span_id                      VARCHAR NOT NULL,       -- 16 lowercase hex
    parent_span_id               VARCHAR NOT NULL,       -- '' for a root span
    trace_state                  VARCHAR NOT NULL,
    flags                        UINTEGER NOT NULL,
    span_name                    VARCHAR NOT NULL,
    span_kind                    VARCHAR NOT NULL,       -- Unspecified|Internal|Server|Client|Producer|Consumer
    service_name                 VARCHAR NOT NULL,
    resource_attributes          JSON USING COMPRESSION zstd NOT NULL,
    resource_schema_url          VARCHAR NOT NULL,
    resource_dropped_attributes_count UINTEGER NOT NULL,
    scope_name                   VARCHAR NOT NULL,
    scope_version                VARCHAR NOT NULL,
    scope_attributes             JSON USING COMPRESSION zstd NOT NULL,
    scope_schema_url             VARCHAR NOT NULL,
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
    cloud_availability_zone      VARCHAR,
    -- promoted span attributes, old and new semantic conventions normalised
    http_request_method          VARCHAR,
    http_response_status_code    BIGINT,
    http_route                   VARCHAR,
    url_full                     VARCHAR USING COMPRESSION zstd,
    server_address               VARCHAR,
    server_port                  BIGINT,
    network_peer_address         VARCHAR,
    network_peer_port            BIGINT,
    peer_service                 VARCHAR,
    db_system_name               VARCHAR,
    db_namespace                 VARCHAR,
    db_operation_name            VARCHAR,
    db_query_text                VARCHAR USING COMPRESSION zstd,
    rpc_system                   VARCHAR,
    rpc_service                  VARCHAR,
    rpc_method                   VARCHAR,
    messaging_system             VARCHAR,
    messaging_destination_name   VARCHAR,
    messaging_operation_type     VARCHAR,
    error_type                   VARCHAR
);

CREATE TABLE otel_metrics_gauge (
    resource_attributes JSON USING COMPRESSION zstd NOT NULL,
    resource_schema_url VARCHAR NOT NULL,
    scope_name VARCHAR NOT NULL,
    scope_version VARCHAR NOT NULL,
    scope_attributes JSON USING COMPRESSION zstd NOT NULL,
    scope_schema_url VARCHAR NOT NULL,
    service_name VARCHAR NOT NULL,
    metric_name VARCHAR NOT NULL,
    metric_description VARCHAR NOT NULL,
    metric_unit VARCHAR NOT NULL,
    metric_metadata JSON USING COMPRESSION zstd NOT NULL,
    attributes JSON USING COMPRESSION zstd NOT NULL,
    start_time_unix TIMESTAMP_NS,            -- NULL when the point has none
    time_unix TIMESTAMP_NS NOT NULL,
    flags UINTEGER NOT NULL,
    exemplars STRUCT(
        filtered_attributes JSON, time_unix TIMESTAMP_NS, value DOUBLE, value_int BIGINT,
        span_id VARCHAR, trace_id VARCHAR
    )[] NOT NULL,
    value DOUBLE,                            -- the point's value as a double
    value_int BIGINT                         -- set (exactly) when the point was sent as an integer
);

CREATE TABLE otel_metrics_sum (
    resource_attributes JSON USING COMPRESSION zstd NOT NULL,
    resource_schema_url VARCHAR NOT NULL,
    scope_name VARCHAR NOT NULL,
    scope_version VARCHAR NOT NULL,
    scope_attributes JSON USING COMPRESSION zstd NOT NULL,
    scope_schema_url VARCHAR NOT NULL,
    service_name VARCHAR NOT NULL,
    metric_name VARCHAR NOT NULL,
    metric_description VARCHAR NOT NULL,
    metric_unit VARCHAR NOT NULL,
    metric_metadata JSON USING COMPRESSION zstd NOT NULL,
    attributes JSON USING COMPRESSION zstd NOT NULL,
    start_time_unix TIMESTAMP_NS,            -- NULL when the point has none
    time_unix TIMESTAMP_NS NOT NULL,
    flags UINTEGER NOT NULL,
    exemplars STRUCT(
        filtered_attributes JSON, time_unix TIMESTAMP_NS, value DOUBLE, value_int BIGINT,
        span_id VARCHAR, trace_id VARCHAR
    )[] NOT NULL,
    value DOUBLE,
    value_int BIGINT,
    aggregation_temporality VARCHAR NOT NULL, -- Unspecified|Delta|Cumulative
    is_monotonic BOOLEAN NOT NULL
);

CREATE TABLE otel_metrics_histogram (
    resource_attributes JSON USING COMPRESSION zstd NOT NULL,
    resource_schema_url VARCHAR NOT NULL,
    scope_name VARCHAR NOT NULL,
    scope_version VARCHAR NOT NULL,
    scope_attributes JSON USING COMPRESSION zstd NOT NULL,
    scope_schema_url VARCHAR NOT NULL,
    service_name VARCHAR NOT NULL,
    metric_name VARCHAR NOT NULL,
    metric_description VARCHAR NOT NULL,
    metric_unit VARCHAR NOT NULL,
    metric_metadata JSON USING COMPRESSION zstd NOT NULL,
    attributes JSON USING COMPRESSION zstd NOT NULL,
    start_time_unix TIMESTAMP_NS,            -- NULL when the point has none
    time_unix TIMESTAMP_NS NOT NULL,
    flags UINTEGER NOT NULL,
    exemplars STRUCT(
        filtered_attributes JSON, time_unix TIMESTAMP_NS, value DOUBLE, value_int BIGINT,
        span_id VARCHAR, trace_id VARCHAR
    )[] NOT NULL,
    count UBIGINT NOT NULL,
    sum DOUBLE,                              -- NULL when not sent
    bucket_counts UBIGINT[] NOT NULL,
    explicit_bounds DOUBLE[] NOT NULL,
    min DOUBLE,
    max DOUBLE,
    aggregation_temporality VARCHAR NOT NULL
);

CREATE TABLE otel_metrics_exponential_histogram (
    resource_attributes JSON USING COMPRESSION zstd NOT NULL,
    resource_schema_url VARCHAR NOT NULL,
    scope_name VARCHAR NOT NULL,
    scope_version VARCHAR NOT NULL,
    scope_attributes JSON USING COMPRESSION zstd NOT NULL,
    scope_schema_url VARCHAR NOT NULL,
    service_name VARCHAR NOT NULL,
    metric_name VARCHAR NOT NULL,
    metric_description VARCHAR NOT NULL,
    metric_unit VARCHAR NOT NULL,
    metric_metadata JSON USING COMPRESSION zstd NOT NULL,
    attributes JSON USING COMPRESSION zstd NOT NULL,
    start_time_unix TIMESTAMP_NS,            -- NULL when the point has none
    time_unix TIMESTAMP_NS NOT NULL,
    flags UINTEGER NOT NULL,
    exemplars STRUCT(
        filtered_attributes JSON, time_unix TIMESTAMP_NS, value DOUBLE, value_int BIGINT,
        span_id VARCHAR, trace_id VARCHAR
    )[] NOT NULL,
    count UBIGINT NOT NULL,
    sum DOUBLE,
    scale INTEGER NOT NULL,
    zero_count UBIGINT NOT NULL,
    zero_threshold DOUBLE NOT NULL,
    positive_offset INTEGER NOT NULL,
    positive_bucket_counts UBIGINT[] NOT NULL,
    negative_offset INTEGER NOT NULL,
    negative_bucket_counts UBIGINT[] NOT NULL,
    min DOUBLE,
    max DOUBLE,
    aggregation_temporality VARCHAR NOT NULL
);

CREATE TABLE otel_metrics_summary (
    resource_attributes JSON USING COMPRESSION zstd NOT NULL,
    resource_schema_url VARCHAR NOT NULL,
    scope_name VARCHAR NOT NULL,
    scope_version VARCHAR NOT NULL,
    scope_attributes JSON USING COMPRESSION zstd NOT NULL,
    scope_schema_url VARCHAR NOT NULL,
    service_name VARCHAR NOT NULL,
    metric_name VARCHAR NOT NULL,
    metric_description VARCHAR NOT NULL,
    metric_unit VARCHAR NOT NULL,
    metric_metadata JSON USING COMPRESSION zstd NOT NULL,
    attributes JSON USING COMPRESSION zstd NOT NULL,
    start_time_unix TIMESTAMP_NS,            -- NULL when the point has none
    time_unix TIMESTAMP_NS NOT NULL,
    flags UINTEGER NOT NULL,
    exemplars STRUCT(
        filtered_attributes JSON, time_unix TIMESTAMP_NS, value DOUBLE, value_int BIGINT,
        span_id VARCHAR, trace_id VARCHAR
    )[] NOT NULL,
    count UBIGINT NOT NULL,
    sum DOUBLE NOT NULL,
    value_at_quantiles STRUCT(quantile DOUBLE, value DOUBLE)[] NOT NULL
);

CREATE TABLE otel_logs (
    timestamp TIMESTAMP_NS,                  -- time_unix_nano; NULL when the record has none
    observed_timestamp TIMESTAMP_NS,
    trace_id VARCHAR NOT NULL,               -- '' when the record is not tied to a trace
    span_id VARCHAR NOT NULL,
    flags UINTEGER NOT NULL,
    severity_text VARCHAR NOT NULL,
    severity_number INTEGER NOT NULL,
    service_name VARCHAR NOT NULL,
    body JSON USING COMPRESSION zstd,                               -- typed JSON value; NULL when absent
    event_name VARCHAR NOT NULL,
    resource_attributes JSON USING COMPRESSION zstd NOT NULL,
    resource_schema_url VARCHAR NOT NULL,
    scope_name VARCHAR NOT NULL,
    scope_version VARCHAR NOT NULL,
    scope_attributes JSON USING COMPRESSION zstd NOT NULL,
    scope_schema_url VARCHAR NOT NULL,
    log_attributes JSON USING COMPRESSION zstd NOT NULL,
    dropped_attributes_count UINTEGER NOT NULL
);

-- One row per trace.
CREATE VIEW otel_trace_summary AS
SELECT
    trace_id,
    arg_min(service_name, (parent_span_id <> '', timestamp)) AS root_service,
    arg_min(span_name, (parent_span_id <> '', timestamp)) AS root_operation,
    min(timestamp) AS start_time,
    max(epoch_ns(timestamp) + duration) - min(epoch_ns(timestamp)) AS duration,
    count(*) AS span_count,
    count(*) FILTER (WHERE status_code = 'Error') AS error_count,
    list(DISTINCT service_name ORDER BY service_name) AS services
FROM otel_traces
GROUP BY trace_id;

-- One row per matched client -> server call (the server span's parent is the client span).
CREATE VIEW otel_calls AS
SELECT
    c.trace_id,
    c.span_id AS client_span_id,
    s.span_id AS server_span_id,
    c.service_name AS client_service,
    s.service_name AS server_service,
    c.span_name AS client_operation,
    s.span_name AS server_operation,
    c.timestamp AS client_start,
    c.duration AS client_duration,
    s.timestamp AS server_start,
    s.duration AS server_duration,
    c.status_code = 'Error' AS client_error,
    s.status_code = 'Error' AS server_error
FROM otel_traces c
JOIN otel_traces s
  ON s.trace_id = c.trace_id AND s.parent_span_id = c.span_id
WHERE c.span_kind = 'Client' AND s.span_kind = 'Server';
