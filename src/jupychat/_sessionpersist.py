"""Where a session is kept: the store it is attached to or resumed from, and checkpoints.

Design note: a store is given as a :class:`~jupychat.store.SessionStore` or a path to
one (:func:`open_store`); the store module is imported only then, so a session that is
never saved never loads it. A stored session is found by id, or as the latest one of a
notebook or a name (:func:`find_stored`), and read back as one snapshot: the record and
the store revision it was read at, from which :mod:`jupychat._storelink` carries on.

A checkpoint is the session record as it was at one moment. A session with a store
saves what it has not saved yet and asks the store for one (:mod:`jupychat.store.checkpoints`):
it survives restarts, and going back supersedes the messages written since instead of
deleting them. A session without a store keeps copies of its record in memory, numbered
from 1. Either way :meth:`Checkpoints.load` answers the record to go back to and the
session puts its state back from it, so both kinds restore exactly the same fields.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._sessionrecord import stored_record
from .errors import ChatError, StoreError

if TYPE_CHECKING:
    from .session import ChatSession

__all__ = ["Checkpoints", "find_stored", "open_store"]


def open_store(store: Any) -> Any:
    """``store`` itself, or the :class:`~jupychat.store.SessionStore` at a path."""
    if isinstance(store, (str, os.PathLike)):
        from .store import SessionStore

        return SessionStore(store)
    return store


def find_stored(
    store: Any, id: str | None, *, notebook: str | None = None, name: str | None = None
) -> Any:
    """The store's snapshot of session ``id``, or of the latest one for ``notebook``/``name``.

    Raises :class:`StoreError` (one line) when there is no such session.
    """
    if id is None:
        latest = store.latest(notebook=notebook, name=name)
        if latest is None:
            where = f" for notebook {notebook}" if notebook else ""
            raise StoreError(f"no stored session{where}; start one with ChatSession()")
        id = latest["id"] if isinstance(latest, Mapping) else latest
    return store.changes(id)


class Checkpoints:
    """The checkpoints of one session (the in-memory ones live here)."""

    def __init__(self) -> None:
        self._kept: list[tuple[str | None, dict[str, Any]]] = []

    def add(self, session: ChatSession, label: str | None) -> int:
        """Record ``session`` as it is now; returns the checkpoint's id."""
        if session.store is not None:
            session._persist()  # the stored checkpoint includes what is not saved yet
            return int(session.store.checkpoint(session.id, label))
        self._kept.append((label, session.to_dict()))
        return len(self._kept)

    def listing(self, session: ChatSession) -> list[dict[str, Any]]:
        """``id``, ``label``, ``message_count`` (and ``created_at`` when stored) of each."""
        if session.store is not None:
            return list(session.store.list_checkpoints(session.id))
        return [
            {"id": i, "label": label, "message_count": len(data["messages"])}
            for i, (label, data) in enumerate(self._kept, 1)
        ]

    def load(self, session: ChatSession, checkpoint_id: int) -> tuple[dict[str, Any], Any]:
        """The record to go back to, and the store's snapshot of it (``None`` in memory).

        With a store, the store is put back to the checkpoint first.
        """
        if session.store is not None:
            session.store.restore_checkpoint(session.id, checkpoint_id)
            snap = session.store.changes(session.id)
            return stored_record(snap), snap
        if not 1 <= int(checkpoint_id) <= len(self._kept):
            raise ChatError(f"no checkpoint {checkpoint_id}; see session.list_checkpoints()")
        return self._kept[int(checkpoint_id) - 1][1], None
