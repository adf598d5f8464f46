"""What a client sends to a server with TLS or bearer tokens: the token, and whom to trust.

A client of ``glimpse serve`` (the CLI's commands through the API, ``--server URL``) takes

- the token from ``GLIMPSE_TOKEN``, else, for a server found through its discovery file,
  the first token of the server's token file (readable by the user who runs the server);
- the server's certificate as trusted from the discovery file (so a self-signed or
  private-CA certificate works for local commands), plus ``GLIMPSE_CA_FILE`` (a PEM CA
  bundle, for ``--server https://...`` with a private CA), else the system's CAs;
- a client certificate (mTLS) from ``GLIMPSE_CLIENT_CERT`` and ``GLIMPSE_CLIENT_KEY``.

Like :mod:`glimpse.discovery`, this module stays light: no server or web code.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass

from collector.errors import SecurityConfigError
from collector.security import read_tokens
from glimpse.discovery import ServerInfo

__all__ = [
    "ENV_CA_FILE",
    "ENV_CLIENT_CERT",
    "ENV_CLIENT_KEY",
    "ENV_TOKEN",
    "Credentials",
    "client_credentials",
    "missing_client_certificate_hint",
]

ENV_TOKEN = "GLIMPSE_TOKEN"
ENV_CA_FILE = "GLIMPSE_CA_FILE"
ENV_CLIENT_CERT = "GLIMPSE_CLIENT_CERT"
ENV_CLIENT_KEY = "GLIMPSE_CLIENT_KEY"


@dataclass(frozen=True)
class Credentials:
    """The bearer token (or None) and the TLS verification (httpx's ``verify``)."""

    token: str | None = None
    verify: ssl.SSLContext | bool = True

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def client_credentials(info: ServerInfo | None = None) -> Credentials:
    """The credentials for the server ``info`` describes, or for an explicit ``--server`` (None)."""
    token = os.environ.get(ENV_TOKEN, "").strip() or _token_of(info)
    ca_file = os.environ.get(ENV_CA_FILE, "").strip() or None
    client_cert = os.environ.get(ENV_CLIENT_CERT, "").strip() or None
    client_key = os.environ.get(ENV_CLIENT_KEY, "").strip() or None
    server_cert = info.tls_cert if info is not None and info.tls else None
    if not (ca_file or client_cert or server_cert):
        return Credentials(token=token)
    return Credentials(token=token, verify=_context(ca_file, server_cert, client_cert, client_key))


def missing_client_certificate_hint(info: ServerInfo | None) -> str:
    """Why a server that wants client certificates hung up, when none is configured (else "")."""
    if info is None or not info.client_cert_required or os.environ.get(ENV_CLIENT_CERT, "").strip():
        return ""
    return f" (the server requires a client certificate: set {ENV_CLIENT_CERT} and {ENV_CLIENT_KEY})"


def _token_of(info: ServerInfo | None) -> str | None:
    if info is None or not info.token_file:
        return None
    try:
        return read_tokens(info.token_file)[0]
    except SecurityConfigError:
        return None  # another user's file: the server's 401 then says to set GLIMPSE_TOKEN


def _context(
    ca_file: str | None, server_cert: str | None, client_cert: str | None, client_key: str | None
) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=ca_file)  # the system's CAs without a CA file
        if server_cert:
            context.load_verify_locations(cafile=server_cert)
            # trust the server's own certificate as it stands, even when it is not a CA's
            # (self-signed, or a leaf whose CA is not in the file); the host name is still checked
            context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        if client_cert:
            context.load_cert_chain(client_cert, client_key)
    except OSError as exc:  # ssl.SSLError included
        raise SecurityConfigError(
            f"cannot load the client's TLS files ({ENV_CA_FILE}, {ENV_CLIENT_CERT}): {exc}"
        ) from None
    return context
