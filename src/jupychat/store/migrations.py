"""Append-only schema migrations for the session store.

Design note: the schema is the result of running, in order, the functions registered
with :func:`migration`. Each one runs once per database, inside its own ``BEGIN
IMMEDIATE`` transaction together with the row that records its name in
``_jupychat_migrations``, so a crash leaves it either fully applied or not at all, and
two processes opening a fresh store at once apply it exactly once. ``PRAGMA
user_version`` mirrors the number applied. Never edit or reorder a released migration:
add a new one at the end.

Before touching anything, :func:`check` refuses a database written by a newer jupychat
(a migration name we do not know, or a higher ``user_version``) and a SQLite file that
belongs to some other program.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone

from jupychat.errors import StoreError

__all__ = ["MIGRATIONS", "TABLE", "applied", "check", "migrate", "migration", "newer_error"]

TABLE = "_jupychat_migrations"
Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    """Register ``fn`` as the next migration (its ``__name__`` is recorded)."""
    if any(name == fn.__name__ for name, _ in MIGRATIONS):
        raise ValueError(f"duplicate migration name {fn.__name__}")
    MIGRATIONS.append((fn.__name__, fn))
    return fn


def _run(conn: sqlite3.Connection, *statements: str) -> None:
    # Not executescript(): it would COMMIT the migration's transaction half-way.
    for statement in statements:
        conn.execute(statement)


@migration
def m001_sessions(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        """CREATE TABLE sessions (
            pk INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            title TEXT,
            name TEXT,
            notebook TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            model TEXT,
            system_prompt TEXT,
            memory TEXT NOT NULL DEFAULT '{}',
            metadata TEXT NOT NULL DEFAULT '{}',
            tools TEXT NOT NULL DEFAULT '[]',
            max_steps INTEGER,
            settings TEXT NOT NULL DEFAULT '{}',
            extra TEXT NOT NULL DEFAULT '{}',
            message_count INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX sessions_by_updated ON sessions (updated_at)",
        "CREATE INDEX sessions_by_notebook ON sessions (notebook, updated_at)",
        "CREATE INDEX sessions_by_name ON sessions (name, updated_at)",
    )


