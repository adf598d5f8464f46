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


def _entity_buckets(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[Entity, int], dict[str, float]]:
    """Signals per (entity, bucket), the resources of one entity added up.

    ``cpu_idle`` (hostmetrics reports time per state) becomes ``cpu_utilization = 1 - idle``.
    """
    buckets: dict[tuple[Entity, int], dict[str, float]] = defaultdict(dict)
    entities: dict[str, Entity] = {}
    for row in rows:
        resource = row["resource"]
        if resource not in entities:
            entities[resource] = detect_entity(decode_attributes_json(resource))
        values = buckets[(entities[resource], int(row["bucket"]))]
        values[row["signal"]] = values.get(row["signal"], 0.0) + float(row["value"])
    for values in buckets.values():
        if "cpu_idle" in values:
            values["cpu_utilization"] = 1.0 - values.pop("cpu_idle")
        for signal, value in values.items():
            values[signal] = round(value, 6)
    return buckets


def entity_resource_metrics(rows: Iterable[Mapping[str, Any]]) -> dict[Entity, dict[str, float]]:
    """The latest bucket's value of each normalised signal, per entity."""
    latest: dict[Entity, dict[str, tuple[int, float]]] = defaultdict(dict)
    for (entity, bucket), values in _entity_buckets(rows).items():
        for signal, value in values.items():
            if bucket >= latest[entity].get(signal, (bucket, value))[0]:
                latest[entity][signal] = (bucket, value)
    return {entity: {signal: value for signal, (_, value) in signals.items()} for entity, signals in latest.items()}


def entity_metric_series(rows: Iterable[Mapping[str, Any]], *, since_ns: int, bucket_ns: int) -> list[dict[str, Any]]:
    """Per entity, per time bucket: the normalised signals (rows of resource_metric_rows)."""
    series = _entity_buckets(rows)
    return [
        {**asdict(entity), "bucket_start_ns": since_ns + bucket * bucket_ns, "signals": series[(entity, bucket)]}
        for entity, bucket in sorted(series, key=lambda key: (key[0].platform, key[0].instance or "", key[1]))
    ]
