"""Read queries about log records: searches, counts per masked message, one trace's records
(SQL in queries/logs/, over the shared ``{log_records}`` fragment), and the OpenTelemetry
severity levels they filter by.

A record's time is its timestamp, else its observed time. Nothing matching gives an
empty list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import duckdb

from storage.named_queries import run_query
from storage.rows import LogGroupRow, LogRecordRow, TraceLogRow
from storage.sizes import memory_limit_bytes
from storage.window import SpanWindow

__all__ = [
    "LOG_BYTES_PER_RECORD",
    "SAMPLED_BELOW",
    "SEVERITY_LEVELS",
    "UNSPECIFIED",
    "LogCut",
    "LogQuery",
    "cut_log_window",
    "kept_whole",
    "log_bounds",
    "log_group_rows",
    "log_record_count",
    "message_masks",
    "normalise_span_id",
    "parse_severity",
    "search_log_rows",
    "severity_name",
    "severity_of_text",
    "trace_log_rows",
    "window_masked_messages",
]

# The level from which a level-sampled read keeps every record (below it, one in n).
SAMPLED_BELOW = "WARN"
# DuckDB's memory a log query gives each record it reads, for the stored records one query
# reads at most (DuckDB's memory limit over this; a window of more is read in slices of whole
# cells of time): a record's body and the keys read from its attributes are held until the
# records are deduplicated. Measured 2026-12-07 on the 50-million-span generated store in
# DuckDB's 128 MiB: a search of 300,000 records fitted, 500,000 did not.
LOG_BYTES_PER_RECORD = 512

# The OpenTelemetry log data model's severity ranges: each level's first number (a level
# spans four: WARN is 13-16, WARN2 is 14, ...).
SEVERITY_LEVELS = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17, "FATAL": 21}
UNSPECIFIED = "UNSPECIFIED"

# Severity texts that other logging libraries write (syslog, Java, Python, Go...), read as the
# level they mean when a record has severity_text but no severity_number.
_TEXT_ALIASES = {
    "WARNING": "WARN",
    "INFORMATION": "INFO",
    "NOTICE": "INFO",
    "ERR": "ERROR",
    "SEVERE": "ERROR",
    "CRITICAL": "FATAL",
    "CRIT": "FATAL",
    "ALERT": "FATAL",
    "EMERG": "FATAL",
    "EMERGENCY": "FATAL",
    "PANIC": "FATAL",
    "FINE": "DEBUG",
    "CONFIG": "DEBUG",
    "FINER": "TRACE",
    "FINEST": "TRACE",
}
_SHORT_NAME = re.compile(r"([A-Z]+)([1-4])?")


def severity_of_text(text: str) -> int:
    """The severity number a severity text names (0 when it names none): the OpenTelemetry
    short names (``WARN``, ``ERROR3``) and the usual aliases, in any case.

    >>> severity_of_text("warning"), severity_of_text("ERROR3"), severity_of_text("verbose")
    (13, 19, 0)
    """
    match = _SHORT_NAME.fullmatch(text.strip().upper())
    if not match:
        return 0
    name = _TEXT_ALIASES.get(match.group(1), match.group(1))
    if name not in SEVERITY_LEVELS or (match.group(2) and match.group(1) != name):
        return 0
    return SEVERITY_LEVELS[name] + int(match.group(2) or 1) - 1


def parse_severity(text: str) -> int:
    """A minimum severity as given by a user (a level name, a short name such as ``WARN2``,
    an alias such as ``WARNING``, or a number from 1 to 24) -> its number, or ValueError.

    >>> parse_severity("warn"), parse_severity("17"), parse_severity("critical")
    (13, 17, 21)
    """
    value = text.strip()
    if value.isascii() and value.isdigit():
        if 1 <= int(value) <= 24:
            return int(value)
        raise ValueError(f"a severity number is from 1 to 24, got {text!r}")
    number = severity_of_text(value)
    if not number:
        names = ", ".join(SEVERITY_LEVELS)
        raise ValueError(f"unknown severity {text!r}: use {names} (or a number from 1 to 24)")
    return number


def severity_name(number: int, text: str) -> str:
    """A record's level: by its severity number (OpenTelemetry's ranges), else by its text,
    else ``UNSPECIFIED``.

    >>> severity_name(14, ""), severity_name(0, "Warning"), severity_name(0, "")
    ('WARN', 'WARN', 'UNSPECIFIED')
    """
    if number <= 0:
        number = severity_of_text(text)
        if not number:
            return UNSPECIFIED
    level = UNSPECIFIED
    for name, first in SEVERITY_LEVELS.items():
        if number >= first:
            level = name
    return level


def _texts_at_or_above(number: int) -> list[str]:
    """Every severity text that :func:`severity_of_text` reads as ``number`` or more."""
    names = [*SEVERITY_LEVELS, *_TEXT_ALIASES]
    texts = [name + suffix for name in names for suffix in ("", "1", "2", "3", "4")]
    return sorted(text for text in texts if severity_of_text(text) >= number)


_SPAN_ID = re.compile(r"[0-9a-f]{16}")


def normalise_span_id(text: str) -> str:
    """Lowercase hex of 16 digits, or ValueError.

    >>> normalise_span_id("B7AD6B7169203331")
    'b7ad6b7169203331'
    """
    span_id = text.strip().lower()
    if not _SPAN_ID.fullmatch(span_id):
        raise ValueError(f"not a span id (16 hex digits): {text!r}")
    return span_id


@dataclass(frozen=True, kw_only=True)
class LogQuery:
    """A log search over the window [since_ns, until_ns): every filter optional.

    ``masked`` keeps the records whose masked message is one of these (a template filter,
    resolved by the caller into the masked messages of its templates); ``min_severity``
    keeps records at or above a severity number, and records without one whose severity
    text means such a level. ``record_sample`` above 1 reads every record at or above
    :data:`SAMPLED_BELOW` and one in ``record_sample`` of the others (:func:`sample_params`).
    """

    since_ns: int
    until_ns: int
    service: str | None = None
    min_severity: int | None = None
    trace_id: str | None = None
    span_id: str | None = None
    text: str | None = None
    masked: Sequence[str] | None = None
    limit: int = 100
    record_sample: int = 1

    def queries(self, end: str) -> tuple[str, ...]:
        """The named queries of this search ended by ``end``: the filters, then the template
        filter only when there is one (it masks every matching record)."""
        return ("logs/filtered", "logs/any_template" if self.masked is None else "logs/of_templates", end)

    def params(self) -> dict[str, Any]:
        params = {
            "since": self.since_ns,
            "until": self.until_ns,
            "service": self.service,
            "min_severity": self.min_severity,
            "severity_texts": None if self.min_severity is None else _texts_at_or_above(self.min_severity),
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "text": self.text,
            **sample_params(self.record_sample),
        }
        if self.masked is not None:
            params["masked"] = list(self.masked)
        return params


def log_bounds(con: duckdb.DuckDBPyConnection) -> tuple[int | None, int | None]:
    """The first and the last record time in the store (None, None when there is no record)."""
    row = run_query(con, "logs/bounds")[0]
    return row["first_ns"], row["last_ns"]


def sample_params(record_sample: int) -> dict[str, Any]:
    """The parameters of the level-sampled log records (``{level_sampled_log_records}``):
    every record at or above :data:`SAMPLED_BELOW`, by its severity number or else its
    text, and one in ``record_sample`` of the others (every record when it is 1)."""
    kept_from = SEVERITY_LEVELS[SAMPLED_BELOW]
    return {"record_sample": record_sample, "kept_from": kept_from, "kept_texts": _texts_at_or_above(kept_from)}


def kept_whole(severity_number: int, severity_text: str) -> bool:
    """Whether a record is at or above :data:`SAMPLED_BELOW`, so that a level-sampled read
    keeps it whatever the sample (the rule of :func:`sample_params`, for rows already read).

    >>> kept_whole(13, ""), kept_whole(9, "ERROR"), kept_whole(0, "Warning"), kept_whole(0, "")
    (True, False, True, False)
    """
    number = severity_number if severity_number > 0 else severity_of_text(severity_text)
    return number >= SEVERITY_LEVELS[SAMPLED_BELOW]


def log_record_count(con: duckdb.DuckDBPyConnection, window: SpanWindow) -> int:
    """The records stored in the window, copies an exporter sent twice included (a quick
    count of what a read of the window would go through)."""
    return int(run_query(con, "logs/count", params=window.params)[0]["records"])


@dataclass(frozen=True)
class LogCut:
    """A window's stored records counted once for a request: how many there are (copies an
    exporter sent twice counted twice), and the slices, oldest first, that reads of them go
    in (see :func:`cut_log_window`)."""

    records: int
    slices: tuple[SpanWindow, ...]


def cut_log_window(con: duckdb.DuckDBPyConnection, window: SpanWindow, max_records: int | None = None) -> LogCut:
    """The window's records counted per cell and cut into slices of at most ``max_records``
    each (default: what DuckDB's memory limit holds, :data:`LOG_BYTES_PER_RECORD`): the
    window alone when it holds no more, or when ``con`` is not DuckDB's (Spark spills on its
    own; the records are then counted whole). A record and its copies share their time, so
    each is in one slice only."""
    if max_records is None:
        memory = memory_limit_bytes(con)
        if memory is None:
            return LogCut(log_record_count(con, window), (window,))
        max_records = max(1, memory // LOG_BYTES_PER_RECORD)
    cells = [
        (row["cell"], row["records"])
        for row in run_query(con, "logs/slice_cells", params={**window.params, "cell": window.cell_ns})
    ]
    return LogCut(sum(records for _, records in cells), tuple(window.slices(cells, max_records)))


def _in(query: LogQuery, part: SpanWindow) -> LogQuery:
    return replace(query, since_ns=part.since_ns, until_ns=part.until_ns)


def window_masked_messages(con: duckdb.DuckDBPyConnection, cut: LogCut, record_sample: int = 1) -> list[str]:
    """The distinct masked messages of the records of a window ``cut`` for the request, sorted
    (what templates are mined from); with ``record_sample`` above 1, of the records
    :func:`sample_params` keeps."""
    found: set[str] = set()
    for part in cut.slices:
        params = {**part.params, **sample_params(record_sample)}
        found.update(row["masked"] for row in run_query(con, "logs/masked", params=params))
    return sorted(found)


def search_log_rows(con: duckdb.DuckDBPyConnection, query: LogQuery, cut: LogCut) -> list[LogRecordRow]:
    """The newest ``query.limit`` matching records, newest first (a total order): slice by
    slice of the query's window ``cut`` for the request, from its end until that many are
    found."""
    rows: list[LogRecordRow] = []
    for part in reversed(cut.slices):
        params = {**_in(query, part).params(), "limit": query.limit - len(rows)}
        rows += cast(list[LogRecordRow], run_query(con, *query.queries("logs/search"), params=params))
        if len(rows) >= query.limit:
            break
    return rows


def message_masks(con: duckdb.DuckDBPyConnection, messages: Sequence[str]) -> dict[str, str]:
    """message -> masked message, for the given messages."""
    if not messages:
        return {}
    params = {"messages": sorted(set(messages))}
    return {row["message"]: row["masked"] for row in run_query(con, "logs/message_masks", params=params)}


def log_group_rows(con: duckdb.DuckDBPyConnection, query: LogQuery, cut: LogCut) -> list[LogGroupRow]:
    """The matching records counted per (masked message, service, severity number, severity
    text), with first and last time and the earliest record as an example; slice by slice of
    the query's window ``cut`` for the request, oldest first, so that a group's example is
    from the first slice that holds it."""
    groups: dict[tuple[Any, ...], LogGroupRow] = {}
    for part in cut.slices:
        for row in run_query(con, *query.queries("logs/template_groups"), params=_in(query, part).params()):
            key = (row["masked"], row["service"], row["severity_number"], row["severity_text"])
            group = groups.get(key)
            if group is None:
                groups[key] = _group(row)
            else:
                group["records"] += int(row["records"])
                group["last_ns"] = row["last_ns"]  # a later slice: a later record
    return [groups[key] for key in sorted(groups, key=lambda key: [(value is None, value) for value in key])]


def _group(row: dict[str, Any]) -> LogGroupRow:
    return {
        "masked": row["masked"],
        "service": row["service"],
        "severity_number": row["severity_number"],
        "severity_text": row["severity_text"],
        "records": int(row["records"]),
        "first_ns": row["first_ns"],
        "last_ns": row["last_ns"],
        "example": row["example"]["m"],
        "example_location": row["example"]["l"],
    }


def trace_log_rows(con: duckdb.DuckDBPyConnection, trace_id: str) -> list[TraceLogRow]:
    """Every record of one trace (any time), in time order, with attributes and masked
    message; only the row groups of the trace's records are read (the log trace index)."""
    return cast(list[TraceLogRow], run_query(con, "logs/trace", params={"trace_id": trace_id}))
