"""One turn of a conversation, without I/O.

A turn is: the user message, then one or more model calls ("steps"); between steps the
session runs the tools the model asked for. ``Turn`` only records: it builds each step's
request, absorbs the step's events, and says which tool calls to run next. The sync and
async drivers in :mod:`jupychat._turnrunner` do the I/O around it, so both share every
rule about history, usage, limits and interruption.

Nothing touches the session's history until :meth:`Turn.messages_to_commit` is taken by
the driver at the very end: a failed turn leaves history exactly as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._compaction import conversation
from ._sanitize import clean_data_value
from .events import Done, Event, ReasoningDelta, TextDelta, ToolCallComplete
from .providers._replay import META_KEY as REPLAY_KEY
from .providers.base import ChatRequest, ToolSpec
from .types import ContextBlock, Message, Part, Text, ToolCall, ToolResult, Usage

__all__ = ["Response", "Turn", "as_parts"]


def as_parts(content: str | Part | Iterable[Part]) -> tuple[Part, ...]:
    """A message's content as a tuple of parts (a string becomes one :class:`Text`)."""
    if isinstance(content, str):
        return (Text(content),)
    if isinstance(content, (Text, ContextBlock, ToolCall, ToolResult)) or hasattr(
        content, "to_dict"
    ):
        return (content,)  # type: ignore[return-value]
    return tuple(content)


@dataclass(frozen=True)
class Response:
    """The outcome of one turn.

    Attributes
    ----------
    text:
        The final answer's text.
    message:
        The final assistant message.
    messages:
        Every message the turn added to history (user, assistant, tool), in order.
    usage:
        Tokens summed over every model call of the turn.
    finish_reason:
        Why the last model call stopped; ``"max_steps"`` when the tool loop hit its limit;
        ``"interrupted"`` when the stream was stopped; ``"timeout"`` when the turn ran out
        of ``turn_timeout`` after part of the answer had arrived.
    model:
        ``"provider:model"`` that answered.
    latency:
        Seconds from sending to the end of the turn.
    ttft:
        Seconds to the first streamed token (``None`` if none came).
    data:
        The answer as data, for a structured turn (:meth:`ChatSession.extract`): an
        instance of the schema's type, a list, a DataFrame... ``None`` otherwise.
    """

    text: str
    message: Message
    messages: tuple[Message, ...] = ()
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str | None = None
    latency: float = 0.0
    ttft: float | None = None
    data: Any = None

    @property
    def interrupted(self) -> bool:
        return self.message.interrupted

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [c for m in self.messages for c in m.tool_calls]

    @classmethod
    def from_message(cls, message: Message) -> Response:
        """The response that ``message`` (an assistant message) was the answer of.

        Rebuilt from history (after a restore): the turn's other messages and its timing
        are not known, so ``messages`` holds only ``message`` and its own usage counts.
        """
        return cls(
            text=message.text,
            message=message,
            messages=(message,),
            usage=message.usage or Usage(),
            finish_reason=message.finish_reason,
            model=message.model,
        )

    def __str__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return self.text


