"""Request parameters -> the keywords of query-service functions; no web framework needed.

The HTTP API parses its query strings with these, and the CLI parses its options with the
same functions (as the strings the API would receive), so both accept and refuse exactly
the same input. A bad value raises :class:`analyzer.errors.InvalidQueryError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from analyzer.errors import InvalidQueryError
from glimpse.timeparse import parse_time_ns

__all__ = [
    "alert_options",
    "anomaly_options",
    "bottleneck_options",
    "diff_options",
    "duration_ns",
    "epoch_ns",
    "go_duration_ns",
    "graph_options",
    "insight_options",
    "log_options",
    "metric_series_options",
    "no_options",
    "rca_options",
    "service_options",
    "trace_options",
    "trace_search_options",
    "window_options",
]


def window_options(params: Mapping[str, str]) -> dict[str, Any]:
    """``since``/``until`` (RFC 3339 or unix ns) -> the keywords every analysis takes."""
    return {"since_ns": parse_time_ns(params.get("since")), "until_ns": parse_time_ns(params.get("until"))}


_DIGITS = re.compile(r"[0-9]+")  # str.isdigit() also takes "²", which int() refuses


def _limit(params: Mapping[str, str], default: int) -> int:
    limit = params.get("limit") or str(default)
    if not _DIGITS.fullmatch(limit) or int(limit) < 1:
        raise InvalidQueryError("limit must be a positive integer")
    return int(limit)


def anomaly_options(params: Mapping[str, str]) -> dict[str, Any]:
    """Window, ``service``, ``series`` (include each anomaly's series; default true), ``limit``."""
    return {
        **window_options(params),
        "service": params.get("service") or None,
        "with_series": params.get("series", "true").lower() not in ("0", "false", "no"),
        "limit": _limit(params, 200),
    }


def rca_options(params: Mapping[str, str]) -> dict[str, Any]:
    """Incident window (none: the latest incident is found), baseline window, ``service``, ``limit``."""
    return {
        **window_options(params),
        "baseline_since_ns": parse_time_ns(params.get("baseline_since")),
        "baseline_until_ns": parse_time_ns(params.get("baseline_until")),
        "service": params.get("service") or None,
        "limit": _limit(params, 10),
    }


def insight_options(params: Mapping[str, str]) -> dict[str, Any]:
    """Window, ``service``, ``horizon`` (seconds to forecast; default a quarter of the window)."""
    return {
        **window_options(params),
        "service": params.get("service") or None,
        "horizon_s": _seconds(params, "horizon"),
    }


def bottleneck_options(params: Mapping[str, str]) -> dict[str, Any]:
    return {
        **window_options(params),
        "endpoint": params.get("endpoint") or None,
        "service": params.get("service") or None,
        "limit": _limit(params, 20),
    }


def service_options(params: Mapping[str, str]) -> dict[str, Any]:
    return {**window_options(params), "bucket_s": _seconds(params, "bucket"), "service": params.get("service") or None}


_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000}


def duration_ns(text: str | None) -> int | None:
    """``250ms``, ``1.5s``, ``300us``, ``2m`` or a bare number of milliseconds -> ns (None stays None)."""
    if text is None or not text.strip():
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m)?\s*", text)
    if not match:
        raise InvalidQueryError(f"not a duration (like 250ms, 1.5s, 300us): {text!r}")
    return round(float(match.group(1)) * _DURATION_UNITS[match.group(2) or "ms"])


_GO_DURATION_UNITS = {**_DURATION_UNITS, "μs": 1_000, "h": 3_600_000_000_000}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def go_duration_ns(text: str, name: str = "duration") -> int:
    """A Go duration (``300ms``, ``1.5s``, ``1h30m``, ``0``; what Jaeger and Tempo take) -> ns.

    >>> go_duration_ns("1m30s"), go_duration_ns("250us"), go_duration_ns("0")
    (90000000000, 250000, 0)
    """
    value = text.strip()
    if value == "0":
        return 0
    parts = _GO_PART.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        raise InvalidQueryError(f"{name} is not a duration (like 100ms, 1.5s, 2m, 1h30m): {text!r}")
    return round(sum(float(number) * _GO_DURATION_UNITS[unit] for number, unit in parts))


def epoch_ns(text: str | None, name: str) -> int | None:
    """An integer unix time in seconds, milliseconds, microseconds or nanoseconds -> ns, the
    unit told by the magnitude (any time since 1973 reads right): Jaeger's API takes
    microseconds, Grafana sends it milliseconds, Tempo's takes seconds. None stays None.

    >>> epoch_ns("1700000000", "t") == epoch_ns("1700000000000", "t") == epoch_ns("1700000000000000", "t")
    True
    """
    if text is None or not text.strip():
        return None
    value = text.strip()
    if not _DIGITS.fullmatch(value):
        raise InvalidQueryError(f"{name} must be an integer unix time, got {text!r}")
    number = int(value)
    for limit, scale in ((10**11, 10**9), (10**14, 10**6), (10**17, 10**3)):
        if number < limit:
            return number * scale
    return number


