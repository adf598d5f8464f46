"""Detectors, incidents, correlation and insights on series with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.anomaly import (
    Anomaly,
    Series,
    change_point,
    detect_anomalies,
    histogram_quantile,
    histogram_series,
    least_requests,
    pick_bucket_ns,
    red_series,
)
from analyzer.correlate import correlation_matrix, group_incidents, lagged_correlations
from analyzer.insights import ServiceSeries, capacity_hint, forecast, service_insights, trend

BUCKET = 10 * 10**9


def noisy(length: int, level: float, seed: int = 0) -> np.ndarray:
    return level + np.random.default_rng(seed).normal(0, level * 0.05, length)


def latency(values: np.ndarray) -> Series:
    return Series("service", "cart", "cart", "latency_p95_ms", values, np.full(len(values), 50.0))


def errors(requests: np.ndarray, failed: np.ndarray) -> Series:
    return Series("service", "cart", "cart", "errors", failed / np.maximum(requests, 1), requests, failed)


def test_a_latency_step_is_found_where_it_starts() -> None:
    values = noisy(60, 10.0)
    values[40:] += 30
    (anomaly,) = detect_anomalies([latency(values)], since_ns=0, bucket_ns=BUCKET)
    assert anomaly.start_ns == 40 * BUCKET and anomaly.end_ns == 60 * BUCKET
    assert anomaly.detector == "robust-z"
    small = values.copy()
    small[40:] -= 20
    (weaker,) = detect_anomalies([latency(small)], since_ns=0, bucket_ns=BUCKET)
    assert 0 < weaker.score < anomaly.score < 1
    assert anomaly.baseline == pytest.approx(10, rel=0.05) and anomaly.observed == pytest.approx(40, rel=0.05)
    band = anomaly.series
    assert band["baseline_low"][30] < band["value"][30] < band["baseline_high"][30] < band["value"][45]


def test_steady_noise_raises_nothing() -> None:
    assert detect_anomalies([latency(noisy(120, 10.0, seed=s)) for s in range(20)], since_ns=0, bucket_ns=BUCKET) == []


def test_a_slow_drift_is_a_change_point() -> None:
    values = noisy(80, 100.0)
    values[40:] += np.linspace(1, 40, 40)  # a leak: no single bucket far out at first
    index, shift = change_point(values) or (None, 0.0)
    assert index is not None and 40 <= index <= 56 and shift > 4


def test_errors_at_low_traffic_are_judged_as_counts() -> None:
    requests = np.full(60, 2.0)
    failed = np.zeros(60)
    failed[[10, 30, 50]] = 1  # one failure in two requests: 50% but perfectly ordinary at this traffic
    assert detect_anomalies([errors(requests, failed)], since_ns=0, bucket_ns=BUCKET) == []
    busy = np.full(60, 200.0)
    rising = np.random.default_rng(1).binomial(200, 0.001, 60).astype(float)
    rising[45:] = 30
    (anomaly,) = detect_anomalies([errors(busy, rising)], since_ns=0, bucket_ns=BUCKET)
    assert anomaly.signal == "error_rate" and anomaly.start_ns == 45 * BUCKET
    assert anomaly.observed == pytest.approx(0.15)


def test_a_thin_lasting_rise_in_errors_is_found_over_many_buckets() -> None:
    requests = np.full(60, 3.0)
    failed = np.zeros(60)
    failed[40::2] = 1  # one error every other bucket from 40 on: never three in one bucket
    (anomaly,) = detect_anomalies([errors(requests, failed)], since_ns=0, bucket_ns=BUCKET)
    assert anomaly.detector == "poisson-change-point" and 38 * BUCKET <= anomaly.start_ns <= 41 * BUCKET


def test_a_day_of_history_makes_the_baseline_seasonal() -> None:
    per_day = 86_400 // 600
    hours = np.arange(3 * per_day) % per_day
    values = 100 + 80 * (hours >= per_day // 2)  # every afternoon is slower: that is normal
    series = Series("service", "a", "a", "latency_p95_ms", values.astype(float) + noisy(len(values), 1.0))
    found = detect_anomalies([series], since_ns=0, bucket_ns=600 * 10**9)
    # the first afternoon has no history to explain it; once there is a day of history, nothing
    assert all(a.end_ns <= per_day * 600 * 10**9 for a in found)


def test_bucket_width_fits_the_window() -> None:
    assert pick_bucket_ns(10 * 60 * 10**9) == 10 * 10**9
    assert pick_bucket_ns(24 * 3600 * 10**9) == 900 * 10**9


def anomaly(level: str, entity: str, service: str | None, start: int, end: int) -> Anomaly:
    return Anomaly(level, entity, service, "latency_p95_ms", start, end, 0.9, 1, 2, "robust-z")


def test_incidents_join_related_overlapping_anomalies_only() -> None:
    found = [
        anomaly("service", "checkout", "checkout", 100, 200),
        anomaly("service", "payment", "payment", 120, 200),  # called by checkout: same incident
        anomaly("service", "ad", "ad", 110, 190),  # unrelated service
        anomaly("instance", "cart-1", "cart", 150, 200),
        anomaly("host", "node-1", None, 150, 200),  # cart-1 runs there
        anomaly("service", "payment", "payment", 900, 950),  # later: another incident
    ]
    incidents = group_incidents(found, edges=[("checkout", "payment")], host_of={"cart-1": "node-1"}, tolerance_ns=10)
    groups = [sorted(a.entity for a in i.anomalies) for i in incidents]
    assert groups[0] == ["payment"] and incidents[0].start_ns == 900  # most recent first
    assert sorted(groups[1:]) == [["ad"], ["cart-1", "node-1"], ["checkout", "payment"]]


def test_correlation_matrix_and_lag() -> None:
    base = np.sin(np.linspace(0, 12, 80))
    series = {"a": base, "b": np.roll(base, 2), "c": -base}
    matrix = correlation_matrix(series)
    assert matrix["entities"] == ["a", "b", "c"]
    assert matrix["matrix"][0][0] == 1.0 and matrix["matrix"][0][2] == pytest.approx(-1.0, abs=1e-3)
    (edge,) = lagged_correlations(series, [("b", "a")])
    assert edge["lag_buckets"] == 2 and edge["correlation"] > 0.9


def test_trend_and_forecast_of_a_straight_line_are_exact() -> None:
    line = 5.0 + 2.0 * np.arange(30)
    fit = trend(line, bucket_s=60)
    assert fit is not None and fit["slope_per_hour"] == pytest.approx(120.0) and fit["significant"]
    ahead = forecast(line, horizon=5)
    assert ahead is not None and ahead["value"] == pytest.approx(5.0 + 2.0 * 34, rel=1e-3)
    assert trend(np.full(30, 3.0), 60) is None


def test_a_capacity_hint_when_the_forecast_nears_the_load_latency_degraded_at() -> None:
    load = np.concatenate([np.full(20, 10.0), np.full(5, 30.0), np.linspace(10, 28, 15)])
    p95 = np.where(load >= 30, 200.0, 20.0)
    series = ServiceSeries("cart", 60, load, p95, np.zeros(len(load)))
    hint = capacity_hint(series, forecast_throughput=27.0)
    assert hint is not None and hint["degraded_above_rps"] == 30.0 and hint["approaching"]
    insights = service_insights(series, horizon=5)
    assert insights["capacity"]["degraded_above_rps"] == 30.0
    assert insights["trend"]["throughput_rps"]["slope_per_hour"] > 0


def test_histogram_quantiles_interpolate_within_the_bucket() -> None:
    bounds = np.array([1.0, 2.0, 4.0])
    # 10 observations in (1, 2], 10 in (2, 4]: the median is the top of the first, p75 halfway up the second
    counts = np.array([0.0, 10.0, 10.0, 0.0])
    assert histogram_quantile(counts, bounds, 0.5) == pytest.approx(2.0)
    assert histogram_quantile(counts, bounds, 0.75) == pytest.approx(3.0)


def test_histogram_series_difference_cumulative_points_per_series() -> None:
    def point(t: int, counts: list[int], series: str = "a") -> dict[str, object]:
        return {
            "instance": "pod-1",
            "service": "cart",
            "metric_name": "rpc.server.call.duration",
            "series": series,
            "time_ns": t * BUCKET,
            "temporality": "Cumulative",
            "bucket_counts": counts,
            "explicit_bounds": [0.01, 0.1, 1.0],
        }

    points = [
        point(0, [10, 0, 0, 0]),
        point(1, [30, 0, 0, 0]),
        point(2, [30, 0, 10, 0]),  # +20 fast, then +10 slow
        point(3, [30, 0, 19, 0]),  # +9 slow
        point(0, [0, 0, 0, 0], "b"),
        point(2, [0, 10, 0, 0], "b"),
        point(3, [0, 20, 0, 0], "b"),  # +10: 19 observations in bucket 3 with a's 9
    ]
    (series,) = histogram_series(points, since_ns=0, bucket_ns=BUCKET, buckets=4)
    assert series.signal == "rpc.server.call.duration p95"
    assert np.isnan(series.values[0])  # a first cumulative point only sets the start
    assert series.values[1] == pytest.approx(0.01)  # all in (-inf, 0.01]: its one finite bound
    # ten in (0.01, 0.1] and ten in (0.1, 1]: rank 19 lies 9 of 10 into the slow bucket
    assert series.values[2] == pytest.approx(0.1 + 0.9 * 9 / 10)
    assert np.isnan(series.values[3])  # 19 observations: a p95 of fewer than 20 is their maximum


def test_strict_latency_quantiles_rest_on_five_and_twenty_requests() -> None:
    def row(bucket: int, requests: int) -> dict[str, object]:
        return {"level": "operation", "entity": "cart GET /", "service": "cart", "bucket": bucket,
                "requests": requests, "errors": 0, "latency_ms": [20.0 + bucket, 90.0 + bucket, 99.0]}  # fmt: skip

    rows = [row(0, 2), row(1, 4), row(2, 5), row(3, 19), row(4, 20)]
    assert least_requests() == (2, 5) and least_requests(strict=True) == (5, 20)
    p50, p95, _ = red_series(rows, 6)
    assert p50.values.tolist()[:5] == [20.0, 21.0, 22.0, 23.0, 24.0]  # two requests are enough by default
    assert np.isnan(p95.values[:2]).all() and p95.values.tolist()[2:5] == [92.0, 93.0, 94.0]
    p50, p95, errors = red_series(rows, 6, strict=True)
    # the median of two or four requests is judged no more (5 at least), a p95 only on 20 (of 19: nearly their largest)
    assert np.isnan(p50.values[:2]).all() and p50.values.tolist()[2:5] == [22.0, 23.0, 24.0]
    assert np.isnan(p95.values[:4]).all() and p95.values[4] == 94.0
    assert errors.requests is not None and errors.requests.tolist() == [2, 4, 5, 19, 20, 0]
    assert np.isnan(p50.values[5]) and np.isnan(p95.values[5])  # no requests
