"""Retrying a failed HTTP call: the policy, the per-call decision, network errors.

Design note: sans-IO. :class:`RetryPolicy` says how often and how patiently to retry;
:class:`RetryState` is the decision for one call: after an error status or a network
failure it returns the seconds to wait or raises the final, mapped error (never waiting
past the turn's deadline, :mod:`._deadline`). The drivers in :mod:`._stream` do the
sleeping and the I/O.

Retries are bounded (``max_retries``) with exponential backoff and jitter, capped at
``max_backoff``. Retried: 429 (waiting ``Retry-After`` seconds or HTTP-date, or else
until the rate-limit reset headers say the limit resets; capped),
500/502/503/504/529, and connect errors, read timeouts or dropped connections that
happen before the first event was handed to the caller. Once an event has been yielded,
nothing is retried: a failure then is :class:`~jupychat.errors.ProviderUnavailable` and
the session decides what to do with the partial turn.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx

from jupychat import config
from jupychat.errors import ConfigError, ProviderError, ProviderUnavailable

from ._deadline import Deadline
from ._errors import Endpoint, error_info, map_error, one_line, redact

__all__ = [
    "RETRY_STATUSES",
    "RetryPolicy",
    "RetryState",
    "StreamEndedEarly",
    "map_transport_error",
    "parse_retry_after",
]

log = logging.getLogger("jupychat.providers")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})


def map_transport_error(
    exc: Exception, endpoint: Endpoint, *, started: bool, retries: int = 0
) -> ProviderUnavailable:
    """Turn a network failure into :class:`ProviderUnavailable` with advice."""
    name = endpoint.provider
    detail = one_line(redact(f"{type(exc).__name__}: {exc}", endpoint.secrets))
    tried = f" after {retries} retries" if retries else ""
    if started:
        return ProviderUnavailable(
            f"the connection to {name} broke mid-answer ({detail}); the answer is incomplete, "
            "send the message again",
            provider=name,
        )
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return ProviderUnavailable(
            f"{name} did not answer in time{tried} ({detail}); try again, or "
            f"{endpoint.timeout_advice}",
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
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or HTTP-date).

    Without them, the rate-limit reset headers say it: Anthropic's
    ``anthropic-ratelimit-*-reset`` (RFC 3339 times) and OpenAI's
    ``x-ratelimit-reset-*`` (durations such as ``6m0s``); see :func:`_reset_wait`.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return _reset_wait(headers, now)
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


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _duration(text: str) -> float | None:
    """``"6m0s"``, ``"1.5s"``, ``"20ms"`` (OpenAI's reset headers) → seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


def _instant(text: str, now: float) -> float | None:
    """An RFC 3339 time (Anthropic's reset headers) → seconds from ``now``."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp() - now


def _reset_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds until the rate limit that was hit resets, from the reset headers.

    A limit whose ``remaining`` is 0 is the one that was hit (the longest such wait is
    taken); when none says so, the soonest reset. ``None`` without such headers.
    """
    current = time.time() if now is None else now
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    hit: list[float] = []
    other: list[float] = []
    for key, value in lower.items():
        if key.startswith("anthropic-ratelimit-") and key.endswith("-reset"):
            wait = _instant(value, current)
            remaining = lower.get(key[: -len("reset")] + "remaining")
        elif key.startswith("x-ratelimit-reset-"):
            wait = _duration(value)
            remaining = lower.get("x-ratelimit-remaining-" + key[len("x-ratelimit-reset-") :])
        else:
            continue
        if wait is None:
            continue
        (hit if remaining is not None and remaining.strip() == "0" else other).append(wait)
    if hit:
        return max(0.0, max(hit))
    future = [w for w in other if w > 0]
    return min(future) if future else None


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
            raise self.deadline.error(started, one_line(f"{type(exc).__name__}", 60)) from exc
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