def trace_search_options(params: Mapping[str, str]) -> dict[str, Any]:
    """``service``, ``operation``, ``min_duration``/``max_duration``, ``status`` (error|ok),
    ``attr`` (``key=value``, repeatable), ``limit``, ``since``/``until``."""
    getlist = getattr(params, "getlist", None)
    given: Any = getlist("attr") if getlist else params.get("attr")  # a list from a client's own parameters
    pairs = list(given) if isinstance(given, list) else [given] if given else []
    attributes: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise InvalidQueryError(f"an attribute filter is key=value, got {pair!r}")
        attributes[key.strip()] = value.strip()
    status = (params.get("status") or "").lower()
    if status not in ("", "error", "ok"):
        raise InvalidQueryError("status must be error or ok")
    limit = params.get("limit") or "20"
    if not _DIGITS.fullmatch(limit) or not 1 <= int(limit) <= 1000:
        raise InvalidQueryError("limit must be an integer from 1 to 1000")
    return {
        **window_options(params),
        "service": params.get("service") or None,
        "operation": params.get("operation") or None,
        "attributes": attributes,
        "min_duration_ns": duration_ns(params.get("min_duration")),
        "max_duration_ns": duration_ns(params.get("max_duration")),
        "errors": {"": None, "error": True, "ok": False}[status],
        "limit": int(limit),
    }


MAX_LOG_LIMIT = 10_000


def log_options(params: Mapping[str, str]) -> dict[str, Any]:
    """``service``, ``severity`` (a minimum level: a name such as WARN, or 1-24), ``template``
    (an id or a text with ``<*>``), ``trace_id``, ``span_id``, ``text``, ``limit`` (1-10,000,
    default 100), ``since``/``until``: of a log search and of a window's templates. The query
    service refuses a bad severity or id."""
    limit = params.get("limit") or "100"
    if not _DIGITS.fullmatch(limit) or not 1 <= int(limit) <= MAX_LOG_LIMIT:
        raise InvalidQueryError(f"limit must be an integer from 1 to {MAX_LOG_LIMIT:,}")
    return {
        **window_options(params),
        **{key: params.get(key) or None for key in ("service", "severity", "template", "trace_id", "span_id")},
        "text": params.get("text") or None,
        "limit": int(limit),
    }


def metric_series_options(params: Mapping[str, str]) -> dict[str, Any]:
    bucket_s = _seconds(params, "bucket")
    return {**window_options(params), "bucket_s": 60.0 if bucket_s is None else bucket_s}


def graph_options(params: Mapping[str, str]) -> dict[str, Any]:
    """Query parameters (or CLI options) of a graph request -> service_graph keywords."""
    depth_text = params.get("depth") or "1"
    if not _DIGITS.fullmatch(depth_text):
        raise InvalidQueryError("depth must be a non-negative integer")
    return {
        **window_options(params),
        "service": params.get("service") or None,
        "depth": int(depth_text),
        "operations": _flag(params.get("operations")),
    }


def diff_options(params: Mapping[str, str]) -> dict[str, Any]:
    """Query parameters of a graph diff: the current window and the baseline window."""
    if not params.get("diff_since") and not params.get("diff_until"):
        raise InvalidQueryError("a diff needs a baseline window: diff_since and/or diff_until")
    return {
        "since_ns": parse_time_ns(params.get("since")),
        "until_ns": parse_time_ns(params.get("until")),
        "baseline_since_ns": parse_time_ns(params.get("diff_since")),
        "baseline_until_ns": parse_time_ns(params.get("diff_until")),
    }


def alert_options(params: Mapping[str, str]) -> dict[str, Any]:
    """``history`` (true/1/yes) and ``limit`` (state changes, default 100) of ``/api/alerts``."""
    return {"history": _flag(params.get("history")), "limit": _limit(params, 100)}


def no_options(params: Mapping[str, str]) -> dict[str, Any]:
    """For analyses that take no parameters."""
    return {}


def trace_options(params: Mapping[str, str]) -> dict[str, Any]:
    """``adjust_skew`` (true/1/yes) of a one-trace request."""
    return {"adjust_skew": _flag(params.get("adjust_skew"))}


def _flag(text: str | None) -> bool:
    return (text or "").lower() in ("1", "true", "yes")


def _seconds(params: Mapping[str, str], name: str) -> float | None:
    text = params.get(name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidQueryError(f"{name} must be a number of seconds, got {text!r}")
    return value
