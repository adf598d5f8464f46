"""Real OpenTelemetry SDK exporters pointed at a test server, for spans, metrics and logs."""

from __future__ import annotations

from typing import Any

from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter

PROTOCOLS = ("grpc", "http")


def span_exporter(protocol: str, running: Any, **kwargs: Any) -> Any:
    if protocol == "grpc":
        return GrpcSpanExporter(endpoint=running.grpc_endpoint, insecure=True, **kwargs)
    return HttpSpanExporter(endpoint=f"{running.http_url}/v1/traces", **kwargs)


def metric_exporter(protocol: str, running: Any, **kwargs: Any) -> Any:
    if protocol == "grpc":
        return GrpcMetricExporter(endpoint=running.grpc_endpoint, insecure=True, **kwargs)
    return HttpMetricExporter(endpoint=f"{running.http_url}/v1/metrics", **kwargs)


def log_exporter(protocol: str, running: Any, **kwargs: Any) -> Any:
    if protocol == "grpc":
        return GrpcLogExporter(endpoint=running.grpc_endpoint, insecure=True, **kwargs)
    return HttpLogExporter(endpoint=f"{running.http_url}/v1/logs", **kwargs)
