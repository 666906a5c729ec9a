"""Persistent chat sessions: a SQLite (or PostgreSQL) store with search, export and import.

Design note: the store is part of the core layer (stdlib ``sqlite3``, no IPython). The
public surface is :class:`SessionStore` plus the helpers that locate its file; the
modules inside are internal::

    records.py      record dict <-> table rows (validation, automatic titles)
    migrations.py   append-only schema migrations, recorded by name
    connection.py   lazy connection, transactions, lock retries, error mapping,
                    a deleted or replaced database file detected and reopened
    paths.py        where the store file is
    sqlite.py       SessionStore: the API
    tables.py       row SQL: append, supersede, totals, records
    sync.py         commit / changes / reconcile: several processes, no lost turn
    search.py       listing and full-text search
    checkpoints.py  checkpoints (revision + numbering, no copies)
    lineage.py      copy, fork, merge, import
    export.py       JSON / Markdown / .ipynb export, JSON import
    scrub.py        credentials removed from every export
    postgres.py     PostgresStore: the same API on PostgreSQL (JUPYCHAT_STORE=postgresql://…),
                    with per-user ownership and read-only sharing
    pg_connection.py  pool, per-user transactions, the sqlite3-style adapter, errors
    pg_migrations.py  the PostgreSQL mirror of migrations.py, plus views and row security
    pg_search.py    listing and tsvector search on PostgreSQL

Typical use (what ``ChatSession`` auto-save does, through ``jupychat._storelink``)::

    store = SessionStore()                         # JUPYCHAT_STORE or the user data dir
    done = store.reconcile(session.to_dict())      # once: create (or complete) it
    store.commit(sid, new_messages, supersede=replaced_ids,
                 updates={"title": ...}, merge={"memory": {...}})   # per turn
    store.changes(sid, since=done.revision)        # before a turn: None if unchanged
    record = store.load(sid)                       # resume: ChatSession.from_dict(record)
"""

from __future__ import annotations

from .records import SCHEMA, VERSION
from .sqlite import SessionStore, default_store_path, resolve_store_path

__all__ = ["SCHEMA", "VERSION", "SessionStore", "default_store_path", "resolve_store_path"]
