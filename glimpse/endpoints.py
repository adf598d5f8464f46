"""The analyses glimpse serves, once: API path, query-service function, parameter parser.

The HTTP API builds its routes from this table and :class:`glimpse.client.GlimpseClient`
runs the same entries on a database file, so a command answers the same through a
server and on the file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from glimpse.params import (
    alert_options,
    anomaly_options,
    bottleneck_options,
    diff_options,
    insight_options,
    log_options,
    metric_series_options,
    no_options,
    rca_options,
    service_options,
    trace_search_options,
    window_options,
)

__all__ = [
    "ANALYSES",
    "TRACE_ANALYSES",
    "Analysis",
    "TraceAnalysis",
    "deferred",
    "jaeger_dependencies",
    "resolve",
    "service_graph_document",
]


@dataclass(frozen=True)
class _Served:
    path: str
    target: str  # "module:function" of the query service, imported on first use

    @property
    def function(self) -> Callable[..., dict[str, Any]]:
        return deferred(self.target)


@dataclass(frozen=True)
class Analysis(_Served):
    """``GET path``: query parameters -> ``options`` -> ``function(connection, **options)`` -> JSON."""

    options: Callable[[Mapping[str, str]], dict[str, Any]]


@dataclass(frozen=True)
class TraceAnalysis(_Served):
    """``GET path`` (with {trace_id}): ``function(connection, trace_id, adjust_skew=...)``."""


def deferred(target: str) -> Callable[..., Any]:
    """The function a "module:function" target names, imported when first called: a server
    that only takes exports never holds the analyses' libraries (networkx, drain3: 18 MiB),
    and the import runs where the call does (the API's worker threads, not its event loop)."""
    return partial(_call, target)


def _call(target: str, *args: Any, **kwargs: Any) -> Any:
    return resolve(target)(*args, **kwargs)


@cache
def resolve(target: str) -> Callable[..., Any]:
    """The function a "module:function" target names (imported now)."""
    module, name = target.split(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return function


_QS = "analyzer.query_service."

# the graph documents the API, the Jaeger API and the client serve beside the analyses
service_graph_document = deferred(_QS + "graphs:service_graph_document")
jaeger_dependencies = deferred(_QS + "graphs:jaeger_dependencies")

ANALYSES = {
    "graph_diff": Analysis("/api/graph/diff", _QS + "graphs:service_graph_diff", diff_options),
    "traces": Analysis("/api/traces", _QS + "traces:search_traces", trace_search_options),
    "services": Analysis("/api/services", _QS + "services:service_red", service_options),
    "extent": Analysis("/api/extent", _QS + "services:data_overview", no_options),
    "bottlenecks": Analysis("/api/bottlenecks", _QS + "bottlenecks:bottlenecks", bottleneck_options),
    "platforms": Analysis("/api/platforms", _QS + "platforms:platforms", window_options),
    "platform_metrics": Analysis(
        "/api/platforms/metrics", _QS + "platforms:platform_metric_series", metric_series_options
    ),
    "anomalies": Analysis("/api/anomalies", _QS + "incidents:anomalies", anomaly_options),
    "rca": Analysis("/api/rca", _QS + "incidents:root_causes", rca_options),
    "alerts": Analysis("/api/alerts", _QS + "alerts:alerts", alert_options),
    "insights": Analysis("/api/insights", _QS + "insights:insights", insight_options),
    "logs": Analysis("/api/logs", _QS + "logs:search_logs", log_options),
    "log_templates": Analysis("/api/logs/templates", _QS + "logs:log_templates", log_options),
}

TRACE_ANALYSES = {
    "critical_path": TraceAnalysis("/api/traces/{trace_id}/critical-path", _QS + "traces:trace_critical_path"),
    "trace": TraceAnalysis("/api/traces/{trace_id}", _QS + "traces:trace_detail"),
}
