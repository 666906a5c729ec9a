"""Values remembered per object, for per-turn work on objects a turn does not change.

Design note: every turn repeats some work on objects that outlive it: the messages of
the history (frozen), a tool's parameters mapping, a numpy dtype. :class:`IdentityMemo`
remembers ``make(obj)`` by the object's id and holds the object with the value, so the id
cannot be reused by another object while the entry lives; a full memo is emptied, not
evicted piece by piece (a turn's working set is far smaller than the limit). Only for
objects that are not changed in place, and values the callers do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["IdentityMemo", "PrefixMemo"]

T = TypeVar("T")


class IdentityMemo(Generic[T]):
    """``make(obj)`` remembered for this very object (and ``extra``, part of the key)."""

    __slots__ = ("_limit", "_memo")

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._memo: dict[Hashable, tuple[Any, T]] = {}

    def get(self, obj: Any, make: Callable[[Any], T], extra: Hashable = None) -> T:
        key = id(obj) if extra is None else (id(obj), extra)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is obj:
            return hit[1]
        value = make(obj)
        self.put(obj, value, extra)
        return value

    def find(self, obj: Any, extra: Hashable = None) -> T | None:
        """The value remembered for this very ``obj`` (and ``extra``), or None."""
        hit = self._memo.get(id(obj) if extra is None else (id(obj), extra))
        return hit[1] if hit is not None and hit[0] is obj else None

    def put(self, obj: Any, value: T, extra: Hashable = None) -> None:
        """Remember ``value`` for ``obj`` (and ``extra``): :meth:`get` in two steps, for
        callers that make the values of many objects at once."""
        if len(self._memo) >= self._limit:
            self._memo.clear()
        self._memo[id(obj) if extra is None else (id(obj), extra)] = (obj, value)

    def clear(self) -> None:
        self._memo.clear()

    def __len__(self) -> int:
        return len(self._memo)


class PrefixMemo(Generic[T]):
    """A value computed over a list, remembered for the last lists it was computed over.

    Each turn walks the whole history again, which has only grown since the last turn;
    and walking it touches every message, which costs ~1 us each once the stream has
    pushed them out of the CPU's caches. A list that starts with a remembered one (a list
    comparison: identical items are equal without being looked at) resumes from the
    remembered value and reads only what follows. Only for values that follow from the
    items' values (equal items give an equal value) and ``extra`` (compared by identity).

    ``slots`` lists are remembered, the newest first; one that is not asked about again
    falls out. A caller that walks several different lists each turn (compaction counts
    the whole conversation, then what it would send with a summary) needs one slot for
    each, or every walk would push out the list the next one resumes from. The entries
    are replaced whole: another thread sees the old ones or the new ones.
    """

    __slots__ = ("_entries", "_slots")

    def __init__(self, slots: int = 1) -> None:
        self._slots = max(1, slots)
        self._entries: tuple[tuple[list[Any], Any, T], ...] = ()

    def resume(self, items: list[Any], extra: Any = None) -> tuple[T | None, int]:
        """``(value, n)``: the value remembered for ``items[:n]``, the longest such prefix
        remembered, or ``(None, 0)``."""
        best: tuple[T | None, int] = (None, 0)
        size = len(items)
        for known, known_extra, value in self._entries:
            n = len(known)
            if known_extra is not extra or n > size or (best[0] is not None and n <= best[1]):
                continue
            if _same(items[:n], known):
                best = (value, n)
        return best

    def filtered(self: PrefixMemo[tuple[Any, ...]], items: list[Any], wanted: Any) -> list[Any]:
        """The items ``wanted(item)`` keeps, in order (a new list), resumed from the last
        list's when ``items`` starts with it."""
        known, start = self.resume(items)
        out = list(known or ())
        out += [item for item in items[start:] if wanted(item)]
        self.keep(items, tuple(out))
        return out

    def keep(self, items: list[Any], value: T, extra: Any = None) -> None:
        """Remember ``value`` for a copy of ``items`` (the caller may change its list), as
        the newest entry; an entry for an equal list (same ``extra``) is replaced."""
        copy = list(items)
        older = tuple(e for e in self._entries if not (e[1] is extra and _same(e[0], copy)))
        self._entries = ((copy, extra, value), *older[: self._slots - 1])

    def clear(self) -> None:
        self._entries = ()


def _same(items: list[Any], known: list[Any]) -> bool:
    """Equal lists; an item whose comparison fails makes them different."""
    try:
        return len(items) == len(known) and items == known
    except Exception:
        return False
