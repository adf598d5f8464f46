"""Per-service trends, short-term forecasts and capacity hints from RED series.

- **Trend**: a least-squares line through each signal (throughput, p95 latency, error rate)
  with its p-value, so that only trends the data supports are called trends.
- **Forecast**: Holt's linear exponential smoothing (level and trend), ``horizon`` buckets
  ahead, with an interval from the one-step errors.
- **Capacity**: the lowest throughput at which the service's p95 latency was degraded
  (1.5 times its median) in the window; when the forecast throughput comes within 20% of it,
  a hint says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ServiceSeries", "capacity_hint", "forecast", "service_insights", "trend"]

ALPHA, BETA = 0.5, 0.2
DEGRADED = 1.5
NEAR = 0.8
MIN_POINTS = 6


@dataclass
class ServiceSeries:
    service: str
    bucket_s: float
    throughput: np.ndarray  # requests per second
    latency_p95_ms: np.ndarray  # NaN where too few requests
    error_rate: np.ndarray


def trend(values: np.ndarray, bucket_s: float) -> dict[str, Any] | None:
    """Slope per hour, relative change per hour and p-value of a least-squares line (None: too little data)."""
    points = np.flatnonzero(~np.isnan(values))
    if len(points) < MIN_POINTS or np.ptp(values[points]) == 0:
        return None
    from scipy.stats import linregress  # lazily: see analyzer/__init__.py

    fit = linregress(points * bucket_s / 3600, values[points])
    mean = float(np.mean(values[points]))
    return {
        "slope_per_hour": round(float(fit.slope), 6),
        "relative_per_hour": round(float(fit.slope) / mean, 4) if mean else None,
        "p_value": round(float(fit.pvalue), 6),
        "significant": bool(fit.pvalue < 0.01),
    }


def forecast(values: np.ndarray, horizon: int) -> dict[str, Any] | None:
    """Holt's linear smoothing ``horizon`` buckets ahead: value and a ~95% interval."""
    clean = values[~np.isnan(values)]
    if len(clean) < MIN_POINTS or horizon < 1:
        return None
    level, slope = float(clean[0]), float(clean[1] - clean[0])
    errors = []
    for value in clean[1:]:
        predicted = level + slope
        errors.append(float(value) - predicted)
        new_level = ALPHA * float(value) + (1 - ALPHA) * predicted
        slope = BETA * (new_level - level) + (1 - BETA) * slope
        level = new_level
    spread = float(np.std(errors)) * math.sqrt(horizon)
    value = max(level + slope * horizon, 0.0)  # every signal here is non-negative
    return {
        "value": round(value, 4),
        "low": round(max(value - 1.96 * spread, 0.0), 4),
        "high": round(value + 1.96 * spread, 4),
    }


def capacity_hint(series: ServiceSeries, forecast_throughput: float | None) -> dict[str, Any] | None:
    """The load at which latency degraded before, and whether the forecast approaches it."""
    latency, load = series.latency_p95_ms, series.throughput
    valid = ~np.isnan(latency)
    if valid.sum() < MIN_POINTS:
        return None
    typical = float(np.median(latency[valid]))
    degraded = valid & (latency > DEGRADED * typical)
    if not degraded.any():
        return None
    knee = float(np.min(load[degraded]))
    if knee <= float(np.median(load[valid])):
        return None  # latency degraded at ordinary load: not a capacity limit
    near = forecast_throughput is not None and forecast_throughput >= NEAR * knee
    message = f"{series.service}'s p95 latency degraded above {knee:.1f} req/s before" + (
        f"; the forecast ({forecast_throughput:.1f} req/s) approaches it: add capacity" if near else ""
    )
    return {"degraded_above_rps": round(knee, 3), "approaching": near, "message": message}


def service_insights(series: ServiceSeries, horizon: int) -> dict[str, Any]:
    signals = {
        "throughput_rps": series.throughput,
        "latency_p95_ms": series.latency_p95_ms,
        "error_rate": series.error_rate,
    }
    trends = {name: trend(values, series.bucket_s) for name, values in signals.items()}
    forecasts = {name: forecast(values, horizon) for name, values in signals.items()}
    throughput_forecast = forecasts["throughput_rps"]
    hint = capacity_hint(series, throughput_forecast["value"] if throughput_forecast else None)
    return {
        "service": series.service,
        "current": {name: _last(values) for name, values in signals.items()},
        "trend": trends,
        "forecast": {"horizon_s": horizon * series.bucket_s, **forecasts},
        "capacity": hint,
    }


def _last(values: np.ndarray) -> float | None:
    clean = values[~np.isnan(values)]
    return round(float(clean[-1]), 4) if len(clean) else None
