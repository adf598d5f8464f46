"""Settings: an explicit argument beats an environment variable beats the default.

Each setting of ``glimpse serve`` is declared once, in :data:`SETTINGS` (option, environment
variable, default, meaning); the CLI's help text is built from it, and a test fails when
``docs/configuration.md`` leaves one out.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from collector.ingest import DEFAULT_COMMIT_TIMEOUT_S, DEFAULT_MAX_REQUEST_BYTES
from collector.security import TlsFiles
from storage.sizes import size_bytes
from storage.store import DEFAULT_MEMORY_LIMIT_BYTES as MAX_DUCKDB_MEMORY_BYTES
from storage.writer import DEFAULT_FLUSH_INTERVAL_S, DEFAULT_MAX_QUEUED_ROWS
from tracing.errors import GlimpseError

__all__ = [
    "DEFAULT_API_PORT",
    "DEFAULT_CONSOLE_PORT",
    "DEFAULT_DB",
    "DEFAULT_GRPC_PORT",
    "DEFAULT_HOST",
    "DEFAULT_HTTP_PORT",
    "ENV_ALERTMANAGER",
    "ENV_ALERT_WEBHOOK",
    "ENV_ALERT_WEBHOOK_SECRET",
    "ENV_API_PORT",
    "ENV_CONSOLE_PORT",
    "ENV_DB",
    "ENV_DECODE_WORKERS",
    "ENV_FLUSH_INTERVAL",
    "ENV_GRPC_PORT",
    "ENV_HOST",
    "ENV_HTTP_PORT",
    "ENV_LAKE",
    "ENV_LAKE_DELAY",
    "ENV_LAKE_INTERVAL",
    "ENV_MAX_DB_BYTES",
    "ENV_MAX_QUEUED_ROWS",
    "ENV_MAX_REQUEST_BYTES",
    "ENV_MEMORY_LIMIT",
    "ENV_NODE_ID",
    "ENV_RETENTION",
    "ENV_RULES",
    "ENV_RULE_INTERVAL",
    "ENV_SPAN_METRICS_DELAY",
    "ENV_TLS_CERT",
    "ENV_TLS_CLIENT_CA",
    "ENV_TLS_KEY",
    "ENV_TOKEN_FILE",
    "SECURITY_SETTINGS",
    "SETTINGS",
    "ServerSettings",
    "Setting",
    "SettingsError",
    "default_node_id",
    "env_or",
    "parse_age_ns",
    "parse_size_bytes",
]

T = TypeVar("T", int, float)

ENV_DB = "GLIMPSE_DB"
ENV_HOST = "GLIMPSE_HOST"
ENV_GRPC_PORT = "GLIMPSE_GRPC_PORT"
ENV_HTTP_PORT = "GLIMPSE_HTTP_PORT"
ENV_API_PORT = "GLIMPSE_API_PORT"
ENV_CONSOLE_PORT = "GLIMPSE_CONSOLE_PORT"
ENV_MAX_REQUEST_BYTES = "GLIMPSE_MAX_REQUEST_BYTES"
ENV_MAX_QUEUED_ROWS = "GLIMPSE_MAX_QUEUED_ROWS"
ENV_FLUSH_INTERVAL = "GLIMPSE_FLUSH_INTERVAL"
ENV_DECODE_WORKERS = "GLIMPSE_DECODE_WORKERS"
ENV_RETENTION = "GLIMPSE_RETENTION"
ENV_MAX_DB_BYTES = "GLIMPSE_MAX_DB_BYTES"
ENV_MEMORY_LIMIT = "GLIMPSE_MEMORY_LIMIT"
ENV_SPAN_METRICS_DELAY = "GLIMPSE_SPAN_METRICS_DELAY"
# the Parquet lake (docs/scale.md)
ENV_LAKE = "GLIMPSE_LAKE"
ENV_NODE_ID = "GLIMPSE_NODE_ID"
ENV_LAKE_INTERVAL = "GLIMPSE_LAKE_INTERVAL"
ENV_LAKE_DELAY = "GLIMPSE_LAKE_DELAY"
# alert rules (docs/alerting.md)
ENV_RULES = "GLIMPSE_RULES"
ENV_RULE_INTERVAL = "GLIMPSE_RULE_INTERVAL"
ENV_ALERTMANAGER = "GLIMPSE_ALERTMANAGER"
ENV_ALERT_WEBHOOK = "GLIMPSE_ALERT_WEBHOOK"
ENV_ALERT_WEBHOOK_SECRET = "GLIMPSE_ALERT_WEBHOOK_SECRET"
# TLS and authentication (docs/security.md)
ENV_TLS_CERT = "GLIMPSE_TLS_CERT"
ENV_TLS_KEY = "GLIMPSE_TLS_KEY"
ENV_TLS_CLIENT_CA = "GLIMPSE_TLS_CLIENT_CA"
ENV_TOKEN_FILE = "GLIMPSE_TOKEN_FILE"

DEFAULT_DB = "glimpse.duckdb"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_GRPC_PORT = 4317
DEFAULT_HTTP_PORT = 4318
DEFAULT_API_PORT = 4320
DEFAULT_CONSOLE_PORT = 4321
# /metrics/spans counts span time this far behind the clock: exporters batch for seconds
DEFAULT_SPAN_METRICS_DELAY_S = 30.0
DEFAULT_RULE_INTERVAL_S = 30.0
DEFAULT_LAKE_INTERVAL_S = 60.0
# an hour is exported this long after it ends (exporters batch and retry); later spans of
# it go out with its next export, when the store's count for it has changed
DEFAULT_LAKE_DELAY_S = 300.0
# below this, DuckDB's own checkpoint and the writer's row groups alone exceed the bound
MIN_DB_BYTES = 64 * 2**20
# The whole server's memory bound, above what was measured without one (docs/robustness.md):
# 560 - 600 MiB at full load, so refusing past 85 % of 1 GiB leaves full load alone; 689 MiB
# at three times the capacity. A bound of 512 MiB was passed by 8 % (553 MiB) under that
# overload: the commit under way is not refused.
DEFAULT_MEMORY_LIMIT_BYTES = 2**30
MIN_MEMORY_LIMIT_BYTES = 128 * 2**20
# DuckDB's share of it: an eighth, and never more than the writer's limit without a bound.
# Past the row group being committed (about 100 MB), DuckDB fills its share with cached
# blocks of the file it has just written: with a quarter (256 MB) the server peaked at 687 -
# 700 MiB under full load, with an eighth at 561 - 594, storing as many spans a second
# (bench.ingest, two runs each; 64 MB also worked, at 519 MiB).
DUCKDB_MEMORY_SHARE = 8


class SettingsError(GlimpseError, ValueError):
    """A setting's value cannot be used."""


