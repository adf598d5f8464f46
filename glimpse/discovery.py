"""Server discovery: the ``<db>.server.json`` file a running server writes beside its database.

Other glimpse commands read it to query through the server's API instead of opening the
database file, which the server holds locked. Reading it imports no server code. It also
says what a client needs for a server with TLS or tokens (see :mod:`glimpse.credentials`):
the server's certificate file, to trust it, and its token file, which the same user can
read; it holds no secret itself.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

__all__ = ["ServerInfo", "read_server_info", "server_info_path", "write_server_info"]


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    """Where a running server listens (written next to its database)."""

    pid: int
    host: str
    grpc_port: int
    http_port: int
    api_port: int
    console_port: int = 0  # 0 in files written before the console existed
    tls: bool = False  # every listener speaks TLS
    tls_cert: str | None = None  # the server's certificate file (absolute), for clients to trust
    client_cert_required: bool = False  # mTLS: clients must present a certificate
    token_file: str | None = None  # the token file (absolute), when requests need a bearer token

    @property
    def api_url(self) -> str:
        return self._url(self.api_port)

    @property
    def console_url(self) -> str:
        return self._url(self.console_port)

    def _url(self, port: int) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{host}:{port}"


def server_info_path(db_path: str | Path) -> Path:
    return Path(f"{db_path}.server.json")


def read_server_info(db_path: str | Path) -> ServerInfo | None:
    """The info of a live server on ``db_path``, or None (no file, or its process is gone)."""
    path = server_info_path(db_path)
    try:
        info = ServerInfo(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return info


def write_server_info(db_path: str | Path, info: ServerInfo) -> None:
    server_info_path(db_path).write_text(json.dumps(dataclasses.asdict(info)), encoding="utf-8")
