"""Shared fixtures: a real glimpse server on loopback port 0 with a temporary DuckDB file."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from glimpse.client import GlimpseClient
from glimpse.credentials import client_credentials
from glimpse.discovery import ServerInfo, server_info_path
from glimpse.server import GlimpseServer
from glimpse.settings import ServerSettings


@dataclass
class Running:
    """A started server and how to reach it."""

    server: GlimpseServer | None
    info: ServerInfo
    db_path: str

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.info.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.info.http_port}"

    @property
    def api_url(self) -> str:
        return self.info.api_url

    def sql(self, sql: str) -> list[dict[str, Any]]:
        """Rows of ``sql`` through ``glimpse sql``'s own client (via the server's API)."""
        result = GlimpseClient(self.db_path).sql(sql)
        return [dict(zip(result["columns"], row, strict=True)) for row in result["rows"]]

    def scalar(self, sql: str) -> Any:
        rows = self.sql(sql)
        return next(iter(rows[0].values()))


def start_server(db_path: Path, **overrides: Any) -> GlimpseServer:
    # the server runs inside the test process, whose RSS is the whole test run's: the
    # memory limit is only on where a test sets it (test_memory_limit.py)
    overrides.setdefault("memory_limit_bytes", None)
    settings = ServerSettings(db_path=str(db_path), grpc_port=0, http_port=0, api_port=0, **overrides)
    server = GlimpseServer(settings)
    server.start()
    return server


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "glimpse.duckdb"


@contextlib.contextmanager
def serving(db_path: Path, **overrides: Any) -> Iterator[Running]:
    """A server started on ``db_path`` with ``overrides`` of its settings, stopped after."""
    server = start_server(db_path, **overrides)
    assert server.info is not None
    try:
        yield Running(server, server.info, str(db_path))
    finally:
        server.stop()


@pytest.fixture
def running(db_path: Path) -> Iterator[Running]:
    with serving(db_path) as started:
        yield started


class ServerProcess:
    """``glimpse serve`` as a child process (for signals and kill -9)."""

    def __init__(self, db_path: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.db_path = db_path
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "glimpse",
                "serve",
                "--db",
                str(db_path),
                "--grpc-port",
                "0",
                "--http-port",
                "0",
                "--api-port",
                "0",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.info = self._wait_for_info()

    def _wait_for_info(self, timeout_s: float = 30.0) -> ServerInfo:
        path = server_info_path(self.db_path)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"glimpse serve exited early: {output}")
            if path.exists():
                try:
                    info = ServerInfo(**json.loads(path.read_text()))
                except ValueError:
                    continue
                if info.pid == self.process.pid and _api_ready(info):
                    return info
            time.sleep(0.05)
        raise TimeoutError("glimpse serve did not start")

    def running(self) -> Running:
        return Running(None, self.info, str(self.db_path))

    def terminate(self, timeout_s: float = 60.0) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout_s)

    def wait(self, timeout_s: float = 60.0) -> tuple[int, str]:
        output, _ = self.process.communicate(timeout=timeout_s)
        return self.process.returncode, output.decode()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _api_ready(info: ServerInfo) -> bool:
    # /api/health needs no token; over TLS the client trusts the server's certificate
    verify = client_credentials(info).verify
    try:
        return httpx.get(f"{info.api_url}/api/health", timeout=1, verify=verify).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def server_process(db_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(db_path)
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One Spark session (local[2]) for every Spark test of the run: its JVM starts once."""
    from glimpse.spark import spark_session

    session = spark_session("local[2]")
    try:
        yield session
    finally:
        session.stop()