@dataclass(frozen=True)
class Setting:
    """One setting: its command-line option, environment variable, default and meaning."""

    option: str
    env: str
    default: str  # as the documentation states it
    meaning: str

    @property
    def help(self) -> str:
        """The option's help text: the meaning, the default and the variable."""
        return f"{self.meaning} [default: {self.default}; env {self.env}]"


DB = Setting("--db", ENV_DB, f"./{DEFAULT_DB}", "DuckDB file")
HOST = Setting("--host", ENV_HOST, DEFAULT_HOST, "Address to bind (0.0.0.0 for all)")
GRPC_PORT = Setting("--grpc-port", ENV_GRPC_PORT, str(DEFAULT_GRPC_PORT), "OTLP/gRPC port (0: any free port)")
HTTP_PORT = Setting("--http-port", ENV_HTTP_PORT, str(DEFAULT_HTTP_PORT), "OTLP/HTTP port (0: any free port)")
API_PORT = Setting("--api-port", ENV_API_PORT, str(DEFAULT_API_PORT), "HTTP API port (0: any free port)")
CONSOLE_PORT = Setting(
    "--console-port",
    ENV_CONSOLE_PORT,
    f"{DEFAULT_CONSOLE_PORT}, or any free port when the API port is 0",
    "Web console port (0: any free port)",
)
MAX_REQUEST_BYTES = Setting(
    "--max-request-bytes",
    ENV_MAX_REQUEST_BYTES,
    f"{DEFAULT_MAX_REQUEST_BYTES // 2**20} MiB",
    "Largest request accepted, in bytes after decompression",
)
DECODE_WORKERS = Setting(
    "--decode-workers",
    ENV_DECODE_WORKERS,
    "one per two CPUs",
    "Processes that decode OTLP metrics, logs and JSON (0: in-process)",
)
MAX_QUEUED_ROWS = Setting(
    "",
    ENV_MAX_QUEUED_ROWS,
    f"{DEFAULT_MAX_QUEUED_ROWS:,}",
    "Rows the write queue holds before receivers answer 'retry later'",
)
FLUSH_INTERVAL = Setting(
    "",
    ENV_FLUSH_INTERVAL,
    f"{DEFAULT_FLUSH_INTERVAL_S:g} s",
    "Seconds a partial row group waits, once exports pause, before it is committed",
)

