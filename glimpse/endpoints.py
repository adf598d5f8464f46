"""The analyses glimpse serves, once: API path, query-service function, parameter parser.

The HTTP API builds its routes from this table and :class:`glimpse.client.GlimpseClient`
runs the same entries on a database file, so a command answers the same through a
server and on the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from analyzer.query_service.alerts import alerts
from analyzer.query_service.bottlenecks import bottlenecks
from analyzer.query_service.graphs import service_graph_diff
from analyzer.query_service.incidents import anomalies, root_causes
from analyzer.query_service.insights import insights
from analyzer.query_service.logs import log_templates, search_logs
from analyzer.query_service.platforms import platform_metric_series, platforms
from analyzer.query_service.services import data_overview, service_red
from analyzer.query_service.traces import search_traces, trace_critical_path, trace_detail
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

__all__ = ["ANALYSES", "TRACE_ANALYSES", "Analysis", "TraceAnalysis"]


@dataclass(frozen=True)
class Analysis:
    """``GET path``: query parameters -> ``options`` -> ``function(connection, **options)`` -> JSON."""

    path: str
    function: Callable[..., dict[str, Any]]
    options: Callable[[Mapping[str, str]], dict[str, Any]]


@dataclass(frozen=True)
class TraceAnalysis:
    """``GET path`` with the trace id in it: ``function(connection, trace_id, adjust_skew=...)``."""

    path: str  # with {trace_id}
    function: Callable[..., dict[str, Any]]


ANALYSES = {
    "graph_diff": Analysis("/api/graph/diff", service_graph_diff, diff_options),
    "traces": Analysis("/api/traces", search_traces, trace_search_options),
    "services": Analysis("/api/services", service_red, service_options),
    "extent": Analysis("/api/extent", data_overview, no_options),
    "bottlenecks": Analysis("/api/bottlenecks", bottlenecks, bottleneck_options),
    "platforms": Analysis("/api/platforms", platforms, window_options),
    "platform_metrics": Analysis("/api/platforms/metrics", platform_metric_series, metric_series_options),
    "anomalies": Analysis("/api/anomalies", anomalies, anomaly_options),
    "rca": Analysis("/api/rca", root_causes, rca_options),
    "alerts": Analysis("/api/alerts", alerts, alert_options),
    "insights": Analysis("/api/insights", insights, insight_options),
    "logs": Analysis("/api/logs", search_logs, log_options),
    "log_templates": Analysis("/api/logs/templates", log_templates, log_options),
}

TRACE_ANALYSES = {
    "critical_path": TraceAnalysis("/api/traces/{trace_id}/critical-path", trace_critical_path),
    "trace": TraceAnalysis("/api/traces/{trace_id}", trace_detail),
}
