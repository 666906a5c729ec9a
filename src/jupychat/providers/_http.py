"""The HTTP provider base: one spec, one model, keys, clients, timeouts and retries.

Design note: :class:`HTTPProvider` holds what :func:`jupychat.providers.specs.http_provider`
resolved (the :class:`~jupychat.providers.specs.ProviderSpec`, the API root, the API
version, headers) and builds each request from it: the URL from the spec's ``path`` and
version query, the headers from its key header and version header, the key looked up at
request time. A subclass per wire format (:mod:`.openai`, :mod:`.anthropic`) adds only
the request body and the response parser. The retry loop and the stream reading are in
:mod:`._stream`, the decisions in :mod:`._retry` and :mod:`._errors`, clients and URLs in
:mod:`._transport`. No per-stream state is kept on the provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import httpx

from jupychat import config
from jupychat import secrets as _secrets
from jupychat.errors import AuthenticationError, ConfigError
from jupychat.events import Event

from ._errors import Endpoint
from ._retry import RetryPolicy
from ._transport import check_url, public_url, shared_client, ssl_context
from .base import ChatRequest, Provider

if TYPE_CHECKING:
    from ._stream import StreamParser
    from .specs import ProviderSpec

__all__ = ["HTTPProvider"]


def _checked_timeout(value: Any, provider: str) -> float | httpx.Timeout | None:
    """``timeout=`` as seconds (> 0) or an ``httpx.Timeout``; anything else is refused."""
    if value is None or isinstance(value, httpx.Timeout):
        return value
    number = _checked_number("timeout", value, provider)
    if number == 0:
        raise ConfigError(
            f"{provider}: timeout must be more than 0 seconds (got {value!r}); pass e.g. "
            "timeout=30, or leave it out for the connect_timeout/read_timeout settings"
        )
    return number


def _checked_number(name: str, value: Any, provider: str, *, whole: bool = False) -> Any:
    """A retry or timeout option: a finite number ≥ 0 (a whole one for ``whole``), or None."""
    if value is None:
        return None
    kind = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not (0 <= value < float("inf")):
        what = "a whole number ≥ 0" if whole else "a number of seconds ≥ 0"
        raise ConfigError(f"{provider}: {name} must be {what} (got {value!r}); fix {name}=")
    return value


class HTTPProvider(Provider):
    """A provider that streams over HTTP, built from a :class:`~.specs.ProviderSpec`.

    Subclasses (one per wire format) implement :meth:`build_payload` and
    :meth:`new_parser`. Build one with :func:`jupychat.providers.specs.http_provider`,
    which resolves the arguments below from the spec, the environment and the config.

    Parameters
    ----------
    model:
        The model name the API expects.
    spec:
        What kind of provider this is (URL path, key header, version placement...).
    base_url:
        The API root (``https://api.openai.com/v1``...).
    name:
        Registry name shown in :attr:`model_id` and errors, and the ``%chat key`` name
        (the spec's name, or an alias).
    api_key:
        An explicit key; otherwise looked up at request time with
        :func:`jupychat.config.api_key` (``%chat key`` > env var > config file).
    key_env:
        The environment variable that holds the key (named in advice).
    api_version:
        The API version sent in the spec's version header or query parameter.
    url_in_id:
        Put ``@base_url`` in :attr:`model_id` so a saved session finds the same server
        (a password in the URL is used, never shown or saved).
    headers:
        Extra request headers.
    client, async_client:
        Ready-made httpx clients to use (their own timeouts apply unless ``timeout`` is
        given). Not closed by :meth:`close`.
    transport, async_transport:
        httpx transports for the clients this provider creates (tests use
        ``httpx.MockTransport``).
    timeout:
        Seconds (> 0) to wait for the connection and for each piece of the answer, or an
        ``httpx.Timeout``; default: the ``connect_timeout`` and ``read_timeout``
        settings. Keep-alive comments are not an answer: a stream of only those fails
        after ``timeout`` too. The whole turn is bounded by ``turn_timeout`` (a session
        option).
    max_retries, backoff, max_backoff:
        Override the retry settings (``max_retries=0``: one try only). Values of the
        wrong type or below zero are refused with a :class:`ConfigError`.
    """

    name = "http"

    def __init__(
        self,
        model: str,
        *,
        spec: ProviderSpec,
        base_url: str,
        name: str | None = None,
        api_key: str | None = None,
        key_env: str | None = None,
        api_version: str | None = None,
        url_in_id: bool = False,
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
        self.spec = spec
        self.name = name or spec.name
        if not model or not str(model).strip():
            raise ConfigError(
                f"{self.name}: no model given; use '{self.name}:MODEL' (e.g. 'openai:gpt-4o-mini')"
            )
        super().__init__(str(model).strip())
        self.base_url = check_url(base_url, self.name)
        self.api_version = api_version
        self._url_in_id = url_in_id
        self._api_key = api_key or None
        # known from now on: removed by value from requests, errors and stored text
        url = httpx.URL(self.base_url)
        _secrets.register(
            api_key,
            url.password or None,
            *(v for k, v in url.params.multi_items() if _secrets.secret_name(k)),
            *(str(v) for k, v in (headers or {}).items() if _secrets.secret_name(k)),
        )
        self._key_env = key_env
        self._headers = {str(k): str(v) for k, v in (headers or {}).items()}
        self._client = client
        self._async_client = async_client
        self._transport = transport
        self._async_transport = async_transport
        self._owned_client: httpx.Client | None = None
        self._timeout_opt = _checked_timeout(timeout, self.name)
        self._retry_opts = (
            _checked_number("max_retries", max_retries, self.name, whole=True),
            _checked_number("backoff", backoff, self.name),
            _checked_number("max_backoff", max_backoff, self.name),
        )

    @property
    def model_id(self) -> str:
        """``"name:model"`` (``"name:model@url"`` when the URL travels in the id)."""
        if self._url_in_id:
            return f"{self.name}:{self.model}@{public_url(self.base_url)}"
        return f"{self.name}:{self.model}"

    def request_url(self) -> str:
        """The full URL a chat request is POSTed to (path and version query of the spec)."""
        root, _, query = self.base_url.partition("?")
        path = self.spec.path.format(model=quote(self.model, safe=""))
        if path.startswith("/v1/") and root.endswith("/v1"):
            path = path[3:]
        params = [query] if query else []
        if self.spec.version_query and self.api_version:
            params.append(urlencode({self.spec.version_query: self.api_version}))
        return root + path + ("?" + "&".join(params) if params else "")

    def auth_headers(self, key: str | None) -> dict[str, str]:
        """Headers that carry ``key`` and the spec's version header."""
        headers = {}
        if self.spec.version_header and self.api_version:
            headers[self.spec.version_header] = self.api_version
        if key:
            headers[self.spec.key_header] = self.spec.key_prefix + key
        return headers

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
        return config.api_key(self.name, self._key_env)

    def endpoint(self) -> Endpoint:
        """Everything one request needs; raises AuthenticationError if a key is missing."""
        key = self.api_key()
        hint_ep = Endpoint(
            self.name,
            self.model,
            self.request_url(),
            key_name=self.name,
            key_env=self._key_env,
        )
        if key is None and self.spec.key_required:
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
            self.name,
            self._key_env,
            (key,) if key else (),
            timeout_advice=(
                f"raise timeout= (now {self._timeout_opt}) when building the model"
                if self._timeout_opt is not None
                else "raise read_timeout (JUPYCHAT_READ_TIMEOUT)"
            ),
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

    def idle_limit(self) -> float | None:
        """Seconds a stream may carry only keep-alives: the ``timeout=`` option's read part."""
        value = self._timeout_opt
        if isinstance(value, httpx.Timeout):
            return value.read
        return None if value is None else float(value)

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
            idle=self.idle_limit(),
            on_sent=request.on_sent,
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
                idle=self.idle_limit(),
                on_sent=request.on_sent,
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
                idle=self.idle_limit(),
                on_sent=request.on_sent,
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
