"""The provider contract.

A provider turns one :class:`ChatRequest` into a stream of :mod:`jupychat.events`.
Providers are thin: one method, no per-stream state on ``self``, errors mapped at the
boundary to :mod:`jupychat.errors` with a message that says what to do. Everything a
conversation needs (history, tool loop, retries of whole turns) lives in the session.

Sync and async: subclasses implement ``stream``; HTTP providers also implement
``astream`` natively. The default ``astream`` runs the sync stream in a worker thread;
cancelled while a step runs there (the turn's deadline, a stop), it closes the sync
stream as soon as that step returns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..events import Event
from ..types import Message

__all__ = ["ChatRequest", "OutputSchema", "Provider", "ToolSpec"]


@dataclass(frozen=True)
class ToolSpec:
    """What the model is told about a tool: a name, a description, a JSON schema."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class OutputSchema:
    """Ask for an answer that is JSON matching a schema (structured output).

    Each provider uses its own mechanism (Chat Completions ``response_format``, Anthropic
    a forced tool call whose input is the answer); one that has none ignores it, and the
    caller (:mod:`jupychat.structured`) asks in words instead.

    Attributes
    ----------
    name:
        ``[A-Za-z0-9_-]``, at most 64 characters: the schema's or the tool's name.
    schema:
        A JSON Schema whose root is an object (every API asks for one).
    strict:
        The schema meets OpenAI's strict rules (every property required, no extra ones),
        so the answer may be constrained to it exactly.
    description:
        What the data is (shown to the model).
    """

    name: str
    schema: Mapping[str, Any]
    strict: bool = False
    description: str = ""


@dataclass(frozen=True)
class ChatRequest:
    """Everything one model call needs.

    ``messages`` holds user/assistant/tool messages only; the system prompt travels in
    ``system`` so each provider can place it where its API wants it.

    ``deadline`` is the ``time.monotonic()`` value by which the call must end (the
    session sets it from the ``turn_timeout`` setting); a provider stops waiting then,
    whether it is connecting, sleeping before a retry or reading, and raises a
    :class:`~jupychat.errors.ProviderError`. ``None``: no deadline.

    ``output`` asks for structured output (see :class:`OutputSchema`); providers whose
    ``structured_output`` is true honour it.

    ``on_sent`` (no arguments, returns nothing, never raises) is called once the request
    has gone out, while the model thinks: the turn does there the work it needs only once
    the answer is in. A provider that cannot tell that moment leaves it alone (the turn
    then does that work at the end); it is not part of what is asked.
    """

    messages: Sequence[Message]
    system: str | None = None
    tools: Sequence[ToolSpec] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: Sequence[str] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    deadline: float | None = None
    output: OutputSchema | None = None
    on_sent: Callable[[], None] | None = field(default=None, compare=False, repr=False)


class Provider:
    """Base class of every provider.

    Attributes
    ----------
    name:
        The registry name (``"openai"``, ``"anthropic"``, ``"local"``, ``"fake"``...).
    model:
        The model name as the provider knows it.
    """

    name: str = "provider"
    structured_output: bool = False
    """True when :attr:`ChatRequest.output` is sent with the provider's own mechanism."""

    def __init__(self, model: str) -> None:
        self.model = model

    @property
    def model_id(self) -> str:
        """``"provider:model"``, the string that resolves back to this provider."""
        return f"{self.name}:{self.model}"

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        """Yield the events of one model call."""
        raise NotImplementedError

    async def astream(self, request: ChatRequest) -> AsyncIterator[Event]:
        """Async twin of :meth:`stream` (default: the sync stream in a worker thread)."""
        import asyncio
        import threading

        iterator = self.stream(request)
        sentinel = object()
        lock = threading.Lock()
        state = {"running": False, "closed": False}

        def close() -> None:
            closer = getattr(iterator, "close", None)
            if closer is not None:
                closer()

        def advance() -> Any:
            with lock:
                state["running"] = True
            try:
                return next(iterator, sentinel)
            finally:
                with lock:
                    state["running"] = False
                    late = state["closed"]
                if late:  # cancelled while this step ran: close it here, now it is idle
                    close()

        try:
            while True:
                event = await asyncio.to_thread(advance)
                if event is sentinel:
                    return
                yield event
        finally:
            with lock:
                state["closed"] = True
                idle = not state["running"]
            if idle:
                close()

    def close(self) -> None:
        """Release network clients or loaded models (optional)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.model_id}>"
