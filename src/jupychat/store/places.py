"""The conversation order of a session's messages: ``seq`` unless a message was placed.

Design note: messages are appended (``seq`` grows) and never moved. A turn that belongs
*inside* the conversation — a notebook cell re-run keeps its place, a new cell goes
between the cells around it on the page — is appended too, and given a ``place``: a
number between the order keys of its neighbours. The conversation order is
``ORDER BY coalesce(place, seq), seq`` (:data:`ORDER`), so sessions written before
migration m007 (all places NULL) keep their order, and an appended message (place NULL,
the highest ``seq``) always comes last.

A writer names, for each new message, the stored message it goes *before*
(:func:`place_rows`); the places are worked out here, inside the write:

* new rows that replace superseded rows standing right before the anchor take over the
  first superseded row's key, spread up to the anchor's key: a cell re-run a thousand
  times keeps the same span, so the keys never run out;
* otherwise the new rows are spread evenly between the previous active row and the anchor.

When floating point can no longer split a gap (the same spot used ~50 times), the
session's active rows are numbered again 0, 1, 2… in their order first (all below the
next ``seq``), which keeps every active order as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

__all__ = ["KEY", "ORDER", "place_rows"]

#: A message's order key (use ``ORDER`` to sort).
KEY = "coalesce(place, seq)"
#: The conversation order of messages.
ORDER = f"ORDER BY {KEY}, seq"


def place_rows(
    conn: sqlite3.Connection,
    pk: int,
    ids: Sequence[int],
    before: Sequence[int | None],
    revision: int,
) -> None:
    """Place the just-inserted messages ``ids`` before the stored ``before`` ids.

    ``None`` (or an id that is not an active message of this session) leaves a message
    where appending put it: at the end. Consecutive messages with the same anchor keep
    their order. ``revision`` is the write's revision (rows it superseded are the ones a
    placed turn replaces).
    """
    groups: list[tuple[int, list[int]]] = []
    previous: int | None = None
    for rid, anchor in zip(ids, before, strict=True):
        if anchor is not None and anchor == previous and groups:
            groups[-1][1].append(rid)
        elif anchor is not None:
            groups.append((anchor, [rid]))
        previous = anchor
    for anchor, rows in groups:
        keys = _keys(conn, pk, anchor, rows, revision)
        if keys is None:
            _renumber(conn, pk, rows)
            keys = _keys(conn, pk, anchor, rows, revision)
        for rid, key in zip(rows, keys or (), strict=False):
            conn.execute("UPDATE messages SET place = ? WHERE id = ?", (key, rid))


def _keys(
    conn: sqlite3.Connection, pk: int, anchor: int, rows: list[int], revision: int
) -> list[float] | None:
    """The keys for ``rows`` before ``anchor``; ``[]`` to leave them at the end, ``None``
    when the gap is too small to split."""
    found = conn.execute(
        f"SELECT {KEY} FROM messages WHERE id = ? AND session_pk = ? AND superseded IS NULL",
        (anchor, pk),
    ).fetchone()
    if found is None:
        return []
    high = float(found[0])
    marks = ", ".join("?" * len(rows))
    low_row = conn.execute(
        f"SELECT max({KEY}) FROM messages WHERE session_pk = ? AND superseded IS NULL "
        f"AND {KEY} < ? AND id NOT IN ({marks})",
        (pk, high, *rows),
    ).fetchone()
    low = None if low_row[0] is None else float(low_row[0])
    start_row = conn.execute(
        f"SELECT min({KEY}) FROM messages WHERE session_pk = ? AND superseded = ? "
        f"AND {KEY} < ?" + ("" if low is None else f" AND {KEY} > ?"),
        (pk, revision, high) if low is None else (pk, revision, high, low),
    ).fetchone()
    n = len(rows)
    if start_row[0] is not None:  # taking over the span of the rows this write replaced
        start = float(start_row[0])
        keys = [start + (high - start) * i / n for i in range(n)]
    else:
        base = high - 1.0 if low is None else low
        keys = [base + (high - base) * (i + 1) / (n + 1) for i in range(n)]
    floor = -float("inf") if low is None else low
    if any(not floor < k < high for k in keys) or len(set(keys)) < n:
        return None
    return keys


def _renumber(conn: sqlite3.Connection, pk: int, skip: list[int]) -> None:
    """Give the session's active rows (but ``skip``) the keys 0, 1, 2… in their order."""
    marks = ", ".join("?" * len(skip))
    ordered = conn.execute(
        f"SELECT id FROM messages WHERE session_pk = ? AND superseded IS NULL "
        f"AND id NOT IN ({marks}) {ORDER}",
        (pk, *skip),
    ).fetchall()
    for i, (rid,) in enumerate(ordered):  # row by row: both backends run it
        conn.execute("UPDATE messages SET place = ? WHERE id = ?", (float(i), rid))
