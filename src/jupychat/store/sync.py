"""The writes and reads that let several processes share one session without losing turns.

Design note: a process (a kernel, the sessions page) never writes back a session it
read as a whole. It sends what *it* changed: messages to append, ids of messages its
change supersedes (a re-run turn, a cleared conversation), the fields it set, and the
memory/metadata keys it set or removed (:func:`commit`). Every write adds one to
the session's revision and returns the revision just before it, so the writer learns
whether anyone else wrote in between. :func:`changes` answers "has
the session moved since revision R?" with one indexed lookup and, when it has, the
active message order plus only the messages the caller does not hold.
:func:`reconcile` writes a session back from memory (after its store file was lost)
without dropping anything stored, and :func:`save_record` is the deliberate whole-record
rewrite. Every function runs inside the caller's write (or read) transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict, deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from jupychat.errors import StoreError

from . import tables
from .places import ORDER, place_rows
from .records import (
    SESSION_KEYS,
    MessageRow,
    SessionFields,
    dumps,
    first_user_title,
    normalize_session,
    row_message,
    stamp_now,
    utc_timestamp,
)

__all__ = [
    "REVISION_SQL",
    "Commit",
    "Snapshot",
    "changes",
    "check_merge",
    "check_updates",
    "commit",
    "reconcile",
    "save_record",
]

# Session columns commit() updates may set: all but the timestamps.
UPDATABLE = frozenset(SESSION_KEYS) - {"created_at", "updated_at"}
MERGEABLE = ("memory", "metadata")
Merges = dict[str, tuple[dict[str, Any], list[str]]]


class Commit(NamedTuple):
    """What a write did.

    ``ids`` are the new messages' ids (ints), ``revision`` the session's revision after
    the write and ``previous`` the one just before it: when ``previous`` is the revision
    the caller last saw, nobody else wrote the session in between. ``beside_error``
    is why the other write made in the same transaction (``SessionStore.commit``'s
    ``beside``) was undone, while this one was kept.
    """

    ids: list[int]
    revision: int
    previous: int
    beside_error: Exception | None = None


class Snapshot(NamedTuple):
    """The stored session as :func:`changes` returns it.

    ``record`` is the session record with ``messages`` empty; ``order`` the ids of the
    active messages, in order; ``messages`` the messages (by id) the caller did not
    say it holds.
    """

    revision: int
    record: dict[str, Any]
    order: list[int]
    messages: dict[int, dict[str, Any]]


def check_updates(
    session_id: str, updates: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Validate field updates: (column values, extra keys, updated_at)."""
    if not isinstance(updates, Mapping):
        raise StoreError("updates must be a dict of session fields")
    if "messages" in updates:
        raise StoreError("append_messages() updates cannot hold messages; use save()")
    if updates.get("id") not in (None, session_id):
        raise StoreError(
            f"updates name session {updates['id']}, not {session_id}; nothing was saved"
        )
    known = {k: v for k, v in updates.items() if k in UPDATABLE}
    columns: dict[str, Any] = {}
    if known:  # (a turn's write usually sets only updated_at: nothing to check here)
        fields = normalize_session(known)
        columns = {key: getattr(fields, key) for key in known}
    ignored = {"schema", "version", "id", "created_at", "updated_at"}
    extra = {k: v for k, v in updates.items() if k not in UPDATABLE and k not in ignored}
    stamp = updates.get("updated_at")
    updated_at = stamp_now() if stamp is None else utc_timestamp(stamp, "updated_at")
    return columns, extra, updated_at


def check_merge(
    merge: Mapping[str, Mapping[str, Any]] | None, unset: Mapping[str, Iterable[str]] | None
) -> Merges:
    """Validate ``merge=``/``unset=``: {field: (keys to set, keys to remove)}."""
    for what, given in (("merge", merge), ("unset", unset)):
        if given is not None and (not isinstance(given, Mapping) or set(given) - set(MERGEABLE)):
            raise StoreError(f"{what} must be a dict keyed by 'memory' and/or 'metadata'")
    out: Merges = {}
    for field in MERGEABLE:
        sets = (merge or {}).get(field) or {}
        gone = (unset or {}).get(field) or ()
        if not isinstance(sets, Mapping) or isinstance(gone, (str, bytes)):
            raise StoreError(f"merge[{field!r}] must be a dict and unset[{field!r}] a list")
        if sets:
            dumps(dict(sets), field)
        if sets or gone:
            out[field] = (dict(sets), [str(k) for k in gone])
    return out


