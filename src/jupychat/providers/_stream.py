"""Reading one HTTP call: the request body, the retry loop, and the stream of events.

Design note: the sans-IO decisions live in :mod:`._retry` (:class:`~._retry.RetryState`),
:mod:`._errors` (error mapping) and :mod:`._deadline`; here a per-request
:class:`StreamParser` (one per wire format) turns server-sent events or a JSON body into
:mod:`jupychat.events`, fed by a per-try ``_Attempt`` that also tracks whether anything
was handed out yet (from then on nothing is retried) and turns a chunk of an unexpected
shape into a one-line :class:`~jupychat.errors.ProtocolError`. Two thin drivers,
:func:`run_stream` (sync) and :func:`arun_stream` (async), only move bytes and sleep; they
share every decision.

The body sent is the payload as JSON with every known secret value removed
(:mod:`jupychat.secrets`) and only valid UTF-8. Server-sent events are parsed by
``httpx_sse`` from the response text, which passes through ``_Watched`` so the turn
deadline is checked after every piece read (keep-alive comments included).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol, cast

import httpx

from jupychat import secrets as _secrets
from jupychat.errors import ProtocolError, ProviderError, ProviderUnavailable
from jupychat.events import Event

from . import _deadline
from ._deadline import Deadline, Watchdog
from ._errors import Endpoint, one_line, parse_json, redact
from ._retry import RetryPolicy, RetryState, StreamEndedEarly
from ._unicode import clean

__all__ = ["ParserFactory", "StreamParser", "arun_stream", "parse_json", "run_stream"]


# -------------------------------------------------------------------------- parsers


class StreamParser(Protocol):
    """Per-request state that turns a provider's wire events into our events.

    ``ended`` becomes true at the stream's end marker (stop reading); ``complete`` is
    true when ending here is legitimate. A stream that closes while ``complete`` is
    false was dropped.
    """

    @property
    def ended(self) -> bool: ...

    @property
    def complete(self) -> bool: ...

    def feed(self, event: str, data: str) -> Iterable[Event]: ...

    def feed_json(self, body: Any) -> Iterable[Event]: ...

    def finish(self) -> Iterable[Event]: ...


ParserFactory = Callable[[Endpoint], StreamParser]


def _body_kind(response: httpx.Response, endpoint: Endpoint) -> str:
    ctype = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if ctype == "text/event-stream":
        return "sse"
    if ctype.endswith("json"):
        return "json"
    raise ProtocolError(
        f"{endpoint.provider} answered with {ctype or 'no content type'} instead of an event "
        f"stream; check that {endpoint.url} is the right kind of API",
        provider=endpoint.provider,
        status_code=response.status_code,
    )


class _Attempt:
    """One try of a call, sans-IO: the drivers hand it what they read, it hands back events.

    ``started`` turns true once it has produced an event; from then on nothing is retried.
    A parser that trips over a chunk of an unexpected shape (a ``TypeError`` on a number
    where an object belongs...) is a :class:`ProtocolError` here, never a bare exception.
    """

    def __init__(self, endpoint: Endpoint, parser: StreamParser, idle: float | None = None) -> None:
        self.endpoint = endpoint
        self.parser = parser
        self.started = False
        self.responded = False
        self.idle = idle
        self._heard = time.monotonic()  # when the server last sent more than a keep-alive

    def heard(self, text: str) -> None:
        """Note a piece of the body: data resets the idle clock, keep-alives do not.

        With ``idle`` (the ``timeout=`` option), a server that sends only ``: comment``
        keep-alives for longer than that has not answered in time, although bytes flow
        (OpenRouter keeps a queued request open that way).
        """
        if any(line.strip() and not line.startswith(":") for line in text.splitlines()):
            self._heard = time.monotonic()
            return
        if self.idle is None or self.parser.ended:
            return
        waited = time.monotonic() - self._heard
        if waited > self.idle:
            raise ProviderUnavailable(
                f"{self.endpoint.provider} sent only keep-alive comments for {waited:.3g} s, "
                f"no answer; try again, or {self.endpoint.timeout_advice}",
                provider=self.endpoint.provider,
            )

    def _mark(self, produce: Callable[[], Iterable[Event]]) -> list[Event]:
        try:
            out = list(produce())
        except ProviderError:
            raise
        except (AttributeError, TypeError, ValueError, KeyError, IndexError, RecursionError) as exc:
            raise ProtocolError(
                f"{self.endpoint.provider} sent a chunk we cannot read "
                f"({one_line(redact(str(exc), self.endpoint.secrets), 80)}); check that "
                f"{self.endpoint.url} is the right kind of API",
                provider=self.endpoint.provider,
            ) from exc
        if out:
            self.started = True
        return out

    def is_json(self, response: httpx.Response) -> bool:
        return _body_kind(response, self.endpoint) == "json"

    def on_json(self, raw: bytes) -> list[Event]:
        body = parse_json(raw, self.endpoint, "response")
        return self._mark(lambda: self.parser.feed_json(body))

    def on_sse(self, event: str, data: str) -> list[Event]:
        if self.parser.ended:
            return []  # keep reading to the end, so the connection can be reused
        return self._mark(lambda: self.parser.feed(event, data))

    def on_read_error(self, exc: httpx.TransportError) -> None:
        """A read failed: fine after the end marker (we have everything), else re-raise."""
        if not self.parser.ended:
            raise exc

    def end(self) -> list[Event]:
        if not self.parser.complete:
            raise StreamEndedEarly(f"{self.endpoint.provider} closed the stream before its end")
        return self._mark(self.parser.finish)


def _bare_request(request: httpx.Request) -> httpx.Request:
    """The request without its headers (httpx masks ``authorization`` but not ``x-api-key``)."""
    return httpx.Request(request.method, request.url)


def _error_status(state: RetryState, response: httpx.Response, body: bytes) -> float:
    """Seconds to wait before retrying an error status, or raise the mapped error.

    The raised error's ``__cause__`` is an ``httpx.HTTPStatusError`` carrying the status,
    response headers and body, but a request without its (secret-bearing) headers.
    """
    try:
        return state.after_status(response.status_code, response.headers, body)
    except ProviderError as exc:
        request = _bare_request(response.request)
        bare = httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )
        raise exc from httpx.HTTPStatusError(
            f"HTTP {response.status_code}", request=request, response=bare
        )


def _without_secrets(exc: httpx.TransportError) -> httpx.TransportError:
    """A copy of a transport error whose ``request`` has no headers (for ``__cause__``)."""
    try:
        request = exc.request
    except RuntimeError:  # raised without a request (ours, e.g. StreamEndedEarly)
        return exc
    try:
        clean = type(exc)(str(exc), request=_bare_request(request))
    except TypeError:
        return exc
    return clean.with_traceback(exc.__traceback__)


# -------------------------------------------------------------------------- drivers


def _request_body(payload: Mapping[str, Any]) -> bytes:
    """The JSON body, with every known secret value removed and only valid UTF-8."""
    text = _secrets.scrub_text(json.dumps(payload, ensure_ascii=False))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in an old history or a tool schema
        return clean(text).encode("utf-8", "replace")


def run_stream(
    client: httpx.Client,
    endpoint: Endpoint,
    payload: Mapping[str, Any],
    make_parser: ParserFactory,
    policy: RetryPolicy,
    timeout: Any = httpx.USE_CLIENT_DEFAULT,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
    idle: float | None = None,
) -> Iterator[Event]:
    """POST ``payload`` and yield the parsed events, retrying as :class:`RetryState` says.

    ``deadline`` (a ``time.monotonic()`` value) bounds the whole call: connecting,
    retries and their sleeps, and reading (see :mod:`._deadline`). ``idle`` bounds the
    time the server may send only keep-alive comments (see :meth:`_Attempt.heard`).
    """
    from httpx_sse import EventSource

    clock = Deadline(deadline, endpoint.provider)
    state = RetryState(policy, endpoint, clock)
    body = _request_body(payload)
    headers = dict(endpoint.headers)
    while True:
        clock.check(started=False)
        attempt = _Attempt(endpoint, make_parser(endpoint), idle)
        try:
            with (
                client.stream(
                    "POST",
                    endpoint.url,
                    content=body,
                    headers=headers,
                    timeout=clock.clip(timeout, client),
                ) as response,
                Watchdog(response, deadline) as watchdog,
            ):
                attempt.responded = True
                if response.status_code >= 400:
                    wait = _error_status(state, response, response.read())
                else:
                    if attempt.is_json(response):
                        yield from attempt.on_json(response.read())
                    else:
                        source = EventSource(_Watched.wrap(response, clock, attempt, watchdog))
                        try:
                            for sse in source.iter_sse():
                                yield from attempt.on_sse(sse.event, sse.data)
                        except httpx.TransportError as exc:
                            attempt.on_read_error(exc)
                    yield from attempt.end()
                    return
        except httpx.TransportError as exc:
            wait = state.after_transport_error(
                _without_secrets(exc), started=attempt.started, responded=attempt.responded
            )
        sleep(wait)


async def arun_stream(
    client: httpx.AsyncClient,
    endpoint: Endpoint,
    payload: Mapping[str, Any],
    make_parser: ParserFactory,
    policy: RetryPolicy,
    timeout: Any = httpx.USE_CLIENT_DEFAULT,
    sleep: Callable[[float], Any] | None = None,
    deadline: float | None = None,
    idle: float | None = None,
) -> AsyncIterator[Event]:
    """Async twin of :func:`run_stream`; every decision is shared with it."""
    import asyncio

    from httpx_sse import EventSource

    asleep = sleep or asyncio.sleep
    clock = Deadline(deadline, endpoint.provider)
    state = RetryState(policy, endpoint, clock)
    body = _request_body(payload)
    headers = dict(endpoint.headers)
    while True:
        clock.check(started=False)
        attempt = _Attempt(endpoint, make_parser(endpoint), idle)
        try:
            async with client.stream(
                "POST",
                endpoint.url,
                content=body,
                headers=headers,
                timeout=clock.clip(timeout, client),
            ) as response:
                attempt.responded = True
                if response.status_code >= 400:
                    wait = _error_status(state, response, await _aread(response, clock))
                else:
                    if attempt.is_json(response):
                        for event in attempt.on_json(await _aread(response, clock)):
                            yield event
                    else:
                        source = EventSource(_Watched.wrap(response, clock, attempt))
                        sse_events = source.aiter_sse()
                        try:
                            async for sse in sse_events:
                                for event in attempt.on_sse(sse.event, sse.data):
                                    yield event
                        except httpx.TransportError as exc:
                            attempt.on_read_error(exc)
                        finally:
                            await sse_events.aclose()
                    for event in attempt.end():
                        yield event
                    return
        except httpx.TransportError as exc:
            wait = state.after_transport_error(
                _without_secrets(exc), started=attempt.started, responded=attempt.responded
            )
        await asleep(wait)


async def _aread(response: httpx.Response, clock: Deadline) -> bytes:
    """``await response.aread()`` bounded by the deadline."""
    left = clock.remaining()
    if left is None:
        return await response.aread()
    import asyncio

    try:
        return await asyncio.wait_for(response.aread(), max(left, 0.001))
    except (TimeoutError, asyncio.TimeoutError):
        raise clock.error(started=False) from None


class _Watched:
    """What ``httpx_sse.EventSource`` reads: the response's text, checked for the deadline.

    Each piece of text read (a data line, a ``: ping`` comment...) is followed by a check,
    so a stream that sends only keep-alives still ends at the deadline.
    """

    def __init__(
        self,
        response: httpx.Response,
        clock: Deadline,
        attempt: _Attempt,
        watchdog: Watchdog | None = None,
    ) -> None:
        self._response = response
        self._clock = clock
        self._attempt = attempt
        self._watchdog = watchdog

    @classmethod
    def wrap(
        cls,
        response: httpx.Response,
        clock: Deadline,
        attempt: _Attempt,
        watchdog: Watchdog | None = None,
    ) -> httpx.Response:
        """The wrapper, typed as what ``EventSource`` reads (it uses ``headers`` and text)."""
        return cast(httpx.Response, cls(response, clock, attempt, watchdog))

    @property
    def headers(self) -> httpx.Headers:
        return self._response.headers

    def _started(self) -> bool:
        return self._attempt.started

    def _ended(self) -> bool:
        return self._attempt.parser.ended

    def iter_text(self) -> Iterator[str]:
        for text in _deadline.iter_text(
            self._response, self._clock, self._started, self._ended, self._watchdog
        ):
            self._attempt.heard(text)
            yield text

    async def aiter_text(self) -> AsyncIterator[str]:
        pieces = _deadline.aiter_text(self._response, self._clock, self._started, self._ended)
        try:
            async for text in pieces:
                self._attempt.heard(text)
                yield text
        finally:
            await pieces.aclose()  # type: ignore[attr-defined]
