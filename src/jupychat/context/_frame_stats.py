"""Vectorised exact statistics for one pandas column, bounded in time and memory.

Design note: the summary is honest only if what it calls exact is exact, and cheap only
if exactness costs little. An integer column whose range is at most a few times its
length is counted whole with one ``numpy.bincount`` (a 5,000,000-row ``user_id`` in
1…200,000 takes ~15 ms): distinct count, top values and linear quantiles (pandas'
definition) come from the counts, exactly, whatever the frame's size. Other columns are
counted with pandas' hash-based ``value_counts`` on the sample (which is every row when
the frame is read whole). Checks over a whole float column (integer-valued?) run in
fixed-size chunks so they never copy the column.
"""

from __future__ import annotations

import ctypes
import re
import sys
from typing import TYPE_CHECKING, Any

from ._lazy import LazyModule
from .summary import ColumnInfo

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = LazyModule("numpy")
    pd = LazyModule("pandas")

__all__ = [
    "ISO_LIKE",
    "arrow_string_nulls",
    "count_values",
    "datetime_min_max",
    "drop_listed",
    "exact_int_counts",
    "int_quantiles",
    "integer_valued",
    "min_max_mean",
    "sorted_quantiles",
    "strictly_increasing",
    "string_nulls",
    "top_positions",
    "valid_int_values",
    "whole_floats",
]

# ISO 8601-like dates/times as text: these sort chronologically as strings.
ISO_LIKE = re.compile(
    r"\d{4}-\d{2}(?:-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?"
)
MAX_BINS = 1 << 23
CHUNK = 1 << 18


def count_values(values: Any, k: int = 8) -> tuple[list[tuple[Any, int]], Any] | None:
    """(top ``k`` (value, count) pairs by count, every count) or None if unhashable.

    Ties keep first-seen order, like ``collections.Counter.most_common``.
    """
    try:
        vc = pd.Series(values, copy=False).value_counts(sort=False, dropna=True)
    except TypeError:
        return None
    counts = vc.to_numpy(dtype=np.int64)
    if not len(counts):
        return [], counts
    kk = min(k, len(counts))
    top = np.argpartition(-counts, kk - 1)[:kk] if len(counts) > kk else np.arange(len(counts))
    top = top[np.lexsort((top, -counts[top]))]
    keys = vc.index
    pairs = []
    for j in top:
        key = keys[j]
        pairs.append((key.item() if hasattr(key, "item") else key, int(counts[j])))
    return pairs, counts


def top_positions(counts: Any, k: int) -> Any:
    """Positions of the ``k`` largest counts, larger first, ties by position.

    Same order as ``np.lexsort((positions, -counts))[:k]`` but sorts only the
    candidates at or above the ``k``-th largest count (a 50,000-value bincount: ~0.3 ms
    instead of ~3 ms).
    """
    n = len(counts)
    if n > 4 * k:
        kth = np.partition(counts, n - k)[n - k]
        cand = np.flatnonzero(counts >= kth)
    else:
        cand = np.arange(n)
    return cand[np.lexsort((cand, -counts[cand]))][:k]


def exact_int_counts(values: Any, mn: int, mx: int) -> Any | None:
    """``bincount`` of an integer array's values minus ``mn`` (None when too wide)."""
    try:
        width = int(mx) - int(mn) + 1
    except (TypeError, ValueError, OverflowError):
        return None
    if width <= 0 or width > MAX_BINS or width > 4 * len(values) + 1024:
        return None
    if values.dtype.kind == "u" and values.dtype.itemsize == 8 and int(mx) >= 2**63:
        return None
    if int(mn) >= 0 and int(mx) < MAX_BINS:  # no shifted copy needed
        return np.bincount(values, minlength=int(mx) + 1)[int(mn) :]
    shifted = np.subtract(values, np.int64(mn), dtype=np.int64)
    return np.bincount(shifted, minlength=width)