RETENTION = Setting(
    "--retention",
    ENV_RETENTION,
    "keep everything",
    "Delete spans, logs and metric points older than this, by their own time (e.g. 7d, 36h, 90m)",
)
MAX_DB_BYTES = Setting(
    "--max-db-bytes",
    ENV_MAX_DB_BYTES,
    "no bound",
    "Keep the database within this size, deleting the oldest data first (e.g. 20GB, 512MiB)",
)
MEMORY_LIMIT = Setting(
    "--memory-limit",
    ENV_MEMORY_LIMIT,
    "1 GiB",
    "Bound on the server's memory (RSS): past 85 % of it exports are refused as retryable;"
    " DuckDB gets an eighth (off: no bound)",
)
SPAN_METRICS_DELAY = Setting(
    "",
    ENV_SPAN_METRICS_DELAY,
    f"{DEFAULT_SPAN_METRICS_DELAY_S:g} s",
    "Seconds span time must lie behind the clock before /metrics/spans counts it",
)
LAKE = Setting(
    "--lake",
    ENV_LAKE,
    "none (no lake)",
    "Directory or object-store URI (s3://BUCKET/PREFIX?...) of the shared Parquet lake: each closed hour of spans,"
    " logs and metrics is exported there",
)
NODE_ID = Setting(
    "--node-id",
    ENV_NODE_ID,
    "the host name and a hash of the database path",
    "This node's name in the lake's partitions (node=<id>); stable across restarts",
)
LAKE_INTERVAL = Setting(
    "", ENV_LAKE_INTERVAL, f"{DEFAULT_LAKE_INTERVAL_S:g} s", "Seconds between two looks for hours to export"
)
LAKE_DELAY = Setting(
    "",
    ENV_LAKE_DELAY,
    f"{DEFAULT_LAKE_DELAY_S:g} s",
    "Seconds after an hour ends before it is exported (late spans follow at its next export)",
)
RULES = Setting(
    "--rules",
    ENV_RULES,
    "none (no alerting)",
    "Alert rules file (YAML, docs/alerting.md), evaluated over the store; SIGHUP or POST /api/rules/reload re-reads it",
)
RULE_INTERVAL = Setting(
    "--rule-interval",
    ENV_RULE_INTERVAL,
    f"{DEFAULT_RULE_INTERVAL_S:g} s",
    "Seconds between two evaluations of the alert rules",
)
ALERTMANAGER = Setting(
    "--alertmanager",
    ENV_ALERTMANAGER,
    "none",
    "Prometheus Alertmanager URL: firing and resolved alerts go to its API v2 (needs --rules)",
)
ALERT_WEBHOOK = Setting(
    "--alert-webhook",
    ENV_ALERT_WEBHOOK,
    "none",
    "URL that receives each alert's firing and resolving as signed JSON (needs --rules)",
)
ALERT_WEBHOOK_SECRET = Setting(
    "",
    ENV_ALERT_WEBHOOK_SECRET,
    "none (unsigned)",
    "Secret of the webhook's HMAC-SHA256 signature header",
)
# TLS and authentication, on every listener (docs/security.md)
TLS_CERT = Setting("--tls-cert", ENV_TLS_CERT, "none (plain text)", "PEM server certificate (chain): serve TLS")
TLS_KEY = Setting("--tls-key", ENV_TLS_KEY, "none", "PEM private key of --tls-cert")
TLS_CLIENT_CA = Setting(
    "--tls-client-ca",
    ENV_TLS_CLIENT_CA,
    "none (no client certificates)",
    "PEM CA bundle: clients must present a certificate it signed (mTLS)",
)
TOKEN_FILE = Setting(
    "--token-file",
    ENV_TOKEN_FILE,
    "none (no tokens)",
    "File of bearer tokens, one a line, reloaded on SIGHUP: every request must carry one",
)
SECURITY_SETTINGS = (TLS_CERT, TLS_KEY, TLS_CLIENT_CA, TOKEN_FILE)

