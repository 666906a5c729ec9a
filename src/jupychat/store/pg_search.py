"""Listing and full-text search on PostgreSQL (``SessionStore.sessions`` for that backend).

Design note: the queries name ``sessions`` and ``messages`` unqualified, so they run on
the caller's read views (own and shared sessions only; see :mod:`.pg_migrations`).
Messages carry a stored ``tsvector`` (configuration ``simple``, over the text with every
run of non-alphanumerics made a space, which splits words the way SQLite's FTS5
``unicode61`` tokenizer does) with a GIN index.

A caller who may read at most ``FEW`` sessions (their own and a few shared: the usual
case on a hub) gets the search confined to those sessions' messages, so what others
wrote costs nothing. Otherwise a search works like SQLite's: it walks the matching
active messages newest first in windows of ``SEARCH_WINDOW``, asks which of their
sessions the caller may read and pass the filters (through the read view: the ownership
rule applies; each session is asked about once), keeps each such session's best
``ts_rank``, and stops once it has seen ``SEARCH_SCAN`` matches and enough sessions (one
window here: a window of a very common word costs PostgreSQL more than FTS5); only the
page it returns gets summaries and ``ts_headline`` snippets (read through the views
again). The walk reads only ids and ranks of the messages table itself, so the planner
sees the words alone and picks the plan by how common they are: a rare word is looked up
in the GIN index, a very common one is found by walking the newest messages backwards
until a window has matched. Mixing in the readable-sessions test would hide that from it
(it cannot know how many sessions the caller reads) and ruin the plan either way.
``rank`` is ``-ts_rank``: lower is better on both backends.

The user's search text becomes ``tsquery`` values through PostgreSQL's own parsers
(``plainto_tsquery``, ``phraseto_tsquery``; prefixes are built from word characters
only), never by pasting text into query syntax, so no input is a syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from jupychat.errors import StoreError

from .records import dumps
from .search import summary as _row_summary

__all__ = [
    "SEARCH_SCAN",
    "SEARCH_WINDOW",
    "SUMMARY_COLS",
    "listing",
    "metadata_filter",
    "search",
    "tsquery",
]

SEARCH_WINDOW = 2500  # matches fetched per step of a search
SEARCH_SCAN = 2500  # matches ranked before a search may stop early (SQLite: 5000)
SCHEMA = "jupychat"
FEW = 2000  # a caller reading at most this many sessions has the search confined to them
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
    # jsonb refuses the escape \u0000 (JSON text holds it): compared as U+FFFD instead
    meta = "replace(s.metadata, '\\u0000', '\\ufffd')::jsonb"
    value_of = f"({meta} -> ?::text)"
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
                f"jsonb_typeof{value_of} = 'number' AND ({meta} ->> ?::text)::numeric = ?::numeric"
            )
            params += [key, key, value]
        elif isinstance(value, str):
            clauses.append(f"jsonb_typeof{value_of} = 'string' AND ({meta} ->> ?::text) = ?::text")
            params += [key, key, value]
        else:
            clauses.append(f"{value_of} = replace(?, '\\u0000', '\\ufffd')::jsonb")
            params += [key, dumps(value, "metadata filter")]
    return clauses, params


def summary(row: Sequence[Any]) -> Summary:
    """A list entry from a ``SUMMARY_COLS`` row (with the session's ``owner``)."""
    entry = _row_summary(row)
    entry["owner"] = row[11]
    return entry


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
    test = "".join(f" AND {c}" for c in clauses)
    allowed: dict[int, bool] = {}
    within = ""
    few = [
        r[0]
        for r in conn.execute(
            f"SELECT s.pk FROM sessions s WHERE true{test} LIMIT ?", (*params, FEW + 1)
        )
    ]
    if len(few) <= FEW:  # the caller reads few sessions: search only those
        if not few:
            return []
        within = " AND m.session_pk = ANY(?)"
        allowed.update((spk, True) for spk in few)
    need = offset + limit
    best: dict[int, tuple[float, int]] = {}
    scanned, before = 0, None
    while True:
        sql = (
            f"SELECT m.id, m.session_pk, ts_rank(m.tsv, ({expr})) FROM {SCHEMA}.messages m "
            f"WHERE m.tsv @@ ({expr}) AND m.superseded IS NULL{within}"
        )
        args: list[Any] = [*qparams, *qparams, *([few] if within else [])]
        if before is not None:
            sql += " AND m.id < ?"
            args.append(before)
        rows = conn.execute(sql + " ORDER BY m.id DESC LIMIT ?", (*args, SEARCH_WINDOW))
        rows = rows.fetchall()
        scanned += len(rows)
        fresh = list({spk for _, spk, _ in rows if spk not in allowed})
        if fresh:  # which of these sessions the caller may read (the view) and pass
            ok = {
                r[0]
                for r in conn.execute(
                    f"SELECT s.pk FROM sessions s WHERE s.pk = ANY(?){test}", (fresh, *params)
                )
            }
            allowed.update((spk, spk in ok) for spk in fresh)
        for mid, spk, rank in rows:
            if allowed[spk] and (spk not in best or rank > best[spk][0]):
                best[spk] = (rank, mid)
        if len(rows) < SEARCH_WINDOW or (scanned >= SEARCH_SCAN and len(best) >= need):
            break
        before = rows[-1][0]
    ordered = sorted(best.items(), key=lambda item: (-item[1][0], -item[1][1]))
    page = [(spk, mid, rank) for spk, (rank, mid) in ordered[offset : offset + limit]]
    if not page:
        return []
    ids = [mid for _, mid, _ in page]
    rows = {
        r[-1]: r
        for r in conn.execute(
            f"SELECT {SUMMARY_COLS}, s.pk FROM sessions s WHERE s.pk = ANY(?)",
            ([spk for spk, _, _ in page],),
        )
    }
    # the snippet, and the message's place among its session's active messages
    # (its seq, unless something before it was superseded)
    hits = {
        r[0]: r[1:]
        for r in conn.execute(
            f"SELECT m.id, ts_headline('simple', m.text, ({expr}), ?), "
            "CASE WHEN s.next_seq = s.message_count THEN m.seq ELSE "
            "(SELECT count(*) FROM messages x WHERE x.session_pk = m.session_pk "
            "AND x.seq < m.seq AND x.superseded IS NULL) END "
            "FROM messages m JOIN sessions s ON s.pk = m.session_pk WHERE m.id = ANY(?)",
            (*qparams, HEADLINE, ids),
        )
    }
    out = []
    for spk, mid, rank in page:
        item = summary(rows[spk])
        snippet, index = hits.get(mid, ("", None))
        item["snippet"] = snippet
        item["match_index"] = None if index is None else int(index)
        item["rank"] = -float(rank)
        out.append(item)
    return out
