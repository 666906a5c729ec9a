"""pandas wording shared by the summary: dtype labels, timestamps, index lines, size.

Design note: pure functions of a pandas object or dtype, moved out of :mod:`.frames`
(which computes the column statistics) so each module keeps one job. pandas and numpy
are imported lazily, as in :mod:`.frames`.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ._fmt import fmt_bytes, fmt_num, short
from ._lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from pandas.api import types as ptypes
else:
    np = LazyModule("numpy")
    pd = LazyModule("pandas")
    ptypes = LazyModule("pandas.api.types")

__all__ = [
    "dtype_label",
    "index_labels",
    "index_lines",
    "is_obj_like",
    "memory_bits",
    "str_lengths",
    "ts_text",
    "type_path",
]


_LEN: Any = None


def str_lengths(values: np.ndarray) -> np.ndarray:
    global _LEN
    if _LEN is None:
        _LEN = np.frompyfunc(len, 1, 1)
    return _LEN(values).astype(np.int64)


# pandas' own aliases of its default numeric dtypes (``astype("float")`` is float64):
# the bit width of the default adds nothing and costs two tokens on every numeric row.
_DEFAULT_ALIASES = {"float64": "float", "int64": "int"}


def dtype_label(dtype: Any) -> str:
    """``float`` (float64), ``int`` (int64), ``category[5]``, ``datetime64[us, UTC]``..."""
    if isinstance(dtype, pd.CategoricalDtype):
        try:
            n = len(dtype.categories)
        except Exception:
            return "category"
        return f"category[{n}{', ordered' if dtype.ordered else ''}]"
    text = str(dtype)
    return _DEFAULT_ALIASES.get(text, text)


def is_obj_like(dtype: Any) -> bool:
    if isinstance(dtype, pd.StringDtype):
        return True
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        return True
    pa_type = getattr(dtype, "pyarrow_dtype", None)
    return pa_type is not None and ("string" in str(pa_type) or "utf8" in str(pa_type))


def ts_text(value: Any, date_only: bool) -> str:
    if value is None or value is pd.NaT:
        return "NaT"
    try:
        ts = pd.Timestamp(value)
        if date_only:
            return ts.strftime("%Y-%m-%d")
        text = ts.isoformat(sep=" ", timespec="seconds")
        return text[:19]
    except Exception:
        return short(str(value), 30)


def index_labels(index: Any) -> tuple[str, list[Any]] | None:
    """(name, every row's label) of an index other than 0..n-1 (a MultiIndex's levels
    joined with " / "); ``None`` for the default one."""
    if _default_index(index):
        return None
    if isinstance(index, pd.MultiIndex):
        name = " / ".join(str(n) for n in index.names)
        return name, [" / ".join(str(v) for v in key) for key in index.tolist()]
    return str(index.name) if index.name is not None else "(index)", index.tolist()


def _default_index(index: Any) -> bool:
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def index_lines(index: Any, what: str) -> list[str]:
    if _default_index(index):
        return []
    name_part = ""
    if isinstance(index, pd.MultiIndex):
        names = ", ".join(str(n) for n in index.names)
        return [f"{what}: MultiIndex with {index.nlevels} levels ({names})"]
    if index.name is not None:
        name_part = f" {short(repr(index.name), 30)}"
    text = f"{what}: {type(index).__name__}{name_part} ({dtype_label(index.dtype)})"
    numeric = ptypes.is_numeric_dtype(index.dtype) and not ptypes.is_bool_dtype(index.dtype)
    if len(index) and (isinstance(index, (pd.DatetimeIndex, pd.RangeIndex)) or numeric):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mn, mx = index.min(), index.max()
            if isinstance(index, pd.DatetimeIndex):
                text += f", {ts_text(mn, False)} … {ts_text(mx, False)}"
            else:
                text += f", {fmt_num(mn)} … {fmt_num(mx)}"
        except Exception:
            pass
    return [text]


def type_path(obj: Any) -> str:
    cls = type(obj)
    if cls is pd.DataFrame:
        return "pandas.DataFrame"
    if cls is pd.Series:
        return "pandas.Series"
    return f"{cls.__module__}.{cls.__qualname__}"


def memory_bits(obj: Any, series: bool, n_rows: int) -> list[str]:
    """The title's size of a frame of 1 MB or more (string contents estimated)."""
    bits: list[str] = []
    try:
        shallow = float(
            obj.memory_usage(index=True, deep=False)
            if series
            else obj.memory_usage(index=True, deep=False).sum()
        )
        obj_cols = (
            ([0] if is_obj_like(obj.dtype) else [])
            if series
            else [i for i, t in enumerate(obj.dtypes) if is_obj_like(t)]
        )
        extra = 0.0
        step = 1
        if obj_cols and n_rows and len(obj_cols) <= 200:
            step = max(1, n_rows // 2000)
            for i in obj_cols:
                s = (obj if series else obj.iloc[:, i]).iloc[::step]
                deep = float(s.memory_usage(index=False, deep=True))
                flat = float(s.memory_usage(index=False, deep=False))
                extra += (deep - flat) * n_rows / max(1, len(s))
        if shallow + extra < 1e6:  # a small frame's size decides nothing
            pass
        elif extra > 0.01 * shallow:
            mark = "~" if step == 1 else "≈"
            bits.append(
                f"~{fmt_bytes(shallow)} shallow, {mark}{fmt_bytes(shallow + extra)} "
                "with string contents"
            )
        else:
            bits.append(f"~{fmt_bytes(shallow)}")
    except Exception:
        pass
    return bits
