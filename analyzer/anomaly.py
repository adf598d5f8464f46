"""Anomaly detection on RED and resource series, with no tuning by the user.

Series come from storage (``red_series.sql``, ``resource_metrics.sql``) as one value per time
bucket. Three detectors, each with its own statistics:

- **latency and resource levels**: a robust baseline (median and MAD of the normal points
  before each bucket; once there is a day of history, of the same time of day on earlier
  days) and a robust z-score; buckets with too few requests are not judged;
- **errors**: counts, not ratios: the bucket's errors against a Poisson with the baseline's
  error rate times the bucket's requests, so that low traffic raises no false alarm; a
  thin, lasting rise by a two-rate change point (likelihood ratio, Bonferroni-corrected);
- **change points**: the best single mean shift of a series (CUSUM on robustly scaled
  values), which catches slow drifts (a leak) that no single bucket shows, and dates the
  start of an anomaly.

Log series (per service that logs) go through the same detectors: error lines per request
like errors, and log records per request like a level judged both ways, since a statement
that stops appearing (a silent exception) lowers it.

Each :class:`Anomaly` has the entity, signal, start, end, score in [0, 1], baseline and
observed values, and its series with the baseline band for plotting.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Anomaly",
    "Series",
    "change_point",
    "detect_anomalies",
    "least_requests",
    "log_series",
    "min_observations",
    "pick_bucket_ns",
    "red_series",
    "resource_series",
]

DAY_NS = 86_400 * 1_000_000_000
WARMUP = 6  # normal points needed before a bucket is judged
Z_LEVEL = 5.0  # robust z of a bucket to count as anomalous
Z_SINGLE = 10.0  # a lone anomalous bucket must be this far out
P_ERRORS = 1e-4
P_ERROR_SHIFT = 1e-3  # a change point's p-value, already corrected for the starts tried
MIN_REQUESTS = 5  # fewer requests in a bucket: its p95 is not judged
MIN_REQUESTS_MEDIAN = 2  # ... its median needs two (low-traffic services have few per bucket)
MIN_ERRORS = 3
CHANGE_Z = 4.0  # a change point must shift the mean by this many robust sigmas
CHANGE_T = 8.0  # ... with this t statistic
TWO_SIDED = frozenset({"log_records_per_request"})  # level signals judged for drops too
COUNT_SIGNALS = {"errors": "error_rate", "log_errors": "log_error_rate"}  # counted events -> reported signal
NICE_BUCKETS_S = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


def pick_bucket_ns(window_ns: int, target_points: int = 120) -> int:
    """A round bucket width that gives about ``target_points`` buckets over the window."""
    wanted = window_ns / target_points / 1e9
    return next((s for s in NICE_BUCKETS_S if s >= wanted), NICE_BUCKETS_S[-1]) * 1_000_000_000


@dataclass
class Series:
    level: str  # service | operation | instance | host | edge
    entity: str
    service: str | None
    signal: str  # latency_p50 | latency_p95 | errors | cpu_utilization | ...
    values: np.ndarray  # one per bucket; NaN where there is nothing to judge
    requests: np.ndarray | None = None  # per bucket (errors: the trials)
    errors: np.ndarray | None = None


@dataclass
class Anomaly:
    level: str
    entity: str
    service: str | None
    signal: str
    start_ns: int
    end_ns: int
    score: float
    baseline: float
    observed: float
    detector: str
    series: dict[str, list[Any]] = field(default_factory=dict)

    def as_dict(self, with_series: bool = True) -> dict[str, Any]:
        result: dict[str, Any] = {
            "entity_kind": self.level,
            "entity": self.entity,
            "service": self.service,
            "signal": self.signal,
            "start": self.start_ns,
            "end": self.end_ns,
            "score": round(self.score, 4),
            "baseline": _round(self.baseline),
            "observed": _round(self.observed),
            "detector": self.detector,
        }
        if with_series:
            result["series"] = self.series
        return result


def _round(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 4)


def least_requests(strict: bool = False) -> tuple[int, int]:
    """Requests a bucket's (median, p95) latency is judged on: 2 and 5, or ``strict`` what a
    histogram's quantile needs (:func:`min_observations`), which alert rules ask for: the
    median of two requests is their mean and a p95 of five their maximum, so one slow
    request moves either (a fault-free day at low traffic paged on such buckets).

    >>> least_requests(), least_requests(strict=True)
    ((2, 5), (5, 20))
    """
    if strict:
        return min_observations(0.5), min_observations(0.95)
    return MIN_REQUESTS_MEDIAN, MIN_REQUESTS


def red_series(rows: Iterable[Mapping[str, Any]], buckets: int, *, strict: bool = False) -> list[Series]:
    """Latency p50/p95 and error series per entity from ``red_series_rows`` (latency judged
    only in buckets with :func:`least_requests`)."""
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[(row["level"], row["entity"])].append(row)
    least_p50, least_p95 = least_requests(strict)
    result = []
    for (level, entity), entity_rows in grouped.items():
        requests = np.zeros(buckets)
        errors = np.zeros(buckets)
        p50 = np.full(buckets, np.nan)
        p95 = np.full(buckets, np.nan)
        for row in entity_rows:
            b = int(row["bucket"])
            if 0 <= b < buckets:
                requests[b], errors[b] = row["requests"], row["errors"]
                if row["requests"] >= least_p50:
                    p50[b] = row["latency_ms"][0]
                if row["requests"] >= least_p95:
                    p95[b] = row["latency_ms"][1]
        service = entity_rows[0]["service"]
        result.append(Series(level, entity, service, "latency_p50_ms", p50, requests))
        result.append(Series(level, entity, service, "latency_p95_ms", p95, requests))
        result.append(Series(level, entity, service, "errors", errors / np.maximum(requests, 1), requests, errors))
    return result


def log_series(rows: Iterable[Mapping[str, Any]], buckets: int) -> list[Series]:
    """Error log lines per request and log records per request, per service, from ``log_series_rows``."""
    grouped: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["service"]].append(row)
    result = []
    for service, service_rows in sorted(grouped.items()):
        requests, records, errors = np.zeros(buckets), np.zeros(buckets), np.zeros(buckets)
        for row in service_rows:
            b = int(row["bucket"])
            if 0 <= b < buckets:
                requests[b], records[b], errors[b] = row["requests"], row["records"], row["errors"]
        per_request = np.where(requests >= MIN_REQUESTS, records / np.maximum(requests, 1), np.nan)
        result.append(
            Series("service", service, service, "log_errors", errors / np.maximum(requests, 1), requests, errors)
        )
        result.append(Series("service", service, service, "log_records_per_request", per_request, requests))
    return result


def resource_series(points: Iterable[tuple[str, str | None, str, int, float]], buckets: int) -> list[Series]:
    """Series from (instance, service, signal, bucket, value) tuples of resource metrics."""
    grouped: dict[tuple[str, str | None, str], np.ndarray] = {}
    for instance, service, signal, bucket, value in points:
        values = grouped.setdefault((instance, service, signal), np.full(buckets, np.nan))
        if 0 <= bucket < buckets:
            values[bucket] = value
    return [Series("instance", i, s, signal, v) for (i, s, signal), v in grouped.items()]


def histogram_quantile(counts: np.ndarray, bounds: np.ndarray, q: float) -> float:
    """The q-quantile of an explicit-bucket histogram, interpolated within its bucket (OTLP layout:
    ``len(counts) == len(bounds) + 1``; the open-ended buckets take their one finite bound)."""
    total = float(counts.sum())
    if total <= 0:
        return math.nan
    rank = q * total
    cumulative = np.cumsum(counts)
    index = int(np.searchsorted(cumulative, rank))
    if not len(bounds):
        return math.nan
    if index == 0:
        return float(bounds[0])
    if index >= len(bounds):
        return float(bounds[-1])
    below = float(cumulative[index - 1])
    low, high = float(bounds[index - 1]), float(bounds[index])
    return low + (high - low) * (rank - below) / max(float(counts[index]), 1.0)


def min_observations(q: float) -> int:
    """Observations a histogram's q-quantile is judged on: with fewer than 1 / (1 - q) the
    quantile is the largest observation, read off the histogram's coarse bounds, and one slow
    request moves it a whole bucket (a fault-free day at low traffic flagged such jumps).

    >>> min_observations(0.95), min_observations(0.5)
    (20, 5)
    """
    return max(MIN_REQUESTS, math.ceil(1 / (1 - q) - 1e-9))


def histogram_series(
    points: Iterable[Mapping[str, Any]], *, since_ns: int, bucket_ns: int, buckets: int, q: float = 0.95
) -> list[Series]:
    """Per (instance, metric): the q-quantile of the observations recorded in each time bucket.

    Cumulative points are differenced per series (a drop means a restart: the point counts
    from zero); each bucket adds up the increments of every series of the metric.
    """
    increments: dict[tuple[str, str | None, str], dict[int, np.ndarray]] = defaultdict(dict)
    bounds_of: dict[tuple[str, str | None, str], np.ndarray] = {}
    previous: dict[tuple[str, str, str], np.ndarray] = {}
    for point in points:
        key = (point["instance"], point["service"], point["metric_name"])
        counts = np.asarray(point["bucket_counts"], dtype=float)
        bounds = np.asarray(point["explicit_bounds"], dtype=float)
        if len(counts) != len(bounds) + 1:
            continue
        series_key = (point["instance"], point["metric_name"], point["series"])
        delta = counts
        if point["temporality"] == "Cumulative":
            before = previous.get(series_key)
            previous[series_key] = counts
            if before is None:
                continue  # the first cumulative point only sets the start
            if len(before) == len(counts) and np.all(counts >= before):
                delta = counts - before
        bucket = (int(point["time_ns"]) - since_ns) // bucket_ns
        if not 0 <= bucket < buckets:
            continue
        bounds_of.setdefault(key, bounds)
        if len(bounds_of[key]) != len(bounds) or np.any(bounds_of[key] != bounds):
            continue  # another bucket layout for the same metric: not comparable
        slot = increments[key]
        slot[bucket] = slot[bucket] + delta if bucket in slot else delta.copy()
    result = []
    needed = min_observations(q)
    for key, per_bucket in increments.items():
        values = np.full(buckets, np.nan)
        for bucket, counts in per_bucket.items():
            if counts.sum() >= needed:
                values[bucket] = histogram_quantile(counts, bounds_of[key], q)
        instance, service, metric = key
        result.append(Series("instance", instance, service, f"{metric} p{round(q * 100)}", values))
    return result


def detect_anomalies(series: Iterable[Series], *, since_ns: int, bucket_ns: int) -> list[Anomaly]:
    found = []
    for one in series:
        if one.signal in COUNT_SIGNALS:
            anomaly = _error_anomaly(one, since_ns, bucket_ns)
        elif one.signal in TWO_SIDED:
            anomaly = _level_anomaly(one, since_ns, bucket_ns) or _falling_anomaly(one, since_ns, bucket_ns)
        else:
            anomaly = _level_anomaly(one, since_ns, bucket_ns)
        if anomaly is not None:
            found.append(anomaly)
    return sorted(found, key=lambda a: (-a.score, a.start_ns))


def _baseline_points(values: np.ndarray, normal: np.ndarray, t: int, bucket_ns: int) -> np.ndarray:
    """The points a bucket is judged against: the same time of day on up to 7 earlier days once
    there is a day of history, else the normal points before it."""
    per_day = DAY_NS // bucket_ns
    if per_day and t >= per_day:
        same_time = [t - d * per_day + k for d in range(1, 8) for k in (-1, 0, 1) if t - d * per_day + k >= 0]
        # every earlier day counts, flagged or not: the median over days outvotes one bad day
        seasonal = values[same_time][~np.isnan(values[same_time])]
        if len(seasonal) >= 3:
            return np.asarray(seasonal)
    before = values[:t][normal[:t]]
    recent: np.ndarray = before[-360:]
    return recent


def _median(values: np.ndarray) -> float:
    # np.median's generality costs ~30 us a call; this runs tens of thousands of times
    ordered = np.sort(values)
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else float((ordered[middle - 1] + ordered[middle]) / 2)


def _robust_z(value: float, history: np.ndarray) -> tuple[float, float, float]:
    median = _median(history)
    mad = _median(np.abs(history - median)) * 1.4826
    scale = max(mad, 0.05 * abs(median), 1e-3)
    return (value - median) / scale, median, scale


def _level_anomaly(series: Series, since_ns: int, bucket_ns: int) -> Anomaly | None:
    values = series.values
    valid = ~np.isnan(values)
    normal = valid.copy()
    z = np.zeros(len(values))
    low = np.full(len(values), np.nan)
    high = np.full(len(values), np.nan)
    for t in np.flatnonzero(valid):
        history = _baseline_points(values, normal, int(t), bucket_ns)
        if len(history) < WARMUP:
            continue
        z[t], median, scale = _robust_z(float(values[t]), history)
        low[t], high[t] = median - 3 * scale, median + 3 * scale
        if z[t] > Z_LEVEL:
            normal[t] = False  # an anomalous point does not become part of the baseline
    flagged = z > Z_LEVEL
    run = _last_run(flagged)
    detector = "robust-z"
    if run is None or (run[1] - run[0] < 2 and z[run[0]] < Z_SINGLE):
        shift = change_point(values)
        if shift is None or shift[1] < CHANGE_Z:
            return None
        run, detector = (shift[0], len(values)), "change-point"
    start, end = run
    if detector == "robust-z":
        start = _earlier_start(values, start, end)
    before = values[:start][valid[:start]]
    after = values[start:end][valid[start:end]]
    if not len(before) or not len(after):
        return None
    baseline, observed = float(np.median(before)), float(np.median(after))
    strength = float(np.max(z[start:end])) if detector == "robust-z" else CHANGE_Z * 1.5
    return Anomaly(
        series.level,
        series.entity,
        series.service,
        series.signal,
        since_ns + start * bucket_ns,
        since_ns + end * bucket_ns,
        1 - 1 / (1 + strength / 10),
        baseline,
        observed,
        detector,
        _plot(values, low, high, since_ns, bucket_ns),
    )


def _falling_anomaly(series: Series, since_ns: int, bucket_ns: int) -> Anomaly | None:
    """A level that dropped: the rise of the negated series, reported in the series' own values."""
    mirrored = Series(series.level, series.entity, series.service, series.signal, -series.values, series.requests)
    anomaly = _level_anomaly(mirrored, since_ns, bucket_ns)
    if anomaly is None:
        return None
    anomaly.baseline, anomaly.observed = -anomaly.baseline, -anomaly.observed
    anomaly.series = _plot(
        series.values, np.full(len(series.values), np.nan), np.full(len(series.values), np.nan), since_ns, bucket_ns
    )
    return anomaly