@migration
def m002_messages(conn: sqlite3.Connection) -> None:
    # `text` holds the message's text parts (joined by newlines) for search; `content`
    # the parts as JSON, or NULL when the message is exactly one text part (the common
    # case), which is then `text` itself: no text is stored twice. The four token
    # columns are NULL for a message without usage.
    _run(
        conn,
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            session_pk INTEGER NOT NULL REFERENCES sessions (pk),
            seq INTEGER NOT NULL,
            role TEXT NOT NULL,
            content TEXT,
            text TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            model TEXT,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cached_tokens INTEGER,
            cache_write_tokens INTEGER,
            finish_reason TEXT,
            reasoning TEXT,
            interrupted INTEGER NOT NULL DEFAULT 0,
            meta TEXT,
            extra TEXT,
            UNIQUE (session_pk, seq)
        )""",
    )


@migration
def m003_messages_fts(conn: sqlite3.Connection) -> None:
    # External-content FTS5 index over messages.text, kept in sync by triggers. Rows
    # with empty text (tool calls, tool results) are never indexed, and the delete
    # triggers use the same condition: deleting a row FTS5 never saw corrupts it.
    _run(
        conn,
        """CREATE VIRTUAL TABLE messages_fts USING fts5 (
            text, content='messages', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2'
        )""",
        """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
           WHEN new.text != '' BEGIN
             INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
           END""",
        """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
           WHEN old.text != '' BEGIN
             INSERT INTO messages_fts (messages_fts, rowid, text)
             VALUES ('delete', old.id, old.text);
           END""",
        """CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
             INSERT INTO messages_fts (messages_fts, rowid, text)
             SELECT 'delete', old.id, old.text WHERE old.text != '';
             INSERT INTO messages_fts (rowid, text)
             SELECT new.id, new.text WHERE new.text != '';
           END""",
    )


@migration
def m004_checkpoints(conn: sqlite3.Connection) -> None:
    # A checkpoint records the message count and the session state (JSON). Its
    # messages are the live prefix of that length; when an operation is about to
    # rewrite or drop that prefix, the prefix is first copied into `messages` here.
    _run(
        conn,
        """CREATE TABLE checkpoints (
            id INTEGER PRIMARY KEY,
            session_pk INTEGER NOT NULL REFERENCES sessions (pk),
            label TEXT,
            created_at TEXT NOT NULL,
            message_count INTEGER NOT NULL,
            state TEXT NOT NULL,
            messages TEXT
        )""",
        "CREATE INDEX checkpoints_by_session ON checkpoints (session_pk, id)",
    )


@migration
def m005_revisions(conn: sqlite3.Connection) -> None:
    # Turns are appended and never rewritten in place. `sessions.revision` grows with
    # every write to a session (a new session starts at the clock in microseconds, so
    # one deleted and created again never repeats a revision a process has seen), and
    # a process can tell cheaply whether the stored session changed since it looked.
    # A replaced or cleared message is kept, marked with the revision that superseded
    # it (`messages.superseded`, NULL while active); load, counts, exports and search
    # skip such rows. A checkpoint now records the revision and the end of the message
    # numbering (`seq_end`) it saw: its messages are the rows below `seq_end` still
    # active at that revision. Checkpoints written before this migration saw exactly
    # the rows below their message count. `sessions.next_seq` is the `seq` the next
    # message gets (NULL: work it out from the messages).
    _run(
        conn,
        "ALTER TABLE sessions ADD COLUMN revision INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE messages ADD COLUMN superseded INTEGER",
        "ALTER TABLE checkpoints ADD COLUMN revision INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE checkpoints ADD COLUMN seq_end INTEGER",
        "UPDATE checkpoints SET seq_end = message_count",
        "ALTER TABLE sessions ADD COLUMN next_seq INTEGER",
        "UPDATE sessions SET next_seq = "
        "(SELECT coalesce(max(seq), -1) + 1 FROM messages WHERE session_pk = sessions.pk)",
    )


@migration
def m006_recordings(conn: sqlite3.Connection) -> None:
    # Replay (issue 18): every notebook turn's inputs and answer, keyed by the digest of
    # its inputs (`key`; re-asking the same inputs replaces the row). `source` is the
    # digest of the asking cell's text and `cell_id` its id, to find a cell's earlier
    # recording when its inputs changed; `loose` the digest of every input but the model;
    # `body` is the recording as JSON.
    _run(
        conn,
        """CREATE TABLE recordings (
            key TEXT PRIMARY KEY,
            loose TEXT NOT NULL,
            notebook TEXT,
            source TEXT,
            cell_id TEXT,
            created_at TEXT NOT NULL,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX recordings_by_loose ON recordings (loose, created_at)",
        "CREATE INDEX recordings_by_source ON recordings (notebook, source, created_at)",
        "CREATE INDEX recordings_by_cell ON recordings (notebook, cell_id, created_at)",
    )


@migration
def m007_message_places(conn: sqlite3.Connection) -> None:
    # A turn that belongs inside the conversation (a re-run notebook cell keeps its
    # place) is appended like any other, with a `place`: a number between the order
    # keys of its neighbours. The conversation order is `coalesce(place, seq), seq`
    # (see jupychat.store.places); NULL everywhere keeps the order of older sessions.
    _run(
        conn,
        "ALTER TABLE messages ADD COLUMN place REAL",
        "CREATE INDEX messages_by_place ON messages "
        "(session_pk, coalesce(place, seq), seq) WHERE superseded IS NULL",
        "CREATE INDEX messages_placed ON messages (session_pk) WHERE place IS NOT NULL",
    )