def sorted_quantiles(arr: Any, qs: tuple[float, ...]) -> list[float]:
    """Linear-interpolated quantiles (pandas' default) of an already sorted array."""
    n = len(arr)
    out = []
    for q in qs:
        h = (n - 1) * q
        lo = int(np.floor(h))
        hi = min(lo + 1, n - 1)
        out.append(float(arr[lo]) + (h - lo) * (float(arr[hi]) - float(arr[lo])))
    return out


def int_quantiles(counts: Any, mn: int, qs: tuple[float, ...]) -> list[float]:
    """Linear-interpolated quantiles (pandas' default) from a ``bincount``."""
    cum = np.cumsum(counts)
    n = int(cum[-1])
    out = []
    for q in qs:
        h = (n - 1) * q
        lo = int(np.floor(h))
        frac = h - lo
        v_lo = int(np.searchsorted(cum, lo, side="right"))
        v_hi = int(np.searchsorted(cum, min(lo + 1, n - 1), side="right"))
        out.append(int(mn) + v_lo + frac * (v_hi - v_lo))
    return out


def integer_valued(arr: Any) -> bool:
    """Whether every non-NaN, finite value of a float array is a whole number."""
    for start in range(0, len(arr), CHUNK):
        part = arr[start : start + CHUNK]
        part = part[np.isfinite(part)]
        if len(part) and not bool((part == np.floor(part)).all()):
            return False
    return True


def strictly_increasing(arr: Any) -> bool:
    """Whether a 1-D numeric array strictly increases (so every value is distinct)."""
    for start in range(0, max(0, len(arr) - 1), CHUNK):
        part = arr[start : start + CHUNK + 1]
        if not bool((part[1:] > part[:-1]).all()):
            return False
    return True


def string_nulls(s: pd.Series) -> int | None:
    """Exact nulls of a python-storage string column without touching every string.

    pandas keeps one canonical missing value (``dtype.na_value``) in these arrays, so we
    count the stored pointers equal to it (CPython: ``id`` is the address) instead of
    dereferencing a million scattered objects (~1 ms instead of ~20 ms per million).
    Returns None to fall back to ``isna()`` when the layout is not that one, or when a
    check on the first 4,096 values disagrees with ``isna()``.
    """
    dtype = s.dtype
    if not isinstance(dtype, pd.StringDtype) or dtype.storage != "python":
        return None
    if sys.implementation.name != "cpython" or np.dtype(np.intp).itemsize != 8:
        return None
    raw = getattr(s.array, "_ndarray", None)
    if not isinstance(raw, np.ndarray) or raw.dtype != object or raw.ndim != 1:
        return None
    if not raw.flags.c_contiguous or len(raw) == 0:
        return None
    na = dtype.na_value
    buffer = (ctypes.c_uint64 * len(raw)).from_address(raw.ctypes.data)
    pointers = np.frombuffer(memoryview(buffer), dtype=np.uint64)
    head = min(len(raw), 4096)
    if int((pointers[:head] == id(na)).sum()) != int(s.iloc[:head].isna().sum()):
        return None
    count = int((pointers == id(na)).sum())
    del pointers, buffer
    return count


def arrow_string_nulls(s: pd.Series) -> int | None:
    """Exact nulls of a pyarrow-backed string column: arrow keeps the count (O(1))."""
    dtype = s.dtype
    storage = getattr(dtype, "storage", None)
    pa_type = getattr(dtype, "pyarrow_dtype", None)
    if storage != "pyarrow" and "string" not in str(pa_type) and "utf8" not in str(pa_type):
        return None
    chunked = getattr(s.array, "_pa_array", None)
    count = getattr(chunked, "null_count", None)
    return int(count) if isinstance(count, int) else None


def datetime_min_max(s: pd.Series) -> tuple[Any, Any]:
    """Exact min and max of a datetime column (NaT skipped) from its int64 view.

    NaT is the smallest int64, so the max needs no mask, and ``raw - 1`` (wrapping)
    turns NaT into the largest value, so ``argmin`` of it finds the earliest real time
    without copying out the valid values. Falls back to pandas for other layouts.
    """
    raw = getattr(s.array, "asi8", None)
    if not isinstance(raw, np.ndarray) or raw.dtype != np.int64 or not len(raw):
        return s.min(), s.max()
    nat = np.iinfo(np.int64).min
    hi = int(raw.argmax())
    if raw[hi] == nat:  # every value is NaT
        return pd.NaT, pd.NaT
    with np.errstate(over="ignore"):
        lo = int(np.subtract(raw, 1, dtype=np.int64).argmin())
    return s.iloc[lo], s.iloc[hi]


