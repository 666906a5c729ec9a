"""The maintenance half of :class:`~jupychat.store.sqlite.SessionStore`: small edits,
export and import, copy/fork/merge, checkpoints.

Design note: :class:`SessionEdits` is a mixin that ``SessionStore`` inherits; every
method is one transaction on the store's :class:`~.connection.Database` (``self._db``)
or hands the store to :mod:`.lineage`, :mod:`.checkpoints` or :mod:`.export`, which do
the work. The turn-by-turn writing and the reading stay in :mod:`.sqlite`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from jupychat.errors import StoreError

from . import checkpoints, lineage, tables
from .records import dumps, stamp_now

if TYPE_CHECKING:
    from .connection import Database
    from .sqlite import SessionStore

__all__ = ["SessionEdits"]


class SessionEdits:
    """Edits, export/import, lineage and checkpoints of a :class:`SessionStore`."""

    _db: Database

    if TYPE_CHECKING:

        def load(self, session_id: str) -> dict[str, Any]: ...

    # -- small edits -------------------------------------------------------------------

    def delete(self, session_id: str) -> None:
        """Delete a session, its messages (superseded ones too) and its checkpoints."""

        def run(conn: sqlite3.Connection) -> None:
            pk = tables.session_pk(conn, session_id)
            conn.execute("DELETE FROM messages WHERE session_pk = ?", (pk,))
            conn.execute("DELETE FROM checkpoints WHERE session_pk = ?", (pk,))
            conn.execute("DELETE FROM sessions WHERE pk = ?", (pk,))

        self._db.write(run)

    def rename(self, session_id: str, title: str | None) -> str | None:
        """Set the title (``None``: back to the automatic one). Returns the new title."""
        if title is not None:
            if not isinstance(title, str):
                raise StoreError(f"a title must be a string, not {type(title).__name__}")
            title = " ".join(title.split()) or None

        def run(conn: sqlite3.Connection) -> str | None:
            pk = tables.session_pk(conn, session_id)
            new = title if title is not None else tables.stored_title(conn, pk)
            conn.execute(
                "UPDATE sessions SET title = ?, updated_at = ?, revision = revision + 1 "
                "WHERE pk = ?",
                (new, stamp_now(), pk),
            )
            return new

        return self._db.write(run)

    def update_metadata(self, session_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` into the metadata; a ``None`` value deletes that key.

        Returns the metadata after the change.
        """
        if not isinstance(changes, Mapping):
            raise StoreError("metadata changes must be a dict")
        dumps(dict(changes), "metadata")

        def run(conn: sqlite3.Connection) -> dict[str, Any]:
            pk, metadata = tables.session_metadata(conn, session_id)
            for key, value in changes.items():
                if value is None:
                    metadata.pop(key, None)
                else:
                    metadata[key] = value
            conn.execute(
                "UPDATE sessions SET metadata = ?, updated_at = ?, revision = revision + 1 "
                "WHERE pk = ?",
                (dumps(metadata, "metadata"), stamp_now(), pk),
            )
            return metadata

        return self._db.write(run)

    # -- export / import ------------------------------------------------------------

    def export(
        self, session_id: str, path: str | os.PathLike[str], format: str | None = None
    ) -> Path:
        """Write the session to a file, scrubbed of credentials.

        Parameters
        ----------
        session_id:
            The session.
        path:
            Output file (folders are created; an existing file is replaced atomically).
        format:
            ``"json"`` (re-importable), ``"markdown"`` or ``"ipynb"``; default from the
            file suffix (``.json``, ``.md``, ``.ipynb``), else JSON.
        """
        from . import export as _export  # tempfile, nbformat...: only when exporting

        target = Path(path).expanduser()
        fmt = _export.format_for(target, format)
        record = self.load(session_id)
        _export.write_atomic(target, _export.render(record, fmt))
        return target

    def import_(self, path: str | os.PathLike[str], new_id: bool = False) -> str:
        """Add a session from a JSON export; returns its id.

        Parameters
        ----------
        path:
            A file written by ``export(..., format="json")``.
        new_id:
            Give it a fresh id (and record ``metadata["imported_from"]``), so the same
            file can be imported next to the original. Without it, an id that is
            already stored is an error.
        """
        return lineage.import_file(cast("SessionStore", self), path, new_id)

    # -- copy / fork / merge (see lineage.py) -------------------------------------------

    def copy(self, session_id: str, title: str | None = None) -> str:
        """A new session with the same messages and state (``metadata["copied_from"]``)."""
        return lineage.copy(cast("SessionStore", self), session_id, title)

    def fork(self, session_id: str, at: int, title: str | None = None) -> str:
        """A new session holding the first ``at`` messages (``metadata["forked_from"]``)."""
        return lineage.fork(cast("SessionStore", self), session_id, at, title)

    def merge(self, session_ids: Sequence[str], title: str | None = None) -> str:
        """A new session with the messages of all ``session_ids`` in time order.

        Messages are interleaved by ``created_at`` (ties keep the input order). The
        system prompt, model, tools and settings come from the first session, memory
        is merged (later sessions win), and ``metadata["merged_from"]`` lists the ids.
        """
        return lineage.merge(cast("SessionStore", self), session_ids, title)

    # -- checkpoints (see checkpoints.py) ---------------------------------------------

    def checkpoint(self, session_id: str, label: str | None = None) -> int:
        """Record the session as it is now; returns the checkpoint id."""
        if label is not None and not isinstance(label, str):
            raise StoreError("a checkpoint label must be a string")
        return self._db.write(lambda conn: checkpoints.create(conn, session_id, label))

    def list_checkpoints(self, session_id: str) -> list[dict[str, Any]]:
        """The session's checkpoints, oldest first: ``id, label, created_at, message_count``."""
        return self._db.read(lambda conn: checkpoints.listing(conn, session_id))

    def restore_checkpoint(self, session_id: str, checkpoint_id: int | str) -> None:
        """Put the session's messages and state back as they were at the checkpoint.

        Title, name and notebook stay as they are now; the messages written since are
        superseded (kept, not deleted), and the checkpoint itself (and any later ones)
        stay available.
        """
        self._db.write(lambda conn: checkpoints.restore(conn, session_id, checkpoint_id))
