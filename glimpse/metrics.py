"""glimpse's self-metrics, in the Prometheus exposition format at ``GET /metrics``.

One :class:`SelfMetrics` per server, with its own registry (tests run several servers in
one process; the library's global registry is never used). It is the receivers'
:class:`~collector.outcomes.ReceiverObserver` and the writer's
:class:`~storage.writer.WriterObserver`, so counters move once per request and histograms
once per commit or fsync, never per item. What the server already counts (queue depth,
duplicates, retention) is read when Prometheus scrapes, as is the journal directory.
Every metric is listed in docs/metrics.md.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import prometheus_client
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from collector.outcomes import REFUSAL_REASONS, TRANSPORTS, RefusalReason, Transport
from collector.signals import SIGNALS
from storage.journal import pending_segments

__all__ = ["CONTENT_TYPE", "ITEM_NOUNS", "RECEIVER", "SelfMetrics"]

CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
RECEIVER = "otlp"  # the Collector's receiver label for the same endpoints
# signal -> the item noun of the Collector's otelcol_receiver_* names
ITEM_NOUNS = {"traces": "spans", "metrics": "metric_points", "logs": "log_records"}

# a row group commits in about a second; a reader's sync or a trickle in milliseconds
COMMIT_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# an fsync on a local SSD takes well under a millisecond to a few; a network disk, more
FSYNC_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
QUERY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# an evaluation of a few rules takes milliseconds, 50 rules over a million spans about 0.4 s,
# one that ranks root causes a few seconds
RULE_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
ALERT_STATES = ("inactive", "pending", "firing", "resolved")
RECEIVERS = ("alertmanager", "webhook", "remediation")  # remediation: every hook URL together
ACTION_OUTCOMES = ("queued", "dry_run", "cooldown", "no_root_cause", "queue_full")  # remediation.OUTCOMES


class SelfMetrics:
    """The registry of one server and the calls that feed it (all thread-safe)."""

    def __init__(
        self,
        *,
        stats: Callable[[], Mapping[str, Any]],
        journal_directory: Path,
        queue_capacity_rows: int,
    ) -> None:
        """``stats`` is the server's ``/api/stats`` answer, read at each scrape."""
        # a counter's ``_total`` is its only sample: the library's ``_created`` gauge beside
        # each doubles the series, and the Collector has none (a process-wide switch)
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self._define_receiver_metrics()
        self._define_writer_metrics()
        self._query_seconds = Histogram(
            "glimpse_api_request_duration_seconds",
            "Time to answer an API request, by route template.",
            ["route"],
            buckets=QUERY_BUCKETS_S,
            registry=self.registry,
        )
        self._rule_seconds = Histogram(
            "glimpse_rule_evaluation_duration_seconds",
            "Time of one evaluation of the alert rules (root-cause ranking of alerts that fire included).",
            buckets=RULE_BUCKETS_S,
            registry=self.registry,
        )
        self.registry.register(_ScrapeTimeCollector(stats, journal_directory, queue_capacity_rows))
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, open fds, CPU
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def _define_receiver_metrics(self) -> None:
        registry = self.registry
        self._accepted_items = {
            signal: Counter(
                f"otelcol_receiver_accepted_{noun}",
                f"Number of {noun.replace('_', ' ')} stored (acknowledged to the client).",
                ["receiver", "transport"],
                registry=registry,
            )
            for signal, noun in ITEM_NOUNS.items()
        }
        self._refused_items = {
            signal: Counter(
                f"otelcol_receiver_refused_{noun}",
                f"Number of {noun.replace('_', ' ')} in requests that were decoded but not stored, by reason.",
                ["receiver", "transport", "reason"],
                registry=registry,
            )
            for signal, noun in ITEM_NOUNS.items()
        }
        self._accepted_requests = Counter(
            "glimpse_receiver_accepted_requests",
            "Export requests answered with success (partial success included).",
            ["signal", "transport"],
            registry=registry,
        )
        self._refused_requests = Counter(
            "glimpse_receiver_refused_requests",
            "Export requests answered with an error, by reason (item counts unknown before decoding).",
            ["signal", "transport", "reason"],
            registry=registry,
        )
        for signal in SIGNALS:  # every series from the start, at zero: rate() needs no first event
            for transport in TRANSPORTS:
                self._accepted_items[signal].labels(RECEIVER, transport)
                self._accepted_requests.labels(signal, transport)
                for reason in REFUSAL_REASONS:
                    self._refused_items[signal].labels(RECEIVER, transport, reason)
                    self._refused_requests.labels(signal, transport, reason)

    def _define_writer_metrics(self) -> None:
        registry = self.registry
        self._commit_seconds = Histogram(
            "glimpse_store_commit_duration_seconds",
            "Time of one DuckDB transaction that stores a chunk of journaled batches.",
            buckets=COMMIT_BUCKETS_S,
            registry=registry,
        )
        self._committed_rows = Counter(
            "glimpse_store_committed_rows",
            "Rows inserted into the store, by table (duplicates and known resources left out).",
            ["table"],
            registry=registry,
        )
        self._fsync_seconds = Histogram(
            "glimpse_journal_fsync_duration_seconds",
            "Time to write and fsync one group of journal records (exports wait for it).",
            buckets=FSYNC_BUCKETS_S,
            registry=registry,
        )
        self._journal_written = Counter(
            "glimpse_journal_written_bytes",
            "Bytes appended to the ingest journal.",
            registry=registry,
        )

    # ------------------------------------------------------------ ReceiverObserver

    def accepted(self, signal: str, transport: Transport, items: int, rejected: int = 0) -> None:
        self._accepted_requests.labels(signal, transport).inc()
        self._accepted_items[signal].labels(RECEIVER, transport).inc(items)
        if rejected:
            self._refused_items[signal].labels(RECEIVER, transport, "partial").inc(rejected)

    def refused(self, signal: str, transport: Transport, reason: RefusalReason, items: int | None = None) -> None:
        """Count one refused request (and its items, when it was decoded). The one call for
        every refusal, whoever makes it: a receiver, the Ingestor, an authenticator."""
        self._refused_requests.labels(signal, transport, reason).inc()
        if items:
            self._refused_items[signal].labels(RECEIVER, transport, reason).inc(items)

    # ------------------------------------------------------------ WriterObserver

    def commit(self, seconds: float, rows_by_table: Mapping[str, int]) -> None:
        self._commit_seconds.observe(seconds)
        for table, rows in rows_by_table.items():
            self._committed_rows.labels(table).inc(rows)

    def fsync(self, seconds: float, written_bytes: int) -> None:
        self._fsync_seconds.observe(seconds)
        self._journal_written.inc(written_bytes)

    # ------------------------------------------------------------ RuleObserver

    def rule_evaluation(self, seconds: float, *, failed: bool) -> None:
        self._rule_seconds.observe(seconds)

    # ------------------------------------------------------------ the API

    def track_route(self, route: str) -> None:
        """Expose ``route``'s latency series from the start (at zero)."""
        self._query_seconds.labels(route)

    def observe_query(self, route: str, seconds: float) -> None:
        """One API request on ``route`` (its template, e.g. ``/api/traces/{trace_id}``)."""
        self._query_seconds.labels(route).observe(seconds)

    def exposition(self) -> bytes:
        """Every metric, in the text format of :data:`CONTENT_TYPE`."""
        return prometheus_client.generate_latest(self.registry)


