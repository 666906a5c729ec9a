"""Running one turn of a ``ChatSession``: the sync and async drivers, tools, and the stream.

Design note: :class:`jupychat._turnstate.Turn` records a turn without I/O; the drivers
here do the I/O around it — call the provider, feed it each event, run the tools the
model asked for, and commit or roll back at the end. :func:`drive` (a generator behind
:class:`ChatStream`) and :func:`adrive` (an async generator) are the same loop in two
colours and share every other step (:func:`begin`, :func:`finish`, the tool checks), so
the rules cannot drift apart:

* one turn at a time per session (its ``_busy`` lock, held from :func:`begin` until
  :func:`finish` releases it, whatever happens in between);
* a failed turn commits nothing; a stopped one (``session.stop()``, Ctrl-C, a closed
  stream, a cancelled task) or one that ran out of ``turn_timeout`` keeps the text
  that arrived, marked interrupted;
* a tool runs only if it is offered, no hook vetoes it, and, when it asks for approval,
  the session's ``approve`` callback said yes; its output is cleaned and capped before
  it reaches history.

These functions are the session's own machinery: they read and change its private
state, and nothing outside :mod:`jupychat.session` calls them.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from . import _sanitize
from ._compaction import fit_turn, refit_after_refusal, system_texts
from ._sanitize import clean_message, clean_parts, clean_text, scrub_exception
from ._turnplace import split_history
from ._turnstate import Response, Turn, as_parts
from .errors import (
    ChatError,
    ContextWindowError,
    ProviderError,
    ProviderUnavailable,
    ToolError,
    TurnInterrupted,
)
from .events import Event, TextDelta, ToolResultEvent
from .prompts import default_system
from .providers._deadline import wait_until
from .tools import Tool
from .types import Message, Part, Text, ToolCall, ToolResult, Usage

if TYPE_CHECKING:
    from .session import ChatSession

__all__ = ["TOOL_OUTPUT_LIMIT", "ChatStream", "adrive", "begin", "drive", "finish"]

#: Characters of a tool's output kept in history (the rest is cut, and the cut is said).
TOOL_OUTPUT_LIMIT = 16_000


class ChatStream:
    """An answer being streamed: iterate for text deltas (or events).

    After iteration ends, ``response`` holds the complete :class:`Response`.
    ``close()`` stops the stream and keeps the partial answer, marked interrupted; so does
    dropping the stream (a loop over ``session.stream(...)`` left, the stream not kept).
    A stream that is kept and left mid-answer goes on where it was when iterated again,
    and holds the session (another turn is refused) until it ends or is closed.
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
        """Stop the stream; the text that arrived is kept, marked interrupted."""
        self._gen.close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Expired(Exception):
    """The turn used up its ``turn_timeout`` between two events (raised by the drivers)."""


