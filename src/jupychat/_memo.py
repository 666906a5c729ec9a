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
    """A value computed over a list, remembered for the last list it was computed over.

    Each turn walks the whole history again, which has only grown since the last turn;
    and walking it touches every message, which costs ~1 us each once the stream has
    pushed them out of the CPU's caches. A list that starts with the remembered one
    (a list comparison: identical items are equal without being looked at) resumes from
    the remembered value and reads only what follows. Only for values that follow from
    the items' values (equal items give an equal value) and ``extra`` (compared by
    identity). One list, replaced whole: another thread sees the old one or the new one.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[list[Any], Any, T | None] = ([], None, None)

    def resume(self, items: list[Any], extra: Any = None) -> tuple[T | None, int]:
        """``(value, n)``: the value remembered for ``items[:n]``, or ``(None, 0)``."""
        known, known_extra, value = self._last
        n = len(known)
        if value is None or known_extra is not extra or n > len(items):
            return None, 0
        try:
            same = items[:n] == known
        except Exception:  # an item whose comparison fails: not the same list
            same = False
        return (value, n) if same else (None, 0)

    def filtered(self: PrefixMemo[tuple[Any, ...]], items: list[Any], wanted: Any) -> list[Any]:
        """The items ``wanted(item)`` keeps, in order (a new list), resumed from the last
        list's when ``items`` starts with it."""
        known, start = self.resume(items)
        out = list(known or ())
        out += [item for item in items[start:] if wanted(item)]
        self.keep(items, tuple(out))
        return out

    def keep(self, items: list[Any], value: T, extra: Any = None) -> None:
        """Remember ``value`` for a copy of ``items`` (the caller may change its list)."""
        self._last = (list(items), extra, value)

    def clear(self) -> None:
        self._last = ([], None, None)
