"""Sessions made from other sessions or files: copy, fork, merge and import.

Design note: each derived session is a new, independent session (its own id and
history) created from records read through the store, with its origin recorded in its
metadata (``copied_from``, ``forked_from``, ``merged_from``). Only active messages are
carried over: a replaced turn does not come back in a copy.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from jupychat.errors import StoreError

from . import tables
from .records import dumps, message_rows, normalize_session, stamp_now, utc_timestamp

if TYPE_CHECKING:
    from .sqlite import SessionStore

__all__ = ["copy", "fork", "import_file", "merge"]


def _parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(utc_timestamp(value, "created_at"))
    except StoreError:
        return datetime.min.replace(tzinfo=timezone.utc)


def derive(
    store: SessionStore,
    record: Mapping[str, Any],
    provenance: Mapping[str, Any],
    title: str | None,
) -> str:
    """Create a new session from ``record`` with ``provenance`` added to its metadata."""
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
    return store.create(data)


def copy(store: SessionStore, session_id: str, title: str | None = None) -> str:
    record = store.load(session_id)
    return derive(store, record, {"copied_from": session_id}, title)


def fork(store: SessionStore, session_id: str, at: int, title: str | None = None) -> str:
    if not isinstance(at, int) or isinstance(at, bool) or at < 0:
        raise StoreError(f"fork at must be a message count >= 0, not {at!r}")
    record = store.load(session_id)
    count = len(record["messages"])
    if at > count:
        raise StoreError(f"session {session_id} has {count} messages; fork at 0..{count}")
    record["messages"] = record["messages"][:at]
    return derive(store, record, {"forked_from": {"id": session_id, "at": at}}, title)


def merge(store: SessionStore, session_ids: Sequence[str], title: str | None = None) -> str:
    if isinstance(session_ids, str) or not session_ids:
        raise StoreError("merge() needs a list of session ids")
    ids = list(session_ids)
    if len(set(ids)) != len(ids):
        raise StoreError("merge() got the same session id twice")
    records = store._db.read(lambda conn: [tables.load(conn, sid) for sid in ids])
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
    return derive(store, merged, {"merged_from": ids}, merged["title"])


def import_file(store: SessionStore, path: str | os.PathLike[str], new_id: bool) -> str:
    """Add the session of a JSON export (see ``SessionStore.import_``)."""
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
        tables.insert_session(conn, values, rows, session_id)
        return session_id

    return store._db.write(run)
