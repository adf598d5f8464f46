"""Readers for the Nezha Train-Ticket data set (../shared/research-data/nezha-trainticket).

Pure data access, nothing about glimpse: the fault labels, the spans of every trace CSV
(``rca_data`` and the fault-free ``construct_data`` window), their log lines and the per-pod
metric CSVs.
Formats and the time-alignment trap are described in the data set's README:

- ``inject_time`` is a wall-clock time that lines up with the span and metric timestamps
  when parsed **as UTC**; ``inject_timestamp`` is ~8 h off (and sometimes more), never used.
- Span ``Duration`` is in microseconds and equals ``(End - Start) / 1000``; the Unix-ns
  start and end are used instead.
- ``TraceID`` is 32 lowercase hex digits and ``SpanID``/``ParentID`` 16 (checked by
  :func:`read_spans`), so they are OTLP's 16- and 8-byte ids as they are; ``ParentID``
  is the literal ``root`` for root spans.
- Files overlap: some spans appear in two or three files (and a few twice in one file),
  always as byte-identical rows. They are kept, as a replaying exporter would send them.
- Log lines are one line of the service's Java logger inside a JSON object (``Log``),
  ``HH:MM:SS.mmm LEVEL logger#line TraceID: .. SpanID: .. message``; the clock in the text is
  UTC+8, so the record's time is ``TimeUnixNano`` (``Timestamp`` where that is garbage). A
  few rows do not parse: they are counted and skipped, as a log pipeline's parser would.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = [
    "DAY",
    "MINUTE_NS",
    "SOURCES",
    "Fault",
    "LogRow",
    "MetricRow",
    "SpanRow",
    "read_faults",
    "read_logs",
    "read_metrics",
    "read_spans",
    "service_of",
    "trace_files",
]

DAY = "2023-01-29"
MINUTE_NS = 60 * 10**9
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
ROOT_PARENT = "root"


def service_of(pod: str) -> str:
    """``ts-contacts-service-866bd68c97-xcqfx`` -> ``ts-contacts-service`` (the last two dash parts go)."""
    return pod.rsplit("-", 2)[0]


@dataclass(frozen=True)
class Fault:
    """One labelled injection; ``inject_ns`` is ``inject_time`` read as UTC."""

    inject_ns: int
    pod: str
    kind: str  # return | exception | cpu_contention | network_delay

    @property
    def service(self) -> str:
        return service_of(self.pod)

    @property
    def clock(self) -> str:
        return datetime.fromtimestamp(self.inject_ns / 1e9, tz=timezone.utc).strftime("%H:%M:%S")


@dataclass(frozen=True)
class SpanRow:
    """One row of a trace CSV; ids are lowercase hex, ``parent_id`` is "" for a root."""

    trace_id: str
    span_id: str
    parent_id: str
    pod: str
    operation: str
    start_ns: int
    end_ns: int


@dataclass(frozen=True)
class LogRow:
    """One parsed log line: the logger's level, class and line number, and the message."""

    time_ns: int
    pod: str
    trace_id: str
    span_id: str
    level: str
    logger: str
    line: int
    message: str


@dataclass(frozen=True)
class MetricRow:
    """One row of a pod metric CSV: the pod, the sample time and every numeric column."""

    pod: str
    time_ns: int
    values: dict[str, float]


def _utc_ns(text: str) -> int:
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * 10**9


def read_faults(root: Path, day: str = DAY) -> list[Fault]:
    """The labelled faults of ``day``, in time order (``inject_time`` parsed as UTC)."""
    path = root / "rca_data" / day / f"{day}-fault_list.json"
    by_hour = json.loads(path.read_text(encoding="utf-8"))
    faults = [
        Fault(_utc_ns(entry["inject_time"]), entry["inject_pod"], entry["inject_type"])
        for entries in by_hour.values()
        for entry in entries
    ]
    return sorted(faults, key=lambda fault: fault.inject_ns)


SOURCES = ("rca_data", "construct_data")


def trace_files(root: Path, day: str = DAY, sources: Sequence[str] = SOURCES) -> list[Path]:
    """The trace CSVs of the day: the fault minutes (rca_data), the normal window (construct_data)."""
    files = [path for source in sources for path in root.glob(f"{source}/{day}/trace/*_trace.csv")]
    return sorted(files, key=lambda path: path.name)


