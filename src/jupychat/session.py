"""``ChatSession``: a stateful conversation with a model.

Design note: the session owns history, memory, metadata, tools and hooks; a provider
owns only the wire. Each turn runs through :class:`jupychat._turn.Turn`, which records
without I/O, driven here by a sync and an async driver that share every rule. History is
a list of immutable messages that changes only when a turn *commits*: a failed turn adds
nothing; an interrupted stream adds the user message and the partial answer, marked
``interrupted``. When a store is attached, each commit is written as one transaction.

Context (any object with a text rendering, a mapping of them, or a callable returning
them) is sent as :class:`~jupychat.types.ContextBlock` parts on a user message, and a
block is re-sent only when its text changed since it was last sent — which is derived
from history itself, so clearing, forking or a failed turn need no extra bookkeeping.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import (
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import Any

from . import _sanitize
from ._sanitize import clean_message, clean_parts, clean_text, scrub_exception
from ._storelink import StoreLink
from ._turn import Response, Turn
from .errors import (
    ChatError,
    ConfigError,
    ProviderError,
    ProviderUnavailable,
    StoreError,
    ToolError,
    TurnInterrupted,
)
from .events import Event, TextDelta, ToolResultEvent
from .hooks import Hooks
from .providers._deadline import wait_until
from .providers.base import Provider
from .providers.registry import resolve_model
from .tools import Tool
from .types import ContextBlock, Message, Part, Text, ToolCall, ToolResult, Usage, now_iso

__all__ = ["SCHEMA", "SCHEMA_VERSION", "ChatSession", "ChatStream", "Response"]

SCHEMA = "jupychat.session"
SCHEMA_VERSION = 1
TOOL_OUTPUT_LIMIT = 16_000


class _Expired(Exception):
    """The turn used up its ``turn_timeout`` between two events (raised by the drivers)."""


def _is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C, a closed stream, or a cancelled task (asyncio is only imported if in use)."""
    if isinstance(exc, (KeyboardInterrupt, GeneratorExit)):
        return True
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)

ContextLike = Any  # str | object with a text rendering | Mapping[str, ...] | Callable[[], ...]
Approver = Callable[[Tool, ToolCall], bool]


def render_context(context: ContextLike, key: str = "context") -> dict[str, str]:
    """Normalise a context value to ``{key: text}`` (empty texts dropped)."""
    if context is None:
        return {}
    if callable(context) and not isinstance(context, type):
        return render_context(context(), key)
    if isinstance(context, Mapping):
        out: dict[str, str] = {}
        for k, v in context.items():
            out.update(render_context(v, str(k)))
        return out
    for attr in ("to_context", "_repr_markdown_", "render", "to_text"):
        method = getattr(context, attr, None)
        if callable(method):
            text = method()
            if isinstance(text, str):
                return {key: text} if text.strip() else {}
    text = context if isinstance(context, str) else str(context)
    return {key: text} if text.strip() else {}


def _content(content: str | Part | Iterable[Part]) -> tuple[Part, ...]:
    if isinstance(content, str):
        parts: tuple[Part, ...] = (Text(content),)
    elif isinstance(content, (Text, ContextBlock, ToolCall, ToolResult)) or hasattr(
        content, "to_dict"
    ):
        parts = (content,)  # type: ignore[assignment]
    else:
        parts = tuple(content)
    return parts