def commit(
    conn: sqlite3.Connection,
    session_id: str,
    rows: Sequence[MessageRow],
    drop: Sequence[int],
    updates: tuple[dict[str, Any], dict[str, Any], str],
    merges: Merges,
    before: Sequence[int | None] | None = None,
) -> Commit:
    """Supersede ``drop``, append ``rows`` and apply the field changes, as one revision.

    ``before`` (one entry per row) places each new row before that stored message
    (``None``: at the end; see :mod:`.places`)."""
    columns, extra, updated_at = updates
    found = conn.execute(
        "SELECT pk, title, extra, revision, next_seq FROM sessions WHERE id = ?", (session_id,)
    ).fetchone()
    if found is None:
        raise tables.no_session(session_id)
    pk, title, stored_extra, previous, seq = found
    revision = int(previous) + 1
    gone, gone_in, gone_out = tables.supersede(conn, pk, drop, revision) if drop else (0, 0, 0)
    start = tables.next_seq(conn, pk, seq)
    ids = tables.insert_messages(conn, pk, start, rows)
    if before is not None and any(b is not None for b in before):
        place_rows(conn, pk, ids, before, revision)
    if "title" in columns:
        title = columns["title"]
        if title is None:
            title = tables.stored_title(conn, pk) or first_user_title(rows)
    elif title is None:
        title = first_user_title(rows)
    values = {
        **columns,
        "title": title,
        "updated_at": updated_at,
        "revision": revision,
        "next_seq": start + len(rows),
    }
    if extra:
        values["extra"] = dumps({**json.loads(stored_extra), **extra}, "record")
    for field, (sets, removed) in merges.items():
        if field in values:
            current = json.loads(values[field])
        else:
            current = json.loads(
                conn.execute(f"SELECT {field} FROM sessions WHERE pk = ?", (pk,)).fetchone()[0]
            )
        current.update(sets)
        for key in removed:
            current.pop(key, None)
        values[field] = dumps(current, field)
    added_in = sum(r.input_tokens or 0 for r in rows)
    added_out = sum(r.output_tokens or 0 for r in rows)
    assignments = ", ".join(f"{key} = ?" for key in values)
    conn.execute(
        "UPDATE sessions SET message_count = message_count + ?, "
        "input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, "
        f"{assignments} WHERE pk = ?",
        (len(rows) - gone, added_in - gone_in, added_out - gone_out, *values.values(), pk),
    )
    return Commit(ids, revision, int(previous))


def reconcile(
    conn: sqlite3.Connection, values: SessionFields, rows: Sequence[MessageRow], session_id: str
) -> Commit:
    """Create the session, or append the ``rows`` it never held (matched by content)."""
    found = conn.execute("SELECT pk, revision FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if found is None:
        _, new_ids, revision = tables.insert_session(conn, values, rows, session_id)
        return Commit(new_ids, revision, 0)
    pk, previous = found
    pool: dict[tuple[Any, ...], deque[int]] = defaultdict(deque)
    for r in tables.active_rows(conn, pk, include_superseded=True):
        pool[tuple(r[: tables.N_MESSAGE_COLS])].append(r[tables.N_MESSAGE_COLS])
    ids: list[int] = []
    missing: list[int] = []
    for i, row in enumerate(rows):
        matches = pool.get(tuple(row))
        if matches:
            ids.append(matches.popleft())
        else:
            ids.append(0)
            missing.append(i)
    if not missing:
        return Commit(ids, int(previous), int(previous))
    revision = int(previous) + 1
    added = tables.insert_messages(conn, pk, tables.next_seq(conn, pk), [rows[i] for i in missing])
    for i, new_id in zip(missing, added, strict=True):
        ids[i] = new_id
    tables.refresh_totals(conn, pk)
    conn.execute(
        "UPDATE sessions SET revision = ?, updated_at = ? WHERE pk = ?",
        (revision, stamp_now(), pk),
    )
    return Commit(ids, revision, int(previous))


def save_record(
    conn: sqlite3.Connection,
    values: SessionFields,
    rows: Sequence[MessageRow],
    session_id: str,
    expected_revision: int | None,
) -> str:
    """Insert the record, or overwrite its fields and make its active messages ``rows``."""
    found = conn.execute(
        "SELECT pk, created_at, revision FROM sessions WHERE id = ?", (session_id,)
    ).fetchone()
    if found is None:
        tables.insert_session(conn, values, rows, session_id)
        return session_id
    pk, created, stored = found
    if expected_revision is not None and stored != expected_revision:
        raise StoreError(
            f"session {session_id} changed in the store since revision {expected_revision} "
            f"(now {stored}); load it again before saving: nothing was saved"
        )
    revision = int(stored) + 1
    title = values.title if values.title is not None else first_user_title(rows)
    conn.execute(
        "UPDATE sessions SET title = ?, name = ?, notebook = ?, created_at = ?, "
        "updated_at = ?, model = ?, system_prompt = ?, memory = ?, metadata = ?, "
        "tools = ?, max_steps = ?, settings = ?, extra = ?, revision = ? WHERE pk = ?",
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
            revision,
            pk,
        ),
    )
    tables.replace_active(conn, pk, rows, revision)
    return session_id


REVISION_SQL = "SELECT revision FROM sessions WHERE id = ?"


def changes(
    conn: sqlite3.Connection, session_id: str, since: int | None, known: Collection[int]
) -> Snapshot | None:
    """``None`` if the session is still at revision ``since``, else its :class:`Snapshot`."""
    if since is not None:
        now = conn.execute(REVISION_SQL, (session_id,)).fetchone()
        if now is None:
            raise tables.no_session(session_id)
        if now[0] == since:
            return None
    row = tables.session_row(conn, session_id)
    order = [
        r[0]
        for r in conn.execute(
            f"SELECT id FROM messages WHERE session_pk = ? AND superseded IS NULL {ORDER}",
            (row[0],),
        )
    ]
    wanted = [i for i in order if i not in known]
    messages: dict[int, dict[str, Any]] = {}
    if len(wanted) * 2 > len(order):  # most of them: one ordered scan
        for r in tables.active_rows(conn, row[0]):
            if r[tables.N_MESSAGE_COLS] not in known:
                messages[r[tables.N_MESSAGE_COLS]] = row_message(r)
    else:
        for i in range(0, len(wanted), tables.CHUNK):
            chunk = wanted[i : i + tables.CHUNK]
            for r in conn.execute(
                f"SELECT {tables.MESSAGE_COLS}, id FROM messages WHERE id IN "
                f"({', '.join('?' * len(chunk))})",
                chunk,
            ):
                messages[r[tables.N_MESSAGE_COLS]] = row_message(r)
    return Snapshot(int(row[18]), tables.record(row, []), order, messages)