def _float_mean(s: pd.Series, arr: np.ndarray) -> float:
    """``s.mean()``, exactly: pandas sums the float64 values (pairwise, as numpy does)
    and divides by the count, so a column whose sum is not NaN (no missing value) gets
    the same figure from one pass instead of pandas' mask, copy and sum (~4× the time)."""
    if arr.dtype == np.float64 and arr.ndim == 1:
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: pandas decides below
            total = arr.sum()
        if not np.isnan(total):
            return float(total / np.float64(len(arr)))
    return float(s.mean())


def min_max_mean(s: pd.Series) -> tuple[Any, Any, float]:
    """Exact min, max and mean, skipping missing values, without copying the column."""
    dtype = s.dtype
    if isinstance(dtype, np.dtype):
        arr = s.to_numpy()
        if not len(arr):
            return None, None, float("nan")
        if dtype.kind == "f":
            mn, mx = np.fmin.reduce(arr), np.fmax.reduce(arr)
            if np.isnan(mn):
                return None, None, float("nan")
            return mn, mx, _float_mean(s, arr)
        return arr.min(), arr.max(), float(arr.mean(dtype=np.float64))
    array = s.array
    data, mask = getattr(array, "_data", None), getattr(array, "_mask", None)
    if (
        isinstance(data, np.ndarray)
        and isinstance(mask, np.ndarray)
        and data.shape == mask.shape
        and data.dtype.kind in "iuf"
    ):
        # one column's valid values: a transient, bounded copy
        values = data if not mask.any() else data[~mask]
        if not len(values):
            return None, None, float("nan")
        if values.dtype.kind == "f":
            return np.fmin.reduce(values), np.fmax.reduce(values), float(np.nanmean(values))
        return values.min(), values.max(), float(values.mean(dtype=np.float64))
    return s.min(), s.max(), float(s.mean())


def valid_int_values(s: pd.Series) -> np.ndarray | None:
    """The non-null values of an integer column as a numpy array (no copy when possible)."""
    dtype = s.dtype
    if isinstance(dtype, np.dtype):
        return s.to_numpy() if dtype.kind in "iu" else None
    array = s.array
    data, mask = getattr(array, "_data", None), getattr(array, "_mask", None)
    if isinstance(data, np.ndarray) and isinstance(mask, np.ndarray) and data.dtype.kind in "iu":
        return data if not mask.any() else data[~mask]
    try:
        return s.dropna().to_numpy(dtype="int64")
    except Exception:
        return None


def drop_listed(info: ColumnInfo) -> None:
    """Every value is listed with its share: quartiles and 'integer-valued' add nothing."""
    if info.top and "…" not in info.top:
        info.value_stats = [x for x in info.value_stats if not x.startswith(("p25", "p75"))]
        info.flags = [f for f in info.flags if f != "integer-valued"]


def whole_floats(s: pd.Series, sample: pd.Series) -> bool:
    """Whether every value of a float column is a whole number (sample first, then all)."""
    arr = _float_array(s)
    if arr is None:
        return False
    head = _float_array(sample)
    return (head is None or integer_valued(head)) and integer_valued(arr)


def _float_array(s: pd.Series) -> np.ndarray | None:
    """A float column's values as a numpy array (NaN for missing) without a copy if numpy."""
    dtype = s.dtype
    if isinstance(dtype, np.dtype):
        return s.to_numpy() if dtype.kind == "f" else None
    array = s.array
    data, mask = getattr(array, "_data", None), getattr(array, "_mask", None)
    if isinstance(data, np.ndarray) and isinstance(mask, np.ndarray) and data.dtype.kind == "f":
        return data if not mask.any() else data[~mask]
    return None
