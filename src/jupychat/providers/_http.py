"""HTTP plumbing shared by the OpenAI-compatible and Anthropic providers.

Design note: everything that *decides* lives in plain functions and small objects that
never touch the network (sans-IO): :class:`RetryPolicy` and :class:`RetryState` decide
whether a failed attempt is retried and how long to wait (never past the turn's deadline,
:mod:`._deadline`), and :func:`map_error` turns a status code or an error body into one
of :mod:`jupychat.errors`. The drivers that move the bytes and the per-request stream
parsers' protocol are in :mod:`._stream`; :class:`HTTPProvider` ties them together.

Retries are bounded (``max_retries``) with exponential backoff and jitter, capped at
``max_backoff``. Retried: 429 (waiting ``Retry-After`` seconds or HTTP-date, capped),
500/502/503/504/529, and connect errors, read timeouts or dropped connections that
happen before the first event was handed to the caller. Once an event has been yielded,
nothing is retried: a failure then is :class:`~jupychat.errors.ProviderUnavailable` and
the session decides what to do with the partial turn.

Clients: providers without an injected client share one process-wide sync client (one
connection pool, one TLS context, closed at exit); an async call opens its own client
unless ``async_client=`` is given, so no connection outlives the event loop that made it.

Secrets: API keys travel only in request headers. Every error message passes through
:func:`redact`, which removes the key in use, every key the process knows
(:mod:`jupychat.secrets`) and anything shaped like a bearer token or an ``sk-`` key, so
a provider echoing a key back cannot leak it.
"""

from __future__ import annotations

import atexit
import json
import logging
import random
import re
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from jupychat import config
from jupychat import secrets as _secrets
from jupychat.errors import (
    AuthenticationError,
    ConfigError,
    ContextWindowError,
    ModelNotFoundError,
    ProviderError,
    ProviderUnavailable,
    RateLimitError,
)
from jupychat.events import Event

from ._deadline import Deadline
from ._unicode import clean
from .base import ChatRequest, Provider

if TYPE_CHECKING:
    from ._stream import StreamParser

__all__ = [
    "FACTORY_OPTIONS",
    "RETRY_STATUSES",
    "Endpoint",
    "ErrorInfo",
    "HTTPProvider",
    "RetryPolicy",
    "RetryState",
    "StreamEndedEarly",
    "check_options",
    "error_info",
    "map_error",
    "map_transport_error",
    "merge_headers",
    "parse_retry_after",
    "public_url",
    "redact",
    "shared_client",
    "ssl_context",
]

log = logging.getLogger("jupychat.providers")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
_MAX_DETAIL = 200

_CONTEXT_PATTERNS = re.compile(
    r"context[_ ]length|context window|context size|maximum context|prompt is too long|"
    r"too many tokens|exceeds? the (?:available )?context|reduce the length|"
    r"input is too long|exceed_context_size",
    re.IGNORECASE,
)
_SECRET_PATTERNS = re.compile(
    r"(?:sk-[A-Za-z0-9_\-*.]{3,})|(?:(?i:bearer)\s+\S+)|(?:(?i:x-api-key|api-key)\s*[:=]\s*\S+)"
)


# --------------------------------------------------------------------------- endpoint


@dataclass(frozen=True)
class Endpoint:
    """Where one request goes and how to talk about it in errors.

    Attributes
    ----------
    provider:
        Registry name (``"openai"``, an alias...), used in messages and on errors.
    model:
        The model name as the provider knows it.
    url:
        The full request URL.
    headers:
        Request headers, including authentication. Never shown anywhere.
    key_name:
        The name for ``%chat key NAME``.
    key_env:
        The environment variable that holds the key, if there is one.
    secrets:
        Strings that must never appear in an error message (the key in use).
    """

    provider: str
    model: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    key_name: str = ""
    key_env: str | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def key_hint(self) -> str:
        """``"check OPENAI_API_KEY or run %chat key openai"``-style advice."""
        name = self.key_name or self.provider
        if self.key_env:
            return f"set {self.key_env} or run %chat key {name}"
        return f"run %chat key {name} or pass api_key="