class Turn:
    """Accumulates one turn's messages while a driver runs it."""

    def __init__(
        self,
        user: Message,
        *,
        history: Sequence[Message],
        system: str | None,
        tools: Sequence[ToolSpec],
        options: dict[str, Any],
        model_id: str,
        max_steps: int,
        timeout: float | None = None,
    ) -> None:
        self.history = history
        self.system = system
        self.tools = tuple(tools)
        self.options = options
        self.model_id = model_id
        self.max_steps = max_steps
        self.provider: Any = None  # the driver's provider for this turn (set by the session)
        self.new: list[Message] = [user]
        self.replaces = False  # True when committing drops earlier turns (a re-run cell)
        # set by jupychat._compaction.fit_turn: the conversation sent instead of history
        # (older turns summarised into ``system``), context blocks carried from summarised
        # turns, and how full the window is (kept on the answer's meta)
        self.sent: list[Message] | None = None
        self.carry: tuple[ContextBlock, ...] = ()
        self.window: dict[str, Any] | None = None
        self.continues: Message | None = None  # the cut answer this turn continues
        self.refitted = False  # compacted again after the provider refused the request
        self.base_system = system  # the system prompt before any summary was added
        self.below: list[Message] = []  # history that follows this turn (a placed turn)
        self.steps = 0
        self.usage = Usage()
        self.started = time.monotonic()
        self.ttft: float | None = None
        self.finish_reason: str | None = None
        self.timeout = timeout
        self.deadline = None if timeout is None else self.started + timeout
        self._request: ChatRequest | None = None  # the last one sent (for estimates)
        # work the caller needs done only once the answer is in, done while the model
        # thinks instead (the first request's ``on_sent``; see :class:`ChatRequest`)
        self.waiting: Callable[[], Any] | None = None
        self._reset_step()

    def _reset_step(self) -> None:
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[ToolCall] = []
        self._done: Done | None = None
        self._step_started = time.monotonic()
        self._step_ttft: float | None = None

    # -- the deadline --------------------------------------------------------
    @property
    def expired(self) -> bool:
        """True once the turn has used up its ``turn_timeout``."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def pause(self, seconds: float) -> None:
        """Time spent outside the model (running tools) does not count against the deadline."""
        if self.deadline is not None:
            self.deadline += max(0.0, seconds)

    # -- building requests -------------------------------------------------
    def request(self) -> ChatRequest:
        """The request for the next model call."""
        self.steps += 1
        self._reset_step()
        sent = self.sent if self.sent is not None else self.history
        messages = conversation(list(sent)) + self.new
        if self.carry:  # context of summarised turns rides with the first message sent
            first = next(i for i, m in enumerate(messages) if m.role == "user")
            messages[first] = messages[first].replace(content=self.carry + messages[first].content)
        self._request = ChatRequest(
            messages=messages,
            system=self.system,
            tools=self.tools,
            temperature=self.options.get("temperature"),
            max_tokens=self.options.get("max_tokens"),
            seed=self.options.get("seed"),
            stop=tuple(self.options.get("stop") or ()),
            extra=self._extra(),
            deadline=self.deadline,
            output=self.options.get("output"),
            on_sent=self._on_sent(),
        )
        return self._request

    def _on_sent(self) -> Callable[[], None] | None:
        """:attr:`waiting` for the first request, run at most once and never raising (it
        is run inside the HTTP client; the caller does its work later if it failed)."""
        work, self.waiting = self.waiting, None
        if work is None:
            return None
        pending = [work]

        def on_sent() -> None:
            if pending:
                try:
                    pending.pop()()
                except Exception:  # done again, and reported, where its result is used
                    pass

        return on_sent

    def _extra(self) -> dict[str, Any]:
        extra = dict(self.options.get("extra") or {})
        if self.options.get("top_p") is not None:  # every wire format names it top_p
            extra.setdefault("top_p", self.options["top_p"])
        return extra

    # -- absorbing a step ---------------------------------------------------
    def feed(self, event: Event) -> None:
        if self._step_ttft is None and isinstance(event, (TextDelta, ReasoningDelta)):
            now = time.monotonic()
            self._step_ttft = now - self._step_started
            if self.ttft is None:
                self.ttft = now - self.started
        if isinstance(event, TextDelta):
            self._text.append(event.text)
        elif isinstance(event, ReasoningDelta):
            self._reasoning.append(event.text)
        elif isinstance(event, ToolCallComplete):
            self._calls.append(event.call)
        elif isinstance(event, Done):
            self._done = event

    def _assistant(self, *, interrupted: bool = False, reason: str = "interrupted") -> Message:
        parts: list[Part] = []
        text = "".join(self._text)
        if text:
            parts.append(Text(text))
        parts.extend(self._calls if not interrupted else ())
        done = self._done
        usage = done.usage if done else None
        meta: dict[str, Any] = {"latency": round(time.monotonic() - self._step_started, 6)}
        if usage is None and interrupted:
            # stopped before the provider reported usage: count what was sent and received
            usage = _estimate_usage(self._request, text + "".join(self._reasoning))
            meta["usage"] = "estimated"
        if usage is not None:
            self.usage = self.usage + usage
        if self._step_ttft is not None:
            meta["ttft"] = round(self._step_ttft, 6)
        if done is not None and done.provider_data and not interrupted:
            # what the provider needs back (signatures, opaque blocks): known keys removed
            meta[REPLAY_KEY] = clean_data_value(dict(done.provider_data))
        if done is not None and done.error:
            meta["error"] = done.error
        if (done.finish_reason if done else None) == "refusal":
            meta["refusal"] = True
        if self.window is not None:
            meta["window"] = dict(self.window)
        return Message(
            role="assistant",
            content=tuple(parts),
            model=(done.model if done and done.model else None) or self.model_id,
            usage=usage,
            finish_reason=reason if interrupted else (done.finish_reason if done else None),
            reasoning="".join(self._reasoning) or None,
            interrupted=interrupted,
            meta=meta,
        )

    @property
    def step_error(self) -> str | None:
        """The error the provider reported mid-stream in this step (its partial is kept)."""
        return self._done.error if self._done is not None else None

    def finish_step(self) -> list[ToolCall]:
        """Record the step's assistant message; the tool calls to run next (may be empty).

        A step the provider ended with an in-stream error (``Done.error``) is kept as an
        interrupted message with the provider's finish reason, and runs no tools.
        """
        error = self.step_error
        if error is not None:
            done = self._done
            reason = (done.finish_reason if done else None) or "error"
            message = self._assistant(interrupted=True, reason=reason)
            self.new.append(message)
            self.finish_reason = reason
            return []
        message = self._assistant()
        self.new.append(message)
        self.finish_reason = message.finish_reason
        return list(self._calls)

    @property
    def paused(self) -> bool:
        """The provider paused a long turn of its own tools (Anthropic's ``pause_turn``).

        The next call sends the conversation back as it is (the paused answer last,
        replayed as received) and the model goes on where it stopped.
        """
        last = self.new[-1]
        return last.role == "assistant" and last.finish_reason == "pause_turn"

    @property
    def steps_left(self) -> bool:
        return self.steps < self.max_steps

    def add_results(self, results: Sequence[ToolResult]) -> None:
        self.new.append(Message(role="tool", content=tuple(results)))

    def stop_at_max_steps(self, calls: Sequence[ToolCall]) -> None:
        """The model still wants tools after ``max_steps`` calls: end the turn clearly."""
        note = "not run: the turn reached max_steps"
        self.add_results([ToolResult(c.id, c.name, note, is_error=True) for c in calls])
        self.new.append(
            Message(
                role="assistant",
                content=(
                    Text(
                        f"[stopped after {self.max_steps} model calls (max_steps={self.max_steps}) "
                        "without a final answer; raise max_steps or ask a narrower question]"
                    ),
                ),
                model=self.model_id,
                finish_reason="max_steps",
                meta={"synthetic": "max_steps"},
            )
        )
        self.finish_reason = "max_steps"

    # -- ending -------------------------------------------------------------
    @property
    def partial_text(self) -> str:
        return "".join(self._text)

    def interrupt(self, reason: str = "interrupted") -> bool:
        """Keep the partial answer, marked interrupted; False when there is nothing to keep.

        ``reason`` is its ``finish_reason``: ``"interrupted"`` (stopped) or ``"timeout"``.
        """
        if not self._text:
            return False
        self.new.append(self._assistant(interrupted=True, reason=reason))
        self.finish_reason = reason
        return True

    def response(self) -> Response:
        final = next(m for m in reversed(self.new) if m.role == "assistant")
        return Response(
            text=final.text,
            message=final,
            messages=tuple(self.new),
            usage=self.usage,
            finish_reason=self.finish_reason,
            model=final.model or self.model_id,
            latency=time.monotonic() - self.started,
            ttft=self.ttft,
        )


def _estimate_usage(request: ChatRequest | None, received: str) -> Usage:
    """Estimated tokens of a stopped step: the request's text in, ``received`` out.

    Used when the stream ended before the provider's usage report; the message is marked
    ``meta["usage"] = "estimated"`` so every view can say so.
    """
    import json

    from .context.budget import estimate_tokens

    sent: list[str] = []
    if request is not None:
        sent.append(request.system or "")
        for message in request.messages:
            for part in message.content:
                text = getattr(part, "text", None)
                if isinstance(text, str):
                    sent.append(text)
                else:
                    sent.append(json.dumps(part.to_dict(), ensure_ascii=False, default=str))
        for tool in request.tools:
            sent.append(json.dumps(getattr(tool, "parameters", {}) or {}, default=str))
            sent.append(f"{getattr(tool, 'name', '')} {getattr(tool, 'description', '')}")
    per_message = 4 * len(request.messages) if request is not None else 0
    return Usage(
        input_tokens=sum(estimate_tokens(t) for t in sent if t) + per_message,
        output_tokens=estimate_tokens(received) if received else 0,
    )
