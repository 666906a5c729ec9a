"""The notebook's sessions: which ChatSession a ``%%chat`` cell (or the panel) talks to.

One :class:`NotebookChat` per IPython shell. Sessions are keyed by the notebook path
(Jupyter Server puts it in ``JPY_SESSION_NAME`` in the kernel's environment) and an
optional session name (``%%chat --session NAME``); in plain IPython, with no notebook
path, the key is this kernel only. Sessions are created lazily on first use, saved to the
store, and, after a kernel restart, the notebook's latest session is resumed (setting
``resume``: ``"resume"`` or ``"new"``).

It is also the notebook's turn engine: :meth:`NotebookChat.ask` (a cell) and
:meth:`NotebookChat.aask` (the panel's worker thread) are the only code that runs a
notebook turn (the steps are in :mod:`.engine`). Every turn's events (:mod:`.events`) go to
the view that asked and to every listener, so the panel mirrors questions asked in cells
and vice versa.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .. import config
from ..errors import ChatError, StoreError, TurnInterrupted

if TYPE_CHECKING:  # these load on first use, keeping %load_ext light
    from .._turnstate import Response
    from ..session import ChatSession
    from .engine import Ask, Prepared, TurnRun, View
    from .events import NotebookEvent
    from .order import CellOrder

__all__ = ["NotebookChat"]

log = logging.getLogger("jupychat")
Listener = Callable[["NotebookEvent"], None]
_CHOSEN = "model_chosen_by"  # session metadata: "default" when no one named the model


class NotebookChat:
    """Holds the notebook's sessions, its store and its listeners."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.notebook: str | None = os.environ.get("JPY_SESSION_NAME") or None
        self._sessions: dict[str | None, ChatSession] = {}
        self._current: str | None = None
        self._store: Any = None
        self._store_failed = False
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        self._runs: set[TurnRun] = set()
        self.model_override: str | None = None
        self.noted: set[str] = set()  # sessions whose first answer carried its notes
        self._cell_order: CellOrder | None = None

    # -- store -------------------------------------------------------------------
    @property
    def store(self) -> Any:
        """The session store, opened on first use; ``None`` if it cannot be opened."""
        if self._store is None and not self._store_failed:
            from ..store import SessionStore

            try:
                self._store = SessionStore()
            except StoreError as exc:
                self._store_failed = True
                warnings.warn(
                    f"jupychat: sessions will not be saved ({exc})", RuntimeWarning, stacklevel=2
                )
        return self._store

    # -- sessions ------------------------------------------------------------------
    @property
    def current_name(self) -> str | None:
        return self._current

    def session(self, name: str | None = None, *, switch: bool = True) -> ChatSession:
        """The session called ``name`` (default: the current one), created or resumed."""
        with self._lock:
            key = name if name is not None else self._current
            if key not in self._sessions:
                self._sessions[key] = self._resume_or_create(key)
            if switch and key != self._current:
                self._current = key
                self._changed(self._sessions[key])
            return self._sessions[key]

    def _resume_or_create(self, name: str | None) -> ChatSession:
        store = self.store
        policy = str(config.resolve("resume"))
        if store is not None and self.notebook and policy != "new":
            # the latest session of this notebook with exactly this name (None: the unnamed one)
            candidates = store.sessions(limit=50, notebook=self.notebook, name=name)
            latest = next((c for c in candidates if c.get("name") == name), None)
            if latest is not None:
                try:
                    from ..session import ChatSession

                    resumed = ChatSession.resume(latest["id"], store=store, **self._resume_kwargs())
                    return self._configure(self._rechoose(resumed))
                except ChatError as exc:
                    log.warning("jupychat: could not resume session %s: %s", latest["id"], exc)
        return self.new_session(name, switch=False)

    def _rechoose(self, session: ChatSession) -> ChatSession:
        """A resumed session whose model the default resolution chose gets today's choice
        (Ollama started since, a key set since); one the user named keeps its model."""
        if self.model_override or session.get_metadata(_CHOSEN) != "default":
            return session
        from ..providers.registry import resolve_model

        try:
            provider = resolve_model(None)
        except ChatError as exc:
            log.warning("jupychat: kept the session's model: %s", exc)
            return session
        if provider.model_id != session.model_id:
            session.switch_model(provider)
        return session

    @staticmethod
    def _chosen_by_default() -> bool:
        """True when no setting names the model (a key, a server or a file chose it)."""
        return not config.resolve("model")

    def _resume_kwargs(self) -> dict[str, Any]:
        from .namespace import notebook_tools

        kwargs: dict[str, Any] = {"tools": notebook_tools(self.shell)}
        if self.model_override:
            kwargs["model"] = self.model_override
        return kwargs

    def new_session(
        self, name: str | None = None, *, switch: bool = True, **kwargs: Any
    ) -> ChatSession:
        """Start a fresh session (the old one stays in the store)."""
        with self._lock:
            from ..session import ChatSession

            model = kwargs.pop("model", None) or self.model_override
            metadata = dict(kwargs.pop("metadata", None) or {})
            if model is None and self._chosen_by_default():
                metadata[_CHOSEN] = "default"  # a resume may choose again (see _rechoose)
            session = ChatSession(
                model=model,
                notebook=self.notebook,
                name=name,
                store=self.store,
                metadata=metadata or None,
                **kwargs,
            )
            self._configure(session)
            self._sessions[name] = session
            if switch:
                self._current = name
                self._changed(session)
            return session

    def named(self, name: str) -> ChatSession | None:
        """Make the named session ``name`` of this notebook current (``default``: the
        unnamed one, unless a session is called that); ``None`` when there is none."""
        with self._lock:
            known = set(self._sessions)
            store = self.store
            if name not in known and store is not None and self.notebook:
                stored = store.sessions(limit=50, notebook=self.notebook, name=name)
                known |= {c.get("name") for c in stored}
            if name in known:
                return self.session(name)
            if name != "default":
                return None
            if None not in self._sessions:  # session(None) means "the current one"
                self._sessions[None] = self._resume_or_create(None)
            if self._current is not None:
                self._current = None
                self._changed(self._sessions[None])
            return self._sessions[None]

    def use(self, session_id: str) -> ChatSession:
        """Make the stored session ``session_id`` (or a unique prefix of it) current."""
        store = self.store
        if store is None:
            raise StoreError("no session store is available; sessions cannot be loaded")
        from ..session import ChatSession

        full = self.expand_id(session_id)
        return self.adopt(ChatSession.resume(full, store=store, **self._resume_kwargs()))

    def adopt(self, session: ChatSession) -> ChatSession:
        """Make ``session`` (a fork, a copy, an import...) this notebook's current session."""
        with self._lock:
            self._configure(session)
            self._sessions[session.name] = session
            self._current = session.name
            self._changed(session)
            return session

    def expand_id(self, prefix: str) -> str:
        """The full id of the stored session ``prefix`` names (a unique prefix will do)."""
        store = self.store
        if store.exists(prefix):
            return prefix
        matches = list(store.match_ids(prefix))
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise StoreError(f"no session {prefix}; list them with %chat sessions")
        raise StoreError(f"{len(matches)} sessions start with {prefix!r}; give more characters")

    def _configure(self, session: ChatSession) -> ChatSession:
        from .namespace import attach_notebook_context

        attach_notebook_context(session, self.shell)
        session.in_notebook = True  # turns without a system prompt get the notebook one
        return session

    # -- turns ---------------------------------------------------------------------
    @property
    def cell_order(self) -> CellOrder:
        """Where cells' turns go in the conversation (:mod:`.order`), made on first use."""
        with self._lock:
            if self._cell_order is None:
                from .order import CellOrder

                self._cell_order = CellOrder()
            return self._cell_order

    def prepare(self, ask: Ask) -> Prepared:
        """Everything a turn needs before a request is made; ChatError (one line) if not."""
        from .engine import prepare

        with config.settled():
            return prepare(self, ask)

    def ask(self, ask: Ask | Prepared, view: View | None = None) -> Response | None:
        """Run one turn here and now (a cell); events go to ``view`` and the listeners.

        Ctrl-C (or :meth:`stop`) ends it at once: the partial answer is kept, marked
        interrupted, and returned; ``None`` when nothing had arrived. A failed turn raises
        its one-line :class:`~jupychat.errors.ChatError` after telling the view.
        """
        from .engine import Prepared

        prepared = ask if isinstance(ask, Prepared) else self.prepare(ask)
        # the turn's store write runs while the answer is shown; durable before returning
        with config.settled(), prepared.session._writes_aside():
            run = self._begin(prepared, view)
            try:
                stream = _turn_stream(prepared)
                for item in stream:
                    run.item(item)
            except (KeyboardInterrupt, TurnInterrupted):
                return run.stopped()
            except ChatError as exc:
                run.failed(exc)
                raise
            finally:
                self._runs.discard(run)
            return run.finished(stream.response)

    async def aask(self, ask: Ask | Prepared, view: View | None = None) -> Response | None:
        """Async twin of :meth:`ask` (the panel runs it on its worker thread's loop).

        A failed turn is reported to the view and listeners and returns ``None``.
        """
        import asyncio

        from .._turnstate import Response
        from .engine import Prepared, native_async

        prepared = ask if isinstance(ask, Prepared) else self.prepare(ask)
        cancel = None
        task = asyncio.current_task()
        if task is not None and native_async(prepared.session.provider):
            # cancelling closes the in-flight request at once, even when the server is silent
            loop = asyncio.get_running_loop()
            cancel = lambda: loop.call_soon_threadsafe(task.cancel)  # noqa: E731
        run = self._begin(prepared, view, cancel)
        response = None
        try:
            async for item in _aturn_stream(prepared):
                if isinstance(item, Response):
                    response = item
                else:
                    run.item(item)
        except (asyncio.CancelledError, TurnInterrupted):
            return run.stopped()
        except ChatError as exc:
            run.failed(exc)
            return None
        finally:
            self._runs.discard(run)
        return run.finished(response)

    def _begin(
        self, prepared: Prepared, view: View | None, cancel: Callable[[], Any] | None = None
    ) -> TurnRun:
        from .engine import TurnRun

        run = TurnRun(self, prepared, view)
        run.cancel = cancel
        self._runs.add(run)
        run.start()
        return run

    @property
    def busy(self) -> bool:
        """True while a turn runs (in a cell or in the panel)."""
        return bool(self._runs)

    def stop(self) -> None:
        """Stop every running turn at once, keeping what arrived (safe from any thread)."""
        for run in list(self._runs):
            run.stop()

    # -- listeners -----------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` on every notebook event; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _changed(self, session: ChatSession) -> None:
        from .events import SessionChanged

        self.emit(SessionChanged(session))

    @property
    def listeners(self) -> Sequence[Listener]:
        """What listens to this notebook's events (the panel), as a live list: the same
        object always, changed in place by :meth:`subscribe` and its unsubscribe (a
        running turn looks at it for each streamed piece). Read it, do not change it."""
        return self._listeners

    def emit(self, event: NotebookEvent) -> None:
        if not self._listeners:
            return
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("jupychat listener failed on %s", type(event).__name__)


def _turn_stream(prepared: Prepared) -> Any:
    """The session's stream for a prepared turn: an ordinary one, or a structured one
    (``Ask.schema``: :mod:`jupychat.structured`); either ends with the Response."""
    ask, session = prepared.ask, prepared.session
    if ask.schema is None:
        return session.stream(prepared.content, events=True, **prepared.options)
    from ..structured import stream_extract

    return stream_extract(
        session, prepared.content, ask.schema, as_frame=ask.as_frame, **prepared.options
    )


def _aturn_stream(prepared: Prepared) -> Any:
    """Async twin of :func:`_turn_stream` (events, then the Response)."""
    ask, session = prepared.ask, prepared.session
    if ask.schema is None:
        return session.astream(prepared.content, events=True, **prepared.options)
    from ..structured import astream_extract

    return astream_extract(
        session, prepared.content, ask.schema, as_frame=ask.as_frame, **prepared.options
    )
