"""TLS material and bearer tokens, shared by every listener (OTLP/gRPC, OTLP/HTTP, API, console).

- :class:`TlsFiles`: the server's certificate and key, and optionally the CA that client
  certificates must chain to (mutual TLS). Read and checked once, at start.
- :class:`TokenStore`: the bearer tokens the server accepts, from a token file (one per
  line, blank lines and ``#`` comments ignored; several at once so that they can be
  rotated). :meth:`TokenStore.reload` re-reads the file (``glimpse serve`` calls it on
  SIGHUP); a reload that fails keeps the tokens it had.
- :class:`BearerAuth`: a pure ASGI middleware that answers 401 (``WWW-Authenticate:
  Bearer``) before the application sees a request without one of the tokens.

This module imports no web framework and no gRPC: the CLI's client reads token files too.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import ssl
import stat
import threading
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.errors import SecurityConfigError

__all__ = [
    "MIN_TOKEN_CHARS",
    "UNAUTHORIZED_MESSAGE",
    "BearerAuth",
    "Rejection",
    "TlsFiles",
    "TokenStore",
    "bearer_token",
    "json_rejection",
    "read_tokens",
]

logger = logging.getLogger(__name__)

# Shorter tokens can be guessed; `openssl rand -hex 32` makes a good one.
MIN_TOKEN_CHARS = 16
# Visible ASCII without blanks: what an HTTP header and gRPC metadata carry unchanged.
_TOKEN = re.compile(r"[\x21-\x7e]+")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# the request's path and headers (lowercase names) -> the 401 answer's media type and body
Rejection = Callable[[str, dict[str, str]], tuple[str, bytes]]


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the server certificate (chain) and key; ``client_ca_file`` turns on mTLS."""

    cert_file: str
    key_file: str
    client_ca_file: str | None = None

    @property
    def mutual(self) -> bool:
        """Whether clients must present a certificate signed by ``client_ca_file``."""
        return self.client_ca_file is not None

    def check(self) -> None:
        """Raise :class:`SecurityConfigError` unless the files load as a server would load them."""
        self.server_context()

    def server_context(self) -> ssl.SSLContext:
        """The server side of TLS, as the HTTP listeners use it."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        for path, what in self._files():
            _readable(path, what)
        try:
            # a callback, so that OpenSSL never prompts on the terminal for an encrypted key
            context.load_cert_chain(self.cert_file, self.key_file, password=self._refuse_passphrase)
        except ssl.SSLError as exc:
            raise SecurityConfigError(
                f"the TLS key {self.key_file} does not load with the certificate {self.cert_file}: {exc.reason or exc}"
            ) from None
        if self.client_ca_file is not None:
            try:
                context.load_verify_locations(cafile=self.client_ca_file)
            except ssl.SSLError as exc:
                raise SecurityConfigError(
                    f"the client CA file {self.client_ca_file} holds no usable PEM certificate: {exc.reason or exc}"
                ) from None
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def _refuse_passphrase(self) -> str:
        raise SecurityConfigError(
            f"the TLS key {self.key_file} is encrypted: give glimpse an unencrypted key (readable only by its user)"
        )

    def pem(self) -> tuple[bytes, bytes, bytes | None]:
        """The certificate, key and client CA as bytes (what gRPC takes)."""
        self.check()
        client_ca = Path(self.client_ca_file).read_bytes() if self.client_ca_file else None
        return Path(self.cert_file).read_bytes(), Path(self.key_file).read_bytes(), client_ca

    def _files(self) -> list[tuple[str, str]]:
        files = [(self.cert_file, "TLS certificate"), (self.key_file, "TLS key")]
        if self.client_ca_file is not None:
            files.append((self.client_ca_file, "client CA file"))
        return files


def _readable(path: str, what: str) -> None:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise SecurityConfigError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def read_tokens(path: str | Path) -> tuple[str, ...]:
    """The tokens of a token file: one per line; blank lines and ``#`` comments ignored.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False) as f:
    ...     _ = f.write("# rotated 2026-01\\n\\n0123456789abcdef0123\\n  fedcba9876543210fedc  \\n")
    >>> read_tokens(f.name)
    ('0123456789abcdef0123', 'fedcba9876543210fedc')
    >>> os.unlink(f.name)
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SecurityConfigError(f"cannot read the token file {path}: {reason}") from None
    tokens: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        token = line.strip()
        if not token or token.startswith("#"):
            continue
        if not _TOKEN.fullmatch(token):
            raise SecurityConfigError(f"{path}:{number}: a token is one word of visible ASCII characters")
        if len(token) < MIN_TOKEN_CHARS:
            raise SecurityConfigError(
                f"{path}:{number}: a token needs at least {MIN_TOKEN_CHARS} characters (try `openssl rand -hex 32`)"
            )
        tokens.append(token)
    if not tokens:
        raise SecurityConfigError(f"the token file {path} holds no token")
    return tuple(dict.fromkeys(tokens))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (scheme in any case), else None.

    >>> bearer_token("Bearer abc"), bearer_token("bearer  abc "), bearer_token("Basic abc"), bearer_token(None)
    ('abc', 'abc', None, None)
    """
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class TokenStore:
    """The accepted bearer tokens, read from ``path``; :meth:`reload` picks up edits."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._tokens = self._encode(read_tokens(self.path))
        self._reload_lock = threading.Lock()
        _warn_if_others_can_read(self.path)

    def __len__(self) -> int:
        return len(self._tokens)

    def accepts(self, token: str | None) -> bool:
        """Whether ``token`` is one of the tokens (compared in constant time, each of them)."""
        if token is None:
            return False
        presented = token.encode("utf-8")
        # no early exit: the time taken does not tell which token came close
        return sum(hmac.compare_digest(presented, known) for known in self._tokens) > 0

    def accepts_header(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value carries one of the tokens."""
        return self.accepts(bearer_token(authorization))

    def reload(self) -> int | None:
        """Re-read the file: the number of tokens now accepted, or None (the old ones kept)."""
        with self._reload_lock:
            try:
                tokens = self._encode(read_tokens(self.path))
            except SecurityConfigError as exc:
                logger.error("token reload failed, keeping the %d tokens loaded before: %s", len(self._tokens), exc)
                return None
            self._tokens = tokens  # one assignment: a request sees the old set or the new one
            logger.info("reloaded %d tokens from %s", len(tokens), self.path)
            return len(tokens)

    @staticmethod
    def _encode(tokens: tuple[str, ...]) -> tuple[bytes, ...]:
        return tuple(token.encode("utf-8") for token in tokens)


def _warn_if_others_can_read(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("the token file %s can be read by other users: chmod 600 %s", path, path)


UNAUTHORIZED_MESSAGE = "missing or invalid bearer token: send Authorization: Bearer <token>"


def json_rejection(_path: str, _headers: dict[str, str]) -> tuple[str, bytes]:
    """The API's 401 body: ``{"error": message}`` like its other errors."""
    return "application/json", json.dumps({"error": UNAUTHORIZED_MESSAGE}).encode()


class BearerAuth:
    """ASGI middleware: a request passes only with one of ``tokens`` (or to a public path).

    Others get 401 with ``WWW-Authenticate: Bearer`` and the body ``reject`` makes, and the
    application never sees them: nothing is read, decoded or stored.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: TokenStore,
        public: Callable[[str], bool] | Collection[str] = (),
        reject: Rejection = json_rejection,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.is_public: Callable[[str], bool] = public if callable(public) else frozenset(public).__contains__
        self.reject = reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.is_public(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        authorization = headers.get("authorization")
        if self.tokens.accepts_header(authorization):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # policy violation
            return
        challenge = 'Bearer realm="glimpse"' + (', error="invalid_token"' if authorization else "")
        media_type, body = self.reject(scope.get("path", ""), headers)
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", media_type.encode("latin-1")),
                    (b"content-length", str(len(body)).encode("latin-1")),
                    (b"www-authenticate", challenge.encode("latin-1")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