# ------------------------------------------------------------------------ redaction


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove ``secrets``, every key this process knows, and key-shaped text from ``text``.

    Known keys are those of :mod:`jupychat.secrets` (environment, config file,
    ``%chat key``, ``api_key=`` arguments); ``secrets`` adds the key in use.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return clean(_SECRET_PATTERNS.sub("[redacted]", _secrets.scrub_text(text)))


def _one_line(text: str, limit: int = _MAX_DETAIL) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------- error bodies


@dataclass(frozen=True)
class ErrorInfo:
    """What an error body said: ``message``, ``type`` and ``code`` (empty when absent)."""

    message: str = ""
    type: str = ""
    code: str = ""


def error_info(body: Any) -> ErrorInfo:
    """Pull the message, type and code out of an error body of any common shape.

    Handles OpenAI (``{"error": {"message", "type", "code"}}``), Anthropic
    (``{"type": "error", "error": {"type", "message"}}``), servers that send
    ``{"error": "text"}`` (Ollama, llama.cpp) or ``{"detail": ...}``, and plain text.
    """
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        stripped = body.strip()
        if not stripped:
            return ErrorInfo()
        try:
            body = json.loads(stripped)
        except ValueError:
            return ErrorInfo(message=stripped)
    if not isinstance(body, Mapping):
        return ErrorInfo(message=str(body))
    err = body.get("error")
    if isinstance(err, Mapping):
        return ErrorInfo(
            message=str(err.get("message") or err.get("detail") or ""),
            type=str(err.get("type") or ""),
            code=str(err.get("code") or ""),
        )
    if isinstance(err, str):
        return ErrorInfo(message=err, type=str(body.get("type") or ""))
    detail = body.get("message") or body.get("detail") or ""
    if not isinstance(detail, str):
        detail = json.dumps(detail)
    return ErrorInfo(message=detail, type=str(body.get("type") or ""))


def _status_text(status: int | None, info: ErrorInfo, secrets: Iterable[str]) -> str:
    detail = _one_line(redact(info.message, secrets)) if info.message else ""
    if status is None:
        label = info.type or "error"
        return f"({label}: {detail})" if detail else f"({label})"
    return f"(HTTP {status}: {detail})" if detail else f"(HTTP {status})"


def map_error(
    status: int | None,
    info: ErrorInfo,
    endpoint: Endpoint,
    *,
    retry_after: float | None = None,
    retries: int = 0,
) -> ProviderError:
    """Turn an HTTP status (or an in-stream error, ``status=None``) into our exception.

    The message is one line, names the provider and says what to do; it never contains
    the API key (see :func:`redact`).
    """
    name = endpoint.provider
    why = _status_text(status, info, endpoint.secrets)
    kind = info.type.lower()
    code = info.code.lower()
    tried = f" after {retries} retries" if retries else ""
    if (
        status in (401, 403)
        or kind in ("authentication_error", "permission_error")
        or (code == "invalid_api_key")
    ):
        verb = "refused access with this API key" if status == 403 else "rejected the API key"
        return AuthenticationError(
            f"{name} {verb} {why}; {endpoint.key_hint()}",
            provider=name,
            status_code=status,
        )
    if (
        code == "context_length_exceeded"
        or kind == "request_too_large"
        or status == 413
        or (status in (None, 400, 422) and _CONTEXT_PATTERNS.search(info.message))
    ):
        return ContextWindowError(
            f"the conversation is too long for {name}:{endpoint.model} {why}; clear or trim "
            "the history (%chat clear) or use a model with a larger context window",
            provider=name,
            status_code=status,
        )
    if status == 404 or code == "model_not_found" or kind == "not_found_error":
        return ModelNotFoundError(
            f"{name} does not know model {endpoint.model!r} {why}; check the model name "
            f"and that {endpoint.url} is the right endpoint",
            provider=name,
            status_code=status,
        )
    if status == 429 or kind == "rate_limit_error" or code == "rate_limit_exceeded":
        if code == "insufficient_quota":
            advice = "check your plan and billing with the provider"
        elif retry_after is not None:
            advice = f"wait {retry_after:g} s and try again"
        else:
            advice = "wait a little and try again"
        return RateLimitError(
            f"{name} rate limit hit{tried} {why}; {advice}",
            provider=name,
            status_code=status or 429,
            retry_after=retry_after,
        )
    if (status is not None and status >= 500) or kind in (
        "overloaded_error",
        "api_error",
        "server_error",
    ):
        return ProviderUnavailable(
            f"{name} is unavailable{tried} {why}; try again later or pick another model",
            provider=name,
            status_code=status,
        )
    return ProviderError(
        f"{name} rejected the request {why}; check the model name and the options passed "
        "(temperature, max_tokens, tools, extra)",
        provider=name,
        status_code=status,
    )


