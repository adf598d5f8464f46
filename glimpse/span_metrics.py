"""Span-derived RED metrics at ``GET /metrics/spans``, named as the OpenTelemetry Collector's
``spanmetrics`` and ``servicegraph`` connectors name them, so that Grafana's service graph
and RED panels (and dashboards written for the connectors) work from glimpse.

The counts come from the store (:func:`analyzer.query_service.span_metrics.span_metrics`,
whose calls are ``glimpse graph``'s), for span time up to a cutoff: the wall clock less
``delay_s``, in whole seconds, so that a span is counted once its exporters have sent it.
Each scrape counts the span time since the previous cutoff once, in one window, and adds
it to what was counted before: the counters are cumulative from the server's start, as
Prometheus counters must be (``rate()`` and ``increase()`` work); a restart starts them
again at zero, which Prometheus takes as a counter reset. A span that arrives after its
time was counted is not counted, as the connectors drop what comes after their wait, and
a call whose client and server spans fall on two sides of a cutoff is paired as the
graph pairs it within each window. The window counted so far is exposed as
``glimpse_span_metrics_window_start_seconds`` and ``..._end_seconds``: over it, the
counters equal ``glimpse graph --json --since START --until END`` when every call fits
one window.

Labels follow the connectors: ``service_name``, ``span_name``, ``span_kind``
(``SPAN_KIND_SERVER``, ...) and ``status_code`` (``STATUS_CODE_ERROR``, ...) on span
metrics; ``client``, ``server``, ``connection_type`` (``""``, ``messaging_system``,
``database``, ``virtual_node``) and ``failed`` on service-graph metrics. A side of a call
without a span (a request from outside, an uninstrumented peer) counts a 0-second sample,
except a database's server side, which takes the client's duration (as the connector does).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import prometheus_client
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from analyzer.query_service.span_metrics import DEFAULT_BOUNDS_S, span_metrics
from storage.store import on_connection

__all__ = ["CONNECTION_TYPES", "DEFAULT_DELAY_S", "SpanMetrics", "SpanMetricsExposition"]

DEFAULT_DELAY_S = 30.0
_SECOND_NS = 1_000_000_000
# glimpse's connection types -> the servicegraph connector's
CONNECTION_TYPES = {"messaging": "messaging_system", "database": "database", "virtual": "virtual_node"}
_KINDS = {
    "Unspecified": "SPAN_KIND_UNSPECIFIED",
    "Internal": "SPAN_KIND_INTERNAL",
    "Server": "SPAN_KIND_SERVER",
    "Client": "SPAN_KIND_CLIENT",
    "Producer": "SPAN_KIND_PRODUCER",
    "Consumer": "SPAN_KIND_CONSUMER",
}
_STATUSES = {"Unset": "STATUS_CODE_UNSET", "Ok": "STATUS_CODE_OK", "Error": "STATUS_CODE_ERROR"}
SPAN_LABELS = ["service_name", "span_name", "span_kind", "status_code"]
CALL_LABELS = ["client", "server", "connection_type", "failed"]


@dataclass
class _Histogram:
    """Counts per bucket (not cumulative; the last one past the last bound) and the sum."""

    buckets: list[int]
    sum_s: float = 0.0

    def add(self, buckets: Sequence[int], sum_ns: int, zeros: int = 0) -> None:
        for index, count in enumerate(buckets):
            self.buckets[index] += count
        self.buckets[0] += zeros
        self.sum_s += sum_ns / 1e9

    @property
    def count(self) -> int:
        return sum(self.buckets)


@dataclass
class _Calls:
    calls: int = 0
    client: _Histogram = field(default_factory=lambda: _Histogram([]))
    server: _Histogram = field(default_factory=lambda: _Histogram([]))


class SpanMetrics:
    """The cumulative span and call counts of one server (thread-safe)."""

    def __init__(
        self,
        connect: Callable[[], duckdb.DuckDBPyConnection],
        *,
        delay_s: float = DEFAULT_DELAY_S,
        bounds_s: Sequence[float] = DEFAULT_BOUNDS_S,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._connect = connect
        self._delay_ns = round(delay_s * _SECOND_NS)
        self.bounds_s = tuple(bounds_s)
        self._clock_ns = clock_ns
        self.start_ns = self.end_ns = clock_ns() // _SECOND_NS * _SECOND_NS
        self._spans: dict[tuple[str, ...], tuple[int, _Histogram]] = {}
        self._calls: dict[tuple[str, ...], _Calls] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Count the span time from the last cutoff to the new one (if it moved)."""
        with self._lock:
            cutoff = (self._clock_ns() - self._delay_ns) // _SECOND_NS * _SECOND_NS
            if cutoff <= self.end_ns:
                return
            window = on_connection(
                self._connect, span_metrics, since_ns=self.end_ns, until_ns=cutoff, bounds_s=self.bounds_s
            )
            self._add(window)
            self.end_ns = cutoff

    def _add(self, window: Mapping[str, Any]) -> None:
        size = len(self.bounds_s) + 1
        for row in window["spans"]:
            key = (row["service"], row["name"], _KINDS.get(row["kind"], row["kind"]), _STATUSES[row["status_code"]])
            calls, histogram = self._spans.get(key, (0, _Histogram([0] * size)))
            histogram.add(row["duration"]["buckets"], row["duration"]["sum_ns"])
            self._spans[key] = (calls + row["calls"], histogram)
        for row in window["calls"]:
            connection_type = CONNECTION_TYPES.get(row["connection_type"], "")
            key = (row["client"], row["server"], connection_type, "true" if row["failed"] else "false")
            series = self._calls.setdefault(key, _Calls(0, _Histogram([0] * size), _Histogram([0] * size)))
            series.calls += row["calls"]
            client, server = row["client_duration"], row["server_duration"]
            series.client.add(client["buckets"], client["sum_ns"], zeros=client["missing"])
            if connection_type == "database" and server["missing"]:
                series.server.add(client["buckets"], client["sum_ns"], zeros=client["missing"])
            else:
                series.server.add(server["buckets"], server["sum_ns"], zeros=server["missing"])

    def collect(self) -> Iterator[Metric]:
        """The metric families as they stand (prometheus_client's collector protocol)."""
        with self._lock:
            yield from self._span_families()
            yield from self._call_families()
            yield GaugeMetricFamily(
                "glimpse_span_metrics_window_start_seconds",
                "Span time from which the span metrics count (unix seconds): when the server started.",
                self.start_ns / _SECOND_NS,
            )
            yield GaugeMetricFamily(
                "glimpse_span_metrics_window_end_seconds",
                "Span time up to which the span metrics have counted (unix seconds, exclusive).",
                self.end_ns / _SECOND_NS,
            )

    def _span_families(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "traces_span_metrics_calls", "Spans, by service, name, kind and status.", labels=SPAN_LABELS
        )
        duration = HistogramMetricFamily("traces_span_metrics_duration_seconds", "Span durations.", labels=SPAN_LABELS)
        for key, (count, histogram) in sorted(self._spans.items()):
            calls.add_metric(list(key), count)
            duration.add_metric(list(key), self._cumulative(histogram), sum_value=histogram.sum_s)
        yield calls
        yield duration

    def _call_families(self) -> Iterator[Metric]:
        total = CounterMetricFamily(
            "traces_service_graph_request", "Requests between two nodes of the service graph.", labels=CALL_LABELS
        )
        failed = CounterMetricFamily(
            "traces_service_graph_request_failed", "Failed requests between two nodes.", labels=CALL_LABELS
        )
        server = HistogramMetricFamily(
            "traces_service_graph_request_server_seconds",
            "Request durations as the server saw them.",
            labels=CALL_LABELS,
        )
        client = HistogramMetricFamily(
            "traces_service_graph_request_client_seconds",
            "Request durations as the client saw them.",
            labels=CALL_LABELS,
        )
        for key, series in sorted(self._calls.items()):
            total.add_metric(list(key), series.calls)
            if key[3] == "true":
                failed.add_metric(list(key), series.calls)
            server.add_metric(list(key), self._cumulative(series.server), sum_value=series.server.sum_s)
            client.add_metric(list(key), self._cumulative(series.client), sum_value=series.client.sum_s)
        yield from (total, failed, server, client)

    def _cumulative(self, histogram: _Histogram) -> list[tuple[str, float]]:
        buckets: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*self.bounds_s, float("inf")), histogram.buckets, strict=True):
            running += count
            buckets.append((floatToGoString(bound), running))  # type: ignore[no-untyped-call]
        return buckets


class SpanMetricsExposition:
    """``GET /metrics/spans``: count the new span time, then the text exposition."""

    def __init__(self, metrics: SpanMetrics) -> None:
        self.metrics = metrics
        self.registry = CollectorRegistry()
        self.registry.register(metrics)

    def __call__(self) -> bytes:
        self.metrics.refresh()
        return prometheus_client.generate_latest(self.registry)
