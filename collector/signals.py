"""The three OTLP signals: their messages, decoders and partial-success fields."""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as LOGS_PB2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as METRICS_PB2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_PB2

from collector.decode import Decoded, decode_logs, decode_metrics, decode_traces
from collector.log_wire import decode_logs_wire
from collector.span_wire import decode_traces_wire

__all__ = ["SIGNALS", "Signal"]


@dataclass(frozen=True)
class Signal:
    """One OTLP signal as both transports see it."""

    name: str  # traces | metrics | logs
    grpc_service: str  # full gRPC service name
    http_path: str
    request_type: type[Any]
    response_type: type[Any]
    decode: Callable[[Any], Decoded]
    rejected_field: str
    # protobuf bytes and the keys of the resources already stored -> rows without building
    # messages; None hands the request to ``decode``
    decode_wire: Callable[[bytes, Container[int]], Decoded | None] | None = None

    def response(self, decoded: Decoded | None = None) -> Any:
        """The export response, with partial success when items were rejected."""
        response = self.response_type()
        if decoded is not None and decoded.rejected:
            setattr(response.partial_success, self.rejected_field, decoded.rejected)
            response.partial_success.error_message = decoded.message
        return response


def _service_name(module: Any, service: str) -> str:
    return str(module.DESCRIPTOR.services_by_name[service].full_name)


SIGNALS: dict[str, Signal] = {
    signal.name: signal
    for signal in (
        Signal(
            "traces",
            _service_name(TRACE_PB2, "TraceService"),
            "/v1/traces",
            TRACE_PB2.ExportTraceServiceRequest,
            TRACE_PB2.ExportTraceServiceResponse,
            decode_traces,
            "rejected_spans",
            decode_traces_wire,
        ),
        Signal(
            "metrics",
            _service_name(METRICS_PB2, "MetricsService"),
            "/v1/metrics",
            METRICS_PB2.ExportMetricsServiceRequest,
            METRICS_PB2.ExportMetricsServiceResponse,
            decode_metrics,
            "rejected_data_points",
        ),
        Signal(
            "logs",
            _service_name(LOGS_PB2, "LogsService"),
            "/v1/logs",
            LOGS_PB2.ExportLogsServiceRequest,
            LOGS_PB2.ExportLogsServiceResponse,
            decode_logs,
            "rejected_log_records",
            decode_logs_wire,
        ),
    )
}
