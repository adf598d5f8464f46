"""Entities (pods, containers, processes, function instances) with the services they run
and their RED figures, from per-resource rows (storage.resource_queries)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from tracing.attributes import decode_attributes_json
from tracing.platforms import Entity, detect_entity

__all__ = ["entity_health"]


def entity_health(rows: Iterable[Mapping[str, Any]], *, window_s: float) -> list[dict[str, Any]]:
    """One dict per entity: its place (platform ... cluster), services, rates and p95.

    ``p95_ms`` is the slowest p95 among the entity's services (p95s do not add up).
    """
    merged: dict[Entity, dict[str, Any]] = {}
    for row in rows:
        entity = detect_entity(decode_attributes_json(row["resource"]))
        item = merged.setdefault(
            entity, {"services": set(), "spans": 0, "requests": 0, "errors": 0, "p95_ns": None, "last_seen_ns": 0}
        )
        item["services"].add(row["service"])
        item["spans"] += int(row["spans"])
        item["requests"] += int(row["requests"])
        item["errors"] += int(row["errors"])
        if row["p95_ns"] is not None:
            item["p95_ns"] = max(item["p95_ns"] or 0.0, float(row["p95_ns"]))
        item["last_seen_ns"] = max(item["last_seen_ns"], int(row["last_seen_ns"]))
    result = []
    for entity, item in merged.items():
        result.append(
            {
                **asdict(entity),
                "services": sorted(item["services"]),
                "spans": item["spans"],
                "request_rate": round(item["requests"] / window_s, 6) if window_s > 0 else 0.0,
                "error_rate": round(item["errors"] / item["requests"], 6) if item["requests"] else 0.0,
                "p95_ms": None if item["p95_ns"] is None else round(item["p95_ns"] / 1e6, 3),
                "last_seen_ns": item["last_seen_ns"],
            }
        )
    return sorted(result, key=lambda e: (e["platform"], e["host"] or "", e["instance"] or ""))
