"""A learned trace-level detector, evaluated against glimpse's ranking (issue 7 asks to keep one
only where the benchmark shows it adds accuracy).

An isolation forest (written here with numpy: random axis-aligned splits, path lengths) is
trained on the baseline window's traces, each a vector of its structure and latencies: per
service, the number of spans and the log of their total exclusive time. Incident traces
scoring above the baseline's 99th percentile are anomalous; services, pods and peers are then
ranked by how much better they explain the anomalous traces than the normal ones (Ochiai).
``bench.rca`` reports this ranking as the ``iforest`` column.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import duckdb
import numpy as np

TREES = 100
SAMPLE = 256
MAX_TRACES = 5000  # per window, a seeded sample

_FEATURES = """
WITH spans AS (
    SELECT trace_id, span_id, parent_span_id, service_name, duration, epoch_ns(timestamp) AS start_ns,
           coalesce(k8s_pod_name, service_instance_id) AS instance,
           CASE WHEN span_kind IN ('Client', 'Producer') THEN coalesce(peer_service, server_address) END AS peer,
           timestamp >= make_timestamp_ns($i_since) AS incident
    FROM otel_traces
    WHERE ((timestamp >= make_timestamp_ns($b_since) AND timestamp < make_timestamp_ns($b_until))
        OR (timestamp >= make_timestamp_ns($i_since) AND timestamp < make_timestamp_ns($i_until)))
      AND hash(trace_id) % 1000 < $per_mille
),
children AS (
    SELECT trace_id, parent_span_id AS span_id, sum(duration) AS child_ns FROM spans GROUP BY ALL
)
SELECT s.trace_id, bool_or(s.incident) AS incident, s.service_name, count(*) AS spans,
       sum(greatest(s.duration - coalesce(c.child_ns, 0), 0)) AS self_ns,
       list(DISTINCT s.instance) AS instances, list(DISTINCT s.peer) FILTER (WHERE s.peer IS NOT NULL) AS peers
FROM spans AS s LEFT JOIN children AS c USING (trace_id, span_id)
GROUP BY s.trace_id, s.service_name
ORDER BY s.trace_id, s.service_name  -- the forest's sample depends on the order: keep runs the same
"""


def _c(n: int) -> float:
    """Average path length of an unsuccessful search in a binary search tree of n points."""
    return 2 * (math.log(n - 1) + 0.5772156649) - 2 * (n - 1) / n if n > 2 else (1.0 if n == 2 else 0.0)


def _grow(x: np.ndarray, rng: np.random.Generator, depth: int, limit: int) -> Any:
    if depth >= limit or len(x) <= 1:
        return ("leaf", len(x))
    spread = x.max(axis=0) - x.min(axis=0)
    features = np.flatnonzero(spread > 0)
    if not len(features):
        return ("leaf", len(x))
    feature = int(rng.choice(features))
    split = float(rng.uniform(x[:, feature].min(), x[:, feature].max()))
    left = x[:, feature] < split
    return ("node", feature, split, _grow(x[left], rng, depth + 1, limit), _grow(x[~left], rng, depth + 1, limit))


def _path(tree: Any, point: np.ndarray, depth: int = 0) -> float:
    while tree[0] == "node":
        _, feature, split, left, right = tree
        tree = left if point[feature] < split else right
        depth += 1
    return depth + _c(tree[1])


def isolation_scores(train: np.ndarray, test: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Anomaly scores (0..1, higher is stranger) of the training and the test points."""
    rng = np.random.default_rng(seed)
    size = min(SAMPLE, len(train))
    limit = math.ceil(math.log2(max(size, 2)))
    trees = [_grow(train[rng.choice(len(train), size, replace=False)], rng, 0, limit) for _ in range(TREES)]

    def score(points: np.ndarray) -> np.ndarray:
        lengths = np.array([[_path(t, p) for t in trees] for p in points]).mean(axis=1)
        return np.asarray(2 ** (-lengths / _c(size)))

    return score(train), score(test)


def iforest_ranking(con: duckdb.DuckDBPyConnection, baseline: tuple[int, int], incident: tuple[int, int]) -> list[dict]:
    traces = con.execute("SELECT count(DISTINCT trace_id) FROM otel_traces").fetchone()
    per_mille = min(1000, max(1, int(1000 * 2 * MAX_TRACES / max(traces[0] if traces else 1, 1))))
    params = {
        "b_since": baseline[0],
        "b_until": baseline[1],
        "i_since": incident[0],
        "i_until": incident[1],
        "per_mille": per_mille,
    }
    rows = con.execute(_FEATURES, params).fetchall()
    services = sorted({r[2] for r in rows})
    column = {s: i for i, s in enumerate(services)}
    vectors: dict[str, np.ndarray] = {}
    is_incident: dict[str, bool] = {}
    touched: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for trace_id, incident_flag, service, spans, self_ns, instances, peers in rows:
        vector = vectors.setdefault(trace_id, np.zeros(2 * len(services)))
        vector[column[service]] = spans
        vector[len(services) + column[service]] = math.log1p(self_ns / 1e6)
        is_incident[trace_id] = is_incident.get(trace_id, False) or bool(incident_flag)
        touched[trace_id].add(("service", service))
        touched[trace_id].update(("instance", i) for i in instances or [] if i)
        touched[trace_id].update(("peer", p) for p in peers or [])
    train_ids = [t for t in vectors if not is_incident[t]]
    test_ids = [t for t in vectors if is_incident[t]]
    if len(train_ids) < 10 or not test_ids:
        return []
    train_scores, test_scores = isolation_scores(
        np.array([vectors[t] for t in train_ids]), np.array([vectors[t] for t in test_ids])
    )
    threshold = float(np.quantile(train_scores, 0.99))
    anomalous = {t for t, s in zip(test_ids, test_scores, strict=True) if s > threshold}
    ef: dict[tuple[str, str], int] = defaultdict(int)
    ep: dict[tuple[str, str], int] = defaultdict(int)
    for trace_id in test_ids:
        for entity in touched[trace_id]:
            (ef if trace_id in anomalous else ep)[entity] += 1
    ranked = []
    for entity in set(ef) | set(ep):
        f, p = ef[entity], ep[entity]
        ochiai = f / math.sqrt(len(anomalous) * (f + p)) if f and anomalous else 0.0
        kind = {"peer": "database"}.get(entity[0], entity[0])
        ranked.append(
            {"kind": kind, "name": entity[1], "service": entity[1] if kind == "service" else None, "score": ochiai}
        )
    return sorted(ranked, key=lambda c: (-c["score"], c["kind"], c["name"]))  # ties by name, not set order
