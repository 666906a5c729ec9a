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

The rows are read straight from the frame's arrays (one numpy take per block of columns,
a ``take`` per extension array), not through ``obj.iloc``, which builds a whole frame for
64 rows (~0.3 ms on a 1M x 20 frame); the dtypes come from the same blocks, not from
``obj.dtypes`` (a new Series). A frame of more than 512 columns (only some are sampled)
or of a layout this does not know falls back to ``iloc``. The two paths hash the same
rows differently, but one frame always takes the same path; pandas regrouping a frame's
blocks in place (consolidation) changes the key once: a fresh description, same text.
"""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING, Any

from .._memo import IdentityMemo
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
_dtype_names: IdentityMemo[str] = IdentityMemo(_MEMO_LIMIT)  # a numpy dtype -> its text
_label_hashes: IdentityMemo[bytes] = IdentityMemo(_MEMO_LIMIT)  # column Index -> labels' hash


def _dtype_text(dtype: Any) -> str:
    import numpy as np  # loaded already (a frame exists); a plain import is ~4x faster here

    if isinstance(dtype, np.dtype):  # immutable; pandas' own dtypes may hold data: not kept
        return _dtype_names.get(dtype, str)
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


def _take(values: Any, positions: Any) -> Any:
    """``values`` at ``positions`` (a numpy array or a pandas extension array; on the last
    axis when 2-D: a block holds its columns as rows)."""
    return values[:, positions] if values.ndim == 2 else values.take(positions)


def _hash_sample(h: Any, dtype: str, values: np.ndarray) -> None:
    """Feed sampled values (numeric bytes, or each value) of one block to ``h``."""
    import numpy as np

    h.update(dtype.encode())
    if values.dtype.kind in "biufcmM":
        # Python's own 64-bit hash of the bytes: ~5x faster than blake2b over 10 KB, and
        # the key lives only in this process (its per-process seed does not matter)
        data = np.ascontiguousarray(values).tobytes()
        h.update(hash(data).to_bytes(8, "little", signed=True))
    else:
        _hash_values(h, values)
    h.update(b"\x1e")


def _sampled_fast(
    obj: Any, positions: Any, series: bool, ncols: int, h: Any
) -> tuple[str, ...] | None:
    """Hash the sampled rows into ``h`` block by block, read from the frame's own arrays;
    the dtype texts, or None (nothing hashed) when the frame is laid out otherwise.

    A frame's columns live in blocks (one 2-D array per run of columns of one dtype, one
    extension array per column of another kind); each block's column positions are
    hashed with its values, so moving data between columns changes the key.
    """
    import numpy as np
    import pandas as pd

    try:
        if series:
            blocks = [(_dtype_text(obj.dtype), obj._values, b"")]
            dtypes = [blocks[0][0]]
        else:
            mgr = obj._mgr
            numbers = mgr.blknos.tolist()  # column j lives in block numbers[j]
            if len(numbers) != ncols:
                return None
            blocks = [
                (_dtype_text(b.dtype), b.values, b.mgr_locs.as_array.tobytes()) for b in mgr.blocks
            ]
            dtypes = [blocks[b][0] for b in numbers]
        # every block read and made a numpy array before anything is hashed: a block
        # that cannot be (an odd extension array) sends the whole frame through iloc
        samples = [np.asarray(_take(values, positions)) for _, values, _ in blocks]
    except Exception:
        return None
    h.update(b"blocks")
    for (dtype, _, where), sample in zip(blocks, samples, strict=True):
        h.update(where)
        try:
            _hash_sample(h, dtype, sample)
        except Exception:
            h.update(b"?")
    index = obj.index
    if type(index) is pd.RangeIndex:  # its sampled labels follow from start and step
        h.update(repr((index.start, index.step)).encode())
    else:
        try:
            _hash_values(h, np.asarray(index.take(positions)))
        except Exception:
            h.update(b"?")
    return tuple(dtypes)


def _sampled_iloc(obj: Any, positions: Any, series: bool, ncols: int, h: Any) -> None:
    """Hash the sampled rows into ``h`` through ``obj.iloc`` (any frame or Series)."""
    sub = obj.iloc[positions]
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


FAST = True  # read the sampled rows from the frame's arrays (False: always through iloc)


def fingerprint(obj: Any) -> tuple[Any, ...]:
    """A cheap key that changes when the frame visibly changes.

    id, shape, dtypes, labels, index type, and a hash of a fixed set of up to 64 rows
    (positions spread evenly, first and last included). An in-place edit of a row not in
    that set is not seen; ``clear_cache()`` forces a fresh description.
    """
    import pandas as pd  # a frame exists: loaded already (cheaper than the lazy stand-in)

    n = len(obj)
    series = isinstance(obj, pd.Series)
    h = hashlib.blake2b(digest_size=16)
    if series:
        h.update(repr(obj.name).encode("utf-8", "replace")[:200])
        ncols = 1
    else:
        columns = obj.columns
        ncols = len(columns)
        if isinstance(columns, pd.Index):
            h.update(_label_hashes.get(columns, _labels_hash))
        else:
            h.update(_labels_hash(columns))
    rows = max(8, min(64, 8192 // max(1, ncols)))
    dtypes = None
    if n:
        positions = _spread(n, rows)
        if FAST and ncols <= 512:
            dtypes = _sampled_fast(obj, positions, series, ncols, h)
        if dtypes is None:
            _sampled_iloc(obj, positions, series, ncols, h)
    if dtypes is None:
        dtypes = (str(obj.dtype),) if series else tuple(_dtype_text(t) for t in obj.dtypes)
    return (
        type(obj).__qualname__,
        id(obj),
        n,
        ncols,
        dtypes,
        type(obj.index).__name__,
        h.hexdigest(),
    )
