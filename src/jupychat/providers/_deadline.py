"""The turn deadline as the HTTP drivers enforce it.

Design note: a turn has one absolute deadline (``time.monotonic()`` seconds, from the
``turn_timeout`` setting; see :mod:`jupychat.session`). It travels on
:attr:`ChatRequest.deadline <jupychat.providers.base.ChatRequest.deadline>` and
:class:`Deadline` applies it at every place an HTTP call can wait:

* **connecting and the first byte**: every httpx timeout (connect, write, read, pool) of
  each attempt is clipped to the time left, so a server that never answers ends the
  attempt at the deadline instead of after ``read_timeout`` per retry;
* **backoff sleeps**: a retry whose wait (backoff or ``Retry-After``) would end past the
  deadline is not slept; the call fails at once, saying so;
* **streaming**: each chunk of the body read is followed by a check, so a stream of
  ``: ping`` keep-alive comments (which never make an event) or a slow trickle ends at
  the deadline; a read that blocks is cut at the deadline by :class:`Watchdog` (sync: a
  timer shuts the socket down, which wakes the blocked read) or by an ``asyncio``
  timeout around each read (async);
* **after the end marker**: a server that keeps the stream open after ``[DONE]`` /
  ``message_stop`` is given :data:`GRACE` seconds to close it (so the connection can be
  reused), then the stream is closed; the answer is complete and is not an error.

Nothing here decides what happens to a partial answer: the error says the time ran out
and the session (which knows whether text arrived) keeps or drops it.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from jupychat.errors import ProviderUnavailable

if TYPE_CHECKING:  # the session imports this module: httpx and asyncio load only when used
    import httpx

__all__ = [
    "GRACE",
    "Deadline",
    "Progress",
    "Watchdog",
    "aiter_bytes",
    "iter_bytes",
    "wait_until",
]

GRACE = 2.0  # seconds a server may keep a finished stream open before we close it
_MIN = 0.001


class Deadline:
    """The deadline of one provider call (``at=None``: no deadline, every check passes).

    Parameters
    ----------
    at:
        ``time.monotonic()`` value by which the call must end.
    provider:
        The provider's registry name (set on the errors).
    label:
        How messages name it (default: ``provider``).
    """

    def __init__(self, at: float | None, provider: str, label: str | None = None) -> None:
        self.at = at
        self.provider = provider
        self.label = label or provider

    def remaining(self) -> float | None:
        """Seconds left (never below zero), or ``None`` without a deadline."""
        if self.at is None:
            return None
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at

    def error(self, started: bool, why: str = "") -> ProviderUnavailable:
        """The one-line error for a call cut by the deadline."""
        detail = f" ({why})" if why else ""
        if started:
            return ProviderUnavailable(
                f"{self.label} was still answering when the turn's time limit ran out"
                f"{detail}; the answer is incomplete: raise turn_timeout "
                "(JUPYCHAT_TURN_TIMEOUT) to wait longer",
                provider=self.provider,
            )
        return ProviderUnavailable(
            f"no answer from {self.label} before the turn's time limit ran out{detail}; "
            "try again, or raise turn_timeout (JUPYCHAT_TURN_TIMEOUT)",
            provider=self.provider,
        )

    def check(self, started: bool) -> None:
        """Raise :meth:`error` once the deadline has passed."""
        if self.expired():
            raise self.error(started)

    def clip(self, timeout: Any, client: httpx.Client | httpx.AsyncClient) -> Any:
        """``timeout`` (or the client's) with every part capped at the time left."""
        left = self.remaining()
        if left is None:
            return timeout
        import httpx

        base = client.timeout if timeout is httpx.USE_CLIENT_DEFAULT else timeout
        if not isinstance(base, httpx.Timeout):
            base = httpx.Timeout(base)
        cap = max(_MIN, left)

        def part(value: float | None) -> float:
            return cap if value is None else max(_MIN, min(value, cap))

        return httpx.Timeout(
            connect=part(base.connect),
            read=part(base.read),
            write=part(base.write),
            pool=part(base.pool),
        )

    def allows(self, wait: float) -> bool:
        """Whether sleeping ``wait`` seconds (then trying again) ends before the deadline."""
        left = self.remaining()
        return left is None or wait < left


class _Alarms:
    """One daemon thread that fires every :class:`Watchdog` when its time comes.

    A timer thread per request cost a thread start and two GIL hand-overs on every turn;
    one sleeping thread with a heap of times costs a heap push. Entries are dropped
    lazily: a watchdog that moved or closed no longer matches its old entry, which is
    skipped when it comes up (and the heap is compacted when stale entries pile up).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Watchdog]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, at: float, dog: Watchdog) -> None:
        with self._cond:
            if len(self._heap) > 256:
                self._heap = [e for e in self._heap if e[2].due(e[0])]
                heapq.heapify(self._heap)
            entry = (at, next(self._seq), dog)
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():  # first use, or a fork
                self._thread = threading.Thread(
                    target=self._run, name="jupychat-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0] is entry:
                self._cond.notify()  # the thread sleeps until a later time: wake it

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and not self._heap[0][2].due(self._heap[0][0]):
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                at, _, dog = self._heap[0]
                left = at - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                heapq.heappop(self._heap)
                dog.fire()


_ALARMS = _Alarms()


class Watchdog:
    """Cuts a blocked synchronous read at a time: shuts the response's socket down.

    A socket shut down from another thread makes a blocked ``recv`` return at once (the
    read then fails as a dropped connection, which the driver reports as the deadline).
    The watchdog is disarmed before the response is closed, so a connection handed back
    to the pool is never touched. Responses without a socket (``httpx.MockTransport``)
    are left to the per-piece checks. One shared thread (:class:`_Alarms`) does the
    waiting for every watchdog.
    """

    def __init__(self, response: httpx.Response, at: float | None) -> None:
        stream = response.extensions.get("network_stream")
        sock = None
        if stream is not None:
            try:
                sock = stream.get_extra_info("socket")
            except Exception:  # a transport without sockets
                sock = None
        self._sock = sock if isinstance(sock, socket.socket) else None
        self._lock = threading.Lock()
        self._armed = self._sock is not None
        self._at: float | None = None
        self.fired = False
        self.move(at)

    def move(self, at: float | None) -> None:
        """Fire at ``at`` instead (only ever earlier; ``None`` keeps the current time)."""
        if at is None or not self._armed or (self._at is not None and at >= self._at):
            return
        # a hair late rather than early: the driver then sees the deadline as passed
        self._at = at + 0.002
        _ALARMS.schedule(self._at, self)

    def due(self, at: float) -> bool:
        """Whether an alarm set for ``at`` is still this watchdog's current one."""
        return self._armed and self._at == at

    def fire(self) -> None:
        """Shut the socket down now (the alarm thread calls this at the time)."""
        with self._lock:
            if not self._armed or self._sock is None:
                return
            self.fired = True
            try:
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
            except OSError:  # already closed
                pass

    def close(self) -> None:
        with self._lock:
            self._armed = False

    def __enter__(self) -> Watchdog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _raw(response: httpx.Response) -> bool:
    """Whether the body can be read raw: still streaming, with no content coding (the
    raw bytes are the body; reading them skips httpx's decoder and chunker, two more
    steps for each of the ~200 chunks of an answer). A coded body, or one a transport
    handed over already read, is read the usual way."""
    encoded = response.headers.get("content-encoding", "identity").strip().lower()
    return encoded in ("", "identity") and not response.is_stream_consumed


class Progress(Protocol):
    """How far a stream's reading got: its ``started`` (an event came) and ``ended`` (the
    end marker came) flags, kept up to date by the reader before it asks for a chunk."""

    started: bool
    ended: bool


def iter_bytes(
    response: httpx.Response,
    deadline: Deadline,
    progress: Progress,
    watchdog: Watchdog | None = None,
) -> Iterator[bytes]:
    """``response.iter_bytes()`` that stops at the deadline (or after :data:`GRACE`).

    One check per chunk read (not per event in it): a chunk holds any number of events.
    """
    grace: float | None = None
    at = deadline.at
    monotonic = time.monotonic
    source = response.iter_raw() if _raw(response) else response.iter_bytes()
    for chunk in source:
        if progress.ended:
            if grace is None:
                grace = monotonic() + GRACE
                if watchdog is not None:
                    watchdog.move(min(grace, at) if at else grace)
            elif monotonic() >= grace:
                return
        elif at is not None and monotonic() >= at:
            raise deadline.error(progress.started)
        yield chunk


async def aiter_bytes(
    response: httpx.Response, deadline: Deadline, progress: Progress
) -> AsyncIterator[bytes]:
    """Async twin of :func:`iter_bytes`: each read is also bounded by the time left."""
    import asyncio

    pieces = response.aiter_raw() if _raw(response) else response.aiter_bytes()
    grace: float | None = None
    try:
        while True:
            if progress.ended:
                grace = time.monotonic() + GRACE if grace is None else grace
                limit: float | None = grace if deadline.at is None else min(grace, deadline.at)
            else:
                limit = deadline.at
            try:
                chunk = await wait_until(pieces.__anext__(), limit)
            except StopAsyncIteration:
                return
            except (TimeoutError, asyncio.TimeoutError):
                if progress.ended:
                    return
                raise deadline.error(progress.started) from None
            if not progress.ended and deadline.expired():
                raise deadline.error(progress.started)
            yield chunk
    finally:
        await pieces.aclose()  # type: ignore[attr-defined]


async def wait_until(awaitable: Any, at: float | None) -> Any:
    """``await awaitable``, or ``TimeoutError`` once ``time.monotonic()`` reaches ``at``.

    The awaited operation is cancelled at the deadline (in this task: no new task is
    made on Python 3.11+, so an async generator it steps stays in its own task).
    """
    if at is None:
        return await awaitable
    import asyncio  # already loaded: this runs inside an event loop

    left = at - time.monotonic()
    if left <= 0:
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()
        raise TimeoutError
    if sys.version_info >= (3, 11):
        loop = asyncio.get_running_loop()
        async with asyncio.timeout_at(loop.time() + left):
            return await awaitable
    try:  # pragma: no cover - Python 3.10
        return await asyncio.wait_for(awaitable, left)
    except asyncio.TimeoutError:  # pragma: no cover - a distinct class before 3.11
        raise TimeoutError from None
