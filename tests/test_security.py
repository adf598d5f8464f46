"""TLS, client certificates and bearer tokens on every listener, through real clients.

Certificates are made on the fly (``tests/certificates.py``); the OpenTelemetry SDK's own
exporters send with TLS and the ``authorization`` header, configured the way users
configure them (``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_EXPORTER_OTLP_CERTIFICATE``, ...);
what is refused must leave the store as it was.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from google.rpc import code_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanContext, SpanKind
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from collector.errors import SecurityConfigError
from glimpse.cli import app
from glimpse.client import GlimpseClient, NotAuthorizedError
from glimpse.credentials import ENV_CA_FILE, ENV_CLIENT_CERT, ENV_CLIENT_KEY, ENV_TOKEN, client_credentials
from glimpse.server import GlimpseServer
from glimpse.settings import ServerSettings, SettingsError
from tests.certificates import Pki, make_pki
from tests.conftest import Running, ServerProcess, start_server

TOKEN = "t0ken-for-the-collector-0001"
SECOND_TOKEN = "t0ken-for-the-console-00002"
WRONG_TOKEN = "not-the-token-at-all-000000"
TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


# ---- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def write_tokens(path: Path, *tokens: str) -> Path:
    path.write_text("# glimpse bearer tokens, one a line\n\n" + "\n".join(tokens) + "\n")
    path.chmod(0o600)
    return path


def secure_server(folder: Path, pki: Pki, *, mutual: bool, **overrides: Any) -> GlimpseServer:
    tokens = write_tokens(folder / "tokens", TOKEN, SECOND_TOKEN)
    return start_server(
        folder / "glimpse.duckdb",
        tls_cert=str(pki.server.cert),
        tls_key=str(pki.server.key),
        tls_client_ca=str(pki.ca) if mutual else None,
        token_file=str(tokens),
        **overrides,
    )


@pytest.fixture(scope="module")
def mtls(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Running]:
    """TLS, client certificates from the test CA, and two bearer tokens."""
    server = secure_server(tmp_path_factory.mktemp("mtls"), pki, mutual=True)
    assert server.info is not None
    try:
        yield Running(server, server.info, server.settings.db_path)
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _requests_honours_the_exporters_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests (under the OTLP/HTTP exporter) lets these replace the CA file it was given
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def client_env(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> None:
    """The CLI's client certificate, for the mTLS server's API (read through discovery)."""
    monkeypatch.setenv(ENV_CLIENT_CERT, str(pki.client.cert))
    monkeypatch.setenv(ENV_CLIENT_KEY, str(pki.client.key))


@pytest.fixture
def sdk_env(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> None:
    """The SDK's standard variables, as an instrumented program would have them."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{TOKEN}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(pki.ca))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", str(pki.client.cert))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", str(pki.client.key))


def spans(service: str, count: int = 2) -> list[ReadableSpan]:
    resource = Resource({"service.name": service})
    trace_id = int.from_bytes(service.encode().ljust(16, b"-")[:16], "big")
    return [
        ReadableSpan(
            name=f"op {i}",
            context=SpanContext(trace_id, i + 1, is_remote=False),
            resource=resource,
            kind=SpanKind.SERVER,
            start_time=1_700_000_000_000_000_000 + i,
            end_time=1_700_000_000_500_000_000 + i,
        )
        for i in range(count)
    ]


def stored(running: Running, service: str) -> int:
    """Spans of ``service`` in the store, read through the server's API (TLS, token, client cert)."""
    return int(running.scalar(f"SELECT count(*) FROM otel_traces WHERE service_name = '{service}'"))


def stored_spans(running: Running) -> int:
    return int(running.scalar("SELECT count(*) FROM otel_traces"))


def export(protocol: str, running: Running, service: str, **kwargs: Any) -> SpanExportResult:
    """Export two spans with the SDK's exporter, configured by the environment and ``kwargs``."""
    if protocol == "grpc":
        exporter: Any = GrpcSpanExporter(endpoint=f"https://localhost:{running.info.grpc_port}", timeout=5, **kwargs)
    else:
        endpoint = f"https://localhost:{running.info.http_port}/v1/traces"
        exporter = HttpSpanExporter(endpoint=endpoint, timeout=5, **kwargs)
    try:
        result: SpanExportResult = exporter.export(spans(service))
        return result
    finally:
        exporter.shutdown()


