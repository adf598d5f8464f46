"""``glimpse report``: gather an incident's root causes, anomalies, graph and trends (API or file)."""

from __future__ import annotations

import json
from typing import Any

from glimpse.api import insight_options
from glimpse.graph_command import fetch_graph_document
from glimpse.insight_views import insights
from glimpse.rca_command import fetch_anomalies, fetch_rca
from glimpse.source import fetch_analysis
from tracing.errors import GlimpseError

__all__ = ["gather_report"]


def fetch_insights(db_path: str, server: str | None, params: dict[str, Any]) -> dict[str, Any]:
    return fetch_analysis(db_path, server, "/api/insights", insights, insight_options, params)


def gather_report(db_path: str, server: str | None, params: dict[str, Any]) -> dict[str, Any]:
    """Everything a report shows, as plain data (see analyzer.report)."""
    try:
        rca: dict[str, Any] | None = fetch_rca(db_path, server, {**params, "limit": 10})
    except GlimpseError as exc:
        if params.get("since"):
            raise
        rca, no_incident = None, str(exc)
    if rca is not None:
        window = {"since": rca["baseline"]["start_ns"], "until": rca["incident"]["end_ns"]}
        incident_window = {"since": rca["incident"]["start_ns"], "until": rca["incident"]["end_ns"]}
    else:
        window = incident_window = {"since": params.get("since"), "until": params.get("until")}
    graph = json.loads(fetch_graph_document(db_path, server, "json", incident_window))
    return {
        "rca": rca,
        "no_incident": None if rca is not None else no_incident,
        "anomalies": fetch_anomalies(db_path, server, {**window, "series": "true", "limit": 40}),
        "graph": graph,
        "insights": fetch_insights(db_path, server, window),
    }
