"""Persistent chat sessions: a SQLite store with full-text search, export and import.

Design note: the store is part of the core layer (stdlib ``sqlite3``, no IPython). The
public surface is :class:`SessionStore` plus the helpers that locate its file; the
modules inside are internal::

    records.py      record dict <-> table rows (validation, automatic titles)
    migrations.py   append-only schema migrations, recorded by name
    connection.py   lazy connection, transactions, lock retries, error mapping
    sqlite.py       SessionStore: the API
    export.py       JSON / Markdown / .ipynb export, JSON import
    scrub.py        credentials removed from every export

Typical use (what ``ChatSession`` auto-save does)::

    store = SessionStore()                     # JUPYCHAT_STORE or the user data dir
    sid = store.create(session.to_dict())      # once
    store.append_messages(sid, turn_messages, {"memory": ..., "model": ...})  # per turn
    record = store.load(sid)                   # resume: ChatSession.from_dict(record)
"""

from __future__ import annotations

from .records import SCHEMA, VERSION
from .sqlite import SessionStore, default_store_path, resolve_store_path

__all__ = ["SCHEMA", "VERSION", "SessionStore", "default_store_path", "resolve_store_path"]