SETTINGS = (
    DB,
    HOST,
    GRPC_PORT,
    HTTP_PORT,
    API_PORT,
    CONSOLE_PORT,
    MAX_REQUEST_BYTES,
    DECODE_WORKERS,
    MAX_QUEUED_ROWS,
    FLUSH_INTERVAL,
    RETENTION,
    MAX_DB_BYTES,
    MEMORY_LIMIT,
    SPAN_METRICS_DELAY,
    LAKE,
    NODE_ID,
    LAKE_INTERVAL,
    LAKE_DELAY,
    RULES,
    RULE_INTERVAL,
    ALERTMANAGER,
    ALERT_WEBHOOK,
    ALERT_WEBHOOK_SECRET,
    *SECURITY_SETTINGS,
)


_NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def default_node_id(db_path: str) -> str:
    """The host's name and 8 hex digits of the database's absolute path: the same across
    restarts, different for two nodes on one host."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname().split(".")[0])[:40].strip("-._") or "node"
    digest = hashlib.sha256(os.path.abspath(db_path).encode()).hexdigest()[:8]
    return f"{host}-{digest}"


def default_decode_workers() -> int:
    """One decode process per two CPUs (at least one).

    The workers decode metrics and OTLP/JSON (and what the C fast path declines), in
    Python; protobuf traces and logs are decoded in the server process by the C fast path,
    and the writer's DuckDB work takes the rest.
    """
    return max(1, (os.cpu_count() or 1) // 2)


_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_age_ns(text: str) -> int:
    """A retention age as nanoseconds.

    >>> parse_age_ns("7d") == 7 * 86_400 * 10**9, parse_age_ns("1.5h") == 5400 * 10**9
    (True, True)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise SettingsError(f"not a retention age (like 7d, 36h, 90m, 3600s): {text!r}")
    return round(float(match.group(1)) * _AGE_UNITS[match.group(2)] * 10**9)


def parse_size_bytes(text: str) -> int:
    """A size in bytes: plain digits, or with a unit (KB/MB/GB/TB are powers of 1000,
    KiB/MiB/GiB/TiB of 1024).

    >>> parse_size_bytes("20GB"), parse_size_bytes("512 MiB"), parse_size_bytes("1000")
    (20000000000, 536870912, 1000)
    """
    size = size_bytes(text)
    if size is None or size <= 0:
        raise SettingsError(f"not a size (like 20GB, 512MiB or a number of bytes): {text!r}")
    return round(size)


def parse_memory_limit(text: str) -> int | None:
    """``--memory-limit``: a size, ``off`` for no bound, empty for the default."""
    if not text.strip():
        return DEFAULT_MEMORY_LIMIT_BYTES
    if text.strip().lower() in ("off", "none"):
        return None
    return parse_size_bytes(text)


def env_or(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_number(name: str, default: T, parse: Callable[[str], T], what: str) -> T:
    text = env_or(name, str(default))
    try:
        return parse(text)
    except ValueError:
        raise SettingsError(f"{name} must be {what}, got {text!r}") from None


def _env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "an integer")


def _env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number of seconds")