def map_transport_error(
    exc: Exception, endpoint: Endpoint, *, started: bool, retries: int = 0
) -> ProviderUnavailable:
    """Turn a network failure into :class:`ProviderUnavailable` with advice."""
    name = endpoint.provider
    detail = _one_line(redact(f"{type(exc).__name__}: {exc}", endpoint.secrets))
    tried = f" after {retries} retries" if retries else ""
    if started:
        return ProviderUnavailable(
            f"the connection to {name} broke mid-answer ({detail}); the answer is incomplete, "
            "send the message again",
            provider=name,
        )
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return ProviderUnavailable(
            f"{name} did not answer in time{tried} ({detail}); try again, or raise "
            "read_timeout (JUPYCHAT_READ_TIMEOUT)",
            provider=name,
        )
    return ProviderUnavailable(
        f"cannot reach {name} at {endpoint.url}{tried} ({detail}); check the network and "
        "that the server is running",
        provider=name,
    )


class StreamEndedEarly(httpx.RemoteProtocolError):
    """The server closed a stream before its end marker (treated as a dropped connection)."""


# ------------------------------------------------------------------------- retries


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or HTTP-date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    ``delay(n)`` for the n-th retry (0-based) is ``backoff * 2**n`` with up to 50 %
    jitter, or the server's ``Retry-After``; both are capped at ``max_backoff``.
    """

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 20.0

    @classmethod
    def from_config(
        cls,
        max_retries: int | None = None,
        backoff: float | None = None,
        max_backoff: float | None = None,
    ) -> RetryPolicy:
        """Resolve each field through :func:`jupychat.config.resolve`."""
        try:
            return cls(
                max_retries=max(0, int(config.resolve("max_retries", max_retries))),
                backoff=max(0.0, float(config.resolve("backoff", backoff))),
                max_backoff=max(0.0, float(config.resolve("max_backoff", max_backoff))),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"max_retries/backoff/max_backoff must be numbers ({exc}); fix the setting"
            ) from exc

    def delay(
        self,
        attempt: int,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float:
        if retry_after is not None:
            return min(self.max_backoff, retry_after)
        base = min(self.max_backoff, self.backoff * (2**attempt))
        return base * (0.5 + rand() / 2)


_RETRYABLE_TRANSPORT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.PoolTimeout,
    httpx.RemoteProtocolError,
)


class RetryState:
    """The sans-IO retry decision for one call: returns a delay or raises the final error."""

    def __init__(
        self, policy: RetryPolicy, endpoint: Endpoint, deadline: Deadline | None = None
    ) -> None:
        self.policy = policy
        self.endpoint = endpoint
        self.deadline = deadline or Deadline(None, endpoint.provider)
        self.retries = 0
        self._stale_retried = False

    def _no_time(self, error: ProviderError, wait: float) -> ProviderError:
        """``error`` noting that a retry after ``wait`` s would pass the turn's deadline."""
        error.args = (
            f"{error} (not retried: waiting {wait:.3g} s would pass the turn's time limit; "
            "raise turn_timeout to wait longer)",
        )
        return error

    def after_status(self, status: int, headers: Mapping[str, str], body: bytes) -> float:
        """Decide after an HTTP error status: seconds to wait, or raise the mapped error."""
        info = error_info(body)
        retry_after = parse_retry_after(headers)
        retryable = status in RETRY_STATUSES and info.code != "insufficient_quota"
        if retryable and self.retries < self.policy.max_retries:
            wait = self.policy.delay(self.retries, retry_after)
            if not self.deadline.allows(wait):
                raise self._no_time(
                    map_error(
                        status, info, self.endpoint, retry_after=retry_after, retries=self.retries
                    ),
                    wait,
                )
            self.retries += 1
            log.info(
                "%s answered HTTP %s; retry %d/%d in %.2f s",
                self.endpoint.provider,
                status,
                self.retries,
                self.policy.max_retries,
                wait,
            )
            return wait
        raise map_error(status, info, self.endpoint, retry_after=retry_after, retries=self.retries)

    def after_transport_error(
        self, exc: Exception, *, started: bool, responded: bool = True
    ) -> float:
        """Decide after a network failure: seconds to wait, or raise ProviderUnavailable.

        ``responded`` says whether response headers had arrived. A connection kept alive
        from an earlier call that the server had already closed fails before any response
        (``Server disconnected without sending a response``); that gets one immediate retry
        on a fresh connection, outside ``max_retries`` (llama.cpp's server does this).
        """
        if (
            not responded
            and not self._stale_retried
            and isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError))
        ):
            self._stale_retried = True
            self.deadline.check(started)
            log.debug(
                "%s: stale keep-alive connection (%s); retrying now", self.endpoint.provider, exc
            )
            return 0.0
        if self.deadline.expired():
            raise self.deadline.error(started, _one_line(f"{type(exc).__name__}", 60)) from exc
        if (
            not started
            and isinstance(exc, _RETRYABLE_TRANSPORT)
            and self.retries < self.policy.max_retries
        ):
            wait = self.policy.delay(self.retries)
            if not self.deadline.allows(wait):
                error = map_transport_error(exc, self.endpoint, started=False, retries=self.retries)
                raise self._no_time(error, wait) from exc
            self.retries += 1
            log.info(
                "%s: %s; retry %d/%d in %.2f s",
                self.endpoint.provider,
                type(exc).__name__,
                self.retries,
                self.policy.max_retries,
                wait,
            )
            return wait
        raise map_transport_error(
            exc, self.endpoint, started=started, retries=self.retries
        ) from exc