def _is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C, a closed stream, or a cancelled task (asyncio is only imported if in use)."""
    if isinstance(exc, (KeyboardInterrupt, GeneratorExit)):
        return True
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


# -- starting and ending a turn ------------------------------------------------------
def begin(
    session: ChatSession, prompt: str | Part | Iterable[Part], options: dict[str, Any]
) -> Turn:
    """Take the session for one turn and build its :class:`Turn` (see ``send``'s options).

    Raises :class:`ChatError` when the session is already answering or the prompt is
    empty; on any error the session is released again.
    """
    if not session._busy.acquire(blocking=False):
        raise ChatError(
            "this session is already answering; wait for it or stop it with session.stop()"
        )
    try:
        session._stop.clear()
        _sanitize.check_turn_options(options)
        session._sync()
        opts = {**session.options, **{k: v for k, v in options.items() if v is not None}}
        timeout = _sanitize.turn_timeout(opts.pop("turn_timeout", None))
        parts = clean_parts(as_parts(prompt))
        if not any(isinstance(p, Text) and p.text.strip() for p in parts) and not any(
            not isinstance(p, Text) for p in parts
        ):
            raise ChatError("the prompt is empty; write a question or instruction")
        # a model for this turn only: the session's own model is untouched
        model = opts.pop("model", None)
        provider = session.provider if model is None else session._model_for(model, {})
        replace = opts.pop("replace", None)
        place = opts.pop("place", None)
        waiting = opts.pop("while_waiting", None)
        for name, value in (("replace", replace), ("place", place), ("while_waiting", waiting)):
            if value is not None and not callable(value):
                raise ChatError(f"{name}= must be a function (see ChatSession.send)")
        below: list[Message] = []
        if place is not None:  # a turn placed inside history sees only what is above it
            base, below, replaced = split_history(session._history, replace, place)
        elif replace is not None:
            base, replaced = session._without_turns(replace)
        else:
            base, replaced = session.history, 0
        continues = _continued(base) if opts.pop("continue_answer", False) else None
        blocks = session._context_blocks(opts.pop("context", None), base)
        user = Message(
            role="user", content=tuple(blocks) + parts, meta=dict(opts.pop("meta", {}) or {})
        )
        system = "\n\n".join([session.system_prompt or "", *system_texts(session._history)]).strip()
        if not system:  # jupychat's own prompt for the tiny model, or a notebook's
            system = default_system(provider, session.in_notebook) or ""
        turn = Turn(
            user,
            history=base,
            system=system or None,
            tools=[t.spec for t in session.tools] if continues is None else [],
            options=opts,
            model_id=provider.model_id,
            max_steps=session.max_steps,
            timeout=timeout,
        )
        turn.provider = provider
        turn.waiting = _while_waiting(session, user, waiting)
        turn.replaces = bool(replaced) or bool(below)
        turn.below = below
        turn.continues = continues
        return turn
    except BaseException:
        session._busy.release()
        raise


def _while_waiting(
    session: ChatSession, user: Message, waiting: Callable[[], Any] | None
) -> Callable[[], Any] | None:
    """What the turn does while the model thinks: the caller's ``while_waiting``, then
    the store row of the user message (the turn's write takes it)."""
    link = session._link
    if link is None:
        return waiting

    def work() -> None:
        try:
            if waiting is not None:
                waiting()
        finally:
            link.row_ahead(user)

    return work


def finish(
    session: ChatSession, turn: Turn, exc: BaseException | None, *, timed_out: bool = False
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
            if turn.continues is not None:
                merged, response = _appended(turn, response)
                old = turn.continues
                rest = [m for m in (turn.history if base is None else base) if m is not old]
                session._commit([merged], response, rest, turn.below)
            else:
                session._commit(turn.new, response, base, turn.below)
            if exc is None:
                session.hooks.response(response)
            return response
        if exc is not None and not _is_interrupt(exc):
            session.hooks.error(exc)
        return None
    finally:
        session._busy.release()


def _continued(history: list[Message]) -> Message:
    """The last answer, when it was cut at the token limit (else a one-line ChatError)."""
    last = next((m for m in reversed(history) if m.role != "system"), None)
    if last is None or last.role != "assistant" or last.finish_reason != "length":
        reason = "none yet" if last is None else (last.finish_reason or last.role)
        raise ChatError(
            f"nothing to continue: the last answer was not cut at the token limit ({reason})"
        )
    return last


def _appended(turn: Turn, response: Response) -> tuple[Message, Response]:
    """The cut answer with this turn's text appended, and the turn's response for it."""
    old = turn.continues
    assert old is not None
    added = "".join(m.text for m in turn.new[1:] if m.role == "assistant")
    last = response.message
    meta = dict(old.meta)
    meta["continued"] = int(meta.get("continued", 0)) + 1
    meta["latency"] = float(meta.get("latency", 0.0)) + float(last.meta.get("latency", 0.0))
    if "window" in last.meta:
        meta["window"] = last.meta["window"]
    merged = old.replace(
        content=(Text(old.text + added),),
        usage=(old.usage or Usage()) + (last.usage or Usage()),
        finish_reason=last.finish_reason,
        interrupted=last.interrupted,
        meta=meta,
    )
    return merged, Response(
        text=merged.text,
        message=merged,
        messages=(merged,),
        usage=response.usage,
        finish_reason=response.finish_reason,
        model=response.model,
        latency=response.latency,
        ttft=response.ttft,
    )


def _timed_out(session: ChatSession, turn: Turn, cause: BaseException) -> Response:
    """End a turn that used up ``turn_timeout``: keep the partial answer, or fail."""
    limit = f"turn_timeout={turn.timeout:g} s"
    error = ProviderUnavailable(
        f"no answer from {turn.model_id} within {limit}; try again, or raise "
        "turn_timeout (ChatSession(turn_timeout=...), JUPYCHAT_TURN_TIMEOUT or "
        "%config ChatMagics.turn_timeout)",
        provider=turn.provider.name,
    )
    response = finish(session, turn, error, timed_out=True)
    if response is None:
        raise error from cause
    warnings.warn(
        f"the answer from {turn.model_id} was cut off at {limit}; the part that arrived "
        "is kept, marked interrupted (raise turn_timeout to wait longer)",
        stacklevel=3,
    )
    return response


def _warn_step_error(turn: Turn) -> None:
    """Say that the provider cut the answer off with an error (the part that came is kept)."""
    if turn.step_error is not None:
        warnings.warn(
            f"{turn.model_id} stopped the answer with an error ({turn.step_error}); the part "
            f"that arrived is kept, marked interrupted (finish reason: {turn.finish_reason})",
            stacklevel=4,
        )


# -- the drivers ------------------------------------------------------------------------
def drive(
    session: ChatSession, prompt: str | Part | Iterable[Part], options: dict[str, Any]
) -> Generator[Event, None, Response]:
    """Run one turn, yielding its events; the generator's return value is the Response."""
    turn = begin(session, prompt, options)
    stop = session._stop
    monotonic = time.monotonic
    try:
        fit_turn(session, turn)
        while True:
            request = session.hooks.request(turn.request())
            events = turn.provider.stream(request)
            deadline = turn.deadline  # (``turn.expired``, inline: it changes between steps)
            try:
                for event in events:
                    turn.feed(event)
                    yield event
                    if stop.is_set():
                        raise KeyboardInterrupt
                    if deadline is not None and monotonic() >= deadline:
                        raise _Expired
            except ContextWindowError as exc:
                if refit_after_refusal(session, turn, exc):
                    continue  # compacted for a smaller window: ask again, once
                raise
            finally:
                close = getattr(events, "close", None)
                if close is not None:
                    close()
            calls = turn.finish_step()
            _warn_step_error(turn)
            if not calls:
                if turn.paused and turn.steps_left:
                    continue  # the provider paused its own tool loop: let it go on
                break
            if not turn.steps_left:
                turn.stop_at_max_steps(calls)
                break
            began = time.monotonic()
            results = [run_tool(session, call) for call in calls]
            turn.pause(time.monotonic() - began)
            turn.add_results(results)
            for result in results:
                yield ToolResultEvent(result)
    except KeyboardInterrupt as exc:
        response = finish(session, turn, exc)
        if not stop.is_set():
            raise
        if response is None:
            raise TurnInterrupted("stopped before any answer arrived; nothing was kept") from None
        return response
    except BaseException as exc:
        scrub_exception(exc)
        if turn.expired and isinstance(exc, (_Expired, ProviderError)):
            return _timed_out(session, turn, exc)
        finish(session, turn, exc)
        raise
    response = finish(session, turn, None)
    assert response is not None
    return response


async def adrive(
    session: ChatSession, prompt: str | Part | Iterable[Part], options: dict[str, Any]
) -> AsyncIterator[Any]:
    """Async twin of :func:`drive`: yields the turn's events, then its Response."""
    import asyncio  # already loaded: this runs inside an event loop

    turn = begin(session, prompt, options)
    stop = session._stop
    try:
        await asyncio.to_thread(fit_turn, session, turn)
        while True:
            request = session.hooks.request(turn.request())
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
                    if stop.is_set():
                        raise asyncio.CancelledError
                    if turn.expired:
                        raise _Expired
            except ContextWindowError as exc:
                if await asyncio.to_thread(refit_after_refusal, session, turn, exc):
                    continue  # compacted for a smaller window: ask again, once
                raise
            finally:
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()
            calls = turn.finish_step()
            _warn_step_error(turn)
            if not calls:
                if turn.paused and turn.steps_left:
                    continue  # the provider paused its own tool loop: let it go on
                break
            if not turn.steps_left:
                turn.stop_at_max_steps(calls)
                break
            began = time.monotonic()
            results = [await arun_tool(session, call) for call in calls]
            turn.pause(time.monotonic() - began)
            turn.add_results(results)
            for result in results:
                yield ToolResultEvent(result)
    except asyncio.CancelledError as exc:
        response = finish(session, turn, exc)
        if not stop.is_set():
            raise
        if response is None:
            raise TurnInterrupted("stopped before any answer arrived; nothing was kept") from None
        yield response
        return
    except BaseException as exc:
        scrub_exception(exc)
        if turn.expired and isinstance(exc, (_Expired, ProviderError)):
            yield _timed_out(session, turn, exc)
            return
        finish(session, turn, exc)
        raise
    yield finish(session, turn, None)


# -- tools ----------------------------------------------------------------------------
def _check_tool(session: ChatSession, call: ToolCall) -> Tool | ToolResult:
    """The tool to run for ``call``, or the error result that refuses it."""
    tool = session._tools.get(call.name)
    if tool is None:
        names = ", ".join(session._tools) or "none"
        return ToolResult(
            call.id, call.name, f"unknown tool {call.name!r}; available: {names}", True
        )
    veto = session.hooks.tool_call(call)
    if veto is not None:
        return ToolResult(call.id, call.name, f"tool call refused: {veto}", True)
    if tool.requires_approval:
        approve = session.approve
        try:
            approved = bool(approve and approve(tool, call))
        except Exception as exc:
            approved, reason = False, f"asking for approval failed ({type(exc).__name__})"
        else:
            reason = "the user declined" if approve else "no approval callback is set"
        if not approved:
            return ToolResult(call.id, call.name, f"tool call refused: {reason}", True)
    return tool


def _tool_done(session: ChatSession, call: ToolCall, content: str, is_error: bool) -> ToolResult:
    content = clean_text(content)  # no known key, no lone surrogate reaches history
    if len(content) > TOOL_OUTPUT_LIMIT:
        cut = len(content) - TOOL_OUTPUT_LIMIT
        content = content[:TOOL_OUTPUT_LIMIT] + f"\n[… {cut:,} more characters cut]"
    result = ToolResult(call.id, call.name, content, is_error)
    session.hooks.tool_result(call, result)
    return result


def _tool_error(exc: Exception) -> str:
    if isinstance(exc, TypeError) and "argument" in str(exc):
        return f"bad arguments: {exc}"
    if isinstance(exc, ToolError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def run_tool(session: ChatSession, call: ToolCall) -> ToolResult:
    """Run ``call`` (if allowed); its result, an error result when it fails or is refused."""
    checked = _check_tool(session, call)
    if isinstance(checked, ToolResult):
        return _tool_done(session, call, checked.content, True)
    try:
        return _tool_done(session, call, checked.run(call.arguments), False)
    except Exception as exc:
        return _tool_done(session, call, _tool_error(exc), True)


async def arun_tool(session: ChatSession, call: ToolCall) -> ToolResult:
    """Async twin of :func:`run_tool`."""
    checked = _check_tool(session, call)
    if isinstance(checked, ToolResult):
        return _tool_done(session, call, checked.content, True)
    try:
        return _tool_done(session, call, await checked.arun(call.arguments), False)
    except Exception as exc:
        return _tool_done(session, call, _tool_error(exc), True)
