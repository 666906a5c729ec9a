"""Where HTTP requests go out: the shared clients, the TLS context, and URLs.

Design note: providers without an injected client share one process-wide sync client
(:func:`shared_client`: one connection pool, one TLS context, closed at exit), so
keep-alive survives switching models and a provider dropped without ``close()`` leaves
no socket behind; an async call opens its own client (see
:meth:`~jupychat.providers._http.HTTPProvider.astream`), so no connection outlives the
event loop that made it. Building a verified TLS context costs ~50 ms: there is one
(:func:`ssl_context`). A base URL may carry a password or a key in its query: it is used
to send requests, and :func:`public_url` is what may be shown or saved.
"""

from __future__ import annotations

import atexit
import functools
import ssl
import threading

import httpx

from jupychat import secrets as _secrets
from jupychat.errors import ConfigError

__all__ = ["check_url", "public_url", "shared_client", "ssl_context"]


_shared: httpx.Client | None = None
_shared_lock = threading.Lock()
_ssl: ssl.SSLContext | None = None


def ssl_context() -> ssl.SSLContext:
    """One verified TLS context for every client we open (building one costs ~50 ms)."""
    global _ssl
    with _shared_lock:
        if _ssl is None:
            _ssl = httpx.create_ssl_context()
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
