"""A scripted provider for tests, docs and offline demos.

``fake:NAME`` resolves to one shared :class:`FakeProvider` per name in this process, so a
test (or a notebook) can script the replies of a session it did not build::

    from jupychat.providers.fake import get_fake
    get_fake().enqueue("Hello!", usage=(12, 3))

With nothing queued it answers by echoing the last user message, which keeps demos
working with no network and no key. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..events import Done, Event, ReasoningDelta, TextDelta, ToolCallComplete, ToolCallDelta
from ..types import ToolCall, Usage
from .base import ChatRequest, Provider

__all__ = ["FakeProvider", "Reply", "fake_provider", "get_fake", "reset_all"]

_ids = itertools.count(1)


@dataclass
class Reply:
    """One scripted model call."""

    text: str = ""
    tool_calls: Sequence[ToolCall] = ()
    usage: Usage | None = None
    finish_reason: str | None = None
    reasoning: str | None = None
    chunk_size: int = 4
    delay: float = 0.0
    error: BaseException | None = None
    error_after: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _as_call(value: ToolCall | tuple[str, Mapping[str, Any]] | Mapping[str, Any]) -> ToolCall:
    if isinstance(value, ToolCall):
        return value
    if isinstance(value, tuple):
        name, args = value
        return ToolCall(f"call_{next(_ids)}", name, dict(args))
    return ToolCall(
        str(value.get("id") or f"call_{next(_ids)}"),
        str(value["name"]),
        dict(value.get("arguments") or {}),
    )


class FakeProvider(Provider):
    """A provider that plays back queued replies.

    Parameters
    ----------
    model:
        Any name; shows in ``model_id`` as ``fake:NAME``.
    """

    name = "fake"
    context_window = 131_072
    """Tokens the scripted model "holds" (a large window: it never refuses; sessions that
    test compaction set ``context_window=`` themselves)."""

    def __init__(self, model: str = "default") -> None:
        super().__init__(model or "default")
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.requests: list[ChatRequest] = []

    def enqueue(
        self,
        text: str = "",
        *,
        tool_calls: Iterable[ToolCall | tuple[str, Mapping[str, Any]] | Mapping[str, Any]] = (),
        usage: Usage | tuple[int, int] | None = None,
        finish_reason: str | None = None,
        reasoning: str | None = None,
        chunk_size: int = 4,
        delay: float = 0.0,
        error: BaseException | None = None,
        error_after: int = 0,
    ) -> FakeProvider:
        """Queue the reply to the next model call.

        ``error`` is raised after ``error_after`` text chunks were streamed (0: before any).
        ``delay`` sleeps before each chunk. Returns ``self`` for chaining.
        """
        if isinstance(usage, tuple):
            usage = Usage(usage[0], usage[1])
        with self._lock:
            self._queue.append(
                Reply(
                    text=text,
                    tool_calls=[_as_call(c) for c in tool_calls],
                    usage=usage,
                    finish_reason=finish_reason,
                    reasoning=reasoning,
                    chunk_size=max(1, chunk_size),
                    delay=delay,
                    error=error,
                    error_after=error_after,
                )
            )
        return self

    @property
    def pending(self) -> int:
        """How many scripted replies are still queued."""
        return len(self._queue)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    def _next(self, request: ChatRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
        last = next((m for m in reversed(request.messages) if m.role == "user"), None)
        said = last.text if last is not None else ""
        return Reply(text=f"(fake model) You said: {said}" if said else "(fake model) Hello!")

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        reply = self._next(request)
        if reply.reasoning:
            yield ReasoningDelta(reply.reasoning)
        chunks = [
            reply.text[i : i + reply.chunk_size]
            for i in range(0, len(reply.text), reply.chunk_size)
        ]
        for n, chunk in enumerate(chunks):
            if reply.error is not None and n == reply.error_after:
                raise reply.error
            if reply.delay:
                time.sleep(reply.delay)
            yield TextDelta(chunk)
        if reply.error is not None:
            raise reply.error
        for index, call in enumerate(reply.tool_calls):
            yield ToolCallDelta(index, call.id, call.name, "")
            yield ToolCallComplete(call)
        usage = reply.usage
        if usage is None:
            prompt_chars = sum(len(m.text) for m in request.messages) + len(request.system or "")
            usage = Usage(max(1, prompt_chars // 4), max(1, len(reply.text) // 4))
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        yield Done(usage=usage, finish_reason=finish, model=self.model_id)


_shared: dict[str, FakeProvider] = {}
_shared_lock = threading.Lock()


def get_fake(name: str = "default") -> FakeProvider:
    """The shared fake provider that ``fake:NAME`` resolves to."""
    with _shared_lock:
        if name not in _shared:
            _shared[name] = FakeProvider(name)
        return _shared[name]


def reset_all() -> None:
    """Forget every shared fake's queued replies and recorded requests (test isolation)."""
    with _shared_lock:
        fakes = list(_shared.values())
    for fake in fakes:
        fake.reset()


def fake_provider(model: str = "", **options: Any) -> FakeProvider:
    """Registry factory for ``fake:NAME`` (it takes no options but an alias ``name``)."""
    options.pop("name", None)
    if options:
        from ..errors import ConfigError

        raise ConfigError(
            f"the fake provider takes no options (got {', '.join(sorted(options))}); "
            "script it with get_fake().enqueue(...)"
        )
    return get_fake(model or "default")