@migration
def m008_messages_fts_later(conn: sqlite3.Connection) -> None:
    # A new message is no longer indexed in the write that adds it (a %%chat cell waits
    # for that write): the insert trigger only records its id in `messages_fts_pending`,
    # and jupychat.store.fts indexes the pending rows later, before any full-text query
    # and when the writer is idle. A row is indexed exactly when its text is not empty
    # and its id is not pending, so the delete and update triggers issue an FTS5
    # 'delete' only for such rows (deleting a row FTS5 never saw corrupts it) and just
    # drop a pending row's entry. (Not an id watermark: the id of a deleted last row is
    # given again.) Rows already indexed stay indexed; nothing is pending at first.
    _run(
        conn,
        "CREATE TABLE messages_fts_pending (id INTEGER PRIMARY KEY)",
        "DROP TRIGGER messages_fts_insert",
        "DROP TRIGGER messages_fts_delete",
        "DROP TRIGGER messages_fts_update",
        """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
           WHEN new.text != '' BEGIN
             INSERT OR IGNORE INTO messages_fts_pending (id) VALUES (new.id);
           END""",
        """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
           WHEN old.text != '' BEGIN
             INSERT INTO messages_fts (messages_fts, rowid, text)
             SELECT 'delete', old.id, old.text
             WHERE NOT EXISTS (SELECT 1 FROM messages_fts_pending WHERE id = old.id);
             DELETE FROM messages_fts_pending WHERE id = old.id;
           END""",
        """CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
             INSERT INTO messages_fts (messages_fts, rowid, text)
             SELECT 'delete', old.id, old.text WHERE old.text != ''
             AND NOT EXISTS (SELECT 1 FROM messages_fts_pending WHERE id = old.id);
             DELETE FROM messages_fts_pending WHERE id = old.id;
             INSERT OR IGNORE INTO messages_fts_pending (id) SELECT new.id WHERE new.text != '';
           END""",
    )


def applied(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations recorded in the database (empty for a fresh one)."""
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
    ).fetchone()
    if not has_table:
        return []
    return [row[0] for row in conn.execute(f"SELECT name FROM {TABLE} ORDER BY rowid")]


def newer_error(where: str, version: int) -> StoreError:
    """The error for a database written by a newer jupychat."""
    return StoreError(
        f"the session store {where} was written by a newer jupychat (schema {version}, "
        f"this one knows {len(MIGRATIONS)}); upgrade jupychat or set JUPYCHAT_STORE "
        "to another file"
    )


def check(conn: sqlite3.Connection, where: str) -> list[str]:
    """Read-only schema check; return the names of the migrations still to apply.

    Raises
    ------
    StoreError
        The database comes from a newer jupychat, or is not a session store at all.
    """
    known = [name for name, _ in MIGRATIONS]
    done = applied(conn)
    unknown = [name for name in done if name not in known]
    user_version = conn.execute("PRAGMA user_version").fetchone()[0]
    if unknown or user_version > len(known):
        raise newer_error(where, max(user_version, len(done)))
    if not done:
        others = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
        if others:
            raise StoreError(
                f"{where} is a SQLite database of another program, not a jupychat "
                "session store; set JUPYCHAT_STORE to another file"
            )
    return [name for name in known if name not in done]


def migrate(conn: sqlite3.Connection, where: str) -> list[str]:
    """Apply the pending migrations, each in its own write transaction.

    The connection must be in autocommit mode (``isolation_level=None``). Safe to run
    from several processes at once: the pending list is re-read under the write lock.
    Returns the names applied by this call.
    """
    done_now: list[str] = []
    for name, fn in MIGRATIONS:
        if name not in check(conn, where):
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if name not in check(conn, where):  # another process got there first
                conn.execute("ROLLBACK")
                continue
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} "
                "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            fn(conn)
            conn.execute(
                f"INSERT INTO {TABLE} (name, applied_at) VALUES (?, ?)",
                (name, datetime.now(timezone.utc).isoformat(timespec="seconds")),
            )
            count = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
            conn.execute(f"PRAGMA user_version = {int(count)}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        done_now.append(name)
    return done_now