# stats key -> (metric name, help) of the writer's counters, read at scrape time
_WRITER_COUNTERS = {
    "acknowledged_rows": ("glimpse_writer_acknowledged_rows", "Rows journaled and acknowledged to clients."),
    "duplicate_spans": ("glimpse_store_duplicate_spans", "Spans dropped because (trace_id, span_id) was stored."),
    "failed_commits": ("glimpse_store_failed_commits", "DuckDB commits that failed (retried from the journal)."),
    "checkpoints": ("glimpse_store_checkpoints", "DuckDB checkpoints run."),
    "compactions": ("glimpse_store_compactions", "Rewrites of the spans of part row groups in storage order."),
    "replayed_batches": ("glimpse_journal_replayed_batches", "Batches committed from the journal at start."),
}


class _ScrapeTimeCollector:
    """What the server counts anyway, and the journal on disk, read at each scrape."""

    def __init__(self, stats: Callable[[], Mapping[str, Any]], journal_directory: Path, capacity_rows: int) -> None:
        self._stats = stats
        self._journal_directory = journal_directory
        self._capacity_rows = capacity_rows

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        yield GaugeMetricFamily("glimpse_writer_queued_rows", "Rows waiting in the write queue.", stats["queued_rows"])
        yield GaugeMetricFamily(
            "glimpse_writer_queue_capacity_rows",
            "Rows the write queue holds before receivers answer retry later.",
            self._capacity_rows,
        )
        for key, (name, documentation) in _WRITER_COUNTERS.items():
            yield CounterMetricFamily(name, documentation, stats.get(key, 0))
        yield from self._journal()
        yield from _retention(stats.get("retention"))
        yield from _duckdb_memory(stats.get("duckdb_memory_bytes"))
        yield from _alerting(stats.get("alerts"))
        yield GaugeMetricFamily(
            "glimpse_process_threads", "Threads of the server process (native included).", _threads()
        )

    def _journal(self) -> Iterator[Metric]:
        segments = pending_segments(self._journal_directory)
        yield GaugeMetricFamily(
            "glimpse_journal_segments", "Journal segments not committed to DuckDB yet.", len(segments)
        )
        yield GaugeMetricFamily("glimpse_journal_bytes", "Bytes in those journal segments.", _total_size(segments))
        failed = list(self._journal_directory.glob("*.failed")) if self._journal_directory.is_dir() else []
        yield GaugeMetricFamily(
            "glimpse_journal_failed_segments",
            "Journal segments set aside because they could not be committed at start.",
            len(failed),
        )


