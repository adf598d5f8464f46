"""Entities (pods, containers, processes, function instances) with the services they run
and their RED figures, from per-resource rows (storage.resource_queries)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from tracing.attributes import decode_attributes_json
from tracing.platforms import Entity, detect_entity

__all__ = ["entity_health", "entity_metric_series", "entity_resource_metrics"]


def _empty() -> dict[str, Any]:
    return {"services": set(), "spans": 0, "requests": 0, "errors": 0, "p95_ns": None, "last_seen_ns": 0}


def entity_health(
    rows: Iterable[Mapping[str, Any]],
    *,
    window_s: float,
    metrics: Mapping[Entity, Mapping[str, float]] | None = None,
) -> list[dict[str, Any]]:
    """One dict per entity: its place (platform ... cluster), services, rates, p95, resources.

    ``p95_ms`` is the slowest p95 among the entity's services (p95s do not add up);
    ``resources`` holds the latest normalised resource metrics (entity_resource_metrics),
    and entities known only from metrics (a node's hostmetrics) are listed too.
    """
    metrics = metrics or {}
    merged: dict[Entity, dict[str, Any]] = {}
    for row in rows:
        entity = detect_entity(decode_attributes_json(row["resource"]))
        item = merged.setdefault(entity, _empty())
        item["services"].add(row["service"])
        item["spans"] += int(row["spans"])
        item["requests"] += int(row["requests"])
        item["errors"] += int(row["errors"])
        if row["p95_ns"] is not None:
            item["p95_ns"] = max(item["p95_ns"] or 0.0, float(row["p95_ns"]))
        item["last_seen_ns"] = max(item["last_seen_ns"], int(row["last_seen_ns"]))
    for entity in metrics:
        merged.setdefault(entity, _empty())
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
                "resources": dict(metrics.get(entity, {})),
            }
        )
    return sorted(result, key=lambda e: (e["platform"], e["host"] or "", e["instance"] or ""))


def entity_resource_metrics(rows: Iterable[Mapping[str, Any]]) -> dict[Entity, dict[str, float]]:
    """The latest bucket's value of each normalised signal, per entity.

    ``cpu_idle`` (hostmetrics reports time per state) becomes ``cpu_utilization = 1 - idle``.
    """
    latest: dict[tuple[Entity, str], tuple[int, float]] = {}
    entities: dict[str, Entity] = {}
    for row in rows:
        resource = row["resource"]
        if resource not in entities:
            entities[resource] = detect_entity(decode_attributes_json(resource))
        key = (entities[resource], row["signal"])
        bucket, value = int(row["bucket"]), float(row["value"])
        previous = latest.get(key)
        if previous is None or bucket > previous[0]:
            latest[key] = (bucket, value)
        elif bucket == previous[0]:  # several resources of one entity: add them up
            latest[key] = (bucket, previous[1] + value)
    result: dict[Entity, dict[str, float]] = {}
    for (entity, signal), (_, value) in latest.items():
        if signal == "cpu_idle":
            signal, value = "cpu_utilization", 1.0 - value
        result.setdefault(entity, {})[signal] = round(value, 6)
    return result


def entity_metric_series(rows: Iterable[Mapping[str, Any]], *, since_ns: int, bucket_ns: int) -> list[dict[str, Any]]:
    """Per entity, per time bucket: the normalised signals (rows of resource_metric_rows)."""
    series: dict[tuple[Entity, int], dict[str, float]] = defaultdict(dict)
    entities: dict[str, Entity] = {}
    for row in rows:
        resource = row["resource"]
        if resource not in entities:
            entities[resource] = detect_entity(decode_attributes_json(resource))
        signal, value = row["signal"], float(row["value"])
        if signal == "cpu_idle":
            signal, value = "cpu_utilization", 1.0 - value
        values = series[(entities[resource], int(row["bucket"]))]
        values[signal] = round(values.get(signal, 0.0) + value, 6)
    return [
        {**asdict(entity), "bucket_start_ns": since_ns + bucket * bucket_ns, "signals": signals}
        for (entity, bucket), signals in sorted(
            series.items(), key=lambda item: (item[0][0].platform, item[0][0].instance or "", item[0][1])
        )
    ]
