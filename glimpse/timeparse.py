"""``--since``/``--until`` values: RFC 3339 or integer unix nanoseconds."""

from __future__ import annotations

import datetime as dt
import re

from analyzer.errors import InvalidQueryError

__all__ = ["format_ns", "parse_time_ns"]

_FRACTION = re.compile(r"\.(\d+)")


def parse_time_ns(text: str | None) -> int | None:
    """``None`` stays None; digits are unix nanoseconds; anything else must be RFC 3339.

    >>> parse_time_ns("2026-12-05T10:00:00.5Z"), parse_time_ns("17")
    (1796464800500000000, 17)
    """
    if text is None or not text.strip():
        return None
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    nanos = 0
    match = _FRACTION.search(text)
    if match:  # keep nanoseconds, which datetime cannot hold
        digits = match.group(1)
        nanos = int(digits[:9].ljust(9, "0"))
        text = text[: match.start()] + text[match.end() :]
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidQueryError(f"not an RFC 3339 time or unix nanoseconds: {text!r}") from None
    if moment.tzinfo is None:
        raise InvalidQueryError(f"the time {text!r} needs a UTC offset (e.g. Z or +02:00)")
    return int(moment.timestamp()) * 1_000_000_000 + nanos


def format_ns(ns: int | None, *, digits: int = 3) -> str:
    """Unix nanoseconds as an RFC 3339 UTC time with ``digits`` of the second's fraction
    (0-9; default milliseconds); empty for None.

    >>> format_ns(1796464800500123456), format_ns(1796464800500123456, digits=6)
    ('2026-12-05T10:00:00.500Z', '2026-12-05T10:00:00.500123Z')
    """
    if ns is None:
        return ""
    moment = dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=dt.timezone.utc)
    fraction = f"{ns % 1_000_000_000:09d}"[:digits]
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"