def _env_optional_int(name: str) -> int | None:
    return _env_int(name, 0) if env_or(name, "") else None


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """Everything ``glimpse serve`` needs; ``from_env`` fills what the caller left out."""

    db_path: str = DEFAULT_DB
    host: str = DEFAULT_HOST
    grpc_port: int = DEFAULT_GRPC_PORT
    http_port: int = DEFAULT_HTTP_PORT
    api_port: int = DEFAULT_API_PORT
    # None: DEFAULT_CONSOLE_PORT, or a free port when the API port is 0 (tests, embedding)
    console_port: int | None = None
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_queued_rows: int = DEFAULT_MAX_QUEUED_ROWS
    flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S
    commit_timeout_s: float = DEFAULT_COMMIT_TIMEOUT_S
    decode_workers: int = 0
    shutdown_grace_s: float = 10.0
    retention_ns: int | None = None  # None: keep everything
    max_db_bytes: int | None = None  # None: no bound
    memory_limit_bytes: int | None = DEFAULT_MEMORY_LIMIT_BYTES  # None: no bound
    span_metrics_delay_s: float = DEFAULT_SPAN_METRICS_DELAY_S
    lake: str | None = None  # None: no lake
    node_id: str | None = None  # None: default_node_id(db_path)
    lake_interval_s: float = DEFAULT_LAKE_INTERVAL_S
    lake_delay_s: float = DEFAULT_LAKE_DELAY_S
    rules_file: str | None = None  # None: no alerting
    rule_interval_s: float = DEFAULT_RULE_INTERVAL_S
    alertmanager_url: str | None = None
    alert_webhook_url: str | None = None
    alert_webhook_secret: str | None = None
    # TLS and authentication (docs/security.md); the files are read when the server starts
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    token_file: str | None = None

    def __post_init__(self) -> None:
        for name in ("grpc_port", "http_port", "api_port", "console_port"):
            port = getattr(self, name)
            if port is None:
                continue
            if not 0 <= port <= 65535:
                raise SettingsError(f"{name.replace('_', ' ')} must be 0-65535, got {port}")
        if self.decode_workers < 0:
            raise SettingsError("decode workers must be 0 or more")
        if self.max_request_bytes < 1024:
            raise SettingsError("max request bytes must be at least 1024")
        if self.max_queued_rows < 1:
            raise SettingsError("the write queue must hold at least one row")
        if not self.flush_interval_s > 0:
            raise SettingsError("the flush interval must be a positive number of seconds")
        if self.retention_ns is not None and self.retention_ns <= 0:
            raise SettingsError("the retention age must be positive")
        if not 0 <= self.span_metrics_delay_s <= 86_400:
            raise SettingsError("the span metrics delay must be 0 to 86,400 seconds")
        if not 1 <= self.rule_interval_s <= 86_400:
            raise SettingsError("the rule interval must be 1 to 86,400 seconds")
        self._check_alerting()
        if not 0.1 <= self.lake_interval_s <= 86_400:
            raise SettingsError("the lake interval must be 0.1 to 86,400 seconds")
        if not 0 <= self.lake_delay_s <= 7 * 86_400:
            raise SettingsError("the lake delay must be 0 to 604,800 seconds")
        if self.node_id is not None and not _NODE_ID.match(self.node_id):
            raise SettingsError(f"a node id is 1-63 letters, digits, '.', '_' or '-': {self.node_id!r}")
        if self.max_db_bytes is not None and self.max_db_bytes < MIN_DB_BYTES:
            raise SettingsError(f"the store size bound must be at least {MIN_DB_BYTES // 2**20} MiB")
        if self.memory_limit_bytes is not None and self.memory_limit_bytes < MIN_MEMORY_LIMIT_BYTES:
            raise SettingsError(f"the memory limit must be at least {MIN_MEMORY_LIMIT_BYTES // 2**20} MiB (or off)")
        self._check_tls()

    @property
    def duckdb_memory_bytes(self) -> int:
        """DuckDB's memory limit: its share of --memory-limit, capped."""
        if self.memory_limit_bytes is None:
            return MAX_DUCKDB_MEMORY_BYTES
        return min(MAX_DUCKDB_MEMORY_BYTES, self.memory_limit_bytes // DUCKDB_MEMORY_SHARE)

    def _check_alerting(self) -> None:
        for option, url in (("--alertmanager", self.alertmanager_url), ("--alert-webhook", self.alert_webhook_url)):
            if not url:
                continue
            if not self.rules_file:
                raise SettingsError(f"{option} needs --rules: it receives the alerts of the rules")
            if not re.match(r"^https?://[^/\s]+", url):
                raise SettingsError(f"{option} must be an http:// or https:// URL, got {url!r}")

    def _check_tls(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            given, missing = ("--tls-cert", "--tls-key") if self.tls_cert else ("--tls-key", "--tls-cert")
            raise SettingsError(f"{given} needs {missing}: TLS takes a certificate and its private key")
        if self.tls_client_ca and not self.tls_cert:
            raise SettingsError("--tls-client-ca needs --tls-cert and --tls-key: client certificates ride on TLS")

    @property
    def lake_node_id(self) -> str:
        """This node's id in the lake: as set, else :func:`default_node_id`."""
        return self.node_id or default_node_id(self.db_path)

    @property
    def tls(self) -> TlsFiles | None:
        """The TLS files, or None when the listeners speak plain text."""
        if not (self.tls_cert and self.tls_key):
            return None
        return TlsFiles(self.tls_cert, self.tls_key, self.tls_client_ca or None)

    @property
    def console_bind_port(self) -> int:
        """The console's port: as set, else 0 when the API takes a free port, else the default."""
        if self.console_port is not None:
            return self.console_port
        return 0 if self.api_port == 0 else DEFAULT_CONSOLE_PORT

    @classmethod
    def from_env(
        cls,
        *,
        db_path: str | None = None,
        host: str | None = None,
        grpc_port: int | None = None,
        http_port: int | None = None,
        api_port: int | None = None,
        console_port: int | None = None,
        max_request_bytes: int | None = None,
        decode_workers: int | None = None,
        retention: str | None = None,
        max_db_bytes: str | None = None,
        memory_limit: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        tls_client_ca: str | None = None,
        token_file: str | None = None,
        rules_file: str | None = None,
        rule_interval_s: float | None = None,
        lake: str | None = None,
        node_id: str | None = None,
        alertmanager_url: str | None = None,
        alert_webhook_url: str | None = None,
    ) -> ServerSettings:
        retention = retention or env_or(ENV_RETENTION, "")
        max_db_bytes = max_db_bytes or env_or(ENV_MAX_DB_BYTES, "")
        return cls(
            db_path=db_path or env_or(ENV_DB, DEFAULT_DB),
            host=host or env_or(ENV_HOST, DEFAULT_HOST),
            grpc_port=grpc_port if grpc_port is not None else _env_int(ENV_GRPC_PORT, DEFAULT_GRPC_PORT),
            http_port=http_port if http_port is not None else _env_int(ENV_HTTP_PORT, DEFAULT_HTTP_PORT),
            api_port=api_port if api_port is not None else _env_int(ENV_API_PORT, DEFAULT_API_PORT),
            console_port=console_port if console_port is not None else _env_optional_int(ENV_CONSOLE_PORT),
            max_request_bytes=max_request_bytes
            if max_request_bytes is not None
            else _env_int(ENV_MAX_REQUEST_BYTES, DEFAULT_MAX_REQUEST_BYTES),
            max_queued_rows=_env_int(ENV_MAX_QUEUED_ROWS, DEFAULT_MAX_QUEUED_ROWS),
            flush_interval_s=_env_float(ENV_FLUSH_INTERVAL, DEFAULT_FLUSH_INTERVAL_S),
            decode_workers=decode_workers
            if decode_workers is not None
            else _env_int(ENV_DECODE_WORKERS, default_decode_workers()),
            retention_ns=parse_age_ns(retention) if retention else None,
            max_db_bytes=parse_size_bytes(max_db_bytes) if max_db_bytes else None,
            memory_limit_bytes=parse_memory_limit(memory_limit or env_or(ENV_MEMORY_LIMIT, "")),
            span_metrics_delay_s=_env_float(ENV_SPAN_METRICS_DELAY, DEFAULT_SPAN_METRICS_DELAY_S),
            lake=lake or env_or(ENV_LAKE, "") or None,
            node_id=node_id or env_or(ENV_NODE_ID, "") or None,
            lake_interval_s=_env_float(ENV_LAKE_INTERVAL, DEFAULT_LAKE_INTERVAL_S),
            lake_delay_s=_env_float(ENV_LAKE_DELAY, DEFAULT_LAKE_DELAY_S),
            tls_cert=tls_cert or env_or(ENV_TLS_CERT, "") or None,
            tls_key=tls_key or env_or(ENV_TLS_KEY, "") or None,
            tls_client_ca=tls_client_ca or env_or(ENV_TLS_CLIENT_CA, "") or None,
            token_file=token_file or env_or(ENV_TOKEN_FILE, "") or None,
            rules_file=rules_file or env_or(ENV_RULES, "") or None,
            rule_interval_s=rule_interval_s
            if rule_interval_s is not None
            else _env_float(ENV_RULE_INTERVAL, DEFAULT_RULE_INTERVAL_S),
            alertmanager_url=alertmanager_url or env_or(ENV_ALERTMANAGER, "") or None,
            alert_webhook_url=alert_webhook_url or env_or(ENV_ALERT_WEBHOOK, "") or None,
            alert_webhook_secret=env_or(ENV_ALERT_WEBHOOK_SECRET, "") or None,
        )
