"""The common part of TraceQL: one spanset filter ``{ ... }``, parsed into a span filter.

What it takes (what Grafana's Tempo search builder writes, and what people type most)::

    { resource.service.name = "shop" && name =~ "GET .*" && duration > 100ms
      && (status = error || span.http.response.status_code >= 500) }

* fields: the intrinsics ``name``, ``status``, ``kind``, ``duration``, ``statusMessage``
  (also as ``span:name``, ``span:status``, ...), attributes ``span.<key>``,
  ``resource.<key>`` and ``.<key>`` (span or resource), a key quoted when it has other
  characters (``span."my key"``); ``traceDuration`` (``trace:duration``) as a condition of
  the whole filter (``&&`` with the rest, not inside ``||``);
* operators ``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, and ``=~``, ``!~`` (a regular
  expression that matches the whole value);
* values: strings in double quotes or backticks, numbers, durations (``100ms``, ``1.5s``,
  ``1m30s``), ``true``/``false``, the statuses ``error``, ``ok``, ``unset`` and the kinds
  ``server``, ``client``, ``producer``, ``consumer``, ``internal``, ``unspecified``;
* ``&&``, ``||`` and parentheses inside the braces; ``{}`` and ``{ true }`` match every span.

Everything else is refused with a message saying what and where: pipelines (``|``),
operations between spansets (``} && {``, ``>>``, ...), aggregates, ``select``, negation
with ``!``, arithmetic, other intrinsics. As in TraceQL, conditions inside one pair of
braces hold for the same span, and a comparison with an attribute the span lacks is false.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from analyzer.errors import InvalidQueryError
from glimpse.params import go_duration_ns
from storage.span_filters import AllOf, AnyOf, Attribute, Comparison, Intrinsic, SpanFilter

__all__ = ["TraceQLFilter", "parse_field", "parse_traceql"]


@dataclass(frozen=True)
class TraceQLFilter:
    """A parsed spanset filter: the span condition (None: any span) and the bounds on the
    whole trace's duration (nanoseconds, inclusive; None: no bound)."""

    span_filter: SpanFilter | None
    min_trace_ns: int | None = None
    max_trace_ns: int | None = None


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|`[^`]*`)
  | (?P<duration>(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+(?![\w.]))
  | (?P<number>-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w.]))
  | (?P<field>(?:span|resource)?\.(?:"(?:[^"\\]|\\.)*"|[\w.\-/:]+)|[A-Za-z_][\w:]*)
  | (?P<op>=~|!~|!=|>=|<=|&&|\|\||>>|<<|[{}()=<>|!~+\-*/%^&,])
    """,
    re.VERBOSE,
)
_OPERATORS = {"=", "!=", ">", ">=", "<", "<=", "=~", "!~"}
_INTRINSICS = {
    "name": "name",
    "status": "status",
    "kind": "kind",
    "duration": "duration",
    "statusMessage": "status_message",
}
_TRACE_DURATION = {"traceDuration", "trace:duration"}
_STATUSES = {"error": "Error", "ok": "Ok", "unset": "Unset"}
_KINDS = {k.lower(): k for k in ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")}
_UNSUPPORTED_OPERATORS = {
    "|": "pipelines (|) are not supported",
    "!": "negation with ! is not supported: use != or !~",
    ">>": "structural operators (>>, <<, ~) between spansets are not supported",
    "<<": "structural operators (>>, <<, ~) between spansets are not supported",
}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int


@dataclass(frozen=True)
class _TraceBound:
    """``traceDuration op value`` while parsing: taken out of the top level afterwards."""

    op: str
    ns: int
    at: _Token


_Part = Union[SpanFilter, _TraceBound]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    def fail(self, message: str, token: _Token | None = None) -> InvalidQueryError:
        at = (token or self.peek()).at
        return InvalidQueryError(
            f"TraceQL: {message} (at column {at + 1}); glimpse supports one spanset filter "
            '{ ... } of comparisons joined by && and ||, e.g. { resource.service.name = "shop" && duration > 100ms }'
        )

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> _Token:
        token = self.take()
        if token.text != text:
            raise self.fail(f"expected {text!r}, found {_shown(token)}", token)
        return token

    def parse(self) -> TraceQLFilter:
        self.expect("{")
        expression: _Part = AllOf(())
        if self.peek().text != "}":
            expression = self.disjunction()
        self.expect("}")
        rest = self.peek()
        if rest.kind != "end":
            if rest.text == "|":
                raise self.fail("pipelines (| count(), | select(...), ...) are not supported", rest)
            if rest.text in ("&&", "||", ">", ">>", "<", "<<", "~", "!~", "!<", "!>"):
                raise self.fail("operations between spansets ({ } && { }, >>, ...) are not supported", rest)
            raise self.fail(f"unexpected {_shown(rest)} after the spanset", rest)
        return self.split(expression)

    def split(self, expression: _Part) -> TraceQLFilter:
        """Take traceDuration bounds out of the top level; anywhere else they are refused."""
        parts = list(expression.parts) if isinstance(expression, AllOf) else [expression]
        low: int | None = None
        high: int | None = None
        kept: list[SpanFilter] = []
        for part in parts:
            if isinstance(part, _TraceBound):
                if part.op in (">", ">=", "="):
                    bound = part.ns + 1 if part.op == ">" else part.ns
                    low = bound if low is None else max(low, bound)
                if part.op in ("<", "<=", "="):
                    bound = part.ns - 1 if part.op == "<" else part.ns
                    high = bound if high is None else min(high, bound)
            else:
                self.refuse_bounds(part)
                kept.append(part)
        span_filter: SpanFilter | None = None
        if kept and kept != [AllOf(())]:
            span_filter = kept[0] if len(kept) == 1 else AllOf(tuple(kept))
        return TraceQLFilter(span_filter, low, high)

    def refuse_bounds(self, part: _Part) -> None:
        if isinstance(part, _TraceBound):
            raise self.fail("traceDuration only as a condition of the whole filter (joined with &&)", part.at)
        if isinstance(part, (AllOf, AnyOf)):
            for inner in part.parts:
                self.refuse_bounds(inner)

    def disjunction(self) -> _Part:
        parts = [self.conjunction()]
        while self.peek().text == "||":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))  # type: ignore[arg-type]

    def conjunction(self) -> _Part:
        parts = [self.conjunct()]
        while self.peek().text == "&&":
            self.take()
            parts.append(self.conjunct())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))  # type: ignore[arg-type]

    def conjunct(self) -> _Part:
        token = self.peek()
        if token.text == "(":
            self.take()
            inner = self.disjunction()
            self.expect(")")
            return inner
        if token.text == "true":
            self.take()
            return AllOf(())
        if token.text in _TRACE_DURATION:
            return self.trace_bound()
        if token.text in _UNSUPPORTED_OPERATORS:
            raise self.fail(_UNSUPPORTED_OPERATORS[token.text], token)
        if token.kind != "field":
            raise self.fail(f"expected a field (name, duration, span.x, ...), found {_shown(token)}", token)
        return self.comparison()

    def operator(self) -> _Token:
        token = self.take()
        if token.text not in _OPERATORS:
            if token.text in ("+", "-", "*", "/", "%", "^"):
                raise self.fail("arithmetic is not supported", token)
            raise self.fail(f"expected a comparison (=, !=, >, >=, <, <=, =~, !~), found {_shown(token)}", token)
        return token

    def comparison(self) -> Comparison:
        field_token = self.take()
        field = _field(field_token.text)
        if field is None:
            raise self.fail(f"{field_token.text!r} is not a field glimpse supports", field_token)
        op = self.operator()
        return self.checked(field, op, self.take())

    def checked(self, field: Intrinsic | Attribute, op: _Token, token: _Token) -> Comparison:
        value = self.value(token)
        name = field.name if isinstance(field, Intrinsic) else None
        if name in ("status", "kind"):
            literals = _STATUSES if name == "status" else _KINDS
            if token.kind != "field" or token.text not in literals or op.text not in ("=", "!="):
                raise self.fail(f"{name} compares with = or != to one of {', '.join(literals)}", token)
            return Comparison(field, op.text, literals[token.text])
        if name == "duration":
            if token.kind != "duration" or op.text in ("=~", "!~"):
                raise self.fail("duration compares with a duration such as 100ms", token)
            return Comparison(field, op.text, value)
        if token.kind == "duration":
            raise self.fail("only duration and traceDuration compare with durations", token)
        if token.kind == "field" and not isinstance(value, bool):
            raise self.fail(f"{token.text} is a status or kind: compare status or kind with it", token)
        if op.text in ("=~", "!~") and not isinstance(value, str):
            raise self.fail("=~ and !~ take a string (a regular expression)", token)
        if isinstance(value, bool) and op.text not in ("=", "!="):
            raise self.fail("booleans compare with = or !=", token)
        if name is not None and not isinstance(value, str):
            raise self.fail(f"{name} compares with a string", token)
        return Comparison(field, op.text, value)

    def value(self, token: _Token) -> str | int | float | bool:
        if token.kind == "string":
            return _unquoted(token.text)
        if token.kind == "duration":
            return go_duration_ns(token.text)
        if token.kind == "number":
            return float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
        if token.text in ("true", "false"):
            return token.text == "true"
        if token.kind == "field" and (token.text in _STATUSES or token.text in _KINDS):
            return token.text
        raise self.fail(f"expected a value, found {_shown(token)}", token)

    def trace_bound(self) -> _TraceBound:
        token = self.take()
        op = self.operator()
        value = self.take()
        if value.kind != "duration" or op.text not in (">", ">=", "<", "<=", "="):
            raise self.fail("traceDuration compares with >, >=, <, <= or = to a duration such as 2s", value)
        return _TraceBound(op.text, go_duration_ns(value.text), token)


def parse_traceql(text: str) -> TraceQLFilter:
    """Parse one spanset filter; InvalidQueryError (a clear message with the column) for
    anything else.

    >>> parse_traceql('{ name = "GET /" && duration > 1ms }').span_filter
    AllOf(parts=(Comparison(field=Intrinsic(name='name'), op='=', value='GET /', as_text=False), \
Comparison(field=Intrinsic(name='duration'), op='>', value=1000000, as_text=False)))
    """
    if not text.strip():
        return TraceQLFilter(None)
    return _Parser(text).parse()


def _tokens(text: str) -> list[_Token]:
    tokens = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise InvalidQueryError(f"TraceQL: unexpected character {text[at]!r} (at column {at + 1})")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), at))
        at = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def parse_field(text: str) -> Intrinsic | Attribute | None:
    """A TraceQL field (``name``, ``span:status``, ``resource.service.name``, ``span.x``,
    ``.x``, ``span."my key"``), or None when it is not one glimpse supports.

    >>> parse_field("resource.service.name"), parse_field(".http.method")
    (Intrinsic(name='service'), Attribute(key='http.method', scope='any'))
    """
    return _field(text.strip())


def _field(text: str) -> Intrinsic | Attribute | None:
    bare = text.removeprefix("span:")
    if bare in _INTRINSICS:
        return Intrinsic(_INTRINSICS[bare])
    for prefix, scope in (("span.", "span"), ("resource.", "resource"), (".", "any")):
        if text.startswith(prefix) and len(text) > len(prefix):
            key = text[len(prefix) :]
            key = _unquoted(key) if key.startswith('"') else key
            if scope in ("resource", "any") and key == "service.name":
                return Intrinsic("service") if scope == "resource" else Attribute(key, scope)
            return Attribute(key, scope)
    return None


def _unquoted(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _shown(token: _Token) -> str:
    return "the end of the query" if token.kind == "end" else repr(token.text)
