"""Listing and full-text search on PostgreSQL (``SessionStore.sessions`` for that backend).

Design note: the queries name ``sessions`` and ``messages`` unqualified, so they run on
the caller's read views (own and shared sessions only; see :mod:`.pg_migrations`).
Messages carry a stored ``tsvector`` (configuration ``simple``, over the text with every
run of non-alphanumerics made a space, which splits words the way SQLite's FTS5
``unicode61`` tokenizer does) with a GIN index. A search takes the newest
``SEARCH_SCAN`` active matches that pass the filters (the GIN index finds them; only
their ids are sorted), ranks just those with ``ts_rank``, keeps each session's best
message, and builds ``ts_headline`` snippets for the page it returns. So the cost is
bounded for very common words, and the ranking is exact for the rest, as in SQLite.
``rank`` is ``-ts_rank``: lower is better on both backends.

The user's search text becomes ``tsquery`` values through PostgreSQL's own parsers
(``plainto_tsquery``, ``phraseto_tsquery``; prefixes are built from word characters
only), never by pasting text into query syntax, so no input is a syntax error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from jupychat.errors import StoreError

from .records import dumps
from .search import _position

__all__ = ["SEARCH_SCAN", "SUMMARY_COLS", "listing", "metadata_filter", "search", "tsquery"]

SEARCH_SCAN = 5000
SUMMARY_COLS = (
    "s.id, s.title, s.name, s.notebook, s.model, s.created_at, s.updated_at, "
    "s.message_count, s.input_tokens, s.output_tokens, s.metadata, s.owner"
)
NORMALIZE = "regexp_replace({}, '[^[:alnum:]]+', ' ', 'g')"
HEADLINE = (
    "StartSel=**, StopSel=**, MaxWords=24, MinWords=8, ShortWord=1, "
    'MaxFragments=1, FragmentDelimiter=" … "'
)
Summary = dict[str, Any]


def tsquery(text: str) -> tuple[str, list[Any]]:
    """User text to a ``tsquery`` SQL expression and its parameters ("" when empty).

    Words are AND-ed, ``"a phrase"`` matches the words in a row, ``word*`` a prefix.
    """
    parts: list[str] = []
    params: list[Any] = []
    for phrase, word in re.findall(r'"([^"]*)"|(\S+)', text):
        if phrase:
            if re.search(r"[^\W_]", phrase):
                parts.append(f"phraseto_tsquery('simple', {NORMALIZE.format('?::text')})")
                params.append(phrase)
            continue
        pieces = re.findall(r"[^\W_]+", word)
        if not pieces:
            continue
        if word.endswith("*"):
            parts.append("to_tsquery('simple', ?::text)")
            params.append(" <-> ".join([*pieces[:-1], pieces[-1].lower() + ":*"]))
        else:
            parts.append(f"plainto_tsquery('simple', {NORMALIZE.format('?::text')})")
            params.append(word)
    return " && ".join(parts), params


def metadata_filter(filters: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    """SQL clauses (on ``sessions s``) matching metadata key/value pairs exactly."""
    clauses: list[str] = []
    params: list[Any] = []
    value_of = "(s.metadata::jsonb -> ?::text)"
    for key, value in filters.items():
        if not isinstance(key, str) or '"' in key:
            raise StoreError(f"metadata filter key {key!r} must be a string without quotes")
        if value is None:
            clauses.append(f"jsonb_typeof{value_of} = 'null'")
            params.append(key)
        elif isinstance(value, bool):
            clauses.append(f"{value_of} = ?::jsonb")
            params += [key, "true" if value else "false"]
        elif isinstance(value, (int, float)):
            clauses.append(
                f"jsonb_typeof{value_of} = 'number' AND "
                "(s.metadata::jsonb ->> ?::text)::numeric = ?::numeric"
            )
            params += [key, key, value]
        elif isinstance(value, str):
            clauses.append(
                f"jsonb_typeof{value_of} = 'string' AND (s.metadata::jsonb ->> ?::text) = ?::text"
            )
            params += [key, key, value]
        else:
            clauses.append(f"{value_of} = ?::jsonb")
            params += [key, dumps(value, "metadata filter")]
    return clauses, params


def summary(row: Sequence[Any]) -> Summary:
    """A list entry from a ``SUMMARY_COLS`` row (with the session's ``owner``)."""
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
        "owner": row[11],
    }


def listing(
    conn: Any, clauses: list[str], params: list[Any], limit: int, offset: int
) -> list[Summary]:
    """Visible sessions matching ``clauses``, most recently updated first."""
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    sql = (
        f"SELECT {SUMMARY_COLS} FROM sessions s{where} "
        "ORDER BY s.updated_at DESC, s.pk DESC LIMIT ? OFFSET ?"
    )
    return [summary(r) for r in conn.execute(sql, (*params, limit, offset))]


def search(
    conn: Any,
    query: tuple[str, list[Any]],
    clauses: list[str],
    params: list[Any],
    limit: int,
    offset: int,
) -> list[Summary]:
    """Visible sessions whose active messages match ``query``, best first (see the note)."""
    expr, qparams = query
    where = "".join(f" AND {c}" for c in clauses)
    sql = (
        f"WITH q AS MATERIALIZED (SELECT {expr} AS q), "
        "hits AS MATERIALIZED (SELECT m.id, m.session_pk, m.tsv FROM messages m "
        "JOIN sessions s ON s.pk = m.session_pk, q "
        f"WHERE m.tsv @@ q.q AND m.superseded IS NULL{where} "
        "ORDER BY m.id DESC LIMIT ?), "
        "ranked AS (SELECT DISTINCT ON (h.session_pk) h.session_pk, h.id, "
        "ts_rank(h.tsv, q.q) AS r FROM hits h, q "
        "ORDER BY h.session_pk, ts_rank(h.tsv, q.q) DESC, h.id DESC) "
        "SELECT session_pk, id, r FROM ranked ORDER BY r DESC, id DESC LIMIT ? OFFSET ?"
    )
    scan = max(SEARCH_SCAN, 4 * (offset + limit))
    page = conn.execute(sql, (*qparams, *params, scan, limit, offset)).fetchall()
    out = []
    for spk, mid, rank in page:
        row = conn.execute(
            f"SELECT {SUMMARY_COLS} FROM sessions s WHERE s.pk = ?", (spk,)
        ).fetchone()
        hit = conn.execute(
            f"SELECT ts_headline('simple', m.text, {expr}, ?), m.seq FROM messages m "
            "WHERE m.id = ?",
            (*qparams, HEADLINE, mid),
        ).fetchone()
        item = summary(row)
        item["snippet"] = hit[0] if hit else ""
        item["match_index"] = _position(conn, spk, hit[1], item["message_count"]) if hit else None
        item["rank"] = -float(rank)
        out.append(item)
    return out
