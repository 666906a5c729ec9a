"""The fingerprint cache: computed statistics survive between turns, frames do not.

Design note: entries map a cheap fingerprint (type, ``id``, shape, dtypes, labels and a
hash of a fixed handful of rows; see ``frames.fingerprint``) plus the sampling settings
to a plain dict of computed statistics. The cache never holds the described object, so
deleting a 2 GB frame frees it; an object whose id is reused by a different object gets
a different fingerprint unless shape, dtypes, labels and the sampled rows all match, in
which case the cached statistics describe it as well as a fresh scan of the same sample
would. It is a small LRU (64 entries), guarded by a lock for the panel's worker threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["cache_info", "clear_cache", "memo_for"]

MAX_ENTRIES = 64
_entries: OrderedDict[Hashable, dict[str, Any]] = OrderedDict()
_lock = threading.Lock()
_stats = {"hits": 0, "misses": 0}


def memo_for(key: Hashable) -> dict[str, Any]:
    """The memo dict for ``key`` (created empty on a miss)."""
    with _lock:
        memo = _entries.get(key)
        if memo is not None:
            _entries.move_to_end(key)
            _stats["hits"] += 1
            return memo
        _stats["misses"] += 1
        memo = {}
        _entries[key] = memo
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
        return memo


def clear_cache() -> None:
    """Forget every cached statistic (the next description recomputes)."""
    with _lock:
        _entries.clear()
        _stats["hits"] = 0
        _stats["misses"] = 0


def cache_info() -> dict[str, int]:
    """``{"entries": n, "hits": n, "misses": n}``."""
    with _lock:
        return {"entries": len(_entries), **_stats}