def _retention(retention: Any) -> Iterator[Metric]:
    """Rows the retention job deleted, per table, from the ``retention`` key of the stats."""
    retention = retention if isinstance(retention, Mapping) else {}
    dropped = CounterMetricFamily(
        "glimpse_retention_dropped_rows", "Rows deleted by retention, by table.", labels=["table"]
    )
    for table, rows in sorted((retention.get("dropped_rows") or {}).items()):
        dropped.add_metric([table], rows)
    yield dropped
    passes = retention.get("passes", 0)
    count = passes if isinstance(passes, int | float) else 0
    yield CounterMetricFamily("glimpse_retention_passes", "Retention passes that deleted data.", count)


def _duckdb_memory(by_tag: Any) -> Iterator[Metric]:
    """DuckDB's memory by its own tags: part of the process RSS that no other metric explains."""
    gauge = GaugeMetricFamily(
        "glimpse_duckdb_memory_bytes",
        "Memory DuckDB holds, by what for (BASE_TABLE: cached blocks; IN_MEMORY_TABLE: rows not checkpointed).",
        labels=["tag"],
    )
    for tag, used in sorted((by_tag if isinstance(by_tag, Mapping) else {}).items()):
        gauge.add_metric([tag], used)
    yield gauge


def _alerting(alerts: Any) -> Iterator[Metric]:
    """The rule loop's counts (``alerts`` of the stats; zeros without a rules file)."""
    alerts = alerts if isinstance(alerts, Mapping) else {}
    yield GaugeMetricFamily("glimpse_rules_loaded", "Alert rules loaded from the rules file.", alerts.get("rules", 0))
    evaluations, failures = alerts.get("evaluations", 0), alerts.get("failures", 0)
    yield CounterMetricFamily(
        "glimpse_rule_evaluations", "Evaluations of the alert rules, failed ones included.", evaluations + failures
    )
    yield CounterMetricFamily(
        "glimpse_rule_evaluation_failures", "Evaluations of the alert rules that failed (logged).", failures
    )
    states = GaugeMetricFamily("glimpse_alerts", "Alerts of the loaded rules, by state.", labels=["state"])
    for state in ALERT_STATES:
        states.add_metric([state], (alerts.get("states") or {}).get(state, 0))
    yield states
    yield from _notifications(_deliveries(alerts))
    actions = CounterMetricFamily(
        "glimpse_remediation_actions", "Remediation actions asked for, by outcome.", labels=["outcome"]
    )
    for outcome in ACTION_OUTCOMES:
        actions.add_metric([outcome], (alerts.get("actions") or {}).get(outcome, 0))
    yield actions


def _deliveries(alerts: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Receiver -> sent, failed, dropped, queued; the remediation hooks summed as one receiver."""
    found = {name: {"sent": 0, "failed": 0, "dropped": 0, "queued": 0} for name in RECEIVERS}
    hooks = [("remediation", counts) for counts in (alerts.get("remediation") or {}).values()]
    for name, counts in [*(alerts.get("notifications") or {}).items(), *hooks]:
        kept = found.setdefault(name, {"sent": 0, "failed": 0, "dropped": 0, "queued": 0})
        for key in kept:
            kept[key] += int(counts.get(key, 0))
    return found


def _notifications(deliveries: Mapping[str, Mapping[str, int]]) -> Iterator[Metric]:
    meanings = {
        "sent": "Notifications delivered (answered 2xx), by receiver.",
        "failed": "Notifications given up after every try (logged), by receiver.",
        "dropped": "Notifications dropped because the receiver's queue was full (logged), by receiver.",
    }
    for key, documentation in meanings.items():
        family = CounterMetricFamily(f"glimpse_alert_notifications_{key}", documentation, labels=["receiver"])
        for name, counts in sorted(deliveries.items()):
            family.add_metric([name], counts[key])
        yield family
    queued = GaugeMetricFamily(
        "glimpse_alert_notifications_queued", "Notifications waiting in the receiver's queue.", labels=["receiver"]
    )
    for name, counts in sorted(deliveries.items()):
        queued.add_metric([name], counts["queued"])
    yield queued


def _total_size(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with suppress(FileNotFoundError):  # committed and deleted since it was listed
            total += path.stat().st_size
    return total


def _threads() -> int:
    try:
        with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return threading.active_count()  # not Linux: Python's threads only
