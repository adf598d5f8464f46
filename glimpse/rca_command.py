"""``glimpse anomalies`` and ``glimpse rca``: fetch (API or file) and render as tables."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from glimpse.anomaly_views import anomalies
from glimpse.api import anomaly_options, rca_options
from glimpse.incident_views import root_causes
from glimpse.source import fetch_analysis
from glimpse.timeparse import format_ns

__all__ = ["anomaly_tables", "fetch_anomalies", "fetch_rca", "rca_table"]


def fetch_rca(db_path: str, server: str | None, params: dict[str, Any]) -> dict[str, Any]:
    return fetch_analysis(db_path, server, "/api/rca", root_causes, rca_options, params)


def fetch_anomalies(db_path: str, server: str | None, params: dict[str, Any]) -> dict[str, Any]:
    return fetch_analysis(db_path, server, "/api/anomalies", anomalies, anomaly_options, params)


def rca_table(result: dict[str, Any]) -> Table:
    incident, baseline = result["incident"], result["baseline"]
    found = " (detected)" if incident.get("detected") else ""
    table = Table(
        title=f"Probable root causes of {format_ns(incident['start_ns'])} .. {format_ns(incident['end_ns'])}{found}, "
        f"against {format_ns(baseline['start_ns'])} .. {format_ns(baseline['end_ns'])}",
        show_lines=True,
    )
    for column in ("#", "kind", "name", "score", "evidence", "remediation"):
        table.add_column(column, overflow="fold")
    for candidate in result["candidates"]:
        evidence = "\n".join(e["detail"] for e in candidate["evidence"])
        table.add_row(
            str(candidate["rank"]),
            candidate["kind"],
            candidate["name"],
            f"{candidate['score']:.2f}",
            evidence,
            candidate["remediation"],
        )
    return table


def anomaly_tables(result: dict[str, Any], limit: int = 30) -> list[Table]:
    incidents = Table(title="Incidents (most recent first)")
    for column in ("id", "start", "end", "score", "anomalies", "services"):
        incidents.add_column(column)
    for incident in result["incidents"]:
        incidents.add_row(
            str(incident["id"]),
            format_ns(incident["start"]),
            format_ns(incident["end"]),
            f"{incident['score']:.2f}",
            str(incident["anomalies"]),
            ", ".join(incident["services"]),
        )
    table = Table(title=f"Anomalies ({len(result['anomalies'])}, strongest first)")
    for column in ("entity", "signal", "start", "end", "baseline", "observed", "score", "detector"):
        table.add_column(column, overflow="fold")
    for anomaly in result["anomalies"][:limit]:
        table.add_row(
            f"{anomaly['entity_kind']} {anomaly['entity']}",
            anomaly["signal"],
            format_ns(anomaly["start"]),
            format_ns(anomaly["end"]),
            _num(anomaly["baseline"]),
            _num(anomaly["observed"]),
            f"{anomaly['score']:.2f}",
            anomaly["detector"],
        )
    return [incidents, table]


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"
