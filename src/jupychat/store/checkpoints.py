"""Checkpoints: a session's messages and state as they were at one moment.

Design note: messages are only ever appended or marked superseded (never rewritten or
deleted while the session exists), so a checkpoint needs no copy of them. It records the
session's ``revision`` and ``seq_end`` (the numbering's end) at that moment, plus the
session state (model, prompt, memory, metadata...) as JSON: its messages are the rows
with ``seq < seq_end`` that were still active at that revision (``superseded`` NULL or
later). Restoring makes the active messages equal that list: the common prefix stays,
the rest is superseded, and the checkpoint's remaining messages are appended again as
copies, so every checkpoint, older or newer, still sees exactly what it saw.

Checkpoints written before migration ``m005_revisions`` either hold a JSON copy of
their messages (``messages``) or saw exactly the rows below their message count.
Everything here runs inside the caller's transaction.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from jupychat.errors import StoreError

from . import tables
from .places import ORDER
from .records import dumps, message_rows, stamp_now

__all__ = ["RESTORED", "create", "listing", "restore"]

RESTORED = (
    "model",
    "system_prompt",
    "memory",
    "metadata",
    "tools",
    "max_steps",
    "settings",
    "extra",
)


def create(conn: sqlite3.Connection, session_id: str, label: str | None) -> int:
    """Record the session as it is now; returns the checkpoint id."""
    row = tables.session_row(conn, session_id)
    pk = row[0]
    record = tables.record(row, [])
    state = {key: record.get(key) for key in RESTORED if key != "extra"}
    state["extra"] = json.loads(row[14])
    cur = conn.execute(
        "INSERT INTO checkpoints (session_pk, label, created_at, message_count, state, "
        "revision, seq_end) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            pk,
            label,
            stamp_now(),
            row[15],
            dumps(state, "checkpoint"),
            row[18],
            tables.next_seq(conn, pk),
        ),
    )
    return int(cur.lastrowid or 0)


def listing(conn: sqlite3.Connection, session_id: str) -> list[dict[str, Any]]:
    """``id, label, created_at, message_count`` of each checkpoint, oldest first."""
    pk = tables.session_pk(conn, session_id)
    return [
        {"id": r[0], "label": r[1], "created_at": r[2], "message_count": r[3]}
        for r in conn.execute(
            "SELECT id, label, created_at, message_count FROM checkpoints "
            "WHERE session_pk = ? ORDER BY id",
            (pk,),
        )
    ]


def _seen_rows(
    conn: sqlite3.Connection, pk: int, revision: int, seq_end: int
) -> list[tuple[Any, ...]]:
    return conn.execute(
        f"SELECT {tables.MESSAGE_COLS}, id FROM messages WHERE session_pk = ? AND seq < ? "
        f"AND (superseded IS NULL OR superseded > ?) {ORDER}",
        (pk, seq_end, revision),
    ).fetchall()


def restore(conn: sqlite3.Connection, session_id: str, checkpoint_id: int | str) -> None:
    """Put the messages and state back as they were at the checkpoint (see the note)."""
    try:
        cp_id = int(checkpoint_id)
    except (TypeError, ValueError):
        raise StoreError(f"checkpoint id {checkpoint_id!r} is not a number") from None
    pk = tables.session_pk(conn, session_id)
    revision = tables.next_revision(conn, pk)
    cp = conn.execute(
        "SELECT message_count, state, messages, revision, seq_end FROM checkpoints "
        "WHERE id = ? AND session_pk = ?",
        (cp_id, pk),
    ).fetchone()
    if cp is None:
        raise StoreError(
            f"no checkpoint {checkpoint_id} in session {session_id}; list them "
            "with %chat checkpoints"
        )
    count, state_text, saved, cp_revision, seq_end = cp
    if saved is not None:
        tables.replace_active(conn, pk, message_rows(json.loads(saved)), revision)
    else:
        seen = _seen_rows(conn, pk, cp_revision, count if seq_end is None else seq_end)
        if len(seen) != count:
            raise StoreError(
                f"checkpoint {checkpoint_id} of session {session_id} lost its "
                "messages; the store may be damaged"
            )
        active = [r[tables.N_MESSAGE_COLS] for r in tables.active_rows(conn, pk)]
        same = 0
        for now, then in zip(active, seen, strict=False):
            if now != then[tables.N_MESSAGE_COLS]:
                break
            same += 1
        tables.supersede(conn, pk, active[same:], revision)
        tables.insert_messages(conn, pk, tables.next_seq(conn, pk), seen[same:])
        tables.refresh_totals(conn, pk)
    state = json.loads(state_text)
    conn.execute(
        "UPDATE sessions SET model = ?, system_prompt = ?, memory = ?, metadata = ?, "
        "tools = ?, max_steps = ?, settings = ?, extra = ?, updated_at = ?, revision = ? "
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
            revision,
            pk,
        ),
    )