def tls_client(pki: Pki, *, client_cert: bool = True, token: str | None = TOKEN) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if client_cert:
        context.load_cert_chain(str(pki.client.cert), str(pki.client.key))
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(verify=context, headers=headers, timeout=10)


def grpc_call(running: Running, pki: Pki, body: bytes, metadata: tuple[tuple[str, str], ...]) -> grpc.RpcError | None:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.read_bytes(),
        private_key=pki.client.key.read_bytes(),
        certificate_chain=pki.client.cert.read_bytes(),
    )
    with grpc.secure_channel(f"localhost:{running.info.grpc_port}", credentials) as channel:
        try:
            channel.unary_unary(TRACE_EXPORT)(body, metadata=metadata, timeout=10)
        except grpc.RpcError as exc:
            return exc
    return None


# ---- what is let in -----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_sdk_exporters_with_tls_client_certificate_and_token_store_spans(
    mtls: Running, sdk_env: None, client_env: None, protocol: str
) -> None:
    service = f"sdk-env-{protocol}"
    assert export(protocol, mtls, service) == SpanExportResult.SUCCESS
    assert stored(mtls, service) == 2


def test_sdk_exporters_with_explicit_arguments(mtls: Running, pki: Pki, client_env: None) -> None:
    """The exporters' own arguments: gRPC credentials and headers, HTTP certificate files and headers."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.read_bytes(),
        private_key=pki.client.key.read_bytes(),
        certificate_chain=pki.client.cert.read_bytes(),
    )
    headers = {"authorization": f"Bearer {SECOND_TOKEN}"}
    assert export("grpc", mtls, "args-grpc", credentials=credentials, headers=headers) == SpanExportResult.SUCCESS
    http_result = export(
        "http",
        mtls,
        "args-http",
        certificate_file=str(pki.ca),
        client_certificate_file=str(pki.client.cert),
        client_key_file=str(pki.client.key),
        headers=headers,
    )
    assert http_result == SpanExportResult.SUCCESS
    assert stored(mtls, "args-grpc") == stored(mtls, "args-http") == 2


# ---- what is turned away ---------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("header", [None, f"Bearer {WRONG_TOKEN}", f"Basic {TOKEN}", "Bearer"])
def test_exports_without_the_token_are_refused_and_store_nothing(
    mtls: Running, sdk_env: None, client_env: None, monkeypatch: pytest.MonkeyPatch, protocol: str, header: str | None
) -> None:
    if header is None:
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_HEADERS")
    else:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization={header.replace(' ', '%20')}")
    service = f"refused-{protocol}-{(header or 'none').split()[0].lower()}"
    assert export(protocol, mtls, service) == SpanExportResult.FAILURE
    assert stored(mtls, service) == 0


def test_grpc_answers_unauthenticated_before_decoding(mtls: Running, pki: Pki, client_env: None) -> None:
    # not OTLP at all: without the token it is not even parsed (no INVALID_ARGUMENT)
    for metadata in [(), (("authorization", f"Bearer {WRONG_TOKEN}"),)]:
        error = grpc_call(mtls, pki, b"\xff not protobuf", metadata)
        assert error is not None and error.code() == grpc.StatusCode.UNAUTHENTICATED, metadata
        assert "bearer token" in (error.details() or "")
    error = grpc_call(mtls, pki, b"\xff not protobuf", (("authorization", f"bearer {TOKEN}"),))
    assert error is not None and error.code() == grpc.StatusCode.INVALID_ARGUMENT  # let in, then parsed
    body = encode_spans(spans("raw-grpc")).SerializeToString()
    assert grpc_call(mtls, pki, body, (("authorization", f"Bearer {TOKEN}"),)) is None
    assert stored(mtls, "raw-grpc") == 2


@pytest.mark.parametrize("encoding", ["application/x-protobuf", "application/json"])
def test_otlp_http_answers_401_with_a_status_in_the_request_encoding(
    mtls: Running, pki: Pki, client_env: None, encoding: str
) -> None:
    body = encode_spans(spans("raw-http")).SerializeToString() if "protobuf" in encoding else b"{}"
    url = f"https://127.0.0.1:{mtls.info.http_port}/v1/traces"
    with tls_client(pki, token=WRONG_TOKEN) as client:
        response = client.post(url, content=body, headers={"content-type": encoding})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == encoding
    if encoding == "application/json":
        answer = json.loads(response.content)
        assert answer["code"] == code_pb2.UNAUTHENTICATED and "bearer token" in answer["message"]
    else:
        status = status_pb2.Status.FromString(response.content)
        assert status.code == code_pb2.UNAUTHENTICATED and "bearer token" in status.message
    assert stored(mtls, "raw-http") == 0


def _refused_unauthenticated(running: Running, pki: Pki) -> dict[str, float]:
    with tls_client(pki) as client:
        text = client.get(f"{running.info.api_url}/metrics").text
    return {
        sample.labels["transport"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "glimpse_receiver_refused_requests_total"
        and sample.labels["signal"] == "traces"
        and sample.labels["reason"] == "unauthenticated"
    }


def test_refusals_for_want_of_a_token_are_counted_in_the_self_metrics(
    mtls: Running, pki: Pki, client_env: None
) -> None:
    before = _refused_unauthenticated(mtls, pki)
    assert grpc_call(mtls, pki, b"", (("authorization", f"Bearer {WRONG_TOKEN}"),)) is not None
    with tls_client(pki, token=None) as client:
        url = f"https://127.0.0.1:{mtls.info.http_port}/v1/traces"
        assert client.post(url, content=b"", headers={"content-type": "application/x-protobuf"}).status_code == 401
    after = _refused_unauthenticated(mtls, pki)
    assert {transport: after[transport] - before[transport] for transport in after} == {"grpc": 1, "http": 1}


def test_api_and_console_need_the_token(mtls: Running, pki: Pki) -> None:
    api, console = mtls.info.api_url, mtls.info.console_url
    assert api.startswith("https://") and console.startswith("https://")
    with tls_client(pki, token=None) as anonymous, tls_client(pki, token=WRONG_TOKEN) as wrong, tls_client(pki) as ok:
        for base in (api, console):
            for path in ("/api/services", "/api/extent", "/api/graph", "/api/stats", "/api/nothing-here"):
                refused = anonymous.get(base + path)
                assert refused.status_code == 401, (base, path)
                assert refused.headers["www-authenticate"] == 'Bearer realm="glimpse"'
                assert "bearer token" in refused.json()["error"]
                assert wrong.get(base + path).headers["www-authenticate"].endswith('error="invalid_token"')
            assert ok.get(base + "/api/services").status_code == 200
            sql = {"sql": "SELECT 1 AS one"}
            assert anonymous.post(base + "/api/sql", json=sql).status_code == 401
            assert ok.post(base + "/api/sql", json=sql).json()["rows"] == [[1]]
            # liveness stays open: probes carry no token, and it tells only that the server is up
            assert anonymous.get(base + "/api/health").json()["status"] == "ok"
        # the console's shell loads without a token (it holds no data), then asks for one
        for path in ("/", "/index.html", "/js/main.js", "/console.css", "/api/console/status"):
            assert anonymous.get(console + path).status_code == 200, path
        assert anonymous.get(console + "/not-a-page").status_code == 401  # only the shell is public


def test_mtls_refuses_clients_without_a_certificate_from_its_ca(mtls: Running, pki: Pki) -> None:
    url = f"{mtls.info.api_url}/api/services"
    with tls_client(pki, client_cert=False) as no_cert, pytest.raises(httpx.TransportError):
        no_cert.get(url)
    stranger = ssl.create_default_context(cafile=str(pki.ca))
    stranger.load_cert_chain(str(pki.stranger.cert), str(pki.stranger.key))
    headers = {"authorization": f"Bearer {TOKEN}"}
    with httpx.Client(verify=stranger, headers=headers) as client, pytest.raises(httpx.TransportError):
        client.get(url)
    credentials = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())
    body = encode_spans(spans("no-client-cert")).SerializeToString()
    with (
        grpc.secure_channel(f"localhost:{mtls.info.grpc_port}", credentials) as channel,
        pytest.raises(grpc.RpcError) as refused,
    ):
        channel.unary_unary(TRACE_EXPORT)(body, metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE  # the handshake fails


def test_plain_text_clients_get_nowhere_on_tls_ports(mtls: Running) -> None:
    with (
        grpc.insecure_channel(f"127.0.0.1:{mtls.info.grpc_port}") as channel,
        pytest.raises(grpc.RpcError) as refused,
    ):
        channel.unary_unary(TRACE_EXPORT)(b"", metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    for port in (mtls.info.http_port, mtls.info.api_port, mtls.info.console_port):
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/api/health", headers={"authorization": f"Bearer {TOKEN}"}, timeout=5)


def test_a_client_that_does_not_trust_the_certificate_is_refused(mtls: Running) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{mtls.info.api_url}/api/health", timeout=5)  # the system's CAs only


# ---- the CLI and the discovery file ---------------------------------------------------------


def test_cli_commands_find_a_tls_and_token_server_through_discovery(mtls: Running, client_env: None) -> None:
    info = mtls.info
    assert info.tls and info.client_cert_required and info.tls_cert and info.token_file
    sql = ["sql", "SELECT count(*) AS n FROM otel_traces", "--db", mtls.db_path, "--format", "json"]
    result = CliRunner().invoke(app, sql)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"n": stored_spans(mtls)}]
    graph = CliRunner().invoke(app, ["graph", "--db", mtls.db_path, "--format", "json"])
    assert graph.exit_code == 0, graph.output
    assert "nodes" in json.loads(graph.stdout)


def test_cli_without_the_client_certificate_says_what_is_missing(mtls: Running) -> None:
    result = CliRunner().invoke(app, ["sql", "SELECT 1", "--db", mtls.db_path])
    assert result.exit_code == 1
    assert "requires a client certificate: set GLIMPSE_CLIENT_CERT" in " ".join(result.output.split())


def test_cli_with_server_url_takes_token_and_ca_from_the_environment(
    mtls: Running, pki: Pki, client_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"https://localhost:{mtls.info.api_port}"
    args = ["sql", "SELECT 42 AS answer", "--server", url, "--format", "json"]
    monkeypatch.setenv(ENV_CA_FILE, str(pki.ca))
    monkeypatch.setenv(ENV_TOKEN, SECOND_TOKEN)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"answer": 42}]
    monkeypatch.setenv(ENV_TOKEN, WRONG_TOKEN)
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1 and "GLIMPSE_TOKEN" in refused.output and "Traceback" not in refused.output
    monkeypatch.delenv(ENV_TOKEN)
    with pytest.raises(NotAuthorizedError):
        GlimpseClient(mtls.db_path, url).sql("SELECT 1")  # --server: the token file is not consulted


# ---- rotation ------------------------------------------------------------------------------


def test_token_reload_accepts_the_new_token_and_refuses_the_old(
    tmp_path: Path, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    server = secure_server(tmp_path, pki, mutual=False)
    assert server.info is not None and server.settings.token_file is not None
    token_file = Path(server.settings.token_file)
    url = f"{server.info.api_url}/api/services"
    verify = client_credentials(server.info).verify

    def status(token: str) -> int:
        return httpx.get(url, headers={"authorization": f"Bearer {token}"}, verify=verify, timeout=10).status_code

    try:
        assert (status(TOKEN), status("r0tated-token-000000000001")) == (200, 401)
        write_tokens(token_file, "r0tated-token-000000000001")
        assert server.reload_tokens() == 1
        assert (status(TOKEN), status("r0tated-token-000000000001")) == (401, 200)
        # a reload that fails keeps the tokens it had, and says so
        for broken in ("# nothing but a comment\n", "short\n"):
            token_file.write_text(broken)
            with caplog.at_level(logging.ERROR):
                assert server.reload_tokens() is None
            assert "keeping the 1 tokens" in caplog.text
            assert status("r0tated-token-000000000001") == 200
        token_file.unlink()
        assert server.reload_tokens() is None
        assert status("r0tated-token-000000000001") == 200
    finally:
        server.stop()


def test_sighup_reloads_the_token_file_of_glimpse_serve(tmp_path: Path, pki: Pki) -> None:
    tokens = write_tokens(tmp_path / "tokens", TOKEN)
    db_path = tmp_path / "glimpse.duckdb"
    args = ("--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key), "--token-file", str(tokens))
    process = ServerProcess(db_path, *args)
    try:
        info = process.info
        assert info.tls and info.api_url.startswith("https://")
        verify = client_credentials(info).verify

        def status(token: str) -> int:
            headers = {"authorization": f"Bearer {token}"}
            return httpx.get(f"{info.api_url}/api/extent", headers=headers, verify=verify, timeout=10).status_code

        assert (status(TOKEN), status(SECOND_TOKEN)) == (200, 401)
        write_tokens(tokens, SECOND_TOKEN)
        process.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while status(SECOND_TOKEN) != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (status(TOKEN), status(SECOND_TOKEN)) == (401, 200)
        # the CLI of the same user reads the token from the server's token file
        result = process.running().sql("SELECT count(*) AS n FROM otel_traces")
        assert result == [{"n": 0}]
        code, output = process.terminate()
    finally:
        process.kill()
    assert code == 0, output
    assert "reloaded 1 bearer token" in output and "security   TLS" in output


# ---- start-up checks -----------------------------------------------------------------------


def test_exposed_listeners_without_authentication_warn(
    tmp_path: Path, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = str(write_tokens(tmp_path / "tokens", TOKEN))
    tls = {"tls_cert": str(pki.server.cert), "tls_key": str(pki.server.key)}
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"host": "0.0.0.0"}, "without --token-file"),
        ({"host": "0.0.0.0", "token_file": tokens}, "in clear text"),
        ({"host": "0.0.0.0", "token_file": tokens, **tls}, None),
        ({"host": "0.0.0.0", "tls_client_ca": str(pki.ca), **tls}, None),  # mTLS authenticates
        ({"host": "127.0.0.1"}, None),
    ]
    for number, (overrides, warning) in enumerate(cases):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="glimpse.server"):
            server = start_server(tmp_path / f"{number}.duckdb", **overrides)
            server.stop()
        warnings = [record.getMessage() for record in caplog.records if record.name == "glimpse.server"]
        if warning is None:
            assert warnings == [], overrides
        else:
            assert len(warnings) == 1 and warning in warnings[0], (overrides, warnings)


def test_security_settings_are_checked(tmp_path: Path, pki: Pki) -> None:
    cert, key = str(pki.server.cert), str(pki.server.key)
    with pytest.raises(SettingsError, match="--tls-cert needs --tls-key"):
        ServerSettings(tls_cert=cert)
    with pytest.raises(SettingsError, match="--tls-key needs --tls-cert"):
        ServerSettings(tls_key=key)
    with pytest.raises(SettingsError, match="--tls-client-ca needs"):
        ServerSettings(tls_client_ca=str(pki.ca))
    missing = str(tmp_path / "missing.pem")
    encrypted = tmp_path / "encrypted-key.pem"
    encrypted.write_bytes(
        serialization.load_pem_private_key(pki.server.key.read_bytes(), None).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    short = write_tokens(tmp_path / "short", "abc")
    empty = write_tokens(tmp_path / "empty")
    spaced = tmp_path / "spaced"
    spaced.write_text("two words-and-long-enough-000\n")
    bad: list[tuple[dict[str, Any], str]] = [
        ({"tls_cert": missing, "tls_key": key}, f"cannot read the TLS certificate {missing}"),
        ({"tls_cert": cert, "tls_key": missing}, "cannot read the TLS key"),
        ({"tls_cert": cert, "tls_key": str(pki.client.key)}, "does not load with the certificate"),
        ({"tls_cert": cert, "tls_key": str(encrypted)}, "is encrypted"),
        ({"tls_cert": cert, "tls_key": key, "tls_client_ca": missing}, "cannot read the client CA file"),
        ({"tls_cert": cert, "tls_key": key, "tls_client_ca": str(short)}, "holds no usable PEM certificate"),
        ({"token_file": missing}, f"cannot read the token file {missing}"),
        ({"token_file": str(short)}, "at least 16 characters"),
        ({"token_file": str(empty)}, "holds no token"),
        ({"token_file": str(spaced)}, "one word"),
    ]
    for overrides, message in bad:
        db = tmp_path / "never.duckdb"
        with pytest.raises(SecurityConfigError, match=message):
            start_server(db, **overrides)
        assert not db.exists(), overrides  # refused before the store is opened


def test_security_settings_come_from_options_then_the_environment(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> None:
    monkeypatch.setenv("GLIMPSE_TLS_CERT", str(pki.server.cert))
    monkeypatch.setenv("GLIMPSE_TLS_KEY", str(pki.server.key))
    monkeypatch.setenv("GLIMPSE_TLS_CLIENT_CA", str(pki.ca))
    monkeypatch.setenv("GLIMPSE_TOKEN_FILE", "/etc/glimpse/tokens")
    settings = ServerSettings.from_env(token_file="/run/tokens")
    assert settings.tls is not None and settings.tls.mutual and settings.tls.cert_file == str(pki.server.cert)
    assert settings.token_file == "/run/tokens"
    for name in ("GLIMPSE_TLS_CERT", "GLIMPSE_TLS_KEY", "GLIMPSE_TLS_CLIENT_CA", "GLIMPSE_TOKEN_FILE"):
        monkeypatch.delenv(name)
    plain = ServerSettings.from_env()
    assert plain.tls is None and plain.token_file is None


def test_serve_refuses_bad_security_options_with_one_line(tmp_path: Path, pki: Pki) -> None:
    db = str(tmp_path / "glimpse.duckdb")
    missing = str(tmp_path / "tokens")
    for args, message in [
        (["--tls-cert", str(pki.server.cert)], "--tls-cert needs --tls-key"),
        (["--token-file", missing], f"cannot read the token file {missing}"),
    ]:
        result = CliRunner().invoke(app, ["serve", "--db", db, "--grpc-port", "0", "--http-port", "0", *args])
        assert result.exit_code == 1, result.output
        assert message in result.output and "Traceback" not in result.output


def test_the_token_file_is_used_as_written(tmp_path: Path) -> None:
    from collector.security import TokenStore, read_tokens

    path = tmp_path / "tokens"
    path.write_text(f"# comment\n\n  {TOKEN}  \n{SECOND_TOKEN}\n{TOKEN}\n")
    path.chmod(0o600)
    assert read_tokens(path) == (TOKEN, SECOND_TOKEN)
    store = TokenStore(path)
    assert len(store) == 2
    assert store.accepts_header(f"Bearer {SECOND_TOKEN}") and store.accepts_header(f"BEARER {TOKEN}")
    for header in (None, "", "Bearer", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", TOKEN, f"Token {TOKEN}"):
        assert not store.accepts_header(header), header


def test_a_token_file_others_can_read_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from collector.security import TokenStore

    path = write_tokens(tmp_path / "tokens", TOKEN)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        TokenStore(path)
    assert "chmod 600" in caplog.text
    assert os.stat(path).st_mode & 0o777 == 0o644  # reported, never changed


# ---- the console in a browser ------------------------------------------------------------------


def test_the_console_asks_for_the_token_once(tmp_path: Path, pki: Pki) -> None:
    """Headless Chromium: the shell loads, the first API call's 401 brings the token form; a
    wrong token is refused and asked again; the right one serves this tab from then on."""
    from tests.test_console import CHROMIUM, _browser_missing, screenshot

    reason = _browser_missing()
    if reason:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)
    from playwright.sync_api import sync_playwright

    server = secure_server(tmp_path, pki, mutual=False)
    assert server.info is not None
    credentials = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())
    headers = {"authorization": f"Bearer {TOKEN}"}
    running = Running(server, server.info, server.settings.db_path)
    assert export("grpc", running, "checkout", credentials=credentials, headers=headers) == SpanExportResult.SUCCESS
    errors: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            try:
                # the test CA is not the browser's: accept the certificate as a user would
                page = browser.new_context(ignore_https_errors=True).new_page()
                page.set_default_timeout(15_000)
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(f"{server.info.console_url}/#/services")
                page.wait_for_selector("#token-form")
                page.fill("#token-input", WRONG_TOKEN)
                page.click("#token-form button[type=submit]")
                page.wait_for_selector("#token-form >> text=refused")
                screenshot(page, "token")
                page.fill("#token-input", SECOND_TOKEN)
                page.click("#token-form button[type=submit]")
                page.wait_for_selector("#page[data-ready=true]")
                page.wait_for_selector("#services-table >> text=checkout")
                assert page.evaluate("sessionStorage.getItem('glimpse.token')") == SECOND_TOKEN
                # other pages and a reload of this tab: no more questions
                page.goto(f"{server.info.console_url}/#/traces")
                page.reload()
                page.wait_for_selector("#page[data-ready=true]")
                assert page.locator("#token-form").count() == 0
            finally:
                browser.close()
    finally:
        server.stop()
    assert not errors, errors
