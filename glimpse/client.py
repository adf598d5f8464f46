"""One client for every command: a running server's API, or the database file read-only.

An explicit ``--server`` wins; otherwise a live server on the database (see
:mod:`glimpse.discovery`) answers; otherwise the file is opened read-only. Inside the
server itself (its MCP endpoint), a client made with ``connect`` runs the same analyses on
the server's own read connections. Either way a
failure is a :class:`tracing.errors.GlimpseError`: an answer of 404 from the server is
:class:`analyzer.errors.NotFoundError`, 400 is :class:`analyzer.errors.InvalidQueryError`,
as the same failure on the file would be. A server with TLS or bearer tokens is reached
with the credentials of :mod:`glimpse.credentials`; its 401 becomes
:class:`NotAuthorizedError`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from analyzer.errors import AnalysisError, InvalidQueryError, NotFoundError
from glimpse.credentials import ENV_TOKEN, Credentials, client_credentials, missing_client_certificate_hint
from glimpse.discovery import read_server_info
from glimpse.endpoints import ANALYSES, TRACE_ANALYSES, service_graph_document
from glimpse.params import graph_options, trace_options
from storage.errors import QueryError
from storage.jsonable import query_payload
from storage.query import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, run_read_only
from storage.store import on_connection, open_read_only
from tracing.errors import GlimpseError

if TYPE_CHECKING:
    import duckdb
    import httpx

__all__ = ["GlimpseClient", "NotAuthorizedError", "ServerUnreachableError", "as_query_params"]

T = TypeVar("T")

ANALYSIS_TIMEOUT_S = 120.0
BACKTEST_TIMEOUT_S = 600.0  # a replay ranks the root causes of every alert that fires


class ServerUnreachableError(GlimpseError):
    """The glimpse server did not answer."""


class NotAuthorizedError(GlimpseError):
    """The glimpse server wants a bearer token, and got none or a wrong one."""


def as_query_params(params: dict[str, Any]) -> dict[str, Any]:
    """CLI values as the query parameters the API would receive (None left out; a list is a
    repeated parameter).

    >>> as_query_params({"since": None, "limit": 10, "service": "cart", "attr": ["a=1", "b=2"]})
    {'limit': '10', 'service': 'cart', 'attr': ['a=1', 'b=2']}
    """
    return {
        key: [str(item) for item in value] if isinstance(value, list) else str(value)
        for key, value in params.items()
        if value is not None
    }


class GlimpseClient:
    """Answers from ``server_url``, else from the server live on ``db_path``, else from the file."""

    def __init__(
        self,
        db_path: str,
        server_url: str | None = None,
        *,
        connect: Callable[[], duckdb.DuckDBPyConnection] | None = None,
    ) -> None:
        """``connect``: inside the server that holds ``db_path``, its read connections (each
        query runs on one of them, never through HTTP, and no server is looked for)."""
        self.db_path = db_path
        info = None
        if server_url is None and connect is None:
            info = read_server_info(db_path)
            server_url = info.api_url if info else None
        self.server_url = server_url.rstrip("/") if server_url else None
        self._credentials: Credentials | None = None
        self._server_info = info
        self._connect = connect or partial(open_read_only, db_path)

    @property
    def credentials(self) -> Credentials:
        """The token and TLS trust for the server (loaded when first needed)."""
        if self._credentials is None:
            self._credentials = client_credentials(self._server_info)
        return self._credentials

    def analysis(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """The answer of the analysis ``name`` (a key of :data:`glimpse.endpoints.ANALYSES`)."""
        entry = ANALYSES[name]
        if self.server_url is not None:
            return _json(self._get(entry.path, params))
        return self._on_file(entry.function, **entry.options(as_query_params(params)))

    def trace(self, name: str, trace_id: str, *, adjust_skew: bool = False) -> dict[str, Any]:
        """A one-trace analysis (a key of :data:`glimpse.endpoints.TRACE_ANALYSES`)."""
        entry = TRACE_ANALYSES[name]
        params = {"adjust_skew": "true" if adjust_skew else None}
        if self.server_url is not None:
            return _json(self._get(entry.path.format(trace_id=trace_id), params))
        return self._on_file(entry.function, trace_id, **trace_options(as_query_params(params)))

    def graph_document(self, fmt: str, params: dict[str, Any]) -> str:
        """The service graph in ``fmt`` (see analyzer.graph_export.FORMATS)."""
        if self.server_url is not None:
            return self._get("/api/graph", {"format": fmt, **params}).text
        text: str = self._on_file(service_graph_document, fmt, **graph_options(as_query_params(params)))
        return text

    def sql(
        self, sql: str, *, max_rows: int = DEFAULT_MAX_ROWS, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> dict[str, Any]:
        """Read-only SQL; the API's JSON shape: columns, types, rows, truncated, elapsed_ms."""
        if self.server_url is not None:
            body = {"sql": sql, "max_rows": max_rows, "timeout_s": timeout_s}
            return _json(self._request("POST", "/api/sql", json=body, timeout=timeout_s + 10))
        return query_payload(self._on_file(run_read_only, sql, max_rows=max_rows, timeout_s=timeout_s))

    def backtest(
        self, rules_text: str, *, since_ns: int | None, until_ns: int | None, step_ns: int, root_causes: bool
    ) -> dict[str, Any]:
        """``glimpse alerts test``: the rules of ``rules_text`` replayed over the stored window."""
        from analyzer.alert_rules import parse_rules
        from analyzer.query_service.alerts import backtest

        if self.server_url is not None:
            body = {
                "rules": rules_text,
                "since": since_ns,
                "until": until_ns,
                "step_ns": step_ns,
                "root_causes": root_causes,
            }
            return _json(self._request("POST", "/api/alerts/test", json=body, timeout=BACKTEST_TIMEOUT_S))
        rules = parse_rules(rules_text)
        return self._on_file(
            backtest, rules, since_ns=since_ns, until_ns=until_ns, step_ns=step_ns, with_root_causes=root_causes
        )

    def _on_file(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return on_connection(self._connect, function, *args, **kwargs)

    def _get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        return self._request("GET", path, params=as_query_params(params), timeout=ANALYSIS_TIMEOUT_S)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx  # only a client of a running server needs it: the server holds this class too

        credentials = self.credentials
        try:
            response = httpx.request(
                method, f"{self.server_url}{path}", headers=credentials.headers, verify=credentials.verify, **kwargs
            )
        except httpx.HTTPError as exc:
            hint = missing_client_certificate_hint(self._server_info)
            raise ServerUnreachableError(f"cannot reach the glimpse server at {self.server_url}: {exc}{hint}") from exc
        if response.status_code != 200:
            raise _error_for(response)
        return response


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AnalysisError(f"the server at {response.url} answered without a JSON object")
    return body


def _error_for(response: httpx.Response) -> GlimpseError:
    try:
        message = str(response.json().get("error", response.text))
    except ValueError:
        message = response.text or f"the server answered {response.status_code}"
    if response.status_code == 401:
        return NotAuthorizedError(f"the glimpse server at {response.url.host} refused: {message} (set {ENV_TOKEN})")
    if response.status_code == 404:
        return NotFoundError(message)
    if response.status_code == 400:
        return QueryError(message) if response.request.url.path.endswith("/api/sql") else InvalidQueryError(message)
    return AnalysisError(message)
