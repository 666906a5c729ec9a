"""pandas DataFrame and Series summaries: exact cheap statistics plus a seeded sample.

Design note: this module is imported only when an object's type comes from pandas, so
importing jupychat never imports pandas. Per column we compute exactly only what is
vectorised and O(n) with no hashing: null counts, numeric min/max/mean, datetime
ranges, category level counts (a ``bincount`` of the codes) and bool shares. Quantiles,
distinct counts (GEE estimate), top values, string lengths and example rows come from
one uniform random sample of row positions (``numpy.random.default_rng(seed)``), taken
per column with ``Series.take``, so an unchanged frame is described identically on every
turn and no column is ever copied whole. Columns are addressed by position, so
duplicate labels and MultiIndex columns need no special casing. Nothing here calls
``describe()``, ``nunique()``, ``memory_usage(deep=True)`` on the whole frame, or infers
datetimes from strings.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._lazy import LazyModule
from ._sampling import sample_positions
from .frame_fingerprint import LABEL_SEP as _LABEL_SEP
from .frame_fingerprint import column_label as _label
from .frame_fingerprint import fingerprint

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from pandas.api import types as ptypes
else:  # imported on first use, i.e. when a pandas object is described
    np = LazyModule("numpy")
    pd = LazyModule("pandas")
    ptypes = LazyModule("pandas.api.types")
from ._fmt import SUMMARY_DIGITS, fmt_int, fmt_num, fmt_pct, fmt_value, short
from ._frame_stats import (
    ISO_LIKE,
    arrow_string_nulls,
    count_values,
    datetime_min_max,
    drop_listed,
    exact_int_counts,
    int_quantiles,
    min_max_mean,
    sorted_quantiles,
    strictly_increasing,
    string_nulls,
    top_positions,
    valid_int_values,
    whole_floats,
)
from ._pandas_text import (
    dtype_label,
    index_labels,
    index_lines,
    is_obj_like,
    memory_bits,
    str_lengths,
    ts_text,
    type_path,
)
from .pii_values import personal_values
from .summary import (
    ColumnInfo,
    FrameAdapter,
    distinct_info,
    quantile_stats,
    show_top,
    top_text,
)

__all__ = ["PandasAdapter", "fingerprint"]


class PandasAdapter(FrameAdapter):
    """Lazy per-column statistics of a pandas DataFrame or Series."""

    compact_no_nulls = True

    def __init__(
        self,
        obj: Any,
        memo: dict[str, Any],
        sample_size: int,
        seed: int,
        exact_cells: int = 1_000_000,
    ) -> None:
        super().__init__(memo)
        self.obj = obj
        self.series = isinstance(obj, pd.Series)
        self.n_rows = len(obj)
        if self.series:
            self.labels = [_label(obj.name) if obj.name is not None else "(values)"]
            self.dtypes = [dtype_label(obj.dtype)]
            self.kind = "pandas.Series" + (
                f" {short(repr(obj.name), 40)}" if obj.name is not None else ""
            )
        else:
            if "labels" not in memo:
                memo["labels"] = [_label(c) for c in obj.columns]
                memo["dtypes"] = [dtype_label(t) for t in obj.dtypes]
            self.labels = memo["labels"]
            self.dtypes = memo["dtypes"]
            self.kind = type_path(obj)
        self.sample_size = sample_size
        self.seed = seed
        cells = self.n_rows * max(1, len(self.labels))
        self.sampled = self.n_rows > sample_size and cells > exact_cells
        self.sample_n = sample_size if self.sampled else self.n_rows

    # -- basics --------------------------------------------------------------------------
    def is_series(self) -> bool:
        return self.series

    def col(self, i: int) -> pd.Series:
        if self.series:
            return self.obj
        return self.obj.iloc[:, i]

    def sample_positions(self) -> np.ndarray | None:
        """Sorted positions of the sampled rows (``None``: every row)."""
        if not self.sampled:
            return None
        if "sample" not in self.memo:
            self.memo["sample"] = sample_positions(self.n_rows, self.sample_size, self.seed)
        return self.memo["sample"]

    def sample_of(self, s: pd.Series) -> pd.Series:
        idx = self.sample_positions()
        return s if idx is None else s.take(idx)

    def title_bits(self) -> list[str]:
        if "title_bits" not in self.memo:
            self.memo["title_bits"] = memory_bits(self.obj, self.series, self.n_rows)
        return self.memo["title_bits"]

    def row_labels(self) -> tuple[str, list[Any]] | None:
        return index_labels(self.obj.index)

    def extra_lines(self) -> list[str]:
        if "extra_lines" in self.memo:
            return self.memo["extra_lines"]
        lines: list[str] = []
        try:
            lines.extend(index_lines(self.obj.index, "index"))
            if not self.series:
                cols = self.obj.columns
                if isinstance(cols, pd.MultiIndex):
                    names = ", ".join(str(n) for n in cols.names)
                    lines.append(
                        f"columns: MultiIndex with {cols.nlevels} levels ({names}); "
                        f"labels below join the levels with '{_LABEL_SEP}'."
                    )
                dup = self._duplicate_rows()
                if dup is not None:
                    lines.append(
                        f"{fmt_int(dup)} duplicate row{'s' if dup != 1 else ''}"
                        if dup
                        else "no duplicate rows"
                    )
                if not cols.is_unique:
                    counts = Counter(self.labels)
                    dups = [f"{short(k, 30)} (×{v})" for k, v in counts.most_common(5) if v > 1]
                    lines.append(
                        "duplicate column labels: "
                        + ", ".join(dups)
                        + ("; address them by position" if dups else "")
                    )
        except Exception:
            pass
        self.memo["extra_lines"] = lines
        return lines

    def nulls_many(self, cols: Sequence[int]) -> list[int | None]:
        """Null counts of many columns, counted in blocks of ≤ 4M cells (wide frames)."""
        cache = self.memo["nulls"]
        todo = [i for i in cols if i not in cache]
        if len(todo) > 8 and not self.series:
            step = max(1, 4_000_000 // max(1, self.n_rows))
            try:
                for start in range(0, len(todo), step):
                    part = todo[start : start + step]
                    counts = self.obj.iloc[:, part].isna().sum(axis=0).to_numpy()
                    for i, c in zip(part, counts, strict=True):
                        cache[i] = int(c)
            except Exception:
                pass
        return [self.nulls(i) for i in cols]

    def _duplicate_rows(self) -> int | None:
        """Exact count of rows equal to an earlier row, when the frame is read whole.

        A frame wider than 100 columns is not hashed row by row (5,000 × 800: ~150 ms);
        it has no duplicate rows for certain when one of its first columns is a key
        (no nulls, every value distinct), which costs one column's ``nunique``.
        """
        if self.sampled or self.n_rows < 2 or not self.labels:
            return None
        try:
            if len(self.labels) <= 100:
                return int(self.obj.duplicated().sum())
            for i in range(min(5, len(self.labels))):
                s = self.col(i)
                if self.nulls(i) == 0 and s.nunique(dropna=False) == self.n_rows:
                    return 0
        except Exception:  # unhashable cells
            return None
        return None

    def _var_label(self, i: int) -> str:
        """A variable label: ``Series.attrs["label"]`` or the frame's ``column_labels``."""
        attrs = getattr(self.obj, "attrs", None) or {}
        if self.series:
            label = attrs.get("label")
            return str(label) if isinstance(label, str) else ""
        for key in ("column_labels", "variable_labels", "labels"):
            mapping = attrs.get(key)
            if isinstance(mapping, dict):
                col = self.obj.columns[i]
                label = mapping.get(col, mapping.get(self.labels[i]))
                if isinstance(label, str):
                    return label
        return ""

    # -- exact null counts ---------------------------------------------------------------
    def _nulls(self, i: int) -> int | None:
        s = self.col(i)
        dtype = s.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "iubSU":
            return 0
        if isinstance(dtype, pd.CategoricalDtype):
            return int((s.cat.codes.to_numpy() == -1).sum())
        if isinstance(dtype, np.dtype) and dtype.kind == "f":
            return int(np.count_nonzero(np.isnan(s.to_numpy())))
        fast = string_nulls(s)
        if fast is None:
            fast = arrow_string_nulls(s)
        if fast is None and (
            getattr(dtype, "kind", "") == "M" or isinstance(dtype, pd.DatetimeTZDtype)
        ):
            raw = getattr(s.array, "asi8", None)  # int64 view; NaT is the smallest int64
            if isinstance(raw, np.ndarray):
                fast = int(np.count_nonzero(raw == np.iinfo(np.int64).min))
        if fast is not None:
            return fast
        return int(s.isna().sum())

    # -- per-column summaries ------------------------------------------------------------
    def _column(self, i: int) -> ColumnInfo:
        s = self.col(i)
        dtype = s.dtype
        info = ColumnInfo(self.labels[i], dtype_label(dtype), nulls=self.nulls(i))
        info.var_label = self._var_label(i)
        nonnull = self.n_rows - (info.nulls or 0)
        if self.n_rows == 0 or nonnull == 0:
            return info
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            if isinstance(dtype, pd.CategoricalDtype):
                self._categorical(s, info, nonnull)
            elif ptypes.is_bool_dtype(dtype):
                self._boolean(s, info, nonnull)
            elif getattr(dtype, "kind", "") == "M" or isinstance(dtype, pd.DatetimeTZDtype):
                self._datetime(s, info, nonnull)
            elif getattr(dtype, "kind", "") == "m":
                self._timedelta(s, info)
            elif (
                ptypes.is_numeric_dtype(dtype)
                and getattr(dtype, "kind", "") != "c"
                and not isinstance(dtype, pd.SparseDtype)
            ):
                self._numeric(s, info, nonnull)
            elif is_obj_like(dtype):
                self._objects(s, info, nonnull)
            else:
                self._generic(s, info, nonnull)
        return info

    def _distinct(
        self,
        info: ColumnInfo,
        counted: tuple[list[tuple[Any, int]], np.ndarray] | None,
        n_sample: int,
        nonnull: int,
        id_hint: bool,
        *,
        upper: int | None = None,
        top: bool = True,
        exact: bool | None = None,
    ) -> bool:
        """Add distinct-count text, flags and top values; True when high-cardinality.

        ``exact``: the counts cover every non-null value (default: the frame is read
        whole). A high-cardinality column still shows a value that dominates it.
        """
        if counted is None:
            return False
        pairs, counts = counted
        sampled = self.sampled if exact is None else not exact
        d = len(counts)
        f1 = int((counts == 1).sum())
        f2 = int((counts == 2).sum())
        stats, flags, id_like = distinct_info(
            d,
            f1,
            n_sample,
            nonnull,
            sampled,
            label=info.label,
            id_hint=id_hint,
            f2=f2,
            upper=upper,
        )
        info.shape_stats.extend(stats)
        info.flags.extend(flags)
        high = id_like or any(f.startswith(("high-cardinality", "all distinct")) for f in flags)
        if not top or not pairs or (not sampled and pairs[0][1] < 2):
            return high  # every value once: no mode, and shares of 1/n say nothing
        k = d if d <= 8 else 3  # a short list in full, else the head of a long one
        if not high and not sampled and d <= k:  # every value with its share
            listed = top_text(pairs, n_sample, False, more=0, k=len(pairs))
            info.top = "values: " + listed[len("top: ") :]
            info.shape_stats = [x for x in info.shape_stats if not x.endswith(" distinct")]
        elif not high and show_top(d, [c for _, c in pairs[:1]], n_sample):
            info.top = top_text(pairs[:k], n_sample, sampled, more=d - k, k=k)
        elif pairs[0][1] >= max(2, (0.05 if high else 0.005 if sampled else 0) * n_sample) and (
            len(pairs) < 2 or pairs[0][1] > pairs[1][1]  # a tie names no mode
        ):
            # a dominant value in a high-cardinality column, or the most common of many
            big = [(v, c) for v, c in pairs if c >= max(2, 0.01 * n_sample)][:3] or pairs[:1]
            info.top = top_text(big, n_sample, sampled, more=d - len(big))
        elif not high and not sampled and len(pairs) > 1 and pairs[0][1] == pairs[1][1] >= 2:
            # the most common values are tied
            tied = sum(1 for _, c in pairs if c == pairs[0][1])
            mark = "≈" if sampled else " "
            info.top = (
                f"top share{mark}{fmt_pct(pairs[0][1], n_sample)} "
                f"(tied: {tied}{'+' if tied == len(pairs) else ''} values)"
            )
        return high

    def _numeric(self, s: pd.Series, info: ColumnInfo, nonnull: int) -> None:
        dtype = s.dtype
        is_int = ptypes.is_integer_dtype(dtype)
        full = valid_int_values(s) if is_int else None
        if full is not None:  # one pass for the valid values of a masked column
            if not len(full):
                return
            mn, mx, mean = full.min(), full.max(), float(full.mean(dtype=np.float64))
        else:
            mn, mx, mean = min_max_mean(s)
        if mn is None:
            return
        if mn == mx:
            info.value_stats = [f"constant {fmt_num(mn, sep=not is_int)}"]
            return

        whole = is_int or whole_floats(s, self.sample_of(s))

        def fmt(x: Any) -> str:
            return fmt_value(x, whole)

        def fmt_mean(x: Any) -> str:  # summaries, not values: 3 significant digits
            return fmt_num(x, sig=SUMMARY_DIGITS, sep=False)

        # quartiles of whole numbers are exact in full (1965.75, not 1966: years, counts)
        fmt_q = fmt if whole else fmt_mean

        increasing = full is not None and info.nulls == 0 and strictly_increasing(full)
        if increasing and full is not None:  # a key: every value distinct, already sorted
            q = sorted_quantiles(full, (0.25, 0.5, 0.75))
            stats = [f"min {fmt(mn)}", *quantile_stats(q, False, fmt_q)]
            info.value_stats = [*stats, f"max {fmt(mx)}", f"mean {fmt_mean(mean)}"]
            info.flags += [
                "id-like (all distinct)" if len(full) >= 20 else "all distinct",
                "sorted ascending",
            ]
            return
        counts = exact_int_counts(full, mn, mx) if full is not None else None
        if counts is not None and full is not None:  # every value counted: exact at any size
            q = int_quantiles(counts, mn, (0.25, 0.5, 0.75))
            stats = [f"min {fmt(mn)}", *quantile_stats(q, False, fmt_q)]
            stats += [f"max {fmt(mx)}", f"mean {fmt_mean(mean)}"]
            info.value_stats = stats
            present = np.flatnonzero(counts)
            order = top_positions(counts[present], 8)
            pairs = [(int(mn) + int(present[j]), int(counts[present[j]])) for j in order]
            self._distinct(
                info,
                (pairs, counts[present]),
                len(full),
                nonnull,
                id_hint=False,
                top=len(present) <= 8,
                exact=True,
            )
            drop_listed(info)
            return
        sample = self.sample_of(s)
        vals = sample.to_numpy(dtype="float64", na_value=np.nan)
        vals = vals[~np.isnan(vals)]
        stats = [f"min {fmt(mn)}"]
        if len(vals):
            q = np.quantile(vals, [0.25, 0.5, 0.75])
            stats += quantile_stats(list(q), self.sampled, fmt_q)
        stats += [f"max {fmt(mx)}", f"mean {fmt_mean(mean)}"]
        if np.isinf(float(mn)) or np.isinf(float(mx)):
            info.flags.append("contains ±inf")
        info.value_stats = stats
        if not len(vals):
            return
        counted = count_values(vals)
        d = len(counted[1]) if counted else 0
        upper = None
        monotonic = False
        if is_int:
            try:
                upper = int(mx) - int(mn) + 1
            except (TypeError, ValueError, OverflowError):
                upper = None
            if info.nulls == 0 and d > 0.95 * len(vals):
                try:
                    monotonic = bool(s.is_monotonic_increasing)
                except Exception:
                    monotonic = False
        self._distinct(
            info, counted, len(vals), nonnull, id_hint=monotonic, upper=upper, top=d <= 8
        )
        if monotonic:
            info.flags.append("sorted ascending")
        if whole and not is_int:
            info.flags.append("integer-valued")
        if not self.sampled:
            drop_listed(info)

    def _categorical(self, s: pd.Series, info: ColumnInfo, nonnull: int) -> None:
        categories = s.cat.categories
        codes = s.cat.codes.to_numpy()
        counts = np.bincount(codes.astype(np.int64) + 1, minlength=len(categories) + 1)[1:]
        used = int((counts > 0).sum())
        unused = len(categories) - used
        if unused:
            info.shape_stats.append(f"{fmt_int(unused)} unused levels")
        order = np.argsort(-counts, kind="stable")[:5]
        pairs = [(categories[j], int(counts[j])) for j in order if counts[j] > 0]
        text = top_text(pairs, nonnull, False, more=used - len(pairs))
        info.top = text.replace("top: ", "levels: ", 1)
        if s.cat.ordered and used:
            present = np.flatnonzero(counts)
            info.value_stats = [
                f"min {short(str(categories[present[0]]), 24)}",
                f"max {short(str(categories[present[-1]]), 24)}",
            ]

    def _boolean(self, s: pd.Series, info: ColumnInfo, nonnull: int) -> None:
        data, mask = getattr(s.array, "_data", None), getattr(s.array, "_mask", None)
        if isinstance(s.dtype, np.dtype):
            true = int(np.count_nonzero(s.to_numpy()))
        elif isinstance(data, np.ndarray) and isinstance(mask, np.ndarray):
            true = int(np.count_nonzero(data & ~mask))  # masked values count as false
        else:
            true = int(s.sum())
        info.value_stats = [
            f"true {fmt_pct(true, nonnull)}",
            f"false {fmt_pct(nonnull - true, nonnull)}",
        ]
        if true in (0, nonnull):
            info.flags.append("constant")

    def _datetime(self, s: pd.Series, info: ColumnInfo, nonnull: int) -> None:
        mn, mx = datetime_min_max(s)
        sample = self.sample_of(s).dropna()
        tz = getattr(sample.dt, "tz", None)
        # wall-clock values as int64 nanoseconds (tz-aware: local time, as shown)
        naive = sample.dt.tz_localize(None) if tz is not None else sample
        ints = naive.to_numpy(dtype="datetime64[ns]").view(np.int64)
        date_only = False
        try:
            tsmin, tsmax = pd.Timestamp(mn), pd.Timestamp(mx)
            if tsmin == tsmin.normalize() and tsmax == tsmax.normalize() and len(ints):
                date_only = bool((ints % 86_400_000_000_000 == 0).all())
        except Exception:
            date_only = False
        stats = [f"{ts_text(mn, date_only)} … {ts_text(mx, date_only)}"]
        if len(ints) > 2:
            med = np.quantile(ints, 0.5)  # linear, as pandas' median
            mark = "≈" if self.sampled else " "
            stats.append(f"p50{mark}{ts_text(pd.Timestamp(round(float(med))), date_only)}")
        info.value_stats = stats
        if len(ints):
            self._distinct(info, count_values(ints), len(ints), nonnull, id_hint=False, top=False)
            info.flags = [
                f
                for f in info.flags
                if not f.startswith(("id-like", "high-cardinality", "all distinct"))
            ]
        if info.nulls == 0:
            try:
                if s.is_monotonic_increasing:
                    raw = getattr(s.array, "asi8", None)  # int64 view, no copy
                    if raw is None:
                        raw = s.to_numpy(dtype="datetime64[ns]").view(np.int64)
                    if strictly_increasing(raw):
                        info.flags.append("unique, sorted ascending (a key)")
                        info.shape_stats = [x for x in info.shape_stats if "distinct" not in x]
                    else:
                        info.flags.append("sorted ascending")
                elif (
                    not self.sampled and len(ints) == nonnull and len(set(ints.tolist())) == nonnull
                ):
                    info.flags.append("all distinct (a key)")
            except Exception:
                pass

    def _timedelta(self, s: pd.Series, info: ColumnInfo) -> None:
        mn, mx, mean = s.min(), s.max(), s.mean()
        info.value_stats = [
            f"min {short(str(mn), 30)}",
            f"max {short(str(mx), 30)}",
            f"mean {short(str(mean), 30)}",
        ]

    def _objects(self, s: pd.Series, info: ColumnInfo, nonnull: int) -> None:
        sample = self.sample_of(s).dropna()
        n = len(sample)
        if n == 0:
            return
        mark = "≈" if self.sampled else " "
        typed = isinstance(s.dtype, pd.StringDtype) or getattr(s.dtype, "pyarrow_dtype", None)
        spread = sample.iloc[:: max(1, n // 200)].iloc[:200].to_numpy(dtype=object)
        lengths: np.ndarray | None = None
        if typed:
            sized = True
            lengths = sample.str.len().to_numpy(dtype="int64", na_value=0)
        else:
            values = sample.to_numpy(dtype=object)
            types = Counter(type(v).__name__ for v in values)
            sized = set(types) <= {"str", "bytes"}
            if set(types) != {"str"}:
                listed = ", ".join(
                    f"{short(t, 20)} {fmt_pct(c, n)}" for t, c in types.most_common(4)
                )
                info.shape_stats.append(
                    f"types{mark.strip()}: {listed}" + (", …" if len(types) > 4 else "")
                )
                if len(types) > 1:
                    info.flags.append("mixed types")
            if sized:
                lengths = str_lengths(values)
        info.personal = personal_values(spread)
        if sized and lengths is not None and len(lengths):
            lo, hi = int(lengths.min()), int(lengths.max())
            info.shape_stats.append(f"len{mark}{lo}" if lo == hi else f"len{mark}{lo}–{hi}")
            self._date_strings(spread, sample, info)
        self._distinct(info, count_values(sample), n, nonnull, id_hint=False)
        if info.top:  # values are shown: their lengths add little
            info.shape_stats = [x for x in info.shape_stats if not x.startswith(("len", "1 "))]

    def _date_strings(self, spread: np.ndarray, sample: pd.Series, info: ColumnInfo) -> None:
        """ISO-like date text sorts chronologically: its range is its min … max."""
        looked = [v for v in spread if isinstance(v, str)]
        if len(looked) < 2 or not all(ISO_LIKE.fullmatch(v) for v in looked):
            return
        try:
            lo, hi = sample.min(), sample.max()
        except TypeError:
            return
        if not (ISO_LIKE.fullmatch(str(lo)) and ISO_LIKE.fullmatch(str(hi))):
            return
        prefix = "range≈ " if self.sampled else ""
        info.value_stats.append(f"{prefix}{short(str(lo), 32)} … {short(str(hi), 32)}")

    def _generic(self, s: pd.Series, info: ColumnInfo, nonnull: int) -> None:
        sample = self.sample_of(s).dropna()
        if len(sample):
            self._distinct(
                info,
                count_values(sample.to_numpy(dtype=object)),
                len(sample),
                nonnull,
                id_hint=False,
            )

    # -- rows ----------------------------------------------------------------------------
    def _rows(self, k: int, cols: Sequence[int], all_rows: bool) -> list[list[Any]]:
        if all_rows:
            positions = np.arange(self.n_rows)
        else:
            pool = self.sample_positions()
            if pool is None:
                pool = np.arange(self.n_rows)
            rng = np.random.default_rng(self.seed + 1)
            pick = rng.choice(len(pool), size=min(k, len(pool)), replace=False)
            positions = np.sort(pool[pick])
        columns = [self.col(i).take(positions).tolist() for i in cols]
        return [list(row) for row in zip(*columns, strict=False)]