def _earlier_start(values: np.ndarray, start: int, end: int) -> int:
    """Where the shift behind a run of anomalous buckets began: a change point up to 6 buckets before it.

    Noisy, sparse series cross the threshold only some time after the change itself.
    """
    shift = change_point(values[:end])
    if shift is not None and start - 6 <= shift[0] < start:
        return shift[0]
    return start


def _error_anomaly(series: Series, since_ns: int, bucket_ns: int) -> Anomaly | None:
    # poisson.sf(k - 1, mu) is pdtrc(k - 1, mu) once its argument checks pass (k >= 1,
    # mu > 0 here): the ufunc alone, without scipy.stats' ~0.5 ms a call
    from scipy.special import pdtrc  # lazily: see analyzer/__init__.py

    assert series.requests is not None and series.errors is not None
    requests, errors = series.requests, series.errors
    normal = requests > 0
    flagged = np.zeros(len(requests), dtype=bool)
    p_values = np.ones(len(requests))
    for t in np.flatnonzero(requests > 0):
        history = normal[:t]
        trials = requests[:t][history].sum()
        if trials < 20:
            continue
        rate = (errors[:t][history].sum() + 0.5) / (trials + 1)
        k = errors[t]
        p_values[t] = min(max(pdtrc(k - 1, requests[t] * rate), 0.0), 1.0) if k > 0 else 1.0
        if k >= MIN_ERRORS and p_values[t] < P_ERRORS:
            flagged[t] = True
            normal[t] = False
    run = _last_run(flagged)
    detector = "poisson"
    if run is None:
        shift = _error_shift(requests, errors)
        if shift is None:
            return None
        run, detector = (shift[0], len(requests)), "poisson-change-point"
        p_values[shift[0]] = shift[1]
    start, end = run
    before_rate = errors[:start].sum() / max(requests[:start].sum(), 1)
    after_rate = errors[start:end].sum() / max(requests[start:end].sum(), 1)
    strength = -math.log10(max(float(np.min(p_values[start:end])), 1e-300))
    rates = np.where(requests > 0, errors / np.maximum(requests, 1), np.nan)
    band = np.full(len(rates), before_rate)
    return Anomaly(
        series.level,
        series.entity,
        series.service,
        COUNT_SIGNALS[series.signal],
        since_ns + start * bucket_ns,
        since_ns + end * bucket_ns,
        1 - 1 / (1 + strength / 10),
        before_rate,
        after_rate,
        detector,
        _plot(rates, band * 0, band * 3 + 0.01, since_ns, bucket_ns),
    )


