"""A session's records and its store: the serialisation and persistence half of
:class:`~jupychat.session.ChatSession`.

Design note: :class:`SessionStorage` is a mixin that ``ChatSession`` inherits. It turns
a session into its record and back (the record format is :mod:`._sessionrecord`), and
ties it to a store: attaching, resuming, syncing with what other processes wrote before
a turn, and writing what changed after one (:mod:`._storelink`), on the caller's thread
or, inside :meth:`SessionStorage._writes_aside`, on a worker thread that is waited for.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ._sessionpersist import find_stored, open_store
from ._sessionrecord import (
    from_record,
    read_record,
    record_fields,
    stored_record,
    to_record,
    write_record,
)
from ._storelink import StoreLink
from .types import now_iso

if TYPE_CHECKING:
    from .hooks import Hooks
    from .providers.base import Provider
    from .session import ChatSession
    from .tools import Tool

__all__ = ["SessionStorage"]


class SessionStorage:
    """Records and store of a :class:`~jupychat.session.ChatSession` (a mixin)."""

    _store: Any
    _link: StoreLink | None
    _aside: int | None
    updated_at: str

    # -- serialisation -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The session as JSON-able data (no keys, no code: tools are listed by name).

        ``schema``, ``version``, ``id``, ``created_at``, ``updated_at``, the fields of
        :meth:`record_fields`, and ``messages`` (each ``Message.to_dict()``).
        """
        return to_record(cast("ChatSession", self))

    def record_fields(self) -> dict[str, Any]:
        """The session's stored fields other than messages, as they may be stored: text
        cleaned and known secret values removed (the store and exports see only these)."""
        return record_fields(cast("ChatSession", self))

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
        """Rebuild a session from :meth:`to_dict` output; tools and hooks are re-attached.

        Raises :class:`StoreError` when ``data`` is not a session record (or a newer one),
        and warns when the record names tools that ``tools`` does not bring back.
        """
        return from_record(
            cast("type[ChatSession]", cls), data, model=model, tools=tools, hooks=hooks, **kwargs
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the session to a JSON file (atomically); returns its path."""
        return write_record(path, self.to_dict())

    @classmethod
    def restore(cls, path: str | os.PathLike[str], **kwargs: Any) -> ChatSession:
        """Load a session written by :meth:`save` (pass ``tools=``/``hooks=`` to re-attach)."""
        return cls.from_dict(read_record(path), **kwargs)

    # -- persistence ---------------------------------------------------------
    def attach_store(self, store: Any) -> ChatSession:
        """Save this session (now and after every turn) to ``store``."""
        self._store = store = open_store(store)
        self._link = StoreLink(store)
        session = cast("ChatSession", self)
        self._link.attach(session)
        return session

    @property
    def store(self) -> Any:
        """The attached :class:`~jupychat.store.SessionStore`, or ``None``."""
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
        if store is None:
            from .store import SessionStore

            store = SessionStore()  # the configured default store
        store = open_store(store)
        snap = find_stored(store, id, notebook=notebook, name=name)
        session = cls.from_dict(stored_record(snap), **kwargs)
        session._store = store
        session._link = StoreLink(store)
        session._link.bind(session, snap.revision, snap.order, snap.record)
        return session

    def _sync(self) -> None:
        """Take in what other processes wrote to the stored session (cheap when nothing)."""
        if self._link is not None:
            self._link.sync(cast("ChatSession", self))

    def _persist(self, hold: bool = False) -> None:
        """Write every change made here and not saved yet (never what other processes
        wrote); a failure keeps it in memory, with a one-line warning, and the next
        write saves it (see :mod:`jupychat._storelink`). With ``hold`` (a finished
        turn), a write aside waits for the cell's recording to join its transaction."""
        aside = self._aside_link()
        if aside is not None:
            aside.flush_aside(cast("ChatSession", self), hold)
        elif self._link is not None:
            self._link.flush(cast("ChatSession", self))

    def _write_joined(
        self,
        statement: Callable[[Any], Any] | None,
        alone: Callable[[], Any],
        failed: Callable[[Exception], Any],
    ) -> None:
        """A cell's recording: in the turn write's transaction (or after it, without a
        ``statement``) within :meth:`_writes_aside` (see ``StoreLink.join_aside``), else
        ``alone()`` now."""
        link = self._aside_link()
        if link is not None:
            link.join_aside(statement, alone, failed)
        else:
            alone()

    def _writes_go(self) -> None:
        """Start the turn write held for a recording (the cell has shown its answer)."""
        link = self._aside_link()
        if link is not None:
            link.release(here=True)

    def _aside_link(self) -> StoreLink | None:
        """The store link when this thread's writes go aside (within
        :meth:`_writes_aside`), else ``None``: they are made in place."""
        link = self._link
        return link if link is not None and self._aside == threading.get_ident() else None

    @contextlib.contextmanager
    def _writes_aside(self) -> Iterator[None]:
        """Within the block, store writes run on a worker thread (a cell's turn write
        once its final display is shown, on this thread as one of the worker's tasks);
        leaving the block waits for them, so they are durable."""
        if self._aside is not None or self._link is None:
            yield
            return
        self._aside = threading.get_ident()
        try:
            yield
        finally:
            self._aside = None
            link = self._link
            if link is not None:
                link.settle()

    def _touch(self, save: bool = False) -> None:
        self.updated_at = now_iso()
        if save:
            self._persist()
