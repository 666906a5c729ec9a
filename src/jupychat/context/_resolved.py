"""Settings resolved through the config chain, remembered while their sources are unchanged.

Design note: :func:`jupychat.config.resolve` reads the ``%config`` overrides, the
environment and the config file every time (~7 µs a name), and a chat turn resolves the
same dozen context settings several times. A resolved value depends on nothing else (the
defaults are constants), so a value made from those sources is reused while the overrides,
the environment (its raw dict compared to a copy, nothing decoded; the config file's path
follows from it) and the file's modification time (looked up once per turn, within
``config.settled``) all compare equal: one check costs ~3 µs. What is remembered
must be immutable (frozen settings), since every caller gets the same object.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from jupychat import config

__all__ = ["remembered"]

T = TypeVar("T")
_LIMIT = 32
_memo: dict[Hashable, tuple[tuple[Any, ...], Any, Any]] = {}  # key -> (state, held, value)
_lock = threading.Lock()


def _state() -> tuple[Any, ...]:
    # a deep copy: a list set by %config and changed in place afterwards is a change
    return (dict(config.raw_environ()), copy.deepcopy(config._overrides), config.file_mtime())


def _unchanged(state: tuple[Any, ...]) -> bool:
    env, overrides, mtime = state
    # the config file's path follows from the environment alone: unchanged with it; its
    # modification time is looked up once per turn (config.settled)
    return (
        config.raw_environ() == env
        and config._overrides == overrides
        and config.file_mtime() == mtime
    )


def remembered(key: Hashable, make: Callable[[], T], held: Any = None) -> T:
    """``make()``, made again only once the overrides, environment or config file changed.

    Parameters
    ----------
    key:
        What is being resolved (e.g. ``"context"``, or ``("cells", id(base))``).
    make:
        Resolves the value through :func:`jupychat.config.resolve`; an error it raises
        is not remembered.
    held:
        An object the value was made from and that ``key`` names by id: it is kept
        alive with the entry, and a different object under the same id is a miss.
    """
    hit = _memo.get(key)
    if hit is not None and hit[1] is held and _unchanged(hit[0]):
        return hit[2]
    state = _state()  # taken first: a change while making is seen next time
    value = make()
    with _lock:
        if len(_memo) >= _LIMIT:
            _memo.clear()
        _memo[key] = (state, held, value)
    return value
