"""Recorded turns in the session store (the ``recordings`` table, migration m006).

Design note: a thin view over the store's database for :mod:`jupychat._recording`:
``put`` replaces the row of the same inputs key (a refreshed answer wins), ``get`` finds
a recording by key, ``get_loose`` by every input but the model, ``latest_for`` a cell's
most recent one (by cell id, else by the digest of its source). Every call is one
transaction (``statement`` hands ``put`` to a cell's turn write, to join its own);
errors are one-line :class:`~jupychat.errors.StoreError`. Answers and prompts pass
through the same secret scrubbing as messages before they are written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._recording import Recording
from .._sanitize import clean_text
from .connection import Database
from .records import now_iso

if TYPE_CHECKING:
    import sqlite3

    from .sqlite import SessionStore

__all__ = ["RecordingStore"]

_INSERT = (
    "INTO recordings (key, loose, notebook, source, cell_id, created_at, body) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class RecordingStore:
    """The recordings kept in ``store`` (a :class:`~jupychat.store.SessionStore`)."""

    def __init__(self, store: SessionStore) -> None:
        self._db = store._db
        # SQLite replaces a row in one statement; PostgreSQL has no INSERT OR REPLACE
        self._one_statement = isinstance(self._db, Database)

    def put(self, recording: Recording, notebook: str | None = None) -> None:
        """Keep ``recording``, replacing any earlier one with the same inputs."""
        self._db.write(self._statements(recording, notebook))

    def statement(
        self, recording: Recording, notebook: str | None = None
    ) -> Callable[[sqlite3.Connection], None] | None:
        """:meth:`put` as one statement to run in another write's transaction (a cell's
        turn: ``SessionStore.commit(beside=...)``); ``None`` on PostgreSQL, which keeps
        the recording's own transaction."""
        return self._statements(recording, notebook) if self._one_statement else None

    def _statements(
        self, recording: Recording, notebook: str | None
    ) -> Callable[[sqlite3.Connection], None]:
        one_statement = self._one_statement
        rows: list[tuple[object, ...]] = []  # the row, made once, on the thread that writes

        def write(conn: sqlite3.Connection) -> None:
            if not rows:
                rows.append(_row(recording, notebook))
            row = rows[0]
            if one_statement:  # (a cell's write: one statement less to run)
                conn.execute(f"INSERT OR REPLACE {_INSERT}", row)
                return
            conn.execute("DELETE FROM recordings WHERE key = ?", (row[0],))
            conn.execute(f"INSERT {_INSERT}", row)

        return write

    def get(self, key: str) -> Recording | None:
        """The recording of these inputs, or None."""
        rows = self._db.read(
            lambda conn: conn.execute(
                "SELECT body FROM recordings WHERE key = ?", (key,)
            ).fetchall()
        )
        return _parse(rows[0][0]) if rows else None

    def get_loose(self, loose_key: str) -> Recording | None:
        """The latest recording of these inputs with any model, or None."""
        sql = (
            "SELECT body FROM recordings WHERE loose = ? ORDER BY created_at DESC, key DESC LIMIT 1"
        )
        rows = self._db.read(lambda conn: conn.execute(sql, (loose_key,)).fetchall())
        return _parse(rows[0][0]) if rows else None

    def latest_for(
        self, notebook: str | None, source: str, cell_id: str | None = None
    ) -> Recording | None:
        """The cell's latest recording: by its id when given, else by its source digest."""
        column, value = ("cell_id", cell_id) if cell_id else ("source", source)
        where = "notebook IS NULL" if notebook is None else "notebook = ?"
        params = (value,) if notebook is None else (value, notebook)
        sql = (
            f"SELECT body FROM recordings WHERE {column} = ? AND {where} "
            "ORDER BY created_at DESC, key DESC LIMIT 1"
        )
        rows = self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        return _parse(rows[0][0]) if rows else None

    def count(self) -> int:
        return int(
            self._db.read(lambda conn: conn.execute("SELECT count(*) FROM recordings").fetchone())[
                0
            ]
        )


def _row(recording: Recording, notebook: str | None) -> tuple[object, ...]:
    """The recording's row (its answer scrubbed of secrets)."""
    body = clean_text(recording.to_json())
    key = recording.key  # (a digest of the inputs: worked out once)
    return (
        key,
        recording.inputs.loose_key,
        notebook,
        recording.source,
        recording.cell_id,
        now_iso(),
        body,
    )


def _parse(body: str) -> Recording | None:
    try:
        return Recording.from_json(body)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None
