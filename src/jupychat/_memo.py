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

__all__ = ["IdentityMemo"]

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
        if len(self._memo) >= self._limit:
            self._memo.clear()
        self._memo[key] = (obj, value)
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
