"""Semantic-convention normalisation: old and new attribute keys -> promoted columns.

OpenTelemetry renamed many attributes (``http.method`` -> ``http.request.method``,
``db.system`` -> ``db.system.name``, ``peer.service`` -> ``service.peer.name``, ...).
glimpse keeps the attributes exactly as sent and fills each promoted column from the
first key present, newest convention first, so analysis never has to know which SDK
version produced a span.

Span columns come in two kinds. :data:`SPAN_PROMOTED` are stored on every span: glimpse's
own queries group and join on them (the graph, the diagnosis, span metrics).
:data:`SPAN_DERIVED` are columns of the ``otel_traces`` view only, read from the span's
attributes when a query asks for them (``storage/sql/005_derived_columns.sql``), by the
same rule: storing them cost about six bytes a span and a sixth of the insert for columns
nothing in glimpse reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["INTEGER_COLUMNS", "RESOURCE_PROMOTED", "SPAN_DERIVED", "SPAN_PROMOTED", "promote"]

# column -> attribute keys, newest first: stored on every span
SPAN_PROMOTED: dict[str, tuple[str, ...]] = {
    "http_request_method": ("http.request.method", "http.method"),
    "url_full": ("url.full", "http.url"),
    "server_address": ("server.address", "net.peer.name", "net.host.name"),
    "network_peer_address": ("network.peer.address", "net.sock.peer.addr", "net.peer.ip"),
    "network_peer_port": ("network.peer.port", "net.sock.peer.port"),
    "peer_service": ("service.peer.name", "peer.service"),
    "db_system_name": ("db.system.name", "db.system"),
    "db_namespace": ("db.namespace", "db.name"),
    "rpc_system": ("rpc.system",),
    "messaging_system": ("messaging.system",),
    "messaging_destination_name": ("messaging.destination.name", "messaging.destination"),
}

# column -> attribute keys, newest first: columns of the otel_traces view, read from span_attributes
SPAN_DERIVED: dict[str, tuple[str, ...]] = {
    "http_response_status_code": ("http.response.status_code", "http.status_code"),
    "http_route": ("http.route",),
    "server_port": ("server.port", "net.peer.port", "net.host.port"),
    "db_operation_name": ("db.operation.name", "db.operation"),
    "db_query_text": ("db.query.text", "db.statement"),
    "rpc_service": ("rpc.service",),
    "rpc_method": ("rpc.method",),
    "messaging_operation_type": ("messaging.operation.type", "messaging.operation"),
    "error_type": ("error.type",),
}

RESOURCE_PROMOTED: dict[str, tuple[str, ...]] = {
    "service_namespace": ("service.namespace",),
    "service_version": ("service.version",),
    "service_instance_id": ("service.instance.id",),
    "deployment_environment": ("deployment.environment.name", "deployment.environment"),
    "k8s_namespace_name": ("k8s.namespace.name",),
    "k8s_pod_name": ("k8s.pod.name",),
    "k8s_node_name": ("k8s.node.name",),
    "k8s_deployment_name": ("k8s.deployment.name",),
    "container_id": ("container.id",),
    "host_name": ("host.name",),
    "cloud_provider": ("cloud.provider",),
    "cloud_region": ("cloud.region",),
    "cloud_availability_zone": ("cloud.availability_zone",),
}

INTEGER_COLUMNS = frozenset({"http_response_status_code", "server_port", "network_peer_port"})

# what an integer column takes from a string attribute: a plain decimal in int64 range
_DECIMAL = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _key_index(columns: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, int]]:
    """attribute key -> (column, rank); rank 0 is the newest convention."""
    return {key: (column, rank) for column, keys in columns.items() for rank, key in enumerate(keys)}


_INDEXES = {id(columns): _key_index(columns) for columns in (SPAN_PROMOTED, SPAN_DERIVED, RESOURCE_PROMOTED)}


def promote(attributes: Mapping[str, Any], columns: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """Pick each promoted column's value from ``attributes`` (None when absent).

    Integer columns accept ints and decimal strings (``"200"``, ``"-1"``; no spaces,
    no fractions) in int64 range; anything else leaves the column empty rather than
    failing the span.
    Text columns take the string form of scalar values. This runs once per span: it
    walks the span's own keys (about ten) rather than every known key.
    """
    index = _INDEXES.get(id(columns)) or _key_index(columns)
    promoted: dict[str, Any] = dict.fromkeys(columns)
    best: dict[str, int] = {}
    for key, value in attributes.items():
        hit = index.get(key)
        if hit is None:
            continue
        column, rank = hit
        if rank < best.get(column, len(index)):
            coerced = _coerce(column, value)
            if coerced is not None:
                best[column] = rank
                promoted[column] = coerced
    return promoted


def _coerce(column: str, value: Any) -> Any:
    if value is None or isinstance(value, (list, dict, bytes)):
        return None
    if column in INTEGER_COLUMNS:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value if _INT64_MIN <= value <= _INT64_MAX else None
        if isinstance(value, str) and _DECIMAL.fullmatch(value):
            number = int(value)
            return number if _INT64_MIN <= number <= _INT64_MAX else None
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
