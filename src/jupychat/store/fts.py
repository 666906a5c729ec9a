"""The full-text index's catch-up: messages written are indexed later, not in their write.

Design note: a message's write only records its id in ``messages_fts_pending`` (see
``migrations.m008_messages_fts_later``), so a ``%%chat`` cell does not wait for FTS5 to
tokenise its turn. :func:`catch_up` indexes every pending row in one write transaction.
It runs before a search (``Database.index_pending``), on the store writer once a cell
has stopped waiting for it, and with the periodic checkpoint of plain writes (which
bounds what a first search has to index). When a search cannot write (a read-only
store, or another process holding the write lock), :func:`pending_hits` indexes the
pending rows in a temporary FTS5 table of this connection, with the same tokenizer,
so the search still finds exactly the messages it would find with the index caught up
(their ``rank`` comes from that small table's statistics, so the order among sessions
can differ a little until the index catches up).
"""

from __future__ import annotations

import sqlite3

__all__ = ["PENDING", "catch_up", "has_pending", "pending_hits"]

PENDING = "messages_fts_pending"
_TEMP = "temp.messages_fts_unindexed"
_TOKENIZE = "unicode61 remove_diacritics 2"  # as messages_fts (migrations.m003)


def has_pending(conn: sqlite3.Connection) -> bool:
    """True when some message is not in the full-text index yet (one index probe)."""
    return conn.execute(f"SELECT EXISTS (SELECT 1 FROM {PENDING})").fetchone()[0] == 1


def catch_up(conn: sqlite3.Connection) -> int:
    """Index the pending messages and forget them; call inside a write transaction.

    Returns how many were indexed. In id order: FTS5 appends to its segment cheaply then.
    """
    done = conn.execute(
        f"INSERT INTO messages_fts (rowid, text) SELECT m.id, m.text FROM {PENDING} p "
        "JOIN messages m ON m.id = p.id WHERE m.text != '' ORDER BY p.id"
    ).rowcount
    conn.execute(f"DELETE FROM {PENDING}")
    return done


def pending_hits(conn: sqlite3.Connection) -> str | None:
    """Index the pending messages in a temporary FTS5 table of ``conn``, for a search
    that could not catch the index up; return its name, or None when nothing is pending.

    Temporary tables are private to the connection and writable on a read-only store.
    """
    if not has_pending(conn):
        return None
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {_TEMP} USING fts5 (text, tokenize='{_TOKENIZE}')"
    )
    conn.execute(f"DELETE FROM {_TEMP}")
    conn.execute(
        f"INSERT INTO {_TEMP} (rowid, text) SELECT m.id, m.text FROM {PENDING} p "
        "JOIN messages m ON m.id = p.id WHERE m.text != '' ORDER BY p.id"
    )
    return _TEMP.split(".", 1)[1]
