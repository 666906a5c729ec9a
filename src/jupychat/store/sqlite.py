"""``SessionStore``: chat sessions in one SQLite file (WAL), searchable with FTS5.

Design note: a session is one ``sessions`` row (scalar columns, JSON columns for
memory/metadata/tools/settings, running totals, and a ``revision``) plus one
``messages`` row per message, numbered by ``seq``. Each public method is a single
transaction (see :mod:`.connection`), so a turn appended with :meth:`commit` /
:meth:`append_messages` is either all there or not at all, whatever happens.

The store is the source of truth when several processes (two kernels on one notebook,
the sessions page) write the same session, so no write rewrites what another process
wrote: turns are appended; a replaced or cleared turn is *superseded* (kept, marked,
and skipped by ``load``, counts, exports and search); field updates name only the
fields (and memory/metadata keys) that changed. Every write gives the session a new
``revision``, and :meth:`changes` tells a process
cheaply whether the session moved since the revision it saw, with only the messages it
does not hold yet. ``save`` (a whole-record write) is for deliberate rewrites: see its
docstring for exactly what it replaces.

The store hands out and takes back plain record dicts in the ``ChatSession.to_dict()``
format; ``types.py`` stays free of database ids. Message ids (``"msg_<n>"``) exist only
here. Modules: :mod:`.tables` (row SQL), :mod:`.search` (listing and full-text search),
:mod:`.checkpoints`, :mod:`.lineage` (copy, fork, merge); :mod:`.sqlite_edits` holds
the edit, export/import, lineage and checkpoint methods (a mixin).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jupychat import config
from jupychat.errors import StoreError

from . import sync, tables
from .connection import Database, map_error
from .paths import default_store_path, resolve_store_path
from .pg_connection import is_postgres_url
from .records import (
    message_rows,
    normalize_session,
)
from .search import SEARCH_SCAN, SEARCH_WINDOW, SUMMARY_COLS, fts_query, listing, metadata_filter
from .search import search as _search
from .search import summary as summary_row
from .sqlite_edits import SessionEdits
from .sync import Commit, Snapshot

__all__ = [
    "SEARCH_SCAN",
    "SEARCH_WINDOW",
    "Commit",
    "SessionStore",
    "Snapshot",
    "default_store_path",
    "resolve_store_path",
]

Summary = dict[str, Any]
Record = dict[str, Any]
#: Seconds a search waits for the write lock to index the messages not indexed yet.
SEARCH_CATCH_UP = 0.1


class SessionStore(SessionEdits):
    """Persistent chat sessions in one SQLite database.

    Parameters
    ----------
    path:
        The database file (a folder means ``<folder>/sessions.db``; ``":memory:"`` for a
        throwaway store). Default: ``config.resolve("store")`` (``JUPYCHAT_STORE``
        or the ``store`` config-file setting), else
        ``<platformdirs user data dir>/jupychat/sessions.db``.
    timeout:
        Seconds to wait for another process's write lock before retrying.

    Notes
    -----
    Opening is lazy: nothing touches the disk until the first call. Safe to share
    between threads and to use from several processes at once. Every error is a
    one-line :class:`~jupychat.errors.StoreError`, and a failed call changes nothing.

    Examples
    --------
    >>> store = SessionStore(":memory:")
    >>> sid = store.create(model="fake:echo")
    >>> store.append_messages(sid, [{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    ['msg_1']
    >>> store.load(sid)["title"]
    'hi'
    >>> store.close()
    """

    def __new__(cls, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> SessionStore:
        # A postgresql:// URL (argument, JUPYCHAT_STORE or the config file) picks that backend.
        if cls is SessionStore and is_postgres_url(config.resolve("store", path)):
            from .postgres import PostgresStore

            return super().__new__(PostgresStore)
        return super().__new__(cls)

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout: float = 5.0) -> None:
        self._db = Database(resolve_store_path(path), timeout=timeout)

    @property
    def path(self) -> str | Path:
        """The database file (or ``":memory:"``)."""
        return self._db.path

    @property
    def epoch(self) -> int:
        """How many times the database file was found deleted or replaced while open.

        When it changes, the file now at :attr:`path` is another one (recreated empty
        on the next write): whoever keeps sessions in memory should write them again.
        """
        return self._db.epoch

    def __repr__(self) -> str:
        return f"SessionStore({str(self.path)!r})"

    def close(self) -> None:
        """Close the database connection (a later call reopens it)."""
        self._db.close()

    def deferring_checkpoints(self) -> contextlib.AbstractContextManager[None]:
        """Within the block, this thread's writes leave the store's periodic checkpoint
        (its WAL copied into the file) to :meth:`checkpoint_due`: for a writer that
        others wait for (a notebook cell's turn), so they do not wait for it too."""
        return self._db.deferring()

    def checkpoint_wanted(self) -> bool:
        """True when the writes so far made the periodic checkpoint, or indexing the
        messages they added for full-text search (see :mod:`.fts`), due."""
        return self._db.checkpoint_wanted()

    def checkpoint_due(self) -> None:
        """Index the messages written for full-text search, and run the periodic
        checkpoint if the writes so far made it due (see :meth:`deferring_checkpoints`);
        neither changes what a call returns, nor any durability."""
        self._db.checkpoint_due()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- create / save / append -----------------------------------------------------

    def create(self, record: Mapping[str, Any] | None = None, /, **fields: Any) -> str:
        """Store a new session and return its id.

        Parameters
        ----------
        record:
            A session record (``ChatSession.to_dict()``); its ``id`` is kept when given.
        **fields:
            Record fields, overriding ``record``: ``title``, ``name``, ``notebook``,
            ``model``, ``system_prompt``, ``messages``, ``memory``, ``metadata``,
            ``tools``, ``max_steps``, ``settings``, ``id``.

        Raises
        ------
        StoreError
            Invalid fields, or a session with that id already exists.
        """
        data = {**(record or {}), **fields}
        values = normalize_session(data)
        rows = message_rows(data.get("messages"))
        session_id = values.id or uuid.uuid4().hex

        def run(conn: sqlite3.Connection) -> str:
            if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone():
                raise StoreError(f"session {session_id} already exists; use save() to overwrite it")
            tables.insert_session(conn, values, rows, session_id)
            return session_id

        return self._db.write(run)

    def save(self, record: Mapping[str, Any], *, expected_revision: int | None = None) -> str:
        """Write a whole record (insert, or overwrite every field and the active messages).

        For deliberate rewrites only (restoring a record as it was): ordinary turns use
        :meth:`commit`. The stored active messages become the record's: the common
        prefix stays in place, stored messages the record lacks are *superseded* (kept
        in the database, where checkpoints still see them, but no longer loaded), and
        the record's other messages are appended. A ``title`` of ``None`` means the
        automatic title. Returns the session id.

        Parameters
        ----------
        record:
            The whole session record, with its ``id``.
        expected_revision:
            The revision the record was read at (``Snapshot.revision``). When given and
            the session has been written since, nothing is saved and a
            :class:`StoreError` says so: a save never drops turns it did not see.
        """
        values = normalize_session(record)
        if values.id is None:
            raise StoreError("save() needs a record with an 'id'; use create() for a new one")
        session_id = values.id
        rows = message_rows(record.get("messages"))
        return self._db.write(
            lambda conn: sync.save_record(conn, values, rows, session_id, expected_revision)
        )

    def append_messages(
        self,
        session_id: str,
        messages: Iterable[Any],
        updates: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Append one completed turn (its messages) in a single transaction.

        Parameters
        ----------
        session_id:
            The session.
        messages:
            ``Message`` objects or their ``to_dict()`` dicts, in order.
        updates:
            Session fields that changed with this turn (``model``, ``memory``,
            ``metadata``, ``title``, ``tools``, ``settings``, ``updated_at``...). Each
            replaces the stored value (see :meth:`commit` to merge memory/metadata keys
            instead); a ``title`` of ``None`` means the automatic title. Envelope keys
            (``schema``, ``version``, ``id``, ``created_at``) are ignored; other unknown
            keys are kept with the record.

        Returns
        -------
        list of str
            The ids given to the new messages (``"msg_<n>"``), in order.
        """
        done = self.commit(session_id, messages, updates=updates)
        return [f"msg_{i}" for i in done.ids]

    def commit(
        self,
        session_id: str,
        messages: Iterable[Any] = (),
        *,
        supersede: Iterable[int | str] = (),
        updates: Mapping[str, Any] | None = None,
        merge: Mapping[str, Mapping[str, Any]] | None = None,
        unset: Mapping[str, Iterable[str]] | None = None,
        epoch: int | None = None,
        before: Sequence[int | str | None] | None = None,
        beside: Callable[[sqlite3.Connection], Any] | None = None,
    ) -> Commit:
        """Apply one process's changes to a session as one transaction (one revision).

        Parameters
        ----------
        session_id:
            The session.
        messages:
            Messages to append, in order.
        supersede:
            Ids of stored messages this change replaces or removes (a re-run turn, a
            cleared conversation). They are kept but no longer active; ids that are
            unknown or already superseded are ignored.
        updates:
            Fields to set, as in :meth:`append_messages`: send only those that changed.
        merge, unset:
            ``{"memory": {...}, "metadata": {...}}``: keys to set, and key lists to
            remove, in the stored dicts; keys other processes set are left alone.
        epoch:
            The :attr:`epoch` the caller's view of the store comes from. When given and
            the database file has been found deleted or replaced since, nothing is
            written and a :class:`StoreError` says so (write the session again first).
        before:
            One entry per message: the id of the stored message it goes before in the
            conversation (``None``: at the end, the default for all). A re-run notebook
            cell's turn keeps its place this way (see :mod:`jupychat.store.places`).
        beside:
            Another write (``beside(conn)``, a cell's recording) made in the same
            transaction, after the session's changes, within a savepoint: when it fails,
            only its own changes are undone, the session's still commit, and its error
            is the result's ``beside_error``.

        Returns
        -------
        Commit
            The new message ids and the revisions before and after this write.
        """
        rows = message_rows(list(messages))
        drop = [tables.message_id(i) for i in supersede]
        fields = sync.check_updates(session_id, updates or {})
        merges = sync.check_merge(merge, unset)
        anchors = None
        if before is not None:
            anchors = [None if b is None else tables.message_id(b) for b in before]
            if len(anchors) != len(rows):
                raise StoreError("commit(before=...) needs one entry per message; nothing saved")

        def run(conn: sqlite3.Connection) -> Commit:
            if epoch is not None and self._db.epoch != epoch:
                raise StoreError(
                    f"the session store {self.path} was deleted or replaced; nothing was "
                    "written: save the session again"
                )
            done = sync.commit(conn, session_id, rows, drop, fields, merges, anchors)
            if beside is None:
                return done
            return done._replace(beside_error=self._beside(conn, beside))

        return self._db.write(run)

    def _beside(
        self, conn: sqlite3.Connection, write: Callable[[sqlite3.Connection], Any]
    ) -> Exception | None:
        """Run ``write(conn)`` in a savepoint of the open transaction; on its failure
        undo only what it did and return the error (the transaction goes on)."""
        conn.execute("SAVEPOINT beside")
        try:
            write(conn)
        except Exception as exc:
            conn.execute("ROLLBACK TO SAVEPOINT beside")
            conn.execute("RELEASE SAVEPOINT beside")
            return (
                map_error(exc, self._db.where) if isinstance(exc, (sqlite3.Error, OSError)) else exc
            )
        conn.execute("RELEASE SAVEPOINT beside")
        return None

    def reconcile(self, record: Mapping[str, Any]) -> Commit:
        """Make sure every message of ``record`` is stored, dropping nothing stored.

        Creates the session from ``record`` when it is missing. Otherwise appends the
        record's messages the store has never held (matched by content, superseded
        ones included, so a turn replaced elsewhere does not come back) and leaves the
        stored fields as they are. Used to write a session again from memory after its
        store file was lost or the session was deleted elsewhere.

        Returns
        -------
        Commit
            ``ids`` holds the stored id of *every* record message, in order.
        """
        values = normalize_session(record)
        if values.id is None:
            raise StoreError("reconcile() needs a record with an 'id'")
        session_id = values.id
        rows = message_rows(record.get("messages"))
        return self._db.write(lambda conn: sync.reconcile(conn, values, rows, session_id))

    def save_meta(self, record: Mapping[str, Any]) -> None:
        """Update a stored session's fields from a record, leaving its messages alone.

        ``record`` is a record without (or with ignored) ``messages``, e.g.
        ``ChatSession.to_dict()`` minus the messages. Every field given replaces the
        stored one (see :meth:`commit` to send only the changes).
        """
        if not isinstance(record, Mapping) or record.get("id") is None:
            raise StoreError("save_meta() needs a record with an 'id'")
        session_id = str(record["id"])
        self.commit(session_id, updates={k: v for k, v in record.items() if k != "messages"})

    # -- reading --------------------------------------------------------------------

    def load(
        self,
        session_id: str,
        *,
        messages_offset: int = 0,
        messages_limit: int | None = None,
        with_ids: bool = False,
        include_superseded: bool = False,
    ) -> Record:
        """The session record (the ``ChatSession.to_dict()`` format).

        Parameters
        ----------
        session_id:
            The session.
        messages_offset:
            First message to return; negative counts from the end (``-20``: the last 20).
        messages_limit:
            At most this many messages (``None``: all).
        with_ids:
            Add the store's message id (``"id": "msg_<n>"``) to each message.
        include_superseded:
            Also return the replaced and cleared messages, in their original place,
            each marked ``"superseded": True``.
        """
        return self._db.read(
            lambda conn: tables.load(
                conn, session_id, messages_offset, messages_limit, with_ids, include_superseded
            )
        )

    def changes(
        self, session_id: str, since: int | None = None, known: Collection[int] = ()
    ) -> Snapshot | None:
        """The stored session, unless it is still at revision ``since``.

        Parameters
        ----------
        session_id:
            The session.
        since:
            The revision the caller last saw; ``None`` to always get the session.
        known:
            Ids of messages the caller already holds: they are listed in
            ``Snapshot.order`` but not read again.

        Returns
        -------
        Snapshot or None
            ``None`` (one indexed lookup) when the revision is still ``since``.
        """
        if since is not None:  # the common case, nothing changed: one statement
            now = self._db.read_one(sync.REVISION_SQL, (session_id,))
            if now is not None and now[0] == since:
                return None
        held = known if isinstance(known, (set, frozenset)) else set(known)
        return self._db.read(lambda conn: sync.changes(conn, session_id, since, held))

    def exists(self, session_id: str) -> bool:
        """True when a session with this id is stored."""
        if not isinstance(session_id, str):
            return False
        return self._db.read(
            lambda conn: (
                conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone()
                is not None
            )
        )

    def match_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """Ids that start with ``prefix`` (an index range scan), for short-id lookups.

        Returns at most ``limit`` ids, sorted; an exact id is returned alone.
        """
        if not isinstance(prefix, str) or not prefix:
            return []

        def run(conn: sqlite3.Connection) -> list[str]:
            if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (prefix,)).fetchone():
                return [prefix]
            # ids are ASCII: every id with this prefix sorts in [prefix, prefix + U+FFFF)
            return [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM sessions WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                    (prefix, prefix + "\uffff", max(0, int(limit))),
                )
            ]

        return self._db.read(run)

    def summary(self, session_id: str) -> Summary:
        """The list entry for one session (no messages): counts, tokens, metadata."""

        def run(conn: sqlite3.Connection) -> Summary:
            row = conn.execute(
                f"SELECT {SUMMARY_COLS} FROM sessions s WHERE s.id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise tables.no_session(session_id)
            return summary_row(row)

        return self._db.read(run)

    def sessions(
        self,
        limit: int = 50,
        offset: int = 0,
        filter_metadata: Mapping[str, Any] | None = None,
        notebook: str | None = None,
        search: str | None = None,
        name: str | None = None,
    ) -> list[Summary]:
        """Session summaries, most recently updated first.

        Parameters
        ----------
        limit, offset:
            Paging.
        filter_metadata:
            Only sessions whose metadata has these key/value pairs.
        notebook, name:
            Only sessions with this notebook path / name.
        search:
            Full-text search over message text (words are AND-ed; ``"a phrase"``;
            ``word*`` for a prefix). Results are ranked by relevance instead and carry
            ``snippet`` (matches in ``**bold**``) and ``match_index`` (the message).

        Returns
        -------
        list of dict
            ``id, title, name, notebook, model, created_at, updated_at, message_count,
            input_tokens, output_tokens, metadata`` (+ ``snippet, match_index, rank``).
        """
        clauses, params = metadata_filter(filter_metadata or {})
        if notebook is not None:
            clauses.append("s.notebook = ?")
            params.append(notebook)
        if name is not None:
            clauses.append("s.name = ?")
            params.append(name)
        limit, offset = max(0, int(limit)), max(0, int(offset))
        if search is None or not search.strip():
            return self._db.read(lambda conn: listing(conn, clauses, params, limit, offset))
        query = fts_query(search)
        if not query:
            return []
        self._db.index_pending(SEARCH_CATCH_UP)  # (what it cannot index, search scans)
        return self._db.read(lambda conn: _search(conn, query, clauses, params, limit, offset))

    def latest(self, notebook: str | None = None, name: str | None = None) -> Summary | None:
        """The most recently updated session (for this notebook / name), or ``None``."""
        found = self.sessions(limit=1, notebook=notebook, name=name)
        return found[0] if found else None

    def get_metadata(self, session_id: str) -> dict[str, Any]:
        """The session's metadata dict."""

        def run(conn: sqlite3.Connection) -> dict[str, Any]:
            return tables.session_metadata(conn, session_id)[1]

        return self._db.read(run)