# ------------------------------------------------------------------------ provider

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


FACTORY_OPTIONS = frozenset(
    {
        "base_url",
        "api_key",
        "headers",
        "api_version",
        "client",
        "async_client",
        "transport",
        "async_transport",
        "timeout",
        "max_retries",
        "backoff",
        "max_backoff",
        "name",
    }
)


def check_options(
    provider: str, options: Mapping[str, Any], unused: frozenset[str] = frozenset()
) -> None:
    """Refuse, in one line, option names an HTTP provider factory would not use.

    ``unused`` are names of :data:`FACTORY_OPTIONS` this factory has no use for (OpenAI
    has no ``api_version``): they are refused too rather than silently dropped. The
    message suggests the closest known name and says where request options belong.
    """
    known = FACTORY_OPTIONS - unused
    unknown = sorted(set(options) - known)
    if not unknown:
        return
    import difflib

    from jupychat._sanitize import REQUEST_OPTIONS

    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, [*known, *REQUEST_OPTIONS], n=1, cutoff=0.75)
        if close:
            hints.append(f"{name} → {close[0]}?")
    hint = f" (did you mean {', '.join(hints)})" if hints else ""
    raise ConfigError(
        f"unknown option(s) {', '.join(unknown)} for {provider}{hint}; provider options are "
        f"{', '.join(sorted(known - {'name'}))}; request options "
        f"({', '.join(sorted(REQUEST_OPTIONS))}) go to ChatSession or send()"
    )