def _error_shift(requests: np.ndarray, errors: np.ndarray) -> tuple[int, float] | None:
    """The start of a lasting rise in the error rate too thin to show in any one bucket.

    A change point of a two-rate model: the start that maximises the likelihood ratio of
    "one rate before, another after" against "one rate throughout" (binomial counts). It is
    kept when the ratio is significant after a Bonferroni correction for the starts tried,
    the rate at least doubles, and both sides have real data.
    """
    if len(requests) <= 2 * WARMUP:
        return None
    cum_n, cum_e = np.cumsum(requests), np.cumsum(errors)
    starts = np.arange(WARMUP, len(requests) - 1)
    n_b, e_b = cum_n[starts - 1], cum_e[starts - 1]
    n_a, e_a = cum_n[-1] - n_b, cum_e[-1] - e_b
    llr = _binomial_loglik(e_b, n_b) + _binomial_loglik(e_a, n_a) - _binomial_loglik(cum_e[-1], cum_n[-1])
    usable = (n_b >= 20) & (n_a >= 20) & (e_a >= MIN_ERRORS) & (e_a / np.maximum(n_a, 1) > 2 * e_b / np.maximum(n_b, 1))
    llr = np.where(usable, llr, 0.0)
    best = int(np.argmax(llr))
    from scipy.stats import chi2  # lazily: see analyzer/__init__.py

    p_value = float(chi2.sf(2 * llr[best], 1)) * len(starts)
    if llr[best] <= 0 or p_value >= P_ERROR_SHIFT:
        return None
    return int(starts[best]), p_value


