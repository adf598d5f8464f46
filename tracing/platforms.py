"""One entity model for every platform: instance -> host -> zone -> region -> cluster/account.

A Kubernetes pod, a Docker container, a process on a host or cloud VM and a serverless
function instance all become an :class:`Entity`, detected from resource attributes by a
small adapter per platform (the first that recognises the resource wins, most specific
first). A resource that names nothing more than ``service.instance.id`` is still an
instance, on platform ``unknown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["ADAPTERS", "Entity", "PlatformAdapter", "detect_entity"]

_VM_PLATFORMS = {
    "aws_ec2": "aws_vm",
    "gcp_compute_engine": "gcp_vm",
    "azure_vm": "azure_vm",
}
_SERVERLESS_PLATFORMS = {"aws_lambda", "gcp_cloud_functions", "gcp_cloud_run", "azure_functions", "gcp_app_engine"}


@dataclass(frozen=True)
class Entity:
    """Where a service instance runs, named as its telemetry names it."""

    platform: str  # kubernetes | docker | host | aws_vm | gcp_vm | azure_vm | serverless | unknown
    instance_kind: str  # pod | container | process | function_instance | instance
    instance: str | None
    host: str | None = None  # node, VM or host
    zone: str | None = None
    region: str | None = None
    cluster: str | None = None  # Kubernetes cluster, or cloud account
    namespace: str | None = None


class PlatformAdapter(Protocol):
    """Recognises one platform's resources and maps them to an Entity."""

    name: str

    def matches(self, resource: Mapping[str, Any]) -> bool: ...

    def entity(self, resource: Mapping[str, Any]) -> Entity: ...


def _text(resource: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = resource.get(key)
        if value not in (None, "") and not isinstance(value, (dict, list)):
            return str(value)
    return None


def _cloud(resource: Mapping[str, Any]) -> dict[str, str | None]:
    return {
        "zone": _text(resource, "cloud.availability_zone"),
        "region": _text(resource, "cloud.region"),
    }


def _process(resource: Mapping[str, Any], host: str | None) -> str | None:
    instance = _text(resource, "service.instance.id")
    if instance:
        return instance
    pid = _text(resource, "process.pid")
    return f"{host}:{pid}" if host and pid else None


class ServerlessAdapter:
    name = "serverless"

    def matches(self, resource: Mapping[str, Any]) -> bool:
        return _text(resource, "cloud.platform") in _SERVERLESS_PLATFORMS or _text(resource, "faas.name") is not None

    def entity(self, resource: Mapping[str, Any]) -> Entity:
        function = _text(resource, "faas.name")
        instance = _text(resource, "faas.instance", "service.instance.id")
        return Entity(
            "serverless",
            "function_instance",
            instance or function,
            None,
            **_cloud(resource),
            cluster=_text(resource, "cloud.account.id"),
            namespace=function,
        )


class KubernetesAdapter:
    name = "kubernetes"

    def matches(self, resource: Mapping[str, Any]) -> bool:
        return _text(resource, "k8s.pod.name", "k8s.pod.uid") is not None

    def entity(self, resource: Mapping[str, Any]) -> Entity:
        return Entity(
            "kubernetes",
            "pod",
            _text(resource, "k8s.pod.name", "k8s.pod.uid"),
            _text(resource, "k8s.node.name"),
            **_cloud(resource),
            cluster=_text(resource, "k8s.cluster.name", "k8s.cluster.uid"),
            namespace=_text(resource, "k8s.namespace.name"),
        )


class DockerAdapter:
    name = "docker"

    def matches(self, resource: Mapping[str, Any]) -> bool:
        return _text(resource, "container.id", "container.name") is not None

    def entity(self, resource: Mapping[str, Any]) -> Entity:
        container_id = _text(resource, "container.id")
        name = _text(resource, "container.name") or (container_id[:12] if container_id else None)
        return Entity(
            "docker",
            "container",
            name,
            _text(resource, "host.name", "host.id"),
            **_cloud(resource),
            cluster=_text(resource, "cloud.account.id"),
        )


class CloudVmAdapter:
    name = "cloud_vm"

    def matches(self, resource: Mapping[str, Any]) -> bool:
        return _text(resource, "cloud.platform") in _VM_PLATFORMS

    def entity(self, resource: Mapping[str, Any]) -> Entity:
        platform = _VM_PLATFORMS[str(_text(resource, "cloud.platform"))]
        host = _text(resource, "host.name", "host.id")
        return Entity(
            platform,
            "process",
            _process(resource, host),
            host,
            **_cloud(resource),
            cluster=_text(resource, "cloud.account.id"),
        )


class HostAdapter:
    name = "host"

    def matches(self, resource: Mapping[str, Any]) -> bool:
        return _text(resource, "host.name", "host.id") is not None

    def entity(self, resource: Mapping[str, Any]) -> Entity:
        host = _text(resource, "host.name", "host.id")
        return Entity(
            "host",
            "process",
            _process(resource, host),
            host,
            **_cloud(resource),
            cluster=_text(resource, "cloud.account.id"),
        )


class UnknownAdapter:
    name = "unknown"

    def matches(self, resource: Mapping[str, Any]) -> bool:
        return True

    def entity(self, resource: Mapping[str, Any]) -> Entity:
        return Entity("unknown", "instance", _text(resource, "service.instance.id"), None, **_cloud(resource))


ADAPTERS: tuple[PlatformAdapter, ...] = (
    ServerlessAdapter(),
    KubernetesAdapter(),
    DockerAdapter(),
    CloudVmAdapter(),
    HostAdapter(),
    UnknownAdapter(),
)


def detect_entity(resource: Mapping[str, Any]) -> Entity:
    """The entity of one resource (attributes as a plain mapping).

    Examples
    --------
    >>> pod = detect_entity({"k8s.pod.name": "cart-7f", "k8s.node.name": "n1", "cloud.availability_zone": "eu-1a"})
    >>> pod.platform, pod.instance_kind, pod.instance, pod.host, pod.zone
    ('kubernetes', 'pod', 'cart-7f', 'n1', 'eu-1a')
    >>> detect_entity({"service.instance.id": "i-42"}).platform
    'unknown'
    """
    for adapter in ADAPTERS:
        if adapter.matches(resource):
            return adapter.entity(resource)
    raise AssertionError("UnknownAdapter matches every resource")
