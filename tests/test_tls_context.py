"""The one TLS context: verifying as httpx's default, CA certificates read at first use.

A plain-http endpoint (the local servers) never pays for reading the CA bundle; the first
https handshake reads it, and verification is as strict as ever (a self-signed server is
refused unless its certificate is trusted through ``SSL_CERT_FILE``, as httpx does).
"""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fixtures_server import script
from jupychat import ChatSession
from jupychat.providers import _transport
from jupychat.providers._transport import DeferredTrustContext, shared_client, ssl_context

SETTINGS = (
    "protocol",
    "verify_mode",
    "check_hostname",
    "options",
    "verify_flags",
    "minimum_version",
    "maximum_version",
    "post_handshake_auth",
    "hostname_checks_common_name",
    "security_level",
)


def test_settings_match_the_standard_default_context() -> None:
    ours, standard = DeferredTrustContext(), ssl.create_default_context()
    for name in SETTINGS:
        assert getattr(ours, name) == getattr(standard, name), name
    assert ours.get_ciphers() == standard.get_ciphers()


def test_a_turn_over_plain_http_reads_no_certificates(
    model_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole turn with a local server (its window asked over a client of its own, the
    answer streamed over the shared one) never reads the CA bundle."""
    monkeypatch.setattr(_transport, "_ssl", None)  # a fresh context and shared client
    monkeypatch.setattr(_transport, "_shared", None)
    script(model_server, text="hello there")
    session = ChatSession(model=f"openai-compatible:tls-probe@{model_server}/v1", store=None)
    try:
        assert session.send("hi").text == "hello there"
        assert shared_client()._transport._pool._ssl_context is ssl_context()  # type: ignore[attr-defined]
        assert ssl_context().cert_store_stats()["x509_ca"] == 0
    finally:
        shared_client().close()


def test_the_first_handshake_reads_certifi(monkeypatch: pytest.MonkeyPatch) -> None:
    import certifi

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    context = DeferredTrustContext()
    assert context.cert_store_stats()["x509_ca"] == 0
    context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="example.com")
    bundle = ssl.create_default_context(cafile=certifi.where())
    assert context.cert_store_stats() == bundle.cert_store_stats()
    context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="example.com")
    assert context.cert_store_stats() == bundle.cert_store_stats()  # read once


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def https_url(self_signed: tuple[Path, Path]) -> Iterator[str]:
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(*self_signed)
    server.socket = server_side.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_an_untrusted_server_is_refused(https_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with httpx.Client(verify=DeferredTrustContext(), trust_env=False) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get(https_url)


def test_ssl_cert_file_is_trusted_as_httpx_does(
    https_url: str, self_signed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed[0]))
    context = DeferredTrustContext()
    with httpx.Client(verify=context, trust_env=False) as client:
        assert client.get(https_url).text == "hello"
    assert context.cert_store_stats()["x509_ca"] == 1
    with httpx.Client(verify=httpx.create_ssl_context(), trust_env=False) as client:
        assert client.get(https_url).text == "hello"  # httpx's own context agrees


def test_one_context_is_shared() -> None:
    assert ssl_context() is ssl_context()
    assert isinstance(_transport.ssl_context(), DeferredTrustContext)