class ChatStream:
    """An answer being streamed: iterate for text deltas (or events).

    After iteration ends, ``response`` holds the complete :class:`Response`.
    ``close()`` (or breaking out of the loop) stops the stream and keeps the partial
    answer, marked interrupted.
    """

    def __init__(self, gen: Generator[Event, None, Response], events: bool) -> None:
        self._gen = gen
        self._events = events
        self.response: Response | None = None

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                event = next(self._gen)
            except StopIteration as stop:
                self.response = stop.value
                if self._events and self.response is not None:
                    yield self.response
                return
            if self._events:
                yield event
            elif isinstance(event, TextDelta):
                yield event.text

    def text(self) -> str:
        """Consume the stream and return the full text."""
        for _ in self:
            pass
        return self.response.text if self.response else ""

    def close(self) -> None:
        self._gen.close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ChatSession:
    """A conversation that remembers.

    Parameters
    ----------
    model:
        ``"provider:model"`` (e.g. ``"openai:gpt-4o-mini"``, ``"local"``, ``"fake"``), a
        :class:`~jupychat.providers.base.Provider`, or ``None`` for the configured default.
    system_prompt:
        Instructions sent as the system prompt on every call.
    tools:
        :class:`~jupychat.tools.Tool` objects or plain functions the model may call.
    hooks:
        :class:`~jupychat.hooks.Hooks` or a ``{"event": fn}`` mapping.
    history:
        Initial messages (``Message`` objects or their dicts).
    max_steps:
        Most model calls in one turn's tool loop.
    memory, metadata:
        Initial shared memory and metadata (JSON-able values; they persist).
    context:
        Context sent with the first message and re-sent only when it changes.
    approve:
        Called as ``approve(tool, call)`` before a tool that requires approval runs;
        without it such tools are refused.
    store:
        A :class:`~jupychat.store.SessionStore` (or a path to one) to save every turn to.
    options:
        Request options, kept with the session: ``temperature``, ``top_p``, ``max_tokens``,
        ``seed``, ``stop``, ``extra``, and ``turn_timeout`` (seconds one turn may wait
        for the model; default: the ``turn_timeout`` setting, 600 s). Any other option
        is for the provider (``api_key``, ``base_url``, ``headers``, ``n_ctx``...): it is
        passed to the provider factory, which uses it or refuses it, and it is never
        saved or exported.
    """

    def __init__(
        self,
        model: str | Provider | None = None,
        system_prompt: str | None = None,
        tools: Sequence[Tool | Callable[..., Any]] | None = None,
        hooks: Hooks | Mapping[str, Any] | None = None,
        history: Sequence[Message | Mapping[str, Any]] | None = None,
        max_steps: int = 10,
        memory: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        context: ContextLike = None,
        *,
        approve: Approver | None = None,
        store: Any = None,
        id: str | None = None,
        title: str | None = None,
        name: str | None = None,
        notebook: str | None = None,
        **options: Any,
    ) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        request_options, provider_options = _sanitize.split_options(options)
        self._provider_options = provider_options  # api_key & co: in memory only
        self._provider = _resolve(model, provider_options)
        self.system_prompt = system_prompt
        self._tools: dict[str, Tool] = {}
        for tool in tools or ():
            self.add_tool(tool)
        self.hooks = Hooks.coerce(hooks)
        self._history: list[Message] = [  # known keys and lone surrogates never get in
            clean_message(m if isinstance(m, Message) else Message.from_dict(m))
            for m in history or ()
        ]
        self.max_steps = max_steps
        self._memory: dict[str, Any] = dict(memory or {})
        self._metadata: dict[str, Any] = dict(metadata or {})
        self.context = context
        self.approve = approve
        self.options: dict[str, Any] = request_options
        self.id = id or _new_id()
        self.title = title
        self.name = name
        self.notebook = notebook
        self.created_at = now_iso()
        self.updated_at = self.created_at
        self._last_response: Response | None = None
        self._busy = threading.Lock()
        self._stop = threading.Event()
        self._store = None
        self._link: StoreLink | None = None
        self._checkpoints: list[tuple[str | None, dict[str, Any]]] = []
        if store is not None:
            self.attach_store(store)

    # -- model ---------------------------------------------------------------
    @property
    def provider(self) -> Provider:
        return self._provider

    @property
    def model_id(self) -> str:
        """``"provider:model"`` of the current model."""
        return self._provider.model_id

    def switch_model(self, model: str | Provider, **options: Any) -> ChatSession:
        """Use another model from the next turn on; history is kept.

        ``options`` are provider options (``api_key``, ``base_url``...); without them, the
        ones this session was built with are reused for a model of the same provider.
        """
        self._provider = self._model_for(model, options)
        self._touch()
        return self

    def _model_for(self, model: str | Provider, options: Mapping[str, Any]) -> Provider:
        if options:
            self._provider_options = {k: v for k, v in options.items() if v is not None}
            return _resolve(model, self._provider_options)
        same = isinstance(model, str) and model.partition(":")[0] == self._provider.name
        return _resolve(model, self._provider_options if same else {})

    # -- tools ---------------------------------------------------------------
    @property
    def tools(self) -> list[Tool]:
        return list(self._tools.values())

    def add_tool(self, tool: Tool | Callable[..., Any]) -> ChatSession:
        """Offer a tool (or a plain function, wrapped with ``Tool.from_function``)."""
        if not isinstance(tool, Tool):
            tool = Tool.from_function(tool)
        self._tools[tool.name] = tool
        return self

    def remove_tool(self, name: str) -> ChatSession:
        self._tools.pop(name, None)
        return self

    # -- history -------------------------------------------------------------
    @property
    def history(self) -> list[Message]:
        """A copy of the conversation so far."""
        return list(self._history)

    @property
    def last_response(self) -> Response | None:
        """The last turn's response (rebuilt from history after a restore)."""
        if self._last_response is not None:
            return self._last_response
        last = next((m for m in reversed(self._history) if m.role == "assistant"), None)
        if last is None:
            return None
        return Response(
            text=last.text,
            message=last,
            messages=(last,),
            usage=last.usage or Usage(),
            finish_reason=last.finish_reason,
            model=last.model,
        )

    def append_message(
        self, role: str, content: str | Part | Iterable[Part], reasoning: str | None = None
    ) -> Message:
        """Add a message to history by hand (it is saved like any turn)."""
        message = clean_message(Message(role=role, content=_content(content), reasoning=reasoning))  # type: ignore[arg-type]
        self._commit([message])
        return message

    def clear(self, keep_system: bool = True) -> ChatSession:
        """Forget the conversation; keep the system prompt unless ``keep_system=False``."""
        with self._exclusive():
            kept = [m for m in self._history if keep_system and m.role == "system"]
            if not keep_system:
                self.system_prompt = None
            self._history = kept
            self._last_response = None
            self._touch()
            self._persist()
        return self

    def turns(self) -> list[list[Message]]:
        """History grouped by turn: each group starts at a user message."""
        groups: list[list[Message]] = []
        for message in self._history:
            if message.role == "user" or not groups:
                groups.append([])
            groups[-1].append(message)
        return groups

    def _without_turns(self, predicate: Callable[[Message], bool]) -> tuple[list[Message], int]:
        """History without the turns whose user message matches, and how many those were."""
        kept: list[Message] = []
        removed = 0
        for group in self.turns():
            if group[0].role == "user" and predicate(group[0]):
                removed += 1
            else:
                kept.extend(group)
        return kept, removed

    def remove_turns(self, predicate: Callable[[Message], bool]) -> int:
        """Remove every turn whose user message matches ``predicate``; returns how many."""
        with self._exclusive():
            kept, removed = self._without_turns(predicate)
            if removed:
                self._history = kept
                self._last_response = None
                self._touch()
                self._persist()
            return removed

    # -- memory and metadata -------------------------------------------------
    def get_memory(self, key: str, default: Any = None) -> Any:
        return self._memory.get(key, default)

    def set_memory(self, key: str, value: Any) -> ChatSession:
        self._memory[key] = value
        self._touch(save=True)
        return self

    def list_memory(self) -> list[str]:
        return list(self._memory)

    def clear_memory(self, keys: Iterable[str] | None = None) -> ChatSession:
        if keys is None:
            self._memory.clear()
        else:
            for key in keys:
                self._memory.pop(key, None)
        self._touch(save=True)
        return self

    def get_metadata(self, key: str, default: Any = None) -> Any:
        return self._metadata.get(key, default)

    def set_metadata(self, key: str, value: Any) -> ChatSession:
        self._metadata[key] = value
        self._touch(save=True)
        return self

    def merge_metadata(self, values: Mapping[str, Any]) -> ChatSession:
        self._metadata.update(values)
        self._touch(save=True)
        return self

    def list_metadata(self) -> list[str]:
        return list(self._metadata)

    # -- sending -------------------------------------------------------------
    def send(self, prompt: str | Part | Iterable[Part], **options: Any) -> Response:
        """Send a message and return the complete response.

        Options: ``context`` (extra context for this turn), ``model`` (a model for this
        turn only; the session keeps its own), ``temperature``, ``top_p``, ``max_tokens``,
        ``seed``, ``stop``, ``turn_timeout``, ``meta`` (stored on the user message), and
        ``replace`` (a predicate on user messages: the matching earlier turns are left out
        of this request and dropped from history when, and only when, this turn succeeds).
        """
        stream = ChatStream(self._drive(prompt, options), events=True)
        for _ in stream:
            pass
        assert stream.response is not None
        return stream.response

    def stream(
        self, prompt: str | Part | Iterable[Part], *, events: bool = False, **options: Any
    ) -> ChatStream:
        """Stream the answer: iterate for text deltas, or events with ``events=True``.

        With ``events=True`` the last item is the complete :class:`Response`; either way
        it is ``stream.response`` (and ``session.last_response``) once the stream ends.
        """
        return ChatStream(self._drive(prompt, options), events=events)

    def stop(self) -> None:
        """Ask a running stream (in any thread) to stop at the next chunk, keeping its text."""
        self._stop.set()

    async def asend(self, prompt: str | Part | Iterable[Part], **options: Any) -> Response:
        """Async twin of :meth:`send`."""
        response: Response | None = None
        async for item in self._adrive(prompt, options):
            if isinstance(item, Response):
                response = item
        assert response is not None
        return response

    async def astream(
        self, prompt: str | Part | Iterable[Part], *, events: bool = False, **options: Any
    ) -> AsyncIterator[Any]:
        """Async twin of :meth:`stream` (text deltas, or events ending with the Response)."""
        async for item in self._adrive(prompt, options):
            if events:
                yield item
            elif isinstance(item, TextDelta):
                yield item.text

    # -- the drivers ---------------------------------------------------------
    def _start(self, prompt: str | Part | Iterable[Part], options: dict[str, Any]) -> Turn:
        if not self._busy.acquire(blocking=False):
            raise ChatError(
                "this session is already answering; wait for it or stop it with session.stop()"
            )
        try:
            self._stop.clear()
            _sanitize.check_turn_options(options)
            self._sync()
            opts = {**self.options, **{k: v for k, v in options.items() if v is not None}}
            timeout = _sanitize.turn_timeout(opts.pop("turn_timeout", None))
            parts = clean_parts(_content(prompt))
            if not any(isinstance(p, Text) and p.text.strip() for p in parts) and not any(
                not isinstance(p, Text) for p in parts
            ):
                raise ChatError("the prompt is empty; write a question or instruction")
            # a model for this turn only: the session's own model is untouched
            model = opts.pop("model", None)
            provider = self._provider if model is None else self._model_for(model, {})
            replace = opts.pop("replace", None)
            base, replaced = (
                self._without_turns(replace) if replace is not None else (list(self._history), 0)
            )
            blocks = self._context_blocks(opts.pop("context", None), base)
            user = Message(
                role="user", content=tuple(blocks) + parts, meta=dict(opts.pop("meta", {}) or {})
            )
            system = "\n\n".join(
                [self.system_prompt or ""] + [m.text for m in self._history if m.role == "system"]
            ).strip()
            turn = Turn(
                user,
                history=base,
                system=system or None,
                tools=[t.spec for t in self._tools.values()],
                options=opts,
                model_id=provider.model_id,
                max_steps=self.max_steps,
                timeout=timeout,
            )
            turn.provider = provider
            turn.replaces = bool(replaced)
            return turn
        except BaseException:
            self._busy.release()
            raise

    def _finish(
        self, turn: Turn, exc: BaseException | None, *, timed_out: bool = False
    ) -> Response | None:
        """Commit or roll back; always releases the session.

        A stopped turn (``exc`` an interrupt) or one that ran out of time (``timed_out``)
        keeps its partial answer, marked interrupted, when any text had arrived.
        """
        try:
            base = turn.history if turn.replaces else None
            kept = exc is None or (
                (timed_out or _is_interrupt(exc))
                and turn.interrupt("timeout" if timed_out else "interrupted")
            )
            if kept:
                turn.new = [clean_message(m) for m in turn.new]
                response = turn.response()
                self._commit(turn.new, response, base)
                if exc is None:
                    self.hooks.response(response)
                return response
            if exc is not None and not _is_interrupt(exc):
                self.hooks.error(exc)
            return None
        finally:
            self._busy.release()

    def _timed_out(self, turn: Turn, cause: BaseException) -> Response:
        """End a turn that used up ``turn_timeout``: keep the partial answer, or fail."""
        limit = f"turn_timeout={turn.timeout:g} s"
        error = ProviderUnavailable(
            f"no answer from {turn.model_id} within {limit}; try again, or raise "
            "turn_timeout (ChatSession(turn_timeout=...), JUPYCHAT_TURN_TIMEOUT or "
            "%config ChatMagics.turn_timeout)",
            provider=turn.provider.name,
        )
        response = self._finish(turn, error, timed_out=True)
        if response is None:
            raise error from cause
        warnings.warn(
            f"the answer from {turn.model_id} was cut off at {limit}; the part that arrived "
            "is kept, marked interrupted (raise turn_timeout to wait longer)",
            stacklevel=3,
        )
        return response

    def _drive(
        self, prompt: str | Part | Iterable[Part], options: dict[str, Any]
    ) -> Generator[Event, None, Response]:
        turn = self._start(prompt, options)
        try:
            while True:
                request = self.hooks.request(turn.request())
                events = turn.provider.stream(request)
                try:
                    for event in events:
                        turn.feed(event)
                        yield event
                        if self._stop.is_set():
                            raise KeyboardInterrupt
                        if turn.expired:
                            raise _Expired
                finally:
                    close = getattr(events, "close", None)
                    if close is not None:
                        close()
                calls = turn.finish_step()
                if not calls:
                    break
                if not turn.steps_left:
                    turn.stop_at_max_steps(calls)
                    break
                began = time.monotonic()
                results = [self._run_tool(call) for call in calls]
                turn.pause(time.monotonic() - began)
                turn.add_results(results)
                for result in results:
                    yield ToolResultEvent(result)
        except KeyboardInterrupt as exc:
            response = self._finish(turn, exc)
            if not self._stop.is_set():
                raise
            if response is None:
                raise TurnInterrupted(
                    "stopped before any answer arrived; nothing was kept"
                ) from None
            return response
        except BaseException as exc:
            scrub_exception(exc)
            if turn.expired and isinstance(exc, (_Expired, ProviderError)):
                return self._timed_out(turn, exc)
            self._finish(turn, exc)
            raise
        response = self._finish(turn, None)
        assert response is not None
        return response

    async def _adrive(
        self, prompt: str | Part | Iterable[Part], options: dict[str, Any]
    ) -> AsyncIterator[Any]:
        import asyncio  # already loaded: this runs inside an event loop

        turn = self._start(prompt, options)
        try:
            while True:
                request = self.hooks.request(turn.request())
                events = turn.provider.astream(request)
                try:
                    while True:
                        try:
                            event = await wait_until(events.__anext__(), turn.deadline)
                        except StopAsyncIteration:
                            break
                        except TimeoutError:
                            if not turn.expired:
                                raise  # the provider's own timeout, not the turn's
                            raise _Expired from None
                        turn.feed(event)
                        yield event
                        if self._stop.is_set():
                            raise asyncio.CancelledError
                        if turn.expired:
                            raise _Expired
                finally:
                    aclose = getattr(events, "aclose", None)
                    if aclose is not None:
                        await aclose()
                calls = turn.finish_step()
                if not calls:
                    break
                if not turn.steps_left:
                    turn.stop_at_max_steps(calls)
                    break
                began = time.monotonic()
                results = [await self._arun_tool(call) for call in calls]
                turn.pause(time.monotonic() - began)
                turn.add_results(results)
                for result in results:
                    yield ToolResultEvent(result)
        except asyncio.CancelledError as exc:
            response = self._finish(turn, exc)
            if not self._stop.is_set():
                raise
            if response is None:
                raise TurnInterrupted(
                    "stopped before any answer arrived; nothing was kept"
                ) from None
            yield response
            return
        except BaseException as exc:
            scrub_exception(exc)
            if turn.expired and isinstance(exc, (_Expired, ProviderError)):
                yield self._timed_out(turn, exc)
                return
            self._finish(turn, exc)
            raise
        yield self._finish(turn, None)

    # -- tools ---------------------------------------------------------------
    def _check_tool(self, call: ToolCall) -> Tool | ToolResult:
        tool = self._tools.get(call.name)
        if tool is None:
            names = ", ".join(self._tools) or "none"
            return ToolResult(
                call.id, call.name, f"unknown tool {call.name!r}; available: {names}", True
            )
        veto = self.hooks.tool_call(call)
        if veto is not None:
            return ToolResult(call.id, call.name, f"tool call refused: {veto}", True)
        if tool.requires_approval:
            try:
                approved = bool(self.approve and self.approve(tool, call))
            except Exception as exc:
                approved, reason = False, f"asking for approval failed ({type(exc).__name__})"
            else:
                reason = "the user declined" if self.approve else "no approval callback is set"
            if not approved:
                return ToolResult(call.id, call.name, f"tool call refused: {reason}", True)
        return tool

    def _tool_done(self, call: ToolCall, content: str, is_error: bool) -> ToolResult:
        content = clean_text(content)  # no known key, no lone surrogate reaches history
        if len(content) > TOOL_OUTPUT_LIMIT:
            cut = len(content) - TOOL_OUTPUT_LIMIT
            content = content[:TOOL_OUTPUT_LIMIT] + f"\n[… {cut:,} more characters cut]"
        result = ToolResult(call.id, call.name, content, is_error)
        self.hooks.tool_result(call, result)
        return result

    def _run_tool(self, call: ToolCall) -> ToolResult:
        checked = self._check_tool(call)
        if isinstance(checked, ToolResult):
            return self._tool_done(call, checked.content, True)
        try:
            return self._tool_done(call, checked.run(call.arguments), False)
        except Exception as exc:
            return self._tool_done(call, _tool_error(exc), True)

    async def _arun_tool(self, call: ToolCall) -> ToolResult:
        checked = self._check_tool(call)
        if isinstance(checked, ToolResult):
            return self._tool_done(call, checked.content, True)
        try:
            return self._tool_done(call, await checked.arun(call.arguments), False)
        except Exception as exc:
            return self._tool_done(call, _tool_error(exc), True)

    # -- context -------------------------------------------------------------
    def sent_context(self, history: Sequence[Message] | None = None) -> dict[str, str]:
        """The digest of each context key as last sent (derived from history)."""
        digests: dict[str, str] = {}
        for message in self._history if history is None else history:
            for block in message.context_blocks:
                digests[block.key] = block.digest
        return digests

    def pending_context(self, context: ContextLike = None) -> list[ContextBlock]:
        """The context blocks the next turn would send (new or changed ones only)."""
        return self._context_blocks(context)

    def _context_blocks(
        self, extra: ContextLike, history: Sequence[Message] | None = None
    ) -> list[ContextBlock]:
        rendered = render_context(self.context)
        rendered.update(render_context(extra))
        if not rendered:
            return []
        sent = self.sent_context(history)
        blocks = [ContextBlock(clean_text(k), clean_text(t)) for k, t in rendered.items()]
        return [b for b in blocks if sent.get(b.key) != b.digest]

    # -- stats ---------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Token use, turns, tool calls, latency and cost (``None`` when unknown)."""
        from . import pricing

        per_turn: list[dict[str, Any]] = []
        for index, group in enumerate(self.turns(), 1):
            answers = [m for m in group if m.role == "assistant" and not m.meta.get("synthetic")]
            if not answers:
                continue
            usage = sum((m.usage or Usage() for m in answers), Usage())
            ttfts = [m.meta["ttft"] for m in answers if "ttft" in m.meta]
            per_turn.append(
                {
                    "turn": index,
                    "model": answers[-1].model,
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "cached_tokens": usage.cached_tokens,
                    "tool_calls": sum(len(m.tool_calls) for m in answers),
                    "latency": sum(float(m.meta.get("latency", 0.0)) for m in answers),
                    "ttft": ttfts[0] if ttfts else None,
                    "cost": pricing.turn_cost(answers),
                    "interrupted": any(m.interrupted for m in answers),
                }
            )
        totals = {
            key: sum(t[key] for t in per_turn)
            for key in ("input_tokens", "output_tokens", "cached_tokens", "tool_calls")
        }
        latencies = [t["latency"] for t in per_turn]
        ttfts = [t["ttft"] for t in per_turn if t["ttft"] is not None]
        costs = [t["cost"] for t in per_turn]
        return {
            "model": self.model_id,
            "turns": len(per_turn),
            "messages": len(self._history),
            **totals,
            "total_tokens": totals["input_tokens"] + totals["output_tokens"],
            "latency_total": sum(latencies),
            "latency_mean": sum(latencies) / len(latencies) if latencies else None,
            "ttft_mean": sum(ttfts) / len(ttfts) if ttfts else None,
            "cost": None if any(c is None for c in costs) else sum(costs),
            "cost_known": all(c is not None for c in costs),
            "per_turn": per_turn,
        }

    # -- copies --------------------------------------------------------------
    def clone(self, **changes: Any) -> ChatSession:
        """An independent deep copy (new id; tools, hooks and model shared by reference)."""
        data = self.to_dict()
        data.update({"id": _new_id(), "created_at": now_iso()})
        data["metadata"] = {**data["metadata"], "cloned_from": self.id}
        return self._copy_from(data, **changes)

    def fork(self, at: int | None = None, **changes: Any) -> ChatSession:
        """A new session holding the first ``at`` messages (negative counts from the end).

        A cut inside a tool exchange is moved back to before it, so the fork is valid.
        """
        messages = self._history[:at] if at is not None else list(self._history)
        while messages and (
            messages[-1].role == "tool"
            or (messages[-1].role == "assistant" and messages[-1].tool_calls)
        ):
            messages.pop()
        data = self.to_dict()
        data.update(
            {
                "id": _new_id(),
                "created_at": now_iso(),
                "messages": [m.to_dict() for m in messages],
                "metadata": {**data["metadata"], "forked_from": self.id, "fork_at": len(messages)},
            }
        )
        return self._copy_from(data, **changes)

    def _copy_from(self, data: dict[str, Any], **changes: Any) -> ChatSession:
        store = changes.pop("store", self._store)
        new = type(self).from_dict(
            data,
            model=changes.pop("model", self._provider),
            tools=self.tools,
            hooks=self.hooks,
            approve=self.approve,
            context=self.context,
        )
        for key, value in changes.items():
            setattr(new, key, value)
        new._provider_options = dict(self._provider_options)
        if store is not None:
            new.attach_store(store)
        return new

    # -- serialisation -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The session as JSON-able data (no keys, no code: tools are listed by name)."""
        return {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "id": self.id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            **self.record_fields(),
            "messages": [m.to_dict() for m in self._history],
        }

    def record_fields(self) -> dict[str, Any]:
        """The session's stored fields other than messages, as they may be stored: text
        cleaned and known secret values removed (the store and exports see only these)."""
        return {
            "title": clean_text(self.title) if self.title else self.title,
            "name": self.name,
            "notebook": self.notebook,
            "model": self.model_id,
            "system_prompt": clean_text(self.system_prompt) if self.system_prompt else None,
            "memory": _sanitize.clean_data_value(copy.deepcopy(self._memory)),
            "metadata": _sanitize.clean_data_value(copy.deepcopy(self._metadata)),
            "tools": list(self._tools),
            "max_steps": self.max_steps,
            "settings": _sanitize.stored_options(self.options),
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        model: str | Provider | None = None,
        tools: Sequence[Tool | Callable[..., Any]] | None = None,
        hooks: Hooks | Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> ChatSession:
        """Rebuild a session from :meth:`to_dict` output; tools and hooks are re-attached."""
        check_record(data)
        session = cls(
            model=model or data.get("model"),
            system_prompt=data.get("system_prompt"),
            tools=tools,
            hooks=hooks,
            history=[Message.from_dict(m) for m in data.get("messages", ())],
            max_steps=int(data.get("max_steps") or 10),
            memory=data.get("memory"),
            metadata=data.get("metadata"),
            id=data.get("id"),
            title=data.get("title"),
            name=data.get("name"),
            notebook=data.get("notebook"),
            **{**_sanitize.stored_options(data.get("settings"), data.get("id")), **kwargs},
        )
        session.created_at = data.get("created_at") or session.created_at
        session.updated_at = data.get("updated_at") or session.updated_at
        missing = sorted(set(data.get("tools") or ()) - set(session._tools))
        if missing:
            warnings.warn(
                f"session {session.id} used tools that were not re-attached: "
                f"{', '.join(missing)}; pass them with tools=[...]",
                stacklevel=2,
            )
        return session

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the session to a JSON file (atomically)."""
        target = Path(path)
        payload = json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".jupychat-", suffix=".json", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    @classmethod
    def restore(cls, path: str | os.PathLike[str], **kwargs: Any) -> ChatSession:
        """Load a session written by :meth:`save` (pass ``tools=``/``hooks=`` to re-attach)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError(f"no session file at {path}; check the path") from None
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path} is not a readable jupychat session file: {exc}") from exc
        return cls.from_dict(data, **kwargs)

    # -- checkpoints ---------------------------------------------------------
    def checkpoint(self, label: str | None = None) -> int:
        """Record the session as it is now; returns an id for :meth:`restore_checkpoint`.

        With a store the checkpoint is saved there (and survives restarts); without one it
        is kept in memory.
        """
        if self._store is not None:
            self._persist()  # the stored checkpoint includes what is not saved yet
            return int(self._store.checkpoint(self.id, label))
        self._checkpoints.append((label, self.to_dict()))
        return len(self._checkpoints)

    def list_checkpoints(self) -> list[dict[str, Any]]:
        """``id``, ``label``, ``message_count`` (and ``created_at`` when stored) of each."""
        if self._store is not None:
            return list(self._store.list_checkpoints(self.id))
        return [
            {"id": i, "label": label, "message_count": len(data["messages"])}
            for i, (label, data) in enumerate(self._checkpoints, 1)
        ]

    def restore_checkpoint(self, checkpoint_id: int) -> ChatSession:
        """Bring history, memory, metadata and settings back to a checkpoint."""
        with self._exclusive():
            snap = None
            if self._store is not None:
                self._store.restore_checkpoint(self.id, checkpoint_id)
                snap = self._store.changes(self.id)
                data = {**snap.record, "messages": [snap.messages[i] for i in snap.order]}
            else:
                if not 1 <= int(checkpoint_id) <= len(self._checkpoints):
                    raise ChatError(
                        f"no checkpoint {checkpoint_id}; see session.list_checkpoints()"
                    )
                data = self._checkpoints[int(checkpoint_id) - 1][1]
            self._history = [Message.from_dict(m) for m in data.get("messages", ())]
            self._memory = copy.deepcopy(dict(data.get("memory") or {}))
            self._metadata = copy.deepcopy(dict(data.get("metadata") or {}))
            self.system_prompt = data.get("system_prompt")
            self.options = _sanitize.stored_options(data.get("settings") or {})
            self.max_steps = int(data.get("max_steps") or self.max_steps)
            if data.get("model") and data["model"] != self.model_id:
                self._provider = self._model_for(data["model"], {})
            self._last_response = None
            if snap is not None and self._link is not None:
                self._link.bind(self, snap.revision, snap.order, snap.record)
            self._touch()
        return self

    # -- persistence ---------------------------------------------------------
    def attach_store(self, store: Any) -> ChatSession:
        """Save this session (now and after every turn) to ``store``."""
        if isinstance(store, (str, os.PathLike)):
            from .store import SessionStore

            store = SessionStore(store)
        self._store = store
        self._link = StoreLink(store)
        self._link.attach(self)
        return self

    @property
    def store(self) -> Any:
        return self._store

    @classmethod
    def resume(
        cls,
        id: str | None = None,
        *,
        store: Any = None,
        notebook: str | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> ChatSession:
        """Bring back a stored session by id, or the latest one for ``notebook``/``name``."""
        from .store import SessionStore

        if store is None or isinstance(store, (str, os.PathLike)):
            store = SessionStore(store)
        if id is None:
            latest = store.latest(notebook=notebook, name=name)
            if latest is None:
                where = f" for notebook {notebook}" if notebook else ""
                raise StoreError(f"no stored session{where}; start one with ChatSession()")
            id = latest["id"] if isinstance(latest, Mapping) else latest
        snap = store.changes(id)
        record = {**snap.record, "messages": [snap.messages[i] for i in snap.order]}
        session = cls.from_dict(record, **kwargs)
        session._store = store
        session._link = StoreLink(store)
        session._link.bind(session, snap.revision, snap.order, snap.record)
        return session

    def _commit(
        self,
        messages: Sequence[Message],
        response: Response | None = None,
        base: Sequence[Message] | None = None,
    ) -> None:
        """Add a finished turn; with ``base``, history becomes ``base`` + the turn."""
        if self.title is None:
            first = next((m.text for m in messages if m.role == "user" and m.text.strip()), "")
            if first:
                self.title = _title_from(first)
        if base is not None:
            self._history = [*base, *messages]
        else:
            self._history.extend(messages)
        if response is not None:
            self._last_response = response
        self._touch()
        self._persist()  # appended turns are added, replaced ones superseded

    def _sync(self) -> None:
        """Take in what other processes wrote to the stored session (cheap when nothing)."""
        if self._link is not None:
            self._link.sync(self)

    def _persist(self) -> None:
        """Write every change made here and not saved yet (never what other processes
        wrote); a failure keeps it in memory, with a one-line warning, and the next
        write saves it (see :mod:`jupychat._storelink`)."""
        if self._link is not None:
            self._link.flush(self)

    def _touch(self, save: bool = False) -> None:
        self.updated_at = now_iso()
        if save:
            self._persist()

    def _exclusive(self) -> Any:
        session = self

        class _Guard:
            def __enter__(self) -> None:
                if not session._busy.acquire(blocking=False):
                    raise ChatError("this session is answering; wait for it or stop it first")

            def __exit__(self, *exc: object) -> None:
                session._busy.release()

        return _Guard()

    def __repr__(self) -> str:
        return (
            f"<ChatSession {self.id[:8]} {self.model_id} messages={len(self._history)}"
            f" title={self.title!r}>"
        )

    def __len__(self) -> int:
        return len(self._history)


def _resolve(model: str | Provider | None, options: Mapping[str, Any]) -> Provider:
    """The provider for ``model`` built with the provider ``options`` (api_key...)."""
    if options and isinstance(model, Provider):
        raise ConfigError(
            f"option(s) {', '.join(sorted(options))} cannot be applied to the ready-made "
            f"provider {model.model_id}; pass them when building it, or name the model as "
            "a 'provider:model' string"
        )
    return resolve_model(model, **options)


def _new_id() -> str:
    import uuid

    return uuid.uuid4().hex


def _tool_error(exc: Exception) -> str:
    if isinstance(exc, TypeError) and "argument" in str(exc):
        return f"bad arguments: {exc}"
    if isinstance(exc, ToolError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _title_from(text: str, limit: int = 60) -> str:
    line = next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def check_record(data: Any) -> None:
    """Raise a one-line :class:`StoreError` unless ``data`` looks like a session record."""
    if not isinstance(data, Mapping) or "messages" not in data:
        raise StoreError("not a jupychat session (no 'messages'); export it from jupychat")
    if data.get("schema", SCHEMA) != SCHEMA:
        raise StoreError(f"not a jupychat session (schema {data.get('schema')!r})")
    version = data.get("version", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise StoreError(
            f"session file version {version} is newer than this jupychat understands "
            f"({SCHEMA_VERSION}); upgrade jupychat"
        )
