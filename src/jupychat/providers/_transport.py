"""Where HTTP requests go out: the shared clients, the TLS context, and URLs.

Design note: providers without an injected client share one process-wide sync client
(:func:`shared_client`: one connection pool, one TLS context, closed at exit), so
keep-alive survives switching models and a provider dropped without ``close()`` leaves
no socket behind; an async call opens its own client (see
:meth:`~jupychat.providers._http.HTTPProvider.astream`), so no connection outlives the
event loop that made it. There is one TLS context (:func:`ssl_context`), and it reads
its CA certificates (~50 ms) at the first TLS handshake, not when a client is made: a
notebook that talks only to a local server over plain ``http://`` (the embedded model,
Ollama, llama.cpp, LM Studio) never reads them. A base URL may carry a password or a key
in its query: it is used to send requests, and :func:`public_url` is what may be shown or
saved.
"""

from __future__ import annotations

import atexit
import functools
import os
import ssl
import sys
import threading
from typing import Any

import httpx

from jupychat import secrets as _secrets
from jupychat.errors import ConfigError

__all__ = ["check_url", "public_url", "shared_client", "ssl_context"]


_shared: httpx.Client | None = None
_shared_lock = threading.Lock()
_ssl: ssl.SSLContext | None = None


class DeferredTrustContext(ssl.SSLContext):
    """A verifying client context, as ``httpx.create_ssl_context()`` makes it, that loads
    its CA certificates just before its first handshake (reading certifi's bundle costs
    ~50 ms). The same sources, in httpx's order: ``$SSL_CERT_FILE``, ``$SSL_CERT_DIR``,
    else certifi. Settings match ``ssl.create_default_context()`` (tested)."""

    _trusted = False

    def __new__(cls) -> DeferredTrustContext:
        context = super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)  # verifies, checks hostnames
        if sys.version_info >= (3, 13):  # what create_default_context adds from 3.13
            context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
        keylog = os.environ.get("SSLKEYLOGFILE")
        if keylog and not sys.flags.ignore_environment:
            context.keylog_filename = keylog
        return context

    def trust(self) -> None:
        """Load the CA certificates (once; the first handshake calls it)."""
        if self._trusted:
            return
        with _trust_lock:
            if self._trusted:
                return
            if os.environ.get("SSL_CERT_FILE"):
                self.load_verify_locations(cafile=os.environ["SSL_CERT_FILE"])
            elif os.environ.get("SSL_CERT_DIR"):
                self.load_verify_locations(capath=os.environ["SSL_CERT_DIR"])
            else:
                import certifi

                self.load_verify_locations(cafile=certifi.where())
            self._trusted = True

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:  # httpcore's sync backend
        self.trust()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:  # anyio, TLS in TLS
        self.trust()
        return super().wrap_bio(*args, **kwargs)


_trust_lock = threading.Lock()


def ssl_context() -> ssl.SSLContext:
    """The one verifying TLS context of every client we open (see
    :class:`DeferredTrustContext`: plain-http use never reads the CA bundle)."""
    global _ssl
    with _shared_lock:
        if _ssl is None:
            _ssl = DeferredTrustContext()
        return _ssl


def shared_client() -> httpx.Client:
    """The process-wide sync client that providers without an injected one share.

    One connection pool for every provider object means keep-alive survives switching
    models and no socket is left behind by a provider that was dropped without
    :meth:`HTTPProvider.close`. It is closed when the interpreter exits.
    """
    global _shared
    context = ssl_context()
    with _shared_lock:
        if _shared is None or _shared.is_closed:
            _shared = httpx.Client(timeout=None, verify=context)
            atexit.register(_shared.close)
        return _shared


@functools.lru_cache(maxsize=64)
def public_url(url: str) -> str:
    """``url`` without a user name, password or credential-named query parameter.

    What may be shown or saved (a model id, a message); the full URL is used only to
    send requests. Cached: a model id is asked for several times a turn, and parsing a
    URL costs ~100 µs.
    """
    parsed = httpx.URL(url)
    if not (parsed.userinfo or any(_secrets.secret_name(k) for k in parsed.params)):
        return url
    params = [(k, v) for k, v in parsed.params.multi_items() if not _secrets.secret_name(k)]
    clean_url = parsed.copy_with(username=None, password=None, params=params or None)
    return str(clean_url).rstrip("/")


def check_url(url: str, provider: str) -> str:
    """``url`` stripped of spaces and a trailing ``/``; anything not http(s) is refused."""
    url = str(url).strip()
    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            f"base_url for {provider} must start with http:// or https://; got {url!r}"
        )
    return url.rstrip("/")