def _binomial_loglik(k: np.ndarray | float, n: np.ndarray | float) -> np.ndarray:
    """Maximised binomial log-likelihood of k successes in n trials (0 log 0 = 0)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / np.maximum(n, 1), 0.0)
        hits = np.where(k > 0, k * np.log(np.where(p > 0, p, 1.0)), 0.0)
        misses = np.where(n - k > 0, (n - k) * np.log(np.where(p < 1, 1 - p, 1.0)), 0.0)
    result: np.ndarray = hits + misses
    return result


def _last_run(flagged: np.ndarray, gap: int = 1) -> tuple[int, int] | None:
    """[start, end) of the last run of flagged buckets, bridging gaps of up to ``gap`` buckets."""
    hits = np.flatnonzero(flagged)
    if not len(hits):
        return None
    end = int(hits[-1]) + 1
    start = int(hits[-1])
    for index in hits[::-1][1:]:
        if start - int(index) - 1 > gap:
            break
        start = int(index)
    return start, end


def change_point(values: np.ndarray) -> tuple[int, float] | None:
    """The single upward mean shift that best splits the series (by its t statistic).

    Returns (index of the first shifted point, shift in robust standard deviations), or None
    when no split is significant.
    """
    valid = np.flatnonzero(~np.isnan(values))
    if len(valid) < 2 * WARMUP:
        return None
    x = values[valid]
    median = np.median(x[: len(x) // 2])
    scale = max(float(np.median(np.abs(x[: len(x) // 2] - median))) * 1.4826, 0.05 * abs(float(median)), 1e-3)
    scaled = (x - median) / scale
    n = len(scaled)
    cumulative = np.cumsum(scaled)
    best, best_t, best_shift = None, 0.0, 0.0
    for split in range(WARMUP, n - 2):
        left = cumulative[split - 1] / split
        right = (cumulative[-1] - cumulative[split - 1]) / (n - split)
        t = (right - left) * math.sqrt(split * (n - split) / n)
        if t > best_t:
            best, best_t, best_shift = split, t, right - left
    if best is None or best_t < CHANGE_T:
        return None
    return int(valid[best]), float(best_shift)


def _plot(values: np.ndarray, low: np.ndarray, high: np.ndarray, since_ns: int, bucket_ns: int) -> dict[str, list[Any]]:
    def clean(array: np.ndarray) -> list[float | None]:
        return [None if not math.isfinite(v) else round(float(v), 4) for v in array]

    return {
        "t": [since_ns + i * bucket_ns for i in range(len(values))],
        "value": clean(values),
        "baseline_low": clean(low),
        "baseline_high": clean(high),
    }
