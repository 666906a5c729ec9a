"""Where a new turn goes in a session's history, and what its request may see.

Design note: by default a turn is appended, and ``replace`` (a predicate on user
messages) drops the earlier turns it matches. A notebook needs more: a re-run cell's
turn keeps its place, and a cell's question sees only what is above it. ``place`` says
where the turn goes: it is called as ``place(turns, old)`` with the history grouped by
turn (:func:`jupychat._sessionstats.group_turns`, the replaced turns already taken out)
and ``old``, the index at which the first replaced turn stood (``None`` when nothing
was replaced), and returns the index of the turn the new one goes before
(``len(turns)``: the end). The request then carries the turns above that index only;
on commit the turns below it follow the new turn, unchanged. A leading group of system
messages always stays first. The rule that picks the place lives with the caller (for
notebook cells: :mod:`jupychat.notebook.order`); this module only cuts and joins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ._memo import PrefixMemo
from .errors import ChatError
from .types import Message

__all__ = ["Place", "Replace", "after_turn", "split_history"]

Replace = Callable[[Message], bool]
Place = Callable[[list[list[Message]], "int | None"], int]


def split_history(
    history: Sequence[Message], replace: Replace | None, place: Place | None
) -> tuple[list[Message], list[Message], int]:
    """``(above, below, replaced)``: the history the request carries, the history that
    follows the new turn, and how many turns the new one replaces."""
    items = history if type(history) is list else list(history)
    kept: list[list[Message]] = []
    old: int | None = None
    replaced = 0
    for group in _turns(items):
        if replace is not None and group[0].role == "user" and replace(group[0]):
            replaced += 1
            if old is None:
                old = len(kept)
        else:
            kept.append(group)
    index = len(kept)
    if place is not None:
        lead = 1 if kept and kept[0][0].role != "user" else 0
        where = place(kept, old)
        if not isinstance(where, int) or isinstance(where, bool):
            raise ChatError(
                f"place= must return the index of a turn (an int), not {type(where).__name__}"
            )
        index = max(lead, min(len(kept), where))
    if not replaced and index == len(kept):  # the common turn: appended, nothing replaced
        return list(items), [], 0
    above = [m for group in kept[:index] for m in group]
    below = [m for group in kept[index:] for m in group]
    return above, below, replaced


def _turns(history: list[Message]) -> list[list[Message]]:
    """``history`` grouped by turn, as :func:`jupychat._sessionstats.group_turns` groups
    it (new lists), from where each group starts: remembered for the last histories
    (:class:`~jupychat._memo.PrefixMemo`), so a turn looks only at the messages added
    since the last one (each cell placed its turn by walking the whole history)."""
    known, start = _STARTS.resume(history)
    starts = list(known or ())
    for i in range(start, len(history)):
        if not starts or history[i].role == "user":
            starts.append(i)
    _STARTS.keep(history, tuple(starts))
    ends = [*starts[1:], len(history)] if starts else []
    return [history[a:b] for a, b in zip(starts, ends, strict=True)]


#: where each turn of a history starts (indices: equal histories group alike, whatever
#: objects hold them); two slots: a notebook's cell and its replay may look at two lists
_STARTS: PrefixMemo[tuple[int, ...]] = PrefixMemo(slots=2)


def after_turn(user: Message) -> Place:
    """A ``place`` right below the turn that ``user`` (a user message in history)
    starts; the end when that turn is no longer there."""

    def place(turns: list[list[Message]], old: int | None) -> int:
        found = next((i for i, group in enumerate(turns) if group[0] is user), None)
        return len(turns) if found is None else found + 1

    return place
