"""A cheap key for a pandas DataFrame or Series that changes when it visibly changes.

Design note: descriptions are cached (:mod:`.cache`) by this key, so an unchanged 1M-row
frame costs a fingerprint, not a description. The key is the object's id, shape, dtypes,
labels, index type and a hash of a fixed set of up to 64 rows spread evenly (first and
last included); an in-place edit of a row outside that set is not seen, and
``clear_cache()`` forces a fresh description. pandas and numpy load on first use.

The sampled rows are read afresh every time (that is what notices an in-place edit); the
parts that cannot change in place are remembered by object: the text of a numpy dtype
(``str(dtype)`` is slow Python in numpy) and the hash of a column Index's labels (pandas
Index objects are immutable; renaming columns makes a new one).
"""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING, Any

from ._lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:  # imported on first use, i.e. when a pandas object is described
    np = LazyModule("numpy")
    pd = LazyModule("pandas")

__all__ = ["LABEL_SEP", "column_label", "fingerprint"]

LABEL_SEP = " / "


def column_label(col: Any) -> str:
    """A column label as text (MultiIndex tuples joined with ``LABEL_SEP``)."""
    return LABEL_SEP.join(str(c) for c in col) if isinstance(col, tuple) else str(col)


_MEMO_LIMIT = 256
_dtype_names: dict[int, tuple[Any, str]] = {}  # id -> (the dtype, kept alive; its text)
_label_hashes: dict[int, tuple[Any, bytes]] = {}  # id -> (the column Index; its labels' hash)


def _remembered(memo: dict[int, tuple[Any, Any]], obj: Any, make: Any) -> Any:
    """``make(obj)``, remembered for this very object (held, so its id is not reused)."""
    hit = memo.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    value = make(obj)
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[id(obj)] = (obj, value)
    return value


def _dtype_text(dtype: Any) -> str:
    if isinstance(dtype, np.dtype):  # immutable; pandas' own dtypes may hold data: not kept
        return str(_remembered(_dtype_names, dtype, str))
    return str(dtype)


def _labels_hash(columns: Any) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for c in columns:
        h.update(column_label(c).encode("utf-8", "replace")[:200])
        h.update(b"\x1f")
    return h.digest()


def _hash_values(h: Any, values: np.ndarray) -> None:
    if values.dtype.kind in "biufcmM":
        h.update(str(values.dtype).encode())
        h.update(np.ascontiguousarray(values).tobytes())
        return
    from .saferepr import bounded_repr

    for v in values.ravel():
        if v is None:
            h.update(b"\x00N")
            continue
        try:
            if v != v:  # NaN-likes: hash(nan) is identity-based
                h.update(b"\x00nan")
                continue
        except Exception:
            pass
        try:
            h.update(hash(v).to_bytes(8, "little", signed=True))
        except TypeError:
            h.update(bounded_repr(v, 200).encode("utf-8", "replace"))


@functools.lru_cache(maxsize=64)
def _spread(n: int, k: int) -> Any:
    """Up to ``k`` distinct positions spread evenly over ``range(n)``, first and last included
    (sorted already, so duplicates are dropped by comparing neighbours, not by a sort).
    Remembered per ``(n, k)``: the same frame is fingerprinted every turn; read-only."""
    positions = np.linspace(0, n - 1, num=min(n, k)).astype(np.int64)
    spread = positions[np.concatenate(([True], positions[1:] != positions[:-1]))]
    spread.flags.writeable = False
    return spread


def fingerprint(obj: Any) -> tuple[Any, ...]:
    """A cheap key that changes when the frame visibly changes.

    id, shape, dtypes, labels, index type, and a hash of a fixed set of up to 64 rows
    (positions spread evenly, first and last included). An in-place edit of a row not in
    that set is not seen; ``clear_cache()`` forces a fresh description.
    """
    n = len(obj)
    series = isinstance(obj, pd.Series)
    h = hashlib.blake2b(digest_size=16)
    if series:
        dtypes: tuple[str, ...] = (str(obj.dtype),)
        h.update(repr(obj.name).encode("utf-8", "replace")[:200])
        ncols = 1
    else:
        dtypes = tuple(_dtype_text(t) for t in obj.dtypes)
        ncols = obj.shape[1]
        columns = obj.columns
        if isinstance(columns, pd.Index):
            h.update(_remembered(_label_hashes, columns, _labels_hash))
        else:
            h.update(_labels_hash(columns))
    rows = max(8, min(64, 8192 // max(1, ncols)))
    if n:
        sub = obj.iloc[_spread(n, rows)]
        if not series and ncols > 512:
            sub = sub.iloc[:, _spread(ncols, 512)]
        try:
            _hash_values(h, np.asarray(sub.to_numpy()))
        except Exception:
            h.update(b"?")
        try:
            _hash_values(h, np.asarray(sub.index.to_numpy()))
        except Exception:
            h.update(b"?")
    return (
        type(obj).__qualname__,
        id(obj),
        n,
        ncols,
        dtypes,
        type(obj.index).__name__,
        h.hexdigest(),
    )
