"""``glimpse serve``: receivers, store, API and console until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Annotated, Optional

import typer

from glimpse import __version__
from glimpse.cli.app import DbOption, app, err
from glimpse.settings import (
    API_PORT,
    CONSOLE_PORT,
    DECODE_WORKERS,
    GRPC_PORT,
    HOST,
    HTTP_PORT,
    MAX_DB_BYTES,
    MAX_REQUEST_BYTES,
    RETENTION,
    ServerSettings,
)

__all__ = ["exit_when_stopped", "serve", "wait_for_stop"]


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
) -> None:
    """Receive OTLP traces, metrics and logs into the DuckDB store and serve the API."""
    from glimpse.server import GlimpseServer

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
    )
    logging.getLogger("storage.retention").setLevel(logging.INFO)  # say what retention drops
    server = GlimpseServer(settings)
    stop = _stop_on_signals()
    info = server.start()
    err.print(
        f"glimpse {__version__} storing into [bold]{settings.db_path}[/]\n"
        f"  OTLP/gRPC  {settings.host}:{info.grpc_port}\n"
        f"  OTLP/HTTP  http://{settings.host}:{info.http_port}/v1/traces|metrics|logs\n"
        f"  API        {info.api_url}/api\n"
        f"  console    {info.console_url}/\n"
        f"{_retention_line(retention, max_db_bytes, settings)}"
        f'Query it: glimpse sql "SELECT service_name, count(*) FROM otel_traces GROUP BY ALL"\n'
        "Ctrl-C (or SIGTERM) drains, commits and stops.",
        highlight=False,
    )
    stop.wait()
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


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def wait_for_stop() -> None:
    """Block until SIGTERM or SIGINT."""
    _stop_on_signals().wait()


def exit_when_stopped() -> None:
    """Exit now: everything is committed and the database closed, and a client connection
    still hanging in a receiver thread must not keep the process alive."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
