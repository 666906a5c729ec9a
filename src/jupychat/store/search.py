"""Listing and full-text search of stored sessions (the SQL behind ``SessionStore.sessions``).

Design note: a listing is one indexed query over ``sessions``. A search walks the FTS5
matches newest first (FTS5 serves ``rowid DESC`` without sorting) in windows, keeping
each session's best bm25 rank. Ranking every match of a very common word costs ~2 µs a
match, so the walk stops once it has seen ``SEARCH_SCAN`` matches and enough sessions:
the ranking is exact for words with fewer matches, and over the most recent
``SEARCH_SCAN`` matches for the very common ones. Superseded messages (replaced turns)
stay in the index but never match. Everything here runs inside a read transaction.
Messages not indexed yet (see :mod:`.fts`) are found too: the caller catches the index
up first, and what it could not is searched in a temporary index (``fts.pending_hits``).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from jupychat.errors import StoreError

from . import fts
from .records import dumps

__all__ = ["SEARCH_SCAN", "SEARCH_WINDOW", "fts_query", "listing", "metadata_filter", "search"]

SEARCH_WINDOW = 2500  # matches fetched per step of a search
SEARCH_SCAN = 5000  # matches ranked before a search may stop early
SUMMARY_COLS = (
    "s.id, s.title, s.name, s.notebook, s.model, s.created_at, s.updated_at, "
    "s.message_count, s.input_tokens, s.output_tokens, s.metadata"
)
Summary = dict[str, Any]


def fts_query(text: str) -> str:
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


def metadata_filter(filters: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    """SQL clauses (on ``sessions s``) matching metadata key/value pairs exactly."""
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


def summary(row: Sequence[Any]) -> Summary:
    """A list entry from a ``SUMMARY_COLS`` row."""
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


def listing(
    conn: sqlite3.Connection, clauses: list[str], params: list[Any], limit: int, offset: int
) -> list[Summary]:
    """Sessions matching ``clauses``, most recently updated first."""
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    sql = (
        f"SELECT {SUMMARY_COLS} FROM sessions s{where} "
        "ORDER BY s.updated_at DESC, s.pk DESC LIMIT ? OFFSET ?"
    )
    return [summary(r) for r in conn.execute(sql, (*params, limit, offset))]


def _allowed(
    conn: sqlite3.Connection,
    fresh: list[int],
    clauses: list[str],
    params: list[Any],
    allowed: dict[int, bool],
) -> None:
    """Record which of the sessions ``fresh`` pass the filter ``clauses``."""
    if not clauses:
        allowed.update((spk, True) for spk in fresh)
        return
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


def _position(conn: sqlite3.Connection, spk: int, seq: int, count: int) -> int:
    """The index of message ``seq`` among the session's active messages."""
    top, placed = conn.execute(
        "SELECT max(seq), EXISTS (SELECT 1 FROM messages WHERE session_pk = ? AND "
        "place IS NOT NULL) FROM messages WHERE session_pk = ?",
        (spk, spk),
    ).fetchone()
    if top is not None and int(top) + 1 == count and not placed:
        return seq  # nothing superseded or placed: numbering and position agree
    return int(
        conn.execute(
            "SELECT count(*) FROM messages m, messages t WHERE t.session_pk = ? AND t.seq = ? "
            "AND m.session_pk = t.session_pk AND m.superseded IS NULL AND "
            "(coalesce(m.place, m.seq) < coalesce(t.place, t.seq) OR "
            "(coalesce(m.place, m.seq) = coalesce(t.place, t.seq) AND m.seq < t.seq))",
            (spk, seq),
        ).fetchone()[0]
    )


def _matches(query: str, extra: str | None) -> tuple[str, list[Any]]:
    """The SQL of the active messages matching ``query``, in the index and, when not
    None, in the temporary index ``extra`` of the messages not indexed yet."""
    if extra is None:
        return (
            "SELECT f.rowid, f.rank, m.session_pk FROM messages_fts f "
            "JOIN messages m ON m.id = f.rowid WHERE messages_fts MATCH ? "
            "AND m.superseded IS NULL"
        ), [query]
    return (
        "SELECT f.rowid, f.rank, m.session_pk FROM ("
        "SELECT rowid, rank FROM messages_fts WHERE messages_fts MATCH ? UNION ALL "
        f"SELECT rowid, rank FROM {extra} WHERE {extra} MATCH ?) f "
        "JOIN messages m ON m.id = f.rowid WHERE m.superseded IS NULL"
    ), [query, query]


def _snippet(conn: sqlite3.Connection, table: str, query: str, mid: int) -> Any:
    """(snippet, seq) of message ``mid`` matching ``query`` in the FTS5 ``table``, or None."""
    return conn.execute(
        f"SELECT snippet({table}, 0, '**', '**', '…', 12), m.seq "
        f"FROM {table} JOIN messages m ON m.id = {table}.rowid "
        f"WHERE {table} MATCH ? AND {table}.rowid = ?",
        (query, mid),
    ).fetchone()


def search(
    conn: sqlite3.Connection,
    query: str,
    clauses: list[str],
    params: list[Any],
    limit: int,
    offset: int,
) -> list[Summary]:
    """Sessions whose active messages match the FTS5 ``query``, best first (see the note)."""
    need = offset + limit
    best: dict[int, tuple[float, int]] = {}
    allowed: dict[int, bool] = {}
    scanned, before = 0, None
    extra = fts.pending_hits(conn)  # messages the index has not caught up with (rare)
    while True:
        sql, args = _matches(query, extra)
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
        _allowed(
            conn, list({spk for _, _, spk in rows if spk not in allowed}), clauses, params, allowed
        )
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
            f"SELECT {SUMMARY_COLS}, s.pk FROM sessions s WHERE s.pk IN "
            f"({', '.join('?' * len(page))})",
            [spk for spk, _ in page],
        )
    }
    out = []
    for spk, (rank, mid) in page:
        item = summary(found[spk])
        hit = _snippet(conn, "messages_fts", query, mid)
        if hit is None and extra is not None:
            hit = _snippet(conn, extra, query, mid)
        item["snippet"] = hit[0] if hit else ""
        item["match_index"] = _position(conn, spk, hit[1], item["message_count"]) if hit else None
        item["rank"] = rank
        out.append(item)
    return out