def _span(record: dict[str, str], path: Path) -> SpanRow:
    trace_id, span_id, parent = record["TraceID"], record["SpanID"], record["ParentID"]
    parent_id = "" if parent == ROOT_PARENT else parent
    if not (
        _TRACE_ID.fullmatch(trace_id)
        and _SPAN_ID.fullmatch(span_id)
        and (not parent_id or _SPAN_ID.fullmatch(parent_id))
    ):
        # Every id of the 2023-01-29 data is well-formed hex; anything else would need hashed ids.
        raise ValueError(f"{path.name}: unexpected id format {trace_id!r}/{span_id!r}/{parent!r}")
    return SpanRow(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        pod=record["PodName"],
        operation=record["OperationName"],
        start_ns=int(record["StartTimeUnixNano"]),
        end_ns=int(record["EndTimeUnixNano"]),
    )


def read_spans(root: Path, day: str = DAY, sources: Sequence[str] = SOURCES) -> list[SpanRow]:
    """All spans of the trace CSVs, file by file in time order (duplicates across files kept)."""
    spans: list[SpanRow] = []
    for path in trace_files(root, day, sources):
        with path.open(newline="", encoding="utf-8") as handle:
            spans.extend(_span(record, path) for record in csv.DictReader(handle))
    return spans


def metric_files(root: Path, day: str = DAY) -> list[Path]:
    """The per-pod metric CSVs (``front_service.csv``, a front-end SLI without a pod, is not one)."""
    return sorted((root / "rca_data" / day / "metric").glob("*_metric.csv"))


def _metric_rows(path: Path) -> Iterator[MetricRow]:
    with path.open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            values = {
                name: float(value)
                for name, value in record.items()
                if name not in ("Time", "TimeStamp", "PodName") and value not in (None, "")
            }
            yield MetricRow(record["PodName"], int(record["TimeStamp"]) * 10**9, values)


def read_metrics(root: Path, day: str = DAY, *, since_ns: int = 0, until_ns: int = 2**63 - 1) -> list[MetricRow]:
    """Per-pod metric rows with ``since_ns <= time < until_ns``."""
    return [row for path in metric_files(root, day) for row in _metric_rows(path) if since_ns <= row.time_ns < until_ns]


_LOG_LINE = re.compile(r"^\S+\s+([A-Z]+)\s+(\S+?)#(\d+)\s+TraceID:\s*\S*\s+SpanID:\s*\S*\s?(.*)$", re.S)
_EARLIEST_NS = 10**18  # 2001: anything before is a garbage TimeUnixNano


def log_files(root: Path, day: str = DAY, sources: Sequence[str] = SOURCES) -> list[Path]:
    """The log files of the day, in time order (the same minutes as the trace CSVs)."""
    files = [path for source in sources for path in root.glob(f"{source}/{day}/log/*_log.csv.gz")]
    return sorted(files, key=lambda path: path.name)


def _log_time(record: dict[str, str]) -> int | None:
    try:
        time_ns = int(record["TimeUnixNano"])
    except (TypeError, ValueError):
        time_ns = 0
    if time_ns >= _EARLIEST_NS:
        return time_ns
    try:
        stamp = datetime.fromisoformat(record["Timestamp"].rstrip("Z")[:26]).replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return None
    return int(stamp.timestamp() * 10**6) * 1000


def _log(record: dict[str, str]) -> LogRow | None:
    try:
        line = json.loads(record["Log"])["log"].rstrip("\n")
    except (TypeError, ValueError, KeyError):
        return None
    parsed = _LOG_LINE.match(line)
    time_ns = _log_time(record)
    if parsed is None or time_ns is None or not _TRACE_ID.fullmatch(record["TraceID"] or ""):
        return None
    level, logger, number, message = parsed.groups()
    span_id = record["SpanID"] if _SPAN_ID.fullmatch(record["SpanID"] or "") else ""
    return LogRow(time_ns, record["PodName"], record["TraceID"], span_id, level, logger, int(number), message)


def read_logs(root: Path, day: str = DAY, sources: Sequence[str] = SOURCES) -> tuple[list[LogRow], int]:
    """Every parsed log line of the day (duplicates of overlapping files kept) and how many did not parse."""
    rows: list[LogRow] = []
    skipped = 0
    for path in log_files(root, day, sources):
        with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                row = _log(record)
                if row is None:
                    skipped += 1
                else:
                    rows.append(row)
    return rows, skipped
