"""SQL on the ``sessions`` and ``messages`` tables, run inside a caller's transaction.

Design note: every function here takes an open connection that is already inside a
transaction (see :mod:`.connection`) and never commits. Message rows are only ever
appended (``seq`` keeps growing) or marked superseded with the revision of the write
that replaced them; nothing here deletes a message. Readers list the active messages
in the conversation order (:data:`.places.ORDER`: ``seq``, unless a message was placed
inside the conversation). Each write to a session adds one
to its ``revision``; a new session starts at the clock in microseconds
(:func:`first_revision`), above any revision an earlier session with the same id can
have reached, so a revision a process has seen is never repeated. The session row
keeps running totals over the active messages (count and tokens), updated with each
change.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from jupychat.errors import StoreError

from .places import ORDER
from .records import (
    SCHEMA,
    VERSION,
    MessageRow,
    SessionFields,
    first_user_title,
    row_message,
    stamp_now,
)

__all__ = [
    "MESSAGE_COLS",
    "SESSION_COLS",
    "active_rows",
    "first_revision",
    "insert_messages",
    "insert_session",
    "load",
    "message_id",
    "next_revision",
    "next_seq",
    "no_session",
    "record",
    "refresh_totals",
    "replace_active",
    "session_pk",
    "stored_title",
    "supersede",
]

MESSAGE_COLS = (
    "role, content, text, created_at, model, input_tokens, output_tokens, cached_tokens, "
    "cache_write_tokens, finish_reason, reasoning, interrupted, meta, extra"
)
N_MESSAGE_COLS = 14
INSERT_MESSAGE = (
    f"INSERT INTO messages (session_pk, seq, {MESSAGE_COLS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SESSION_COLS = (
    "pk, id, title, name, notebook, created_at, updated_at, model, system_prompt, memory, "
    "metadata, tools, max_steps, settings, extra, message_count, input_tokens, "
    "output_tokens, revision"
)
CHUNK = 500  # ids per IN (...) list


def no_session(session_id: Any) -> StoreError:
    return StoreError(f"no session {session_id}; list them with %chat sessions")


def session_pk(conn: sqlite3.Connection, session_id: Any) -> int:
    if not isinstance(session_id, str):
        raise no_session(session_id)
    row = conn.execute("SELECT pk FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        raise no_session(session_id)
    return int(row[0])


def session_metadata(conn: sqlite3.Connection, session_id: Any) -> tuple[int, dict[str, Any]]:
    """A session's primary key and its metadata dict (``no_session`` when there is none)."""
    row = conn.execute("SELECT pk, metadata FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        raise no_session(session_id)
    metadata: dict[str, Any] = json.loads(row[1])
    return int(row[0]), metadata


def message_id(value: Any) -> int:
    """A store message id (``"msg_<n>"`` or ``n``) as an int."""
    if isinstance(value, str) and value.startswith("msg_") and value[4:].isdigit():
        return int(value[4:])
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise StoreError(f"{value!r} is not a message id; ids look like 'msg_12'")


def first_revision() -> int:
    """A new session's revision: now, in microseconds (see the design note)."""
    return time.time_ns() // 1000


def next_revision(conn: sqlite3.Connection, pk: int) -> int:
    """The revision the current write gives the session (its own is set by the caller)."""
    return int(conn.execute("SELECT revision FROM sessions WHERE pk = ?", (pk,)).fetchone()[0]) + 1


def next_seq(conn: sqlite3.Connection, pk: int, known: int | None = None) -> int:
    """The ``seq`` the next appended message of this session gets.

    ``known`` is the session's ``next_seq`` column when the caller read it; NULL (rows
    written by hand) is worked out from the messages (an index lookup).
    """
    if known is None:
        row = conn.execute("SELECT next_seq FROM sessions WHERE pk = ?", (pk,)).fetchone()
        known = None if row is None else row[0]
    if known is not None:
        return int(known)
    top = conn.execute("SELECT max(seq) FROM messages WHERE session_pk = ?", (pk,)).fetchone()[0]
    return 0 if top is None else int(top) + 1


def insert_messages(
    conn: sqlite3.Connection, pk: int, start: int, rows: Sequence[Sequence[Any]]
) -> list[int]:
    """Insert ``rows`` (message columns) from ``seq == start``; returns their ids.

    The caller sets ``sessions.next_seq`` (:func:`refresh_totals` does).
    """
    ids = []
    for offset, row in enumerate(rows):
        cur = conn.execute(INSERT_MESSAGE, (pk, start + offset, *row[:N_MESSAGE_COLS]))
        ids.append(int(cur.lastrowid or 0))
    return ids


def supersede(
    conn: sqlite3.Connection, pk: int, ids: Iterable[int], revision: int
) -> tuple[int, int, int]:
    """Mark the session's active messages ``ids`` superseded at ``revision``.

    Ids of other sessions, unknown ids and messages already superseded are left alone.
    Returns the (count, input tokens, output tokens) taken out of the active totals.
    """
    todo = sorted(set(ids))
    count = tokens_in = tokens_out = 0
    for i in range(0, len(todo), CHUNK):
        chunk = todo[i : i + CHUNK]
        marks = ", ".join("?" * len(chunk))
        where = f"session_pk = ? AND superseded IS NULL AND id IN ({marks})"
        n, t_in, t_out = conn.execute(
            "SELECT count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0) "
            f"FROM messages WHERE {where}",
            (pk, *chunk),
        ).fetchone()
        if n:
            conn.execute(
                f"UPDATE messages SET superseded = ? WHERE {where}", (revision, pk, *chunk)
            )
        count, tokens_in, tokens_out = count + n, tokens_in + t_in, tokens_out + t_out
    return count, tokens_in, tokens_out


def active_rows(
    conn: sqlite3.Connection,
    pk: int,
    offset: int = 0,
    limit: int | None = None,
    include_superseded: bool = False,
) -> list[tuple[Any, ...]]:
    """Message rows in order: the columns, then ``id`` and ``superseded``."""
    sql = f"SELECT {MESSAGE_COLS}, id, superseded FROM messages WHERE session_pk = ?"
    if not include_superseded:
        sql += " AND superseded IS NULL"
    sql += f" {ORDER}"
    params: list[Any] = [pk]
    if limit is not None or offset:
        sql += " LIMIT ? OFFSET ?"
        params += [-1 if limit is None else max(0, limit), max(0, offset)]
    return conn.execute(sql, params).fetchall()


def refresh_totals(conn: sqlite3.Connection, pk: int) -> None:
    """Recount the session's active messages and tokens, and its ``next_seq``."""
    conn.execute(
        "UPDATE sessions SET (message_count, input_tokens, output_tokens) = "
        "(SELECT count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0) "
        "FROM messages WHERE session_pk = ? AND superseded IS NULL), next_seq = "
        "(SELECT coalesce(max(seq), -1) + 1 FROM messages WHERE session_pk = ?) WHERE pk = ?",
        (pk, pk, pk),
    )


def replace_active(
    conn: sqlite3.Connection, pk: int, rows: Sequence[Sequence[Any]], revision: int
) -> None:
    """Make the active messages equal ``rows``: the common prefix stays in place, the
    rest is superseded (kept, not deleted) and the new rows are appended."""
    old = active_rows(conn, pk)
    same = 0
    for before, after in zip(old, rows, strict=False):
        if tuple(before[:N_MESSAGE_COLS]) != tuple(after[:N_MESSAGE_COLS]):
            break
        same += 1
    supersede(conn, pk, [r[N_MESSAGE_COLS] for r in old[same:]], revision)
    insert_messages(conn, pk, next_seq(conn, pk), rows[same:])
    refresh_totals(conn, pk)


def stored_title(conn: sqlite3.Connection, pk: int) -> str | None:
    """The automatic title from the first active user message with text."""
    rows = [
        MessageRow(*r)
        for r in conn.execute(
            f"SELECT {MESSAGE_COLS} FROM messages WHERE session_pk = ? AND "
            f"superseded IS NULL AND role = 'user' AND text != '' {ORDER} LIMIT 1",
            (pk,),
        )
    ]
    return first_user_title(rows)


def insert_session(
    conn: sqlite3.Connection,
    fields: SessionFields,
    rows: Sequence[MessageRow],
    session_id: str,
) -> tuple[int, list[int], int]:
    """Insert a session with its messages: (pk, message ids, revision)."""
    now = stamp_now()
    title = fields.title if fields.title is not None else first_user_title(rows)
    revision = first_revision()
    cur = conn.execute(
        "INSERT INTO sessions (id, title, name, notebook, created_at, updated_at, model, "
        "system_prompt, memory, metadata, tools, max_steps, settings, extra, revision) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            revision,
        ),
    )
    pk = int(cur.lastrowid or 0)
    ids = insert_messages(conn, pk, 0, rows)
    refresh_totals(conn, pk)
    return pk, ids, revision


