"""Wiring for ``glimpse serve``: store, writer, OTLP receivers, HTTP API (with the MCP
endpoint for agents), web console.

Lifecycle: :meth:`GlimpseServer.start` opens the store and binds every port (0 picks a
free one); :meth:`GlimpseServer.stop` stops accepting, lets requests in flight finish,
drains the write queue, commits, checkpoints and closes the database. While it runs, a
small ``<db>.server.json`` file next to the database (see :mod:`glimpse.discovery`) tells
other glimpse commands where its API is, so that they query through it instead of
opening the locked file.

Security (docs/security.md): with a certificate and key every listener speaks TLS only,
with a client CA every client must show a certificate, and with a token file every
request needs a bearer token; :meth:`GlimpseServer.reload_tokens` re-reads the file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.abc
import ipaddress
import logging
import os
import socket
import ssl
import sys
import threading
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import pyarrow as pa
import uvicorn

from collector.grpc_server import GrpcReceiver
from collector.http_app import build_otlp_http_app
from collector.ingest import Ingestor
from collector.memory import MemoryGuard
from collector.security import TlsFiles, TokenStore
from glimpse.allocator import release_free_memory, tune_malloc
from glimpse.client import GlimpseClient
from glimpse.discovery import ServerInfo, read_server_info, server_info_path, write_server_info
from glimpse.mcp.endpoint import McpEndpoint
from glimpse.metrics import SelfMetrics
from glimpse.settings import ServerSettings
from glimpse.span_metrics import SpanMetrics, SpanMetricsExposition
from glimpse.web.api import build_api_app
from glimpse.web.console import build_console_app
from storage.journal import journal_dir
from storage.retention import RetentionPolicy, RetentionStats, store_bytes
from storage.store import memory_by_tag, open_writable
from storage.writer import BatchWriter
from tracing.errors import GlimpseError

if TYPE_CHECKING:
    from analyzer.alert_rules import NotifyTargets
    from glimpse.alert_loop import RuleLoop
    from glimpse.lake_loop import LakeExporter
    from glimpse.notify import Notifier

__all__ = ["GlimpseServer", "keep_pandas_out"]


class _NoPandas(importlib.abc.MetaPathFinder):
    """Answers every import of pandas with "not installed"."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname.partition(".")[0] == "pandas":
            raise ModuleNotFoundError("glimpse serve does not load pandas", name=fullname)


def keep_pandas_out() -> None:
    """Make pandas look uninstalled to this process (``glimpse serve`` calls it first).

    pyarrow imports pandas, when it is installed (the spark extra brings it), the first
    time it converts a numpy array: in the server that held up the first exports by
    0.3 - 0.4 s (what set the export latency's p99 of a 15 s run) and cost 46 MiB of
    RSS, and the server needs nothing of pandas. Call it only in a process of its own: it hides pandas
    from everything else in the process too.
    """
    if not any(isinstance(finder, _NoPandas) for finder in sys.meta_path):
        sys.meta_path.insert(0, _NoPandas())


logger = logging.getLogger(__name__)


