"""Seeded uniform samples of row (or element) positions, in O(k) memory.

Design note: ``Generator.choice(n, k, replace=False)`` materialises a permutation of
all ``n`` positions (64 MB for 8 million elements). For ``k`` much smaller than ``n`` we
draw with replacement, drop duplicates and top up, then thin uniformly to exactly
``k``: still a uniform random ``k``-subset, deterministic for a seed, and O(k) memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

__all__ = ["sample_positions"]


def sample_positions(n: int, k: int, seed: int) -> np.ndarray:
    """``k`` distinct sorted positions out of ``range(n)``, uniform, seeded."""
    rng = np.random.default_rng(seed)
    if k >= n:
        return np.arange(n)
    if k > n // 4:
        idx = rng.permutation(n)[:k]
    else:
        idx = np.unique(rng.integers(0, n, size=k + k // 8 + 16))
        while len(idx) < k:
            more = rng.integers(0, n, size=(k - len(idx)) * 2 + 16)
            idx = np.unique(np.concatenate([idx, more]))
        if len(idx) > k:
            idx = rng.choice(idx, size=k, replace=False)
    idx.sort()
    return idx