def merge_headers(settings: Mapping[str, Any], options: dict[str, Any]) -> dict[str, str]:
    """The config table's ``headers`` overlaid with (and popped from) ``options``."""
    merged: dict[str, str] = {}
    for source in (settings.get("headers"), options.pop("headers", None)):
        if isinstance(source, Mapping):
            merged.update({str(k): str(v) for k, v in source.items()})
    return merged


def public_url(url: str) -> str:
    """``url`` without a user name, password or credential-named query parameter.

    What may be shown or saved (a model id, a message); the full URL is used only to
    send requests.
    """
    parsed = httpx.URL(url)
    if not (parsed.userinfo or any(_secrets.secret_name(k) for k in parsed.params)):
        return url
    params = [(k, v) for k, v in parsed.params.multi_items() if not _secrets.secret_name(k)]
    clean_url = parsed.copy_with(username=None, password=None, params=params or None)
    return str(clean_url).rstrip("/")


def _check_url(url: str, provider: str) -> str:
    url = str(url).strip()
    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            f"base_url for {provider} must start with http:// or https://; got {url!r}"
        )
    return url.rstrip("/")


class HTTPProvider(Provider):
    """A provider that streams over HTTP: key lookup, clients, timeouts, retries.

    Subclasses set :attr:`name` and implement :meth:`request_url`, :meth:`auth_headers`,
    :meth:`build_payload` and :meth:`new_parser`.

    Parameters
    ----------
    model:
        The model name the API expects.
    base_url:
        The API root (``https://api.openai.com/v1``...).
    api_key:
        An explicit key; otherwise looked up at request time with
        :func:`jupychat.config.api_key` (``%chat key`` > env var > config file).
    key_name, key_env, key_required:
        The ``%chat key`` name, the environment variable, and whether a missing key is an
        error (raised when a request is made, not at construction).
    headers:
        Extra request headers.
    client, async_client:
        Ready-made httpx clients to use (their own timeouts apply unless ``timeout`` is
        given). Not closed by :meth:`close`.
    transport, async_transport:
        httpx transports for the clients this provider creates (tests use
        ``httpx.MockTransport``).
    timeout:
        Seconds (connect and read) or an ``httpx.Timeout``; default: the
        ``connect_timeout`` and ``read_timeout`` settings.
    max_retries, backoff, max_backoff:
        Override the retry settings.
    """

    name = "http"

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str | None = None,
        key_name: str | None = None,
        key_env: str | None = None,
        key_required: bool = True,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        backoff: float | None = None,
        max_backoff: float | None = None,
    ) -> None:
        if not model or not str(model).strip():
            raise ConfigError(
                f"{self.name}: no model given; use '{self.name}:MODEL' (e.g. 'openai:gpt-4o-mini')"
            )
        super().__init__(str(model).strip())
        self.base_url = _check_url(base_url, self.name)
        self._api_key = api_key or None
        # known from now on: removed by value from requests, errors and stored text
        url = httpx.URL(self.base_url)
        _secrets.register(
            api_key,
            url.password or None,
            *(v for k, v in url.params.multi_items() if _secrets.secret_name(k)),
            *(str(v) for k, v in (headers or {}).items() if _secrets.secret_name(k)),
        )
        self._key_name = key_name or self.name
        self._key_env = key_env
        self._key_required = key_required
        self._headers = {str(k): str(v) for k, v in (headers or {}).items()}
        self._client = client
        self._async_client = async_client
        self._transport = transport
        self._async_transport = async_transport
        self._owned_client: httpx.Client | None = None
        self._timeout_opt = timeout
        self._retry_opts = (max_retries, backoff, max_backoff)

    # -- hooks for subclasses -------------------------------------------------------

    def request_url(self) -> str:
        """The full URL a chat request is POSTed to."""
        raise NotImplementedError

    def auth_headers(self, key: str | None) -> dict[str, str]:
        """Headers that carry ``key`` (and any fixed protocol headers)."""
        raise NotImplementedError

    def build_payload(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body for ``request``."""
        raise NotImplementedError

    def new_parser(self, endpoint: Endpoint) -> StreamParser:
        """A fresh parser for one response."""
        raise NotImplementedError

    # -- shared machinery -----------------------------------------------------------

    def api_key(self) -> str | None:
        """The key to use now (explicit > ``%chat key`` > env var > config file)."""
        if self._api_key:
            return self._api_key
        return config.api_key(self._key_name, self._key_env)

    def endpoint(self) -> Endpoint:
        """Everything one request needs; raises AuthenticationError if a key is missing."""
        key = self.api_key()
        hint_ep = Endpoint(
            self.name,
            self.model,
            self.request_url(),
            key_name=self._key_name,
            key_env=self._key_env,
        )
        if key is None and self._key_required:
            raise AuthenticationError(
                f"no API key for {self.name}: {hint_ep.key_hint()}", provider=self.name
            )
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "user-agent": "jupychat",
            **self._headers,
            **self.auth_headers(key),
        }
        return Endpoint(
            self.name,
            self.model,
            hint_ep.url,
            headers,
            self._key_name,
            self._key_env,
            (key,) if key else (),
        )

    def retry_policy(self) -> RetryPolicy:
        """The retry settings in force now."""
        return RetryPolicy.from_config(*self._retry_opts)

    def request_timeout(self) -> Any:
        """The per-request timeout (``USE_CLIENT_DEFAULT`` for injected clients)."""
        value = self._timeout_opt
        if isinstance(value, httpx.Timeout):
            return value
        if value is not None:
            return httpx.Timeout(float(value))
        if self._client is not None or self._async_client is not None:
            return httpx.USE_CLIENT_DEFAULT
        try:
            connect = float(config.resolve("connect_timeout"))
            read = float(config.resolve("read_timeout"))
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"connect_timeout/read_timeout must be numbers of seconds ({exc})"
            ) from exc
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    def _sync_client(self) -> httpx.Client:
        if self._client is not None:
            return self._client
        if self._transport is None:
            return shared_client()
        if self._owned_client is None:
            self._owned_client = httpx.Client(
                transport=self._transport, timeout=None, verify=ssl_context()
            )
        return self._owned_client

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        """Yield the events of one model call (see :mod:`jupychat.events`)."""
        from ._stream import run_stream

        endpoint = self.endpoint()
        payload = self.build_payload(request)
        yield from run_stream(
            self._sync_client(),
            endpoint,
            payload,
            self.new_parser,
            self.retry_policy(),
            self.request_timeout(),
            deadline=request.deadline,
        )

    async def astream(self, request: ChatRequest) -> AsyncIterator[Event]:
        """Native async twin of :meth:`stream`.

        Uses the injected ``async_client`` or a client opened for this call only (so no
        connection outlives the event loop that made it).
        """
        from ._stream import arun_stream

        endpoint = self.endpoint()
        payload = self.build_payload(request)
        policy = self.retry_policy()
        timeout = self.request_timeout()
        if self._async_client is not None:
            async for event in arun_stream(
                self._async_client,
                endpoint,
                payload,
                self.new_parser,
                policy,
                timeout,
                deadline=request.deadline,
            ):
                yield event
            return
        async with httpx.AsyncClient(
            transport=self._async_transport, timeout=None, verify=ssl_context()
        ) as client:
            async for event in arun_stream(
                client,
                endpoint,
                payload,
                self.new_parser,
                policy,
                timeout,
                deadline=request.deadline,
            ):
                yield event

    def close(self) -> None:
        """Close the HTTP client this provider opened (injected and shared ones stay open)."""
        client, self._owned_client = self._owned_client, None
        if client is not None:
            client.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing useful left to do
            pass


_MOVED = frozenset({"ParserFactory", "StreamParser", "arun_stream", "parse_json", "run_stream"})


def __getattr__(name: str) -> Any:
    """The stream drivers and parser protocol moved to :mod:`._stream`; still found here."""
    if name in _MOVED:
        from . import _stream

        return getattr(_stream, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
