"""``glimpse serve``: receivers, store, API and console until SIGTERM or Ctrl-C; SIGHUP
re-reads the token file and the alert rules file."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from glimpse import __version__
from glimpse.cli.app import DbOption, app, err
from glimpse.settings import (
    ALERT_WEBHOOK,
    ALERTMANAGER,
    API_PORT,
    CONSOLE_PORT,
    DECODE_WORKERS,
    GRPC_PORT,
    HOST,
    HTTP_PORT,
    LAKE,
    MAX_DB_BYTES,
    MAX_REQUEST_BYTES,
    MEMORY_LIMIT,
    NODE_ID,
    RETENTION,
    RULE_INTERVAL,
    RULES,
    TLS_CERT,
    TLS_CLIENT_CA,
    TLS_KEY,
    TOKEN_FILE,
    ServerSettings,
)

if TYPE_CHECKING:
    from glimpse.server import GlimpseServer

__all__ = ["exit_when_stopped", "serve", "wait_for_stop"]

SIGNAL_POLL_S = 0.5  # how soon a SIGTERM given to another thread than the main one is answered


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[Optional[str], typer.Option(help=HOST.help)] = None,
    grpc_port: Annotated[Optional[int], typer.Option(help=GRPC_PORT.help)] = None,
    http_port: Annotated[Optional[int], typer.Option(help=HTTP_PORT.help)] = None,
    api_port: Annotated[Optional[int], typer.Option(help=API_PORT.help)] = None,
    console_port: Annotated[Optional[int], typer.Option(help=CONSOLE_PORT.help)] = None,
    max_request_bytes: Annotated[Optional[int], typer.Option(help=MAX_REQUEST_BYTES.help)] = None,
    decode_workers: Annotated[Optional[int], typer.Option(help=DECODE_WORKERS.help)] = None,
    retention: Annotated[Optional[str], typer.Option(help=RETENTION.help)] = None,
    max_db_bytes: Annotated[Optional[str], typer.Option(help=MAX_DB_BYTES.help)] = None,
    memory_limit: Annotated[Optional[str], typer.Option(help=MEMORY_LIMIT.help)] = None,
    lake: Annotated[Optional[str], typer.Option(help=LAKE.help)] = None,
    node_id: Annotated[Optional[str], typer.Option(help=NODE_ID.help)] = None,
    tls_cert: Annotated[Optional[str], typer.Option(help=TLS_CERT.help)] = None,
    tls_key: Annotated[Optional[str], typer.Option(help=TLS_KEY.help)] = None,
    tls_client_ca: Annotated[Optional[str], typer.Option(help=TLS_CLIENT_CA.help)] = None,
    token_file: Annotated[Optional[str], typer.Option(help=TOKEN_FILE.help)] = None,
    rules: Annotated[Optional[str], typer.Option(help=RULES.help)] = None,
    rule_interval: Annotated[Optional[float], typer.Option(help=RULE_INTERVAL.help)] = None,
    alertmanager: Annotated[Optional[str], typer.Option(help=ALERTMANAGER.help)] = None,
    alert_webhook: Annotated[Optional[str], typer.Option(help=ALERT_WEBHOOK.help)] = None,
) -> None:
    """Receive OTLP traces, metrics and logs into the DuckDB store and serve the API."""
    from glimpse.server import GlimpseServer, keep_pandas_out

    keep_pandas_out()

    settings = ServerSettings.from_env(
        db_path=db,
        host=host,
        grpc_port=grpc_port,
        http_port=http_port,
        api_port=api_port,
        console_port=console_port,
        max_request_bytes=max_request_bytes,
        decode_workers=decode_workers,
        retention=retention,
        max_db_bytes=max_db_bytes,
        memory_limit=memory_limit,
        lake=lake,
        node_id=node_id,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_client_ca=tls_client_ca,
        token_file=token_file,
        rules_file=rules,
        rule_interval_s=rule_interval,
        alertmanager_url=alertmanager,
        alert_webhook_url=alert_webhook,
    )
    logging.getLogger("storage.retention").setLevel(logging.INFO)  # say what retention drops
    server = GlimpseServer(settings)
    stop = _stop_on_signals()
    info = server.start()
    _reload_on_sighup(server)
    scheme = "https" if info.tls else "http"
    err.print(
        f"glimpse {__version__} storing into [bold]{settings.db_path}[/]\n"
        f"  OTLP/gRPC  {settings.host}:{info.grpc_port}{' (TLS)' if info.tls else ''}\n"
        f"  OTLP/HTTP  {scheme}://{settings.host}:{info.http_port}/v1/traces|metrics|logs\n"
        f"  API        {info.api_url}/api\n"
        f"  console    {info.console_url}/\n"
        f"{_retention_line(retention, max_db_bytes, settings)}"
        f"{_lake_line(settings)}"
        f"{_security_line(settings, info.client_cert_required)}"
        f"{_rules_line(server)}"
        f'Query it: glimpse sql "SELECT service_name, count(*) FROM otel_traces GROUP BY ALL"\n'
        "Ctrl-C (or SIGTERM) drains, commits and stops.",
        highlight=False,
    )
    _wait_for(stop)
    err.print("draining and committing...", highlight=False)
    server.stop()
    err.print("stopped.", highlight=False)
    exit_when_stopped()


def _retention_line(age: str | None, size: str | None, settings: ServerSettings) -> str:
    """What the store keeps, as the user wrote it (or the environment did)."""
    kept = []
    if settings.retention_ns is not None:
        kept.append(f"for {age or os.environ.get(RETENTION.env, '').strip()}")
    if settings.max_db_bytes is not None:
        kept.append(f"up to {size or os.environ.get(MAX_DB_BYTES.env, '').strip()}")
    return f"  retention  keeps data {' and '.join(kept)}\n" if kept else ""


def _lake_line(settings: ServerSettings) -> str:
    if not settings.lake:
        return ""
    from storage.lake import lake_name

    return f"  lake       {lake_name(settings.lake)} as node {settings.lake_node_id} (closed hours)\n"


def _security_line(settings: ServerSettings, client_certs: bool) -> str:
    parts = ["TLS" if settings.tls_cert else "no TLS"]
    if client_certs:
        parts.append("client certificates required")
    parts.append(f"bearer tokens from {settings.token_file} (SIGHUP reloads)" if settings.token_file else "no tokens")
    return f"  security   {', '.join(parts)}\n"


def _rules_line(server: GlimpseServer) -> str:
    if server.rules is None:
        return ""
    count, interval = len(server.rules.rules), server.settings.rule_interval_s
    return f"  alerts     {count} rule{'s' if count != 1 else ''} from {server.rules.path} every {interval:g} s\n"


def _reload_on_sighup(server: GlimpseServer) -> None:
    if server.tokens is None and server.rules is None:
        return

    def reload(*_: object) -> None:
        count = server.reload_tokens()  # a failure is logged, and the old tokens stay
        if count is not None:
            err.print(f"reloaded {count} bearer token{'s' if count != 1 else ''}", highlight=False)
        rules = server.reload_rules()  # the same for the rules
        if rules is not None:
            err.print(f"reloaded {rules} alert rule{'s' if rules != 1 else ''}", highlight=False)

    signal.signal(signal.SIGHUP, reload)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _wait_for(stop: threading.Event) -> None:
    # In turns, not at once: Python runs a signal's handler in the main thread, and a
    # signal the kernel gives to another thread (gRPC's, the writer's) does not wake the
    # main thread from a plain wait, so SIGTERM went unanswered now and then.
    while not stop.wait(SIGNAL_POLL_S):
        pass


def wait_for_stop() -> None:
    """Block until SIGTERM or SIGINT."""
    _wait_for(_stop_on_signals())


def exit_when_stopped() -> None:
    """Exit now: everything is committed and the database closed, and a client connection
    still hanging in a receiver thread must not keep the process alive."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
