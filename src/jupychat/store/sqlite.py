"""``SessionStore``: chat sessions in one SQLite file (WAL), searchable with FTS5.

Design note: a session is one ``sessions`` row (scalar columns, JSON columns for
memory/metadata/tools/settings, and running totals: message count and tokens) plus one
``messages`` row per message, numbered by ``seq``. Each public method is a single
transaction (see :mod:`.connection`), so a turn appended with :meth:`append_messages` is
either all there or not at all, whatever happens to the process.

The store hands out and takes back plain record dicts in the ``ChatSession.to_dict()``
format; ``types.py`` stays free of database ids. Message ids (``"msg_<n>"``) exist only
here and are returned on request (``load(..., with_ids=True)``).

Checkpoints record a message count plus the session state. The messages of a checkpoint
are the live prefix of that length, so a checkpoint costs one small row. Any operation
that is about to rewrite or drop part of such a prefix (``save`` with different history,
``restore_checkpoint``) first copies the affected prefix into the checkpoint row, so
every checkpoint restores exactly what it saw.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import sqlite3
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jupychat import config
from jupychat.errors import StoreError

from .connection import MEMORY, Database
from .records import (
    SCHEMA,
    SESSION_KEYS,
    VERSION,
    MessageRow,
    SessionFields,
    dumps,
    first_user_title,
    message_rows,
    normalize_session,
    row_message,
    stamp_now,
    utc_timestamp,
)

__all__ = ["SessionStore", "default_store_path", "resolve_store_path"]

Summary = dict[str, Any]
Record = dict[str, Any]

_MESSAGE_COLS = (
    "role, content, text, created_at, model, input_tokens, output_tokens, cached_tokens, "
    "cache_write_tokens, finish_reason, reasoning, interrupted, meta, extra"
)
_INSERT_MESSAGE = (
    f"INSERT INTO messages (session_pk, seq, {_MESSAGE_COLS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SESSION_COLS = (
    "pk, id, title, name, notebook, created_at, updated_at, model, system_prompt, memory, "
    "metadata, tools, max_steps, settings, extra, message_count, input_tokens, output_tokens"
)
_SUMMARY_COLS = (
    "s.id, s.title, s.name, s.notebook, s.model, s.created_at, s.updated_at, "
    "s.message_count, s.input_tokens, s.output_tokens, s.metadata"
)
# Session columns append_messages()/save_meta() updates may set: all but the timestamps.
_UPDATABLE = frozenset(SESSION_KEYS) - {"created_at", "updated_at"}
SEARCH_WINDOW = 2500  # matches fetched per step of a search
SEARCH_SCAN = 5000  # matches ranked before a search may stop early
_RESTORED = (
    "model",
    "system_prompt",
    "memory",
    "metadata",
    "tools",
    "max_steps",
    "settings",
    "extra",
)


def default_store_path() -> Path:
    """``<user data dir>/jupychat/sessions.db`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("jupychat", appauthor=False)) / "sessions.db"


def resolve_store_path(path: str | os.PathLike[str] | None = None) -> str | Path:
    """Argument > ``config.resolve("store")`` (``JUPYCHAT_STORE``, config file) > default.

    A folder means ``<folder>/sessions.db``; ``":memory:"`` is an in-memory store.
    """
    chosen = config.resolve("store", path)
    if chosen is None or str(chosen).strip() == "":
        return default_store_path()
    if str(chosen) == MEMORY:
        return MEMORY
    resolved = Path(str(chosen)).expanduser()
    if resolved.is_dir():
        resolved = resolved / "sessions.db"
    return resolved.absolute()


def _no_session(session_id: Any) -> StoreError:
    return StoreError(f"no session {session_id}; list them with %chat sessions")


def _fts_query(text: str) -> str:
    """User text to a safe FTS5 query: words AND-ed, "quoted phrases", trailing * prefix."""
    terms = []
    for phrase, word in re.findall(r'"([^"]*)"|(\S+)', text):
        if phrase:
            if re.search(r"\w", phrase):
                terms.append('"' + phrase + '"')
            continue
        prefix = word.endswith("*")
        word = word.rstrip("*").replace('"', "")
        if not re.search(r"\w", word):
            continue
        terms.append('"' + word + '"' + ("*" if prefix else ""))
    return " ".join(terms)


def _metadata_filter(filters: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for key, value in filters.items():
        if not isinstance(key, str) or '"' in key:
            raise StoreError(f"metadata filter key {key!r} must be a string without quotes")
        path = f'$."{key}"'
        if value is None:
            clauses.append("json_type(s.metadata, ?) = 'null'")
            params.append(path)
        elif isinstance(value, bool):
            clauses.append("json_type(s.metadata, ?) = ?")
            params += [path, "true" if value else "false"]
        elif isinstance(value, (int, float)):
            clauses.append(
                "json_type(s.metadata, ?) IN ('integer', 'real') "
                "AND json_extract(s.metadata, ?) = ?"
            )
            params += [path, path, value]
        elif isinstance(value, str):
            clauses.append("json_type(s.metadata, ?) = 'text' AND json_extract(s.metadata, ?) = ?")
            params += [path, path, value]
        else:
            clauses.append("json_extract(s.metadata, ?) = json(?)")
            params += [path, dumps(value, "metadata filter")]
    return clauses, params


def _summary(row: Sequence[Any]) -> Summary:
    return {
        "id": row[0],
        "title": row[1],
        "name": row[2],
        "notebook": row[3],
        "model": row[4],
        "created_at": row[5],
        "updated_at": row[6],
        "message_count": row[7],
        "input_tokens": row[8],
        "output_tokens": row[9],
        "metadata": json.loads(row[10]),
    }


def _parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(utc_timestamp(value, "created_at"))
    except StoreError:
        return datetime.min.replace(tzinfo=timezone.utc)


class SessionStore:
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

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout: float = 5.0) -> None:
        self._db = Database(resolve_store_path(path), timeout=timeout)

    @property
    def path(self) -> str | Path:
        """The database file (or ``":memory:"``)."""
        return self._db.path

    def __repr__(self) -> str:
        return f"SessionStore({str(self.path)!r})"

    def close(self) -> None:
        """Close the database connection (a later call reopens it)."""
        self._db.close()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internal helpers (all run inside a transaction) -----------------------------

    @staticmethod
    def _pk(conn: sqlite3.Connection, session_id: Any) -> int:
        if not isinstance(session_id, str):
            raise _no_session(session_id)
        row = conn.execute("SELECT pk FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise _no_session(session_id)
        return int(row[0])

    @staticmethod
    def _insert_messages(
        conn: sqlite3.Connection, pk: int, start: int, rows: Sequence[MessageRow]
    ) -> list[int]:
        ids = []
        for offset, row in enumerate(rows):
            cur = conn.execute(_INSERT_MESSAGE, (pk, start + offset, *row))
            ids.append(int(cur.lastrowid or 0))
        return ids

    @staticmethod
    def _rows(
        conn: sqlite3.Connection, pk: int, start: int = 0, stop: int | None = None
    ) -> list[tuple[Any, ...]]:
        sql = f"SELECT {_MESSAGE_COLS}, id FROM messages WHERE session_pk = ? AND seq >= ?"
        params: list[Any] = [pk, start]
        if stop is not None:
            sql += " AND seq < ?"
            params.append(stop)
        return conn.execute(sql + " ORDER BY seq", params).fetchall()

    @staticmethod
    def _refresh_totals(conn: sqlite3.Connection, pk: int) -> None:
        conn.execute(
            "UPDATE sessions SET (message_count, input_tokens, output_tokens) = "
            "(SELECT count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0) "
            "FROM messages WHERE session_pk = ?) WHERE pk = ?",
            (pk, pk),
        )

    def _truncate(self, conn: sqlite3.Connection, pk: int, keep: int) -> None:
        """Drop messages from ``seq >= keep``, first saving them into checkpoints that need them."""
        needy = conn.execute(
            "SELECT id, message_count FROM checkpoints "
            "WHERE session_pk = ? AND messages IS NULL AND message_count > ?",
            (pk, keep),
        ).fetchall()
        if needy:
            rows = self._rows(conn, pk, 0, max(count for _, count in needy))
            for cp_id, count in needy:
                snapshot = [row_message(r) for r in rows[:count]]
                conn.execute(
                    "UPDATE checkpoints SET messages = ? WHERE id = ?",
                    (dumps(snapshot, "checkpoint"), cp_id),
                )
        conn.execute("DELETE FROM messages WHERE session_pk = ? AND seq >= ?", (pk, keep))

    def _replace_messages(
        self, conn: sqlite3.Connection, pk: int, rows: Sequence[MessageRow]
    ) -> None:
        """Make the session's messages equal ``rows``, keeping the common prefix in place."""
        old = conn.execute(
            f"SELECT {_MESSAGE_COLS} FROM messages WHERE session_pk = ? ORDER BY seq", (pk,)
        ).fetchall()
        same = 0
        for before, after in zip(old, rows, strict=False):
            if tuple(before) != tuple(after):
                break
            same += 1
        if same < len(old):
            self._truncate(conn, pk, same)
        self._insert_messages(conn, pk, same, rows[same:])
        self._refresh_totals(conn, pk)

    def _insert_session(
        self,
        conn: sqlite3.Connection,
        fields: SessionFields,
        rows: Sequence[MessageRow],
        session_id: str,
    ) -> int:
        now = stamp_now()
        title = fields.title if fields.title is not None else first_user_title(rows)
        cur = conn.execute(
            "INSERT INTO sessions (id, title, name, notebook, created_at, updated_at, model, "
            "system_prompt, memory, metadata, tools, max_steps, settings, extra) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                title,
                fields.name,
                fields.notebook,
                fields.created_at or now,
                fields.updated_at or fields.created_at or now,
                fields.model,
                fields.system_prompt,
                fields.memory,
                fields.metadata,
                fields.tools,
                fields.max_steps,
                fields.settings,
                fields.extra,
            ),
        )
        pk = int(cur.lastrowid or 0)
        self._insert_messages(conn, pk, 0, rows)
        self._refresh_totals(conn, pk)
        return pk

    @staticmethod
    def _record(row: Sequence[Any], messages: list[dict[str, Any]]) -> Record:
        record: Record = {
            "schema": SCHEMA,
            "version": VERSION,
            "id": row[1],
            "title": row[2],
            "name": row[3],
            "notebook": row[4],
            "created_at": row[5],
            "updated_at": row[6],
            "model": row[7],
            "system_prompt": row[8],
            "messages": messages,
            "memory": json.loads(row[9]),
            "metadata": json.loads(row[10]),
            "tools": json.loads(row[11]),
            "max_steps": row[12],
            "settings": json.loads(row[13]),
        }
        for key, value in json.loads(row[14]).items():
            record.setdefault(key, value)
        return record

    def _load(
        self,
        conn: sqlite3.Connection,
        session_id: Any,
        offset: int = 0,
        limit: int | None = None,
        with_ids: bool = False,
    ) -> Record:
        if not isinstance(session_id, str):
            raise _no_session(session_id)
        row = conn.execute(
            f"SELECT {_SESSION_COLS} FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None:
            raise _no_session(session_id)
        count = int(row[15])
        start = max(0, count + offset) if offset < 0 else offset
        stop = None if limit is None else start + max(0, limit)
        messages = []
        for r in self._rows(conn, row[0], start, stop):
            message = row_message(r)
            if with_ids:
                message["id"] = f"msg_{r[14]}"
            messages.append(message)
        return self._record(row, messages)

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
            self._insert_session(conn, values, rows, session_id)
            return session_id

        return self._db.write(run)

    def save(self, record: Mapping[str, Any]) -> str:
        """Write a whole record (insert or overwrite), replacing the stored messages.

        Used after a history rewrite (clear, edit, undo). Messages that did not change
        stay where they are; the rest are replaced in the same transaction. A
        ``title`` of ``None`` means the automatic title. Returns the session id.
        """
        values = normalize_session(record)
        if values.id is None:
            raise StoreError("save() needs a record with an 'id'; use create() for a new one")
        session_id = values.id
        rows = message_rows(record.get("messages"))

        def run(conn: sqlite3.Connection) -> str:
            found = conn.execute(
                "SELECT pk, created_at FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if found is None:
                self._insert_session(conn, values, rows, session_id)
                return session_id
            pk, created = found
            title = values.title if values.title is not None else first_user_title(rows)
            conn.execute(
                "UPDATE sessions SET title = ?, name = ?, notebook = ?, created_at = ?, "
                "updated_at = ?, model = ?, system_prompt = ?, memory = ?, metadata = ?, "
                "tools = ?, max_steps = ?, settings = ?, extra = ? WHERE pk = ?",
                (
                    title,
                    values.name,
                    values.notebook,
                    values.created_at or created,
                    values.updated_at or stamp_now(),
                    values.model,
                    values.system_prompt,
                    values.memory,
                    values.metadata,
                    values.tools,
                    values.max_steps,
                    values.settings,
                    values.extra,
                    pk,
                ),
            )
            self._replace_messages(conn, pk, rows)
            return session_id

        return self._db.write(run)

    def append_messages(
        self,
        session_id: str,
        messages: Iterable[Any],
        updates: Mapping[str, Any] | None = None,
    ) -> builtins.list[str]:
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
            replaces the stored value (use :meth:`update_metadata` to merge); a ``title``
            of ``None`` means the automatic title. Envelope keys (``schema``,
            ``version``, ``id``, ``created_at``) are ignored; other unknown keys are
            kept with the record.

        Returns
        -------
        list of str
            The ids given to the new messages (``"msg_<n>"``), in order.
        """
        rows = message_rows(builtins.list(messages))
        columns, extra, updated_at = self._updates(session_id, updates or {})
        new_title = first_user_title(rows)
        tokens_in = sum(r.input_tokens or 0 for r in rows)
        tokens_out = sum(r.output_tokens or 0 for r in rows)

        def run(conn: sqlite3.Connection) -> builtins.list[str]:
            found = conn.execute(
                "SELECT pk, message_count, title, extra FROM sessions WHERE id = ?",
                (session_id,),
            ).fetchone()
            if found is None:
                raise _no_session(session_id)
            pk, count, title, stored_extra = found
            if "title" in columns:
                title = columns["title"]
                if title is None:
                    title = self._stored_title(conn, pk) or new_title
            elif title is None:
                title = new_title
            ids = self._insert_messages(conn, pk, count, rows)
            values = {**columns, "title": title, "updated_at": updated_at}
            if extra:
                values["extra"] = dumps({**json.loads(stored_extra), **extra}, "record")
            assignments = ", ".join(f"{key} = ?" for key in values)
            conn.execute(
                "UPDATE sessions SET message_count = message_count + ?, "
                "input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, "
                f"{assignments} WHERE pk = ?",
                (len(rows), tokens_in, tokens_out, *values.values(), pk),
            )
            return [f"msg_{i}" for i in ids]

        return self._db.write(run)

    def save_meta(self, record: Mapping[str, Any]) -> None:
        """Update a stored session's fields from a record, leaving its messages alone.

        ``record`` is a record without (or with ignored) ``messages``, e.g.
        ``ChatSession.to_dict()`` minus the messages after a rename or a metadata change.
        """
        if not isinstance(record, Mapping) or record.get("id") is None:
            raise StoreError("save_meta() needs a record with an 'id'")
        session_id = str(record["id"])
        self.append_messages(session_id, [], {k: v for k, v in record.items() if k != "messages"})

    @staticmethod
    def _stored_title(conn: sqlite3.Connection, pk: int) -> str | None:
        """The automatic title from the first stored user message with text."""
        rows = [
            MessageRow(*r)
            for r in conn.execute(
                f"SELECT {_MESSAGE_COLS} FROM messages WHERE session_pk = ? AND "
                "role = 'user' AND text != '' ORDER BY seq LIMIT 1",
                (pk,),
            )
        ]
        return first_user_title(rows)

    @staticmethod
    def _updates(
        session_id: str, updates: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        """Validate ``append_messages`` updates: (column values, extra keys, updated_at)."""
        if not isinstance(updates, Mapping):
            raise StoreError("updates must be a dict of session fields")
        if "messages" in updates:
            raise StoreError("append_messages() updates cannot hold messages; use save()")
        if updates.get("id") not in (None, session_id):
            raise StoreError(
                f"updates name session {updates['id']}, not {session_id}; nothing was saved"
            )
        known = {k: v for k, v in updates.items() if k in _UPDATABLE}
        fields = normalize_session(known)
        columns = {key: getattr(fields, key) for key in known}
        ignored = {"schema", "version", "id", "created_at", "updated_at"}
        extra = {k: v for k, v in updates.items() if k not in _UPDATABLE and k not in ignored}
        updated_at = stamp_now()
        if updates.get("updated_at") is not None:
            updated_at = utc_timestamp(updates["updated_at"], "updated_at")
        return columns, extra, updated_at

    # -- reading --------------------------------------------------------------------

    def load(
        self,
        session_id: str,
        *,
        messages_offset: int = 0,
        messages_limit: int | None = None,
        with_ids: bool = False,
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
        """
        return self._db.read(
            lambda conn: self._load(conn, session_id, messages_offset, messages_limit, with_ids)
        )

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

    def match_ids(self, prefix: str, limit: int = 10) -> builtins.list[str]:
        """Ids that start with ``prefix`` (an index range scan), for short-id lookups.

        Returns at most ``limit`` ids, sorted; an exact id is returned alone.
        """
        if not isinstance(prefix, str) or not prefix:
            return []

        def run(conn: sqlite3.Connection) -> builtins.list[str]:
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
                f"SELECT {_SUMMARY_COLS} FROM sessions s WHERE s.id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise _no_session(session_id)
            return _summary(row)

        return self._db.read(run)

    def list(
        self,
        limit: int = 50,
        offset: int = 0,
        filter_metadata: Mapping[str, Any] | None = None,
        notebook: str | None = None,
        search: str | None = None,
        name: str | None = None,
    ) -> builtins.list[Summary]:
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
        clauses, params = _metadata_filter(filter_metadata or {})
        if notebook is not None:
            clauses.append("s.notebook = ?")
            params.append(notebook)
        if name is not None:
            clauses.append("s.name = ?")
            params.append(name)
        limit, offset = max(0, int(limit)), max(0, int(offset))
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        if search is None or not search.strip():
            sql = (
                f"SELECT {_SUMMARY_COLS} FROM sessions s{where} "
                "ORDER BY s.updated_at DESC, s.pk DESC LIMIT ? OFFSET ?"
            )
            return self._db.read(
                lambda conn: [_summary(r) for r in conn.execute(sql, (*params, limit, offset))]
            )
        query = _fts_query(search)
        if not query:
            return []
        return self._db.read(lambda conn: self._search(conn, query, clauses, params, limit, offset))

    @staticmethod
    def _search(
        conn: sqlite3.Connection,
        query: str,
        clauses: builtins.list[str],
        params: builtins.list[Any],
        limit: int,
        offset: int,
    ) -> builtins.list[Summary]:
        # Walk the matches newest first (FTS5 serves rowid DESC without sorting) in
        # windows, keeping each session's best bm25 rank. Ranking every match of a very
        # common word costs ~2 µs a match, so the walk stops once it has seen SEARCH_SCAN
        # matches and enough sessions: the ranking is exact for words with fewer matches,
        # and over the most recent SEARCH_SCAN matches for the very common ones.
        need = offset + limit
        best: dict[int, tuple[float, int]] = {}
        allowed: dict[int, bool] = {}
        scanned, before = 0, None
        while True:
            sql = (
                "SELECT f.rowid, f.rank, m.session_pk FROM messages_fts f "
                "JOIN messages m ON m.id = f.rowid WHERE messages_fts MATCH ?"
            )
            args: builtins.list[Any] = [query]
            if before is not None:
                sql += " AND f.rowid < ?"
                args.append(before)
            rows = conn.execute(
                sql + " ORDER BY f.rowid DESC LIMIT ?", (*args, SEARCH_WINDOW)
            ).fetchall()
            if not rows:
                break
            scanned += len(rows)
            before = rows[-1][0]
            fresh = builtins.list({spk for _, _, spk in rows if spk not in allowed})
            if clauses:
                for i in range(0, len(fresh), 500):
                    chunk = fresh[i : i + 500]
                    ok = {
                        r[0]
                        for r in conn.execute(
                            f"SELECT s.pk FROM sessions s WHERE s.pk IN "
                            f"({', '.join('?' * len(chunk))}) AND {' AND '.join(clauses)}",
                            (*chunk, *params),
                        )
                    }
                    allowed.update((spk, spk in ok) for spk in chunk)
            else:
                allowed.update((spk, True) for spk in fresh)
            for mid, rank, spk in rows:
                if allowed[spk] and (spk not in best or rank < best[spk][0]):
                    best[spk] = (rank, mid)
            if len(rows) < SEARCH_WINDOW or (scanned >= SEARCH_SCAN and len(best) >= need):
                break
        ordered = sorted(best.items(), key=lambda item: (item[1][0], -item[1][1]))
        page = ordered[offset : offset + limit]
        if not page:
            return []
        found = {
            r[11]: r
            for r in conn.execute(
                f"SELECT {_SUMMARY_COLS}, s.pk FROM sessions s WHERE s.pk IN "
                f"({', '.join('?' * len(page))})",
                [spk for spk, _ in page],
            )
        }
        out = []
        for spk, (rank, mid) in page:
            item = _summary(found[spk])
            hit = conn.execute(
                "SELECT snippet(messages_fts, 0, '**', '**', '…', 12), m.seq "
                "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
                "WHERE messages_fts MATCH ? AND messages_fts.rowid = ?",
                (query, mid),
            ).fetchone()
            item["snippet"] = hit[0] if hit else ""
            item["match_index"] = hit[1] if hit else None
            item["rank"] = rank
            out.append(item)
        return out

    def latest(self, notebook: str | None = None, name: str | None = None) -> Summary | None:
        """The most recently updated session (for this notebook / name), or ``None``."""
        found = self.list(limit=1, notebook=notebook, name=name)
        return found[0] if found else None

    def get_metadata(self, session_id: str) -> dict[str, Any]:
        """The session's metadata dict."""

        def run(conn: sqlite3.Connection) -> dict[str, Any]:
            row = conn.execute(
                "SELECT metadata FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise _no_session(session_id)
            value: dict[str, Any] = json.loads(row[0])
            return value

        return self._db.read(run)

    # -- small edits -------------------------------------------------------------------

    def delete(self, session_id: str) -> None:
        """Delete a session, its messages and its checkpoints."""

        def run(conn: sqlite3.Connection) -> None:
            pk = self._pk(conn, session_id)
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
            pk = self._pk(conn, session_id)
            new = title if title is not None else self._stored_title(conn, pk)
            conn.execute(
                "UPDATE sessions SET title = ?, updated_at = ? WHERE pk = ?",
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
            row = conn.execute(
                "SELECT pk, metadata FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise _no_session(session_id)
            metadata: dict[str, Any] = json.loads(row[1])
            for key, value in changes.items():
                if value is None:
                    metadata.pop(key, None)
                else:
                    metadata[key] = value
            conn.execute(
                "UPDATE sessions SET metadata = ?, updated_at = ? WHERE pk = ?",
                (dumps(metadata, "metadata"), stamp_now(), row[0]),
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
        from . import export as _export

        data = _export.read_import(path)
        values = normalize_session(data, strict=True)
        if values.id is None:
            raise StoreError(f"{path} has no session id; it is not a complete export")
        rows = message_rows(data.get("messages"))
        session_id = values.id
        if new_id:
            metadata = json.loads(values.metadata)
            metadata["imported_from"] = values.id
            session_id = uuid.uuid4().hex
            values = values._replace(metadata=dumps(metadata, "metadata"), updated_at=stamp_now())

        def run(conn: sqlite3.Connection) -> str:
            if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone():
                raise StoreError(
                    f"session {session_id} is already in the store; import with "
                    "new_id=True to keep both"
                )
            self._insert_session(conn, values, rows, session_id)
            return session_id

        return self._db.write(run)

    # -- copy / fork / merge --------------------------------------------------------

    def _derive(
        self, record: Mapping[str, Any], provenance: Mapping[str, Any], title: str | None
    ) -> str:
        now = stamp_now()
        data = {
            **record,
            "id": uuid.uuid4().hex,
            "created_at": now,
            "updated_at": now,
            "metadata": {**record.get("metadata", {}), **provenance},
        }
        if title is not None:
            data["title"] = title
        return self.create(data)

    def copy(self, session_id: str, title: str | None = None) -> str:
        """A new session with the same messages and state (``metadata["copied_from"]``)."""
        record = self.load(session_id)
        return self._derive(record, {"copied_from": session_id}, title)

    def fork(self, session_id: str, at: int, title: str | None = None) -> str:
        """A new session holding the first ``at`` messages (``metadata["forked_from"]``)."""
        if not isinstance(at, int) or isinstance(at, bool) or at < 0:
            raise StoreError(f"fork at must be a message count >= 0, not {at!r}")
        record = self.load(session_id)
        count = len(record["messages"])
        if at > count:
            raise StoreError(f"session {session_id} has {count} messages; fork at 0..{count}")
        record["messages"] = record["messages"][:at]
        return self._derive(record, {"forked_from": {"id": session_id, "at": at}}, title)

    def merge(self, session_ids: Sequence[str], title: str | None = None) -> str:
        """A new session with the messages of all ``session_ids`` in time order.

        Messages are interleaved by ``created_at`` (ties keep the input order). The
        system prompt, model, tools and settings come from the first session, memory
        is merged (later sessions win), and ``metadata["merged_from"]`` lists the ids.
        """
        if isinstance(session_ids, str) or not session_ids:
            raise StoreError("merge() needs a list of session ids")
        ids = builtins.list(session_ids)
        if len(set(ids)) != len(ids):
            raise StoreError("merge() got the same session id twice")
        records = self._db.read(lambda conn: [self._load(conn, sid) for sid in ids])
        keyed = [
            (_parse_time(m["created_at"]), n, i, m)
            for n, rec in enumerate(records)
            for i, m in enumerate(rec["messages"])
        ]
        keyed.sort(key=lambda item: (item[0], item[1], item[2]))
        first = records[0]
        metadata: dict[str, Any] = {}
        memory: dict[str, Any] = {}
        for rec in records:
            metadata.update(rec["metadata"])
            memory.update(rec["memory"])
        merged = {
            **first,
            "title": title
            if title is not None
            else "Merged: " + " + ".join(str(r["title"] or r["id"]) for r in records),
            "name": None,
            "messages": [m for *_, m in keyed],
            "memory": memory,
            "metadata": metadata,
            "tools": sorted({t for rec in records for t in rec["tools"]}),
        }
        return self._derive(merged, {"merged_from": ids}, merged["title"])

    # -- checkpoints -----------------------------------------------------------------

    def checkpoint(self, session_id: str, label: str | None = None) -> int:
        """Record the session as it is now; returns the checkpoint id."""
        if label is not None and not isinstance(label, str):
            raise StoreError("a checkpoint label must be a string")

        def run(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                f"SELECT {_SESSION_COLS} FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise _no_session(session_id)
            record = self._record(row, [])
            state = {key: record.get(key) for key in _RESTORED if key != "extra"}
            state["extra"] = json.loads(row[14])
            cur = conn.execute(
                "INSERT INTO checkpoints (session_pk, label, created_at, message_count, state) "
                "VALUES (?, ?, ?, ?, ?)",
                (row[0], label, stamp_now(), row[15], dumps(state, "checkpoint")),
            )
            return int(cur.lastrowid or 0)

        return self._db.write(run)

    def list_checkpoints(self, session_id: str) -> builtins.list[dict[str, Any]]:
        """The session's checkpoints, oldest first: ``id, label, created_at, message_count``."""

        def run(conn: sqlite3.Connection) -> builtins.list[dict[str, Any]]:
            pk = self._pk(conn, session_id)
            return [
                {"id": r[0], "label": r[1], "created_at": r[2], "message_count": r[3]}
                for r in conn.execute(
                    "SELECT id, label, created_at, message_count FROM checkpoints "
                    "WHERE session_pk = ? ORDER BY id",
                    (pk,),
                )
            ]

        return self._db.read(run)

    def restore_checkpoint(self, session_id: str, checkpoint_id: int | str) -> None:
        """Put the session's messages and state back as they were at the checkpoint.

        Title, name and notebook stay as they are now; the checkpoint itself (and any
        later ones) stay available.
        """
        try:
            cp_id = int(checkpoint_id)
        except (TypeError, ValueError):
            raise StoreError(f"checkpoint id {checkpoint_id!r} is not a number") from None

        def run(conn: sqlite3.Connection) -> None:
            pk = self._pk(conn, session_id)
            cp = conn.execute(
                "SELECT message_count, state, messages FROM checkpoints "
                "WHERE id = ? AND session_pk = ?",
                (cp_id, pk),
            ).fetchone()
            if cp is None:
                raise StoreError(
                    f"no checkpoint {checkpoint_id} in session {session_id}; list them "
                    "with %chat checkpoints"
                )
            count, state_text, saved = cp
            if saved is not None:
                self._replace_messages(conn, pk, message_rows(json.loads(saved)))
            else:
                have = conn.execute(
                    "SELECT count(*) FROM messages WHERE session_pk = ? AND seq < ?",
                    (pk, count),
                ).fetchone()[0]
                if have != count:
                    raise StoreError(
                        f"checkpoint {checkpoint_id} of session {session_id} lost its "
                        "messages; the store may be damaged"
                    )
                self._truncate(conn, pk, count)
                self._refresh_totals(conn, pk)
            state = json.loads(state_text)
            conn.execute(
                "UPDATE sessions SET model = ?, system_prompt = ?, memory = ?, metadata = ?, "
                "tools = ?, max_steps = ?, settings = ?, extra = ?, updated_at = ? "
                "WHERE pk = ?",
                (
                    state.get("model"),
                    state.get("system_prompt"),
                    dumps(state.get("memory") or {}, "memory"),
                    dumps(state.get("metadata") or {}, "metadata"),
                    dumps(state.get("tools") or [], "tools"),
                    state.get("max_steps"),
                    dumps(state.get("settings") or {}, "settings"),
                    dumps(state.get("extra") or {}, "record"),
                    stamp_now(),
                    pk,
                ),
            )

        self._db.write(run)