def record(row: Sequence[Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The session record from a ``SESSION_COLS`` row and its messages."""
    out: dict[str, Any] = {
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
        out.setdefault(key, value)
    return out


def session_row(conn: sqlite3.Connection, session_id: Any) -> tuple[Any, ...]:
    if not isinstance(session_id, str):
        raise no_session(session_id)
    row = conn.execute(
        f"SELECT {SESSION_COLS} FROM sessions WHERE id = ?", (session_id,)
    ).fetchone()
    if row is None:
        raise no_session(session_id)
    return tuple(row)


def load(
    conn: sqlite3.Connection,
    session_id: Any,
    offset: int = 0,
    limit: int | None = None,
    with_ids: bool = False,
    include_superseded: bool = False,
) -> dict[str, Any]:
    """The session record; ``offset``/``limit`` page the (active) messages."""
    row = session_row(conn, session_id)
    if include_superseded:
        count = conn.execute(
            "SELECT count(*) FROM messages WHERE session_pk = ?", (row[0],)
        ).fetchone()[0]
    else:
        count = int(row[15])
    start = max(0, count + offset) if offset < 0 else offset
    messages = []
    for r in active_rows(conn, row[0], start, limit, include_superseded):
        message = row_message(r)
        if with_ids:
            message["id"] = f"msg_{r[N_MESSAGE_COLS]}"
        if r[N_MESSAGE_COLS + 1] is not None:
            message["superseded"] = True
        messages.append(message)
    return record(row, messages)
