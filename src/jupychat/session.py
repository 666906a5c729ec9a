"""``ChatSession``: a stateful conversation with a model.

Design note: the session owns history, memory, metadata, tools and hooks; a provider
owns only the wire. History is a list of immutable messages that changes only when a
turn *commits*: a failed turn adds nothing; an interrupted stream adds the user message
and the partial answer, marked ``interrupted``. When a store is attached, each commit is
written as one transaction.

This module holds the public class, every public method documented here; the machinery
behind it lives next door, one concern per module:

* :mod:`jupychat._turnstate` — ``Turn`` (one turn's record, without I/O), ``Response``;
* :mod:`jupychat._turnrunner` — the sync and async drivers, tool running, ``ChatStream``;
* :mod:`jupychat._sessioncontext` — which context blocks a turn sends (again only on change);
* :mod:`jupychat._sessionrecord` — the record: ``SCHEMA``, checks, copies, JSON files;
* :mod:`jupychat._sessionstats` — token, latency and cost figures derived from history;
* :mod:`jupychat._sessionpersist` — attaching or resuming a store, and checkpoints;
* :mod:`jupychat._storelink` — keeping the stored copy in step with memory.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from . import _compaction as _longsession
from . import _sanitize
from ._compaction import is_summary
from ._sanitize import clean_message
from ._sessioncontext import ContextLike, blocks_to_send, sent_digests
from ._sessionpersist import Checkpoints
from ._sessionrecord import SCHEMA as SCHEMA
from ._sessionrecord import SCHEMA_VERSION as SCHEMA_VERSION
from ._sessionrecord import (
    clone_record,
    fork_record,
    new_id,
    title_from,
)
from ._sessionstats import group_turns, session_stats
from ._sessionstorage import SessionStorage
from ._storelink import StoreLink
from ._turnrunner import ChatStream, adrive, drive
from ._turnstate import Response, as_parts
from .errors import ChatError, ConfigError
from .events import TextDelta
from .hooks import Hooks
from .providers.base import Provider
from .providers.registry import resolve_model
from .tools import Tool
from .types import ContextBlock, Message, Part, ToolCall, now_iso

__all__ = ["SCHEMA", "SCHEMA_VERSION", "ChatSession", "ChatStream", "Response"]

Approver = Callable[[Tool, ToolCall], bool]


class ChatSession(SessionStorage):
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

    in_notebook: bool = False
    """Set by the notebook binding: turns without a system prompt get the notebook one
    (:func:`jupychat.prompts.default_system`)."""

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
        self.id = id or new_id()
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
        self._aside: int | None = None  # the thread in _writes_aside(): its writes go beside
        self._checkpoints = Checkpoints()
        if store is not None:
            self.attach_store(store)

    # -- model ---------------------------------------------------------------
    @property
    def provider(self) -> Provider:
        """The provider the session's turns go to."""
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
        """The tools offered to the model."""
        return list(self._tools.values())

    def add_tool(self, tool: Tool | Callable[..., Any]) -> ChatSession:
        """Offer a tool (or a plain function, wrapped with ``Tool.from_function``)."""
        if not isinstance(tool, Tool):
            tool = Tool.from_function(tool)
        self._tools[tool.name] = tool
        return self

    def remove_tool(self, name: str) -> ChatSession:
        """Stop offering the tool called ``name`` (no error when there is none)."""
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
        return None if last is None else Response.from_message(last)

    def append_message(
        self, role: str, content: str | Part | Iterable[Part], reasoning: str | None = None
    ) -> Message:
        """Add a message to history by hand (it is saved like any turn)."""
        message = clean_message(Message(role=role, content=as_parts(content), reasoning=reasoning))  # type: ignore[arg-type]
        self._commit([message])
        return message

    def clear(self, keep_system: bool = True) -> ChatSession:
        """Forget the conversation; keep the system prompt unless ``keep_system=False``."""
        with self._exclusive():
            kept = [  # summaries of the forgotten turns go with them
                m for m in self._history if keep_system and m.role == "system" and not is_summary(m)
            ]
            if not keep_system:
                self.system_prompt = None
            self._history = kept
            self._last_response = None
            self._touch()
            self._persist()
        return self

    def turns(self) -> list[list[Message]]:
        """History grouped by turn: each group starts at a user message."""
        return group_turns(self._history)

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
        """The value remembered under ``key`` (shared memory: tools and views read it)."""
        return self._memory.get(key, default)

    def set_memory(self, key: str, value: Any) -> ChatSession:
        """Remember ``value`` under ``key`` (saved at once; JSON-able values persist)."""
        self._memory[key] = value
        self._touch(save=True)
        return self

    def list_memory(self) -> list[str]:
        """The keys of the shared memory."""
        return list(self._memory)

    def clear_memory(self, keys: Iterable[str] | None = None) -> ChatSession:
        """Forget ``keys`` (all of the memory when ``None``)."""
        if keys is None:
            self._memory.clear()
        else:
            for key in keys:
                self._memory.pop(key, None)
        self._touch(save=True)
        return self

    def get_metadata(self, key: str, default: Any = None) -> Any:
        """The metadata value under ``key`` (tags, labels: kept, never sent to the model)."""
        return self._metadata.get(key, default)

    def set_metadata(self, key: str, value: Any) -> ChatSession:
        """Set one metadata value (saved at once)."""
        self._metadata[key] = value
        self._touch(save=True)
        return self

    def merge_metadata(self, values: Mapping[str, Any]) -> ChatSession:
        """Set several metadata values at once (one save)."""
        self._metadata.update(values)
        self._touch(save=True)
        return self

    def list_metadata(self) -> list[str]:
        """The metadata keys."""
        return list(self._metadata)

    # -- sending -------------------------------------------------------------
    def send(self, prompt: str | Part | Iterable[Part], **options: Any) -> Response:
        """Send a message and return the complete response.

        Options: ``context`` (extra context for this turn), ``model`` (a model for this
        turn only; the session keeps its own), ``temperature``, ``top_p``, ``max_tokens``,
        ``seed``, ``stop``, ``turn_timeout``, ``meta`` (stored on the user message), and
        ``replace`` (a predicate on user messages: the matching earlier turns are left out
        of this request and dropped from history when, and only when, this turn succeeds),
        and ``place`` (where in history the turn goes; the request then carries only the
        turns above it: see :mod:`jupychat._turnplace`), and ``while_waiting`` (a function
        run once the first request has gone out, while the model thinks; HTTP providers
        and the embedded model run it, others do not).
        """
        stream = ChatStream(drive(self, prompt, options), events=True)
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
        return ChatStream(drive(self, prompt, options), events=events)

    def stop(self) -> None:
        """Ask a running stream (in any thread) to stop at the next chunk, keeping its text."""
        self._stop.set()

    async def asend(self, prompt: str | Part | Iterable[Part], **options: Any) -> Response:
        """Async twin of :meth:`send`."""
        response: Response | None = None
        async for item in adrive(self, prompt, options):
            if isinstance(item, Response):
                response = item
        assert response is not None
        return response

    async def astream(
        self, prompt: str | Part | Iterable[Part], *, events: bool = False, **options: Any
    ) -> AsyncIterator[Any]:
        """Async twin of :meth:`stream` (text deltas, or events ending with the Response)."""
        async for item in adrive(self, prompt, options):
            if events:
                yield item
            elif isinstance(item, TextDelta):
                yield item.text

    # -- long sessions (see jupychat._compaction) ------------------------------
    def pin(self, turn: int | None = None) -> ChatSession:
        """Keep turn ``turn`` (1-based; default: the last) verbatim in every request."""
        _longsession.pin(self, turn, True)
        return self

    def unpin(self, turn: int | None = None) -> ChatSession:
        """Let turn ``turn`` be summarised again (``None``: unpin every turn)."""
        _longsession.pin(self, turn, False)
        return self

    def compact(self, **options: Any) -> Message | None:
        """Summarise all but the last turn now; the stored summary (``None``: nothing to do)."""
        return _longsession.compact_now(self, **options)

    def continue_answer(self, **options: Any) -> Response:
        """Continue the last answer, cut at the token limit, appending to the same message."""
        return self.send(_longsession.CONTINUE_PROMPT, continue_answer=True, **options)

    # -- structured output ---------------------------------------------------
    def extract(self, prompt: str | Part | Iterable[Part], schema: Any, **options: Any) -> Any:
        """Ask, and get the answer as data of the shape ``schema`` describes (a dataclass,
        TypedDict, pydantic model, ``list[...]``, JSON Schema dict...; ``as_frame=True``
        for a DataFrame of records). See :func:`jupychat.structured.extract`."""
        from .structured import extract

        return extract(self, prompt, schema, **options)

    async def aextract(
        self, prompt: str | Part | Iterable[Part], schema: Any, **options: Any
    ) -> Any:
        """Async twin of :meth:`extract`."""
        from .structured import aextract

        return await aextract(self, prompt, schema, **options)

    # -- context -------------------------------------------------------------
    def sent_context(self, history: Sequence[Message] | None = None) -> dict[str, str]:
        """The digest of each context key as last sent (derived from history)."""
        return sent_digests(self._history if history is None else history)

    def pending_context(self, context: ContextLike = None) -> list[ContextBlock]:
        """The context blocks the next turn would send (new or changed ones only)."""
        return self._context_blocks(context)

    def _context_blocks(
        self, extra: ContextLike, history: Sequence[Message] | None = None
    ) -> list[ContextBlock]:
        return blocks_to_send((self.context, extra), self._history if history is None else history)

    # -- stats ---------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Token use, turns, tool calls, latency and cost (``None`` when unknown).

        Returns
        -------
        dict
            ``model``, ``turns``, ``messages``, ``input_tokens`` (cached and
            cache-written ones included), ``output_tokens``, ``cached_tokens`` (read from
            the prompt cache), ``cache_write_tokens``, ``total_tokens``, ``tool_calls``,
            ``latency_total``, ``latency_mean``, ``ttft_mean``, ``cost``, ``cost_known``,
            ``estimated_turns`` (turns stopped before the provider reported usage: their
            tokens are estimates), ``per_turn`` (one dict per answered turn), ``window``
            (the context window at the last answer: ``size``, ``used``, ``source``),
            ``summaries`` and ``summary_tokens`` (what compaction cost). All derived from
            history.
        """
        return session_stats(self._history, self.model_id)

    # -- copies --------------------------------------------------------------
    def clone(self, **changes: Any) -> ChatSession:
        """An independent deep copy (new id; tools, hooks and model shared by reference).

        ``changes`` set attributes of the copy (``title=``, ``model=``, ``store=``...).
        """
        return self._copy_from(clone_record(self.to_dict()), **changes)

    def fork(self, at: int | None = None, **changes: Any) -> ChatSession:
        """A new session holding the first ``at`` messages (negative counts from the end).

        A cut inside a tool exchange is moved back to before it, so the fork is valid.
        ``changes`` are as for :meth:`clone`.
        """
        return self._copy_from(fork_record(self.to_dict(), self._history, at), **changes)

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

    # -- checkpoints ---------------------------------------------------------
    def checkpoint(self, label: str | None = None) -> int:
        """Record the session as it is now; returns an id for :meth:`restore_checkpoint`.

        With a store the checkpoint is saved there (and survives restarts); without one it
        is kept in memory.
        """
        return self._checkpoints.add(self, label)

    def list_checkpoints(self) -> list[dict[str, Any]]:
        """``id``, ``label``, ``message_count`` (and ``created_at`` when stored) of each."""
        return self._checkpoints.listing(self)

    def restore_checkpoint(self, checkpoint_id: int) -> ChatSession:
        """Bring history, memory, metadata and settings back to a checkpoint.

        Title, name and notebook stay as they are now. Raises :class:`ChatError` while
        the session is answering, and for an unknown checkpoint (:class:`StoreError` when
        the checkpoint is in a store).
        """
        with self._exclusive():
            data, snap = self._checkpoints.load(self, checkpoint_id)
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

    # -- history ---------------------------------------------------------------
    def _commit(
        self,
        messages: Sequence[Message],
        response: Response | None = None,
        base: Sequence[Message] | None = None,
        below: Sequence[Message] = (),
    ) -> None:
        """Add a finished turn; with ``base``, history becomes ``base`` + the turn
        (+ ``below``, the turns that follow a turn placed inside history)."""
        if self.title is None:
            first = next((m.text for m in messages if m.role == "user" and m.text.strip()), "")
            if first:
                self.title = title_from(first)
        if base is not None:
            self._history = [*base, *messages, *below]
        else:
            self._history.extend(messages)
        if response is not None:
            self._last_response = response
        self._touch()
        # appended turns are added, replaced ones superseded; in a cell, with its recording
        self._persist(hold=True)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the session for a change of history (refused while it is answering)."""
        if not self._busy.acquire(blocking=False):
            raise ChatError("this session is answering; wait for it or stop it first")
        try:
            yield
        finally:
            self._busy.release()

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
