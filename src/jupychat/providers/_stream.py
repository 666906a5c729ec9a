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
(:mod:`jupychat.secrets`) and only valid UTF-8. Server-sent events are decoded from the
response's bytes by :class:`~._sse.SSEDecoder`, one network chunk at a time: every
event a chunk completes goes through the parser, and what they produced is handed up
at once, adjacent text (and reasoning) pieces merged into one delta. The turn deadline
and the idle limit are checked once per chunk read (keep-alive comments included), not
once per event.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from itertools import chain
from typing import Any, Protocol

import httpx

from jupychat import secrets as _secrets
from jupychat.errors import ProtocolError, ProviderError, ProviderUnavailable
from jupychat.events import Event, ReasoningDelta, TextDelta

from . import _deadline, _wirejson
from ._deadline import Deadline, Watchdog
from ._errors import Endpoint, one_line, parse_json, redact
from ._retry import RetryPolicy, RetryState, StreamEndedEarly
from ._sse import SSEDecoder
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

_UNREADABLE = (AttributeError, TypeError, ValueError, KeyError, IndexError, RecursionError)
"""What a parser raises on a chunk of an unexpected shape (made a ProtocolError)."""


def merge_deltas(events: list[Event]) -> list[Event]:
    """``events`` with each run of adjacent text (or reasoning) deltas joined into one."""
    out: list[Event] = []
    run: list[str] = []
    kind: type | None = None
    for event in events:
        if type(event) is kind:
            run.append(event.text)  # type: ignore[union-attr]
            continue
        if len(run) > 1:
            out[-1] = kind(text="".join(run))  # type: ignore[misc]
        if type(event) in (TextDelta, ReasoningDelta):
            kind, run = type(event), [event.text]  # type: ignore[union-attr]
        else:
            kind, run = None, []
        out.append(event)
    if len(run) > 1:
        out[-1] = kind(text="".join(run))  # type: ignore[misc]
    return out


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
    ``ended`` turns true once the stream's end marker has been read (the parser's own
    flag, copied after each chunk: the reader looks at it for each chunk it reads).
    A parser that trips over a chunk of an unexpected shape (a ``TypeError`` on a number
    where an object belongs...) is a :class:`ProtocolError` here, never a bare exception.
    """

    def __init__(self, endpoint: Endpoint, parser: StreamParser, idle: float | None = None) -> None:
        self.endpoint = endpoint
        self.parser = parser
        self.started = False
        self.ended = False
        self.responded = False
        self.idle = idle
        self._heard = time.monotonic()  # when the server last sent more than a keep-alive
        self.decoder = SSEDecoder()

    def heard(self, data: bool) -> None:
        """Note a chunk of the body: data resets the idle clock, keep-alives do not.

        With ``idle`` (the ``timeout=`` option), a server that sends only ``: comment``
        keep-alives for longer than that has not answered in time, although bytes flow
        (OpenRouter keeps a queued request open that way).
        """
        if data:
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

    def _protocol_error(self, exc: BaseException) -> ProtocolError:
        return ProtocolError(
            f"{self.endpoint.provider} sent a chunk we cannot read "
            f"({one_line(redact(str(exc), self.endpoint.secrets), 80)}); check that "
            f"{self.endpoint.url} is the right kind of API",
            provider=self.endpoint.provider,
        )

    def _mark(self, produce: Callable[[], Iterable[Event]]) -> list[Event]:
        try:
            out = list(produce())
        except ProviderError:
            raise
        except _UNREADABLE as exc:
            raise self._protocol_error(exc) from exc
        if out:
            self.started = True
        return out

    def is_json(self, response: httpx.Response) -> bool:
        return _body_kind(response, self.endpoint) == "json"

    def on_json(self, raw: bytes) -> list[Event]:
        body = parse_json(raw, self.endpoint, "response")
        return self._mark(lambda: self.parser.feed_json(body))

    def on_chunk(self, chunk: bytes | None) -> tuple[list[Event], BaseException | None]:
        """The events one chunk of an event stream makes, merged, and the error it raised.

        Events parsed before a failing one are handed out first (``(events, error)``:
        yield the events, then raise the error), as if they had come one by one.
        ``None`` marks the end of the body.
        """
        decoder = self.decoder
        if chunk is None:
            pairs = decoder.close()
        else:
            pairs = decoder.feed(chunk)
            if not decoder.heard:
                self.heard(False)
            elif self.idle is not None:  # (``heard(True)`` inline: this runs for every chunk)
                self._heard = time.monotonic()
        if not pairs:
            return [], None
        parser = self.parser
        out: list[Event] = []
        error: BaseException | None = None
        try:
            if len(pairs) == 1:  # the common chunk: one event
                if not self.ended:
                    got = parser.feed(*pairs[0])  # (a parser may hand back any iterable)
                    out = got if type(got) is list else list(got)
            else:
                for event, data in pairs:
                    if parser.ended:
                        break  # keep reading to the end, so the connection can be reused
                    out.extend(parser.feed(event, data))
        except ProviderError as exc:
            error = exc
        except _UNREADABLE as exc:
            error = self._protocol_error(exc)
            error.__cause__ = exc
        self.ended = parser.ended
        if out:
            self.started = True
            if len(out) > 1:
                out = merge_deltas(out)
        return out, error

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
    text, raw = _wirejson.dumps_utf8(payload)  # the history's entries: encoded once
    scrubbed = _secrets.scrub_text(text)
    if scrubbed is text and raw is not None:  # no secret in it: the bytes as spliced
        return raw
    text = scrubbed
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in an old history or a tool schema
        return clean(text).encode("utf-8", "replace")


_SENT = "send_request_body.complete"  # httpcore's trace: the request is out (HTTP/1.1 and 2)


def _sent_trace(on_sent: Callable[[], None] | None, awaited: bool = False) -> dict[str, Any] | None:
    """The request's ``trace`` extension: ``on_sent()`` once its body has gone out, while
    the server works (see ``ChatRequest.on_sent``); ``None`` when there is nothing to do.
    ``awaited``: for an async client (httpcore awaits its trace)."""
    if on_sent is None:
        return None

    def trace(name: str, info: Any) -> None:
        if name.endswith(_SENT):
            on_sent()

    async def atrace(name: str, info: Any) -> None:
        trace(name, info)

    return {"trace": atrace if awaited else trace}


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
    on_sent: Callable[[], None] | None = None,
) -> Iterator[Event]:
    """POST ``payload`` and yield the parsed events, retrying as :class:`RetryState` says.

    ``deadline`` (a ``time.monotonic()`` value) bounds the whole call: connecting,
    retries and their sleeps, and reading (see :mod:`._deadline`). ``idle`` bounds the
    time the server may send only keep-alive comments (see :meth:`_Attempt.heard`).
    ``on_sent`` is called each time the request has gone out, before its answer is read.
    """
    clock = Deadline(deadline, endpoint.provider)
    state = RetryState(policy, endpoint, clock)
    body = _request_body(payload)
    headers = dict(endpoint.headers)
    extensions = _sent_trace(on_sent)
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
                    extensions=extensions,
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
                        chunks = _deadline.iter_bytes(response, clock, attempt, watchdog)
                        try:
                            for chunk in chain(chunks, (None,)):  # None: the end
                                events, error = attempt.on_chunk(chunk)
                                yield from events
                                if error is not None:
                                    raise error
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
    on_sent: Callable[[], None] | None = None,
) -> AsyncIterator[Event]:
    """Async twin of :func:`run_stream`; every decision is shared with it."""
    import asyncio

    asleep = sleep or asyncio.sleep
    clock = Deadline(deadline, endpoint.provider)
    state = RetryState(policy, endpoint, clock)
    body = _request_body(payload)
    headers = dict(endpoint.headers)
    extensions = _sent_trace(on_sent, awaited=True)
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
                extensions=extensions,
            ) as response:
                attempt.responded = True
                if response.status_code >= 400:
                    wait = _error_status(state, response, await _aread(response, clock))
                else:
                    if attempt.is_json(response):
                        for event in attempt.on_json(await _aread(response, clock)):
                            yield event
                    else:
                        chunks = _deadline.aiter_bytes(response, clock, attempt)
                        try:
                            async for chunk in chunks:
                                events, error = attempt.on_chunk(chunk)
                                for event in events:
                                    yield event
                                if error is not None:
                                    raise error
                            events, error = attempt.on_chunk(None)  # the end
                            for event in events:
                                yield event
                            if error is not None:
                                raise error
                        except httpx.TransportError as exc:
                            attempt.on_read_error(exc)
                        finally:
                            await chunks.aclose()  # type: ignore[attr-defined]
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