class GlimpseServer:
    """One glimpse process: the writer, both OTLP receivers and the API."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self._con: duckdb.DuckDBPyConnection | None = None
        self.writer: BatchWriter | None = None
        self._grpc: GrpcReceiver | None = None
        self._ingestor: Ingestor | None = None
        self._uvicorn: list[uvicorn.Server] = []
        self._loop_thread: threading.Thread | None = None
        self.info: ServerInfo | None = None
        self.metrics = SelfMetrics(
            stats=self.stats,
            journal_directory=journal_dir(settings.db_path),
            queue_capacity_rows=settings.max_queued_rows,
        )
        self.tokens: TokenStore | None = None
        self.rules: RuleLoop | None = None
        self.lake: LakeExporter | None = None
        self.span_metrics = SpanMetrics(self.read_cursor, delay_s=settings.span_metrics_delay_s)

    def start(self) -> ServerInfo:
        settings = self.settings
        # the security files first: a bad one stops the start before the store is opened
        tls = settings.tls
        if tls is not None:
            tls.check()
        tokens = self.tokens = TokenStore(settings.token_file) if settings.token_file else None
        _warn_if_exposed(settings.host, tls, tokens)
        # the rules file too: one with mistakes stops the start (each named in the error)
        rules = self.rules = self._rule_loop()
        # Arrow's default allocator (mimalloc) keeps what the writer's row-group chunks
        # freed: measured under full load, the system allocator holds peak RSS about
        # 150 MiB lower at the same throughput.
        pa.set_memory_pool(pa.system_memory_pool())
        tune_malloc()
        self._con = open_writable(settings.db_path, memory_limit=f"{settings.duckdb_memory_bytes}B")
        self.writer = BatchWriter(
            self._con,
            database_path=settings.db_path,
            max_queued_rows=settings.max_queued_rows,
            flush_interval_s=settings.flush_interval_s,
            retention=RetentionPolicy(max_age_ns=settings.retention_ns, max_bytes=settings.max_db_bytes),
            observer=self.metrics,
            after_checkpoint=release_free_memory,
        )
        self.writer.start()
        if rules is not None:
            rules.start()
        self.lake = self._lake_exporter()
        ingestor = Ingestor(
            self.writer,
            max_request_bytes=settings.max_request_bytes,
            commit_timeout_s=settings.commit_timeout_s,
            decode_workers=settings.decode_workers,
            observer=self.metrics,
            memory_guard=_memory_guard(settings.memory_limit_bytes, settings.duckdb_memory_bytes),
        )
        self._ingestor = ingestor
        self._grpc = GrpcReceiver(ingestor, host=settings.host, port=settings.grpc_port, tls=tls, tokens=tokens)
        http_socket = _bind(settings.host, settings.http_port)
        api_socket = _bind(settings.host, settings.api_port)
        console_socket = _bind(settings.host, settings.console_bind_port)
        mcp = McpEndpoint(GlimpseClient(settings.db_path, connect=self.read_cursor), host=settings.host)
        spans = SpanMetricsExposition(self.span_metrics)
        self._uvicorn = [
            _uvicorn_server(build_otlp_http_app(ingestor, tokens=tokens), tls),
            _uvicorn_server(
                build_api_app(
                    self.read_cursor,
                    self.stats,
                    metrics=self.metrics,
                    span_metrics=spans,
                    tokens=tokens,
                    mcp=mcp,
                    reload_rules=rules.reload if rules is not None else None,
                ),
                tls,
                lifespan="on",  # the MCP endpoint's sessions
            ),
            _uvicorn_server(
                build_console_app(
                    self.read_cursor, self.stats, metrics=self.metrics, span_metrics=spans, tokens=tokens
                ),
                tls,
            ),
        ]
        self._grpc.start()
        self._loop_thread = threading.Thread(
            target=asyncio.run,
            args=(self._serve_http([http_socket, api_socket, console_socket]),),
            name="glimpse-http",
            daemon=True,
        )
        self._loop_thread.start()
        for server in self._uvicorn:
            while not server.started and self._loop_thread.is_alive():
                threading.Event().wait(0.01)
        self.info = ServerInfo(
            pid=os.getpid(),
            host=settings.host,
            grpc_port=self._grpc.port,
            http_port=http_socket.getsockname()[1],
            api_port=api_socket.getsockname()[1],
            console_port=console_socket.getsockname()[1],
            tls=tls is not None,
            tls_cert=os.path.abspath(tls.cert_file) if tls else None,
            client_cert_required=tls is not None and tls.mutual,
            token_file=os.path.abspath(tokens.path) if tokens else None,
        )
        if rules is not None:
            rules.set_console_url(self.info.console_url)  # the alerts link to its pages
        write_server_info(settings.db_path, self.info)
        logger.info("glimpse serving %s", self.info)
        return self.info

    async def _serve_http(self, sockets: list[socket.socket]) -> None:
        await asyncio.gather(
            *(server.serve(sockets=[sock]) for server, sock in zip(self._uvicorn, sockets, strict=False))
        )

    def _lake_exporter(self) -> LakeExporter | None:
        settings = self.settings
        if not settings.lake:
            return None
        from glimpse.lake_loop import LakeExporter  # Parquet and the object stores load when a lake is set
        from storage.lake import lake_location

        location = lake_location(settings.lake, create=True)  # a lake that cannot be made stops the start
        exporter = LakeExporter(
            location,
            settings.lake_node_id,
            connect=self.read_cursor,
            interval_s=settings.lake_interval_s,
            delay_s=settings.lake_delay_s,
        )
        exporter.start()
        return exporter

    def _rule_loop(self) -> RuleLoop | None:
        if not self.settings.rules_file:
            return None
        from glimpse.alert_loop import RuleLoop  # the analyses it runs load when alerting is on

        settings = self.settings
        assert settings.rules_file is not None
        return RuleLoop(
            settings.rules_file,
            connect=self.read_cursor,
            interval_s=settings.rule_interval_s,
            notifier_for=self._notifier_for,
            action_secret=settings.alert_webhook_secret,
            observer=self.metrics,
        )

    def _notifier_for(self, targets: NotifyTargets) -> Notifier | None:
        """The notifier to the receivers of the options (or their variables), else of the
        rules file's ``notify:`` block; None when there is none."""
        from glimpse.notify import Notifier

        settings = self.settings
        alertmanager = settings.alertmanager_url or targets.alertmanager
        webhook = settings.alert_webhook_url or targets.webhook
        if not (alertmanager or webhook):
            return None
        return Notifier(
            alertmanager_url=alertmanager,
            webhook_url=webhook,
            webhook_secret=settings.alert_webhook_secret,
            interval_s=settings.rule_interval_s,
        )

    def reload_rules(self) -> int | None:
        """Re-read the rules file (SIGHUP): the number of rules now loaded, or None when there
        is no rules file or it has mistakes (logged; the rules loaded before stay)."""
        if self.rules is None:
            return None
        try:
            return self.rules.reload()
        except GlimpseError as exc:
            logger.error("the alert rules were not reloaded: %s", exc)
            return None

    def reload_tokens(self) -> int | None:
        """Re-read the token file (SIGHUP): the number of tokens now accepted, or None when
        there is no token file or it cannot be used (the tokens loaded before stay)."""
        return self.tokens.reload() if self.tokens is not None else None

    def read_cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection for one query, after everything acknowledged so far is committed."""
        assert self._con is not None and self.writer is not None
        if not self.writer.sync():
            logger.warning("the writer did not commit in time; the query may miss the latest spans")
        return self._con.cursor()

    def stats(self) -> dict[str, Any]:
        assert self.writer is not None
        retention = self.writer.retention
        return {
            **dataclasses.asdict(self.writer.stats),
            **({"alerts": self.rules.stats()} if self.rules is not None else {}),
            **({"lake": dataclasses.asdict(self.lake.stats)} if self.lake is not None else {}),
            "queued_rows": self.writer.queued_rows,
            "rejected_memory": self._memory_refusals(),
            "store_bytes": store_bytes(self.settings.db_path),
            "duckdb_memory_bytes": memory_by_tag(self._con) if self._con is not None else {},
            "retention": {
                "max_age_ns": self.settings.retention_ns,
                "max_db_bytes": self.settings.max_db_bytes,
                **dataclasses.asdict(retention.stats if retention is not None else RetentionStats()),
            },
        }

    def _memory_refusals(self) -> int:
        guard = self._ingestor.memory_guard if self._ingestor is not None else None
        return guard.refusals if guard is not None else 0

    def stop(self) -> None:
        """Stop accepting, finish requests in flight, drain and commit, close the store."""
        grace = self.settings.shutdown_grace_s
        if self._grpc is not None:
            self._grpc.stop(grace)
        for server in self._uvicorn:
            server.should_exit = True
        if self._loop_thread is not None:
            self._loop_thread.join(grace + 5)
        if self.rules is not None:
            self.rules.stop()
        if self._ingestor is not None:
            self._ingestor.close()
        if self.lake is not None:
            self.lake.stop()  # what closed since its last pass, before the writer goes
        if self.writer is not None:
            self.writer.close()
        if self._con is not None:
            self._con.close()
            self._con = None
        info_path = server_info_path(self.settings.db_path)
        if self.info is not None and read_server_info(self.settings.db_path) == self.info:
            info_path.unlink(missing_ok=True)


# Requests handled at once per HTTP listener; beyond it uvicorn answers 503, which OTLP
# clients retry. Each OTLP request may hold up to --max-request-bytes, so this bounds memory.
HTTP_CONCURRENCY = 64


def _uvicorn_server(app: Any, tls: TlsFiles | None = None, *, lifespan: Literal["on", "off"] = "off") -> uvicorn.Server:
    # uvicorn runs on its own thread, where it installs no signal handlers: the
    # process's SIGTERM/SIGINT stay with the CLI, which calls GlimpseServer.stop().
    config = uvicorn.Config(
        app,
        lifespan=lifespan,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=10,
        limit_concurrency=HTTP_CONCURRENCY,
        ssl_certfile=tls.cert_file if tls else None,
        ssl_keyfile=tls.key_file if tls else None,
        ssl_ca_certs=tls.client_ca_file if tls else None,
        ssl_cert_reqs=ssl.CERT_REQUIRED if tls is not None and tls.mutual else ssl.CERT_NONE,
    )
    config.load()  # here, not on the serving thread: a TLS file that fails to load fails start()
    return uvicorn.Server(config)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume others can reach it


def _warn_if_exposed(host: str, tls: TlsFiles | None, tokens: TokenStore | None) -> None:
    """Warn when others can reach the listeners and nothing checks who they are."""
    if _is_loopback(host):
        return
    if tokens is None and (tls is None or not tls.mutual):
        logger.warning(
            "listening on %s without --token-file or --tls-client-ca: anyone who reaches these ports "
            "can send data and read the whole store (see docs/security.md)",
            host,
        )
    elif tokens is not None and tls is None:
        logger.warning(
            "listening on %s with bearer tokens but without --tls-cert: the tokens cross the network "
            "in clear text (see docs/security.md)",
            host,
        )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: uvicorn writes an answer's headers and body apart, and
    # without it every answer with a body (errors, 503 "retry later", the API's JSON) waited
    # 40 ms for the client's delayed ACK (measured: 43 ms against 1 ms a 400 answer)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot bind {host}:{port}: {exc.strerror}") from exc
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _memory_guard(limit_bytes: int | None, duckdb_bytes: int) -> MemoryGuard | None:
    """The bound on the whole process (--memory-limit), or None when it is off."""
    if limit_bytes is None:
        return None
    return MemoryGuard(limit_bytes, on_pressure=release_free_memory, reserve_bytes=duckdb_bytes)
