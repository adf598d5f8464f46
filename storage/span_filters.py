"""Conditions on one span, as data, and the SQL that tests them (over ``otel_traces``).

A trace search finds the traces with a span that satisfies a :data:`SpanFilter`: a
:class:`Comparison` of one span field with a value, or :class:`AllOf` / :class:`AnyOf`
of filters. TraceQL's spanset filters and Jaeger's tag searches are parsed into these
(``glimpse.traceql``, ``glimpse.web.jaeger``); this module only turns them into SQL.

Fields are an :class:`Intrinsic` (a column of the span: name, status, kind, duration in
nanoseconds, status message, service) or an :class:`Attribute` of the span, of its
resource, or of either (``scope="any"``). A comparison with an attribute the span does not
have is false, ``!=`` included (as in TraceQL). An attribute compares by the type of the
value it is compared with: a string with a string attribute, a number with a number, a
boolean with a boolean; with ``as_text`` it compares as text whatever its type (Jaeger's
tags: ``http.status_code=500`` matches the integer 500).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

__all__ = [
    "ATTRIBUTE_SCOPES",
    "INTRINSICS",
    "OPERATORS",
    "AllOf",
    "AnyOf",
    "Attribute",
    "Comparison",
    "Intrinsic",
    "SpanFilter",
    "span_filter_sql",
]

# intrinsic -> its column in otel_traces (statuses and kinds are stored as Error/Ok/Unset and
# Server/Client/...; duration in nanoseconds)
INTRINSICS = {
    "name": "span_name",
    "status": "status_code",
    "kind": "span_kind",
    "duration": "duration",
    "status_message": "status_message",
    "service": "service_name",
}
ATTRIBUTE_SCOPES: dict[str, tuple[str, ...]] = {
    "span": ("span_attributes",),
    "resource": ("resource_attributes",),
    "any": ("span_attributes", "resource_attributes"),
}
OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "=~", "!~")
_REGEX = {"=~": "", "!~": "NOT "}
_NUMBER_TYPES = "('BIGINT', 'UBIGINT', 'DOUBLE')"

Value = Union[str, int, float, bool]


@dataclass(frozen=True)
class Intrinsic:
    """A column of the span (a key of :data:`INTRINSICS`)."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in INTRINSICS:
            raise ValueError(f"not an intrinsic: {self.name!r}")


@dataclass(frozen=True)
class Attribute:
    """An attribute of the span (``scope="span"``), of its resource, or of either (``"any"``)."""

    key: str
    scope: str = "any"

    def __post_init__(self) -> None:
        if self.scope not in ATTRIBUTE_SCOPES:
            raise ValueError(f"not an attribute scope: {self.scope!r}")


@dataclass(frozen=True)
class Comparison:
    """``field op value``; regular expressions (``=~``, ``!~``) match the whole text."""

    field: Intrinsic | Attribute
    op: str
    value: Value
    as_text: bool = False

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ValueError(f"not an operator: {self.op!r}")


@dataclass(frozen=True)
class AllOf:
    """Every part holds (an empty one always does)."""

    parts: tuple[SpanFilter, ...]


@dataclass(frozen=True)
class AnyOf:
    """At least one part holds (an empty one never does)."""

    parts: tuple[SpanFilter, ...]


SpanFilter = Union[Comparison, AllOf, AnyOf]


def span_filter_sql(span_filter: SpanFilter, *, prefix: str = "f") -> tuple[str, dict[str, Any]]:
    """The boolean SQL of ``span_filter`` over a row of ``otel_traces``, and its parameters
    (named ``$<prefix>0``, ``$<prefix>1``, ...).

    >>> span_filter_sql(AllOf((Comparison(Intrinsic("name"), "=", "GET /"),
    ...                        Comparison(Intrinsic("duration"), ">", 100))))
    ('((span_name = $f0) AND (duration > $f1))', {'f0': 'GET /', 'f1': 100})
    """
    params: dict[str, Any] = {}

    def param(value: Any) -> str:
        name = f"{prefix}{len(params)}"
        params[name] = value
        return f"${name}"

    def compile_part(part: SpanFilter) -> str:
        if isinstance(part, AllOf):
            return "(" + " AND ".join(map(compile_part, part.parts)) + ")" if part.parts else "TRUE"
        if isinstance(part, AnyOf):
            return "(" + " OR ".join(map(compile_part, part.parts)) + ")" if part.parts else "FALSE"
        if isinstance(part.field, Intrinsic):
            return _intrinsic_sql(part, INTRINSICS[part.field.name], param)
        return _attribute_sql(part, part.field, param)

    return compile_part(span_filter), params


def _compare(column: str, op: str, placeholder: str) -> str:
    if op in _REGEX:
        return f"{_REGEX[op]}regexp_full_match({column}, {placeholder})"
    return f"{column} {op} {placeholder}"


def _intrinsic_sql(comparison: Comparison, column: str, param: Any) -> str:
    value = comparison.value
    if column == "duration" and comparison.op not in _REGEX:
        return f"({column} {comparison.op} {param(int(value))})"
    return f"({_compare(column, comparison.op, param(str(value)))})"


def _attribute_sql(comparison: Comparison, attribute: Attribute, param: Any) -> str:
    path = param('$."' + attribute.key.replace("\\", "\\\\").replace('"', '\\"') + '"')
    value, op = comparison.value, comparison.op
    tests = []
    for column in ATTRIBUTE_SCOPES[attribute.scope]:
        text = f"json_extract_string({column}, {path})"
        kind = f"json_type({column}, {path})"
        if comparison.as_text or op in _REGEX:
            tests.append(f"({text} IS NOT NULL AND {_compare(text, op, param(_as_text(value)))})")
        elif isinstance(value, bool):
            tests.append(f"({kind} = 'BOOLEAN' AND {_compare(text, op, param(_as_text(value)))})")
        elif isinstance(value, (int, float)):
            number = f"TRY_CAST({text} AS DOUBLE)"
            tests.append(f"({kind} IN {_NUMBER_TYPES} AND {_compare(number, op, param(float(value)))})")
        else:
            tests.append(f"({kind} = 'VARCHAR' AND {_compare(text, op, param(value))})")
    return "(" + " OR ".join(tests) + ")"


def _as_text(value: Value) -> str:
    """As JSON would write it: ``true``, ``500``, ``1.5``, or the string itself."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
