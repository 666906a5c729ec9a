"""polars DataFrame/Series summaries (native expressions), LazyFrame schemas.

Design note: imported only when an object's type comes from polars. The same
:class:`~.summary.FrameAdapter` contract as pandas: exact null counts (polars stores
them), min/max/mean, temporal ranges, categorical level counts and bool shares; the
rest from one seeded sample of row positions taken with ``Series.gather``. Floats keep
NaN apart from null as polars does (NaN shares are reported; a mean over NaN is taken
from the sample). A ``LazyFrame`` is described by its schema only
(``collect_schema()``): it is never collected.
"""

from __future__ import annotations

import hashlib
import random
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._lazy import LazyModule

if TYPE_CHECKING:
    import polars as pl
else:  # imported on first use, i.e. when a polars object is described
    pl = LazyModule("polars")

from ._fmt import fmt_bytes, fmt_int, fmt_num, fmt_pct, md_escape, short
from .budget import cap_text, chars_for_tokens
from .cache import memo_for
from .pii_values import personal_values
from .privacy import column_excluded
from .request import Request
from .summary import (
    ColumnInfo,
    FrameAdapter,
    distinct_info,
    quantile_stats,
    render_frame,
    show_top,
    top_text,
)

__all__ = ["PolarsAdapter", "describe_polars", "describe_polars_lazy"]


def dtype_label(dtype: Any) -> str:
    """Short polars dtype text (``datetime[us, UTC]`` rather than the long repr)."""
    try:
        if isinstance(dtype, pl.Datetime):
            tz = f", {dtype.time_zone}" if dtype.time_zone else ""
            return f"datetime[{dtype.time_unit}{tz}]"
        if isinstance(dtype, pl.Duration):
            return f"duration[{dtype.time_unit}]"
        if isinstance(dtype, pl.Enum):
            return f"Enum[{len(dtype.categories)}]"
    except Exception:
        pass
    return short(str(dtype), 40)


def _positions(n: int, k: int, seed: int) -> list[int]:
    try:
        import numpy  # noqa: F401  (polars does not require numpy)

        from ._sampling import sample_positions

        return sample_positions(n, k, seed).tolist()
    except ImportError:  # polars does not require numpy
        return sorted(random.Random(seed).sample(range(n), k))


class PolarsAdapter(FrameAdapter):
    """Lazy per-column statistics of a polars DataFrame or Series."""

    def __init__(self, obj: Any, memo: dict[str, Any], sample_size: int, seed: int) -> None:
        super().__init__(memo)
        self.series = isinstance(obj, pl.Series)
        self.frame = obj.to_frame() if self.series else obj
        self.obj = obj
        self.n_rows = self.frame.height
        self.labels = list(self.frame.columns)
        self.dtypes = [dtype_label(t) for t in self.frame.dtypes]
        self.kind = (
            ("polars.Series " + repr(short(obj.name, 40))) if self.series else "polars.DataFrame"
        )
        self.seed = seed
        self.sample_size = sample_size
        self.sampled = self.n_rows > sample_size
        self.sample_n = min(self.n_rows, sample_size)

    def is_series(self) -> bool:
        return self.series

    def col(self, i: int) -> pl.Series:
        return self.frame.to_series(i)

    def positions(self) -> list[int] | None:
        if not self.sampled:
            return None
        if "sample" not in self.memo:
            self.memo["sample"] = _positions(self.n_rows, self.sample_size, self.seed)
        return self.memo["sample"]

    def sample_of(self, s: pl.Series) -> pl.Series:
        pos = self.positions()
        return s if pos is None else s.gather(pos)

    def title_bits(self) -> list[str]:
        try:
            return [f"~{fmt_bytes(self.frame.estimated_size())}"]
        except Exception:
            return []

    def _nulls(self, i: int) -> int | None:
        return int(self.col(i).null_count())

    def _column(self, i: int) -> ColumnInfo:
        s = self.col(i)
        dtype = s.dtype
        info = ColumnInfo(self.labels[i], self.dtypes[i], nulls=self.nulls(i))
        nonnull = self.n_rows - (info.nulls or 0)
        if nonnull == 0:
            return info
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dtype == pl.Boolean:
                true = int(s.sum())
                info.value_stats = [
                    f"true {fmt_pct(true, nonnull)}",
                    f"false {fmt_pct(nonnull - true, nonnull)}",
                ]
            elif isinstance(dtype, (pl.Categorical, pl.Enum)):
                self._categorical(s, info, nonnull)
            elif dtype.is_numeric() and not isinstance(dtype, pl.Decimal):
                self._numeric(s, info, nonnull)
            elif dtype.is_temporal():
                self._temporal(s, info, nonnull)
            elif dtype in (pl.String, pl.Binary):
                self._strings(s, info, nonnull)
            else:
                self._generic(s, info, nonnull)
        return info

    def _distinct(
        self, info: ColumnInfo, sample: pl.Series, nonnull: int, id_hint: bool, top: bool = True
    ) -> bool:
        try:
            vc = sample.value_counts(sort=True)
        except Exception:
            return False
        counts = vc.get_column(vc.columns[-1]).to_list()
        values = vc.get_column(vc.columns[0]).to_list()
        d = len(counts)
        f1 = sum(1 for c in counts if c == 1)
        stats, flags, id_like = distinct_info(
            d, f1, len(sample), nonnull, self.sampled, label=info.label, id_hint=id_hint
        )
        info.shape_stats.extend(stats)
        info.flags.extend(flags)
        high = id_like or any(f.startswith(("high-cardinality", "all distinct")) for f in flags)
        if top and not high and show_top(d, counts[:1], len(sample)):
            pairs = list(zip(values[:5], counts[:5], strict=False))
            info.top = top_text(pairs, len(sample), self.sampled, more=d - len(pairs))
        return high

    def _numeric(self, s: pl.Series, info: ColumnInfo, nonnull: int) -> None:
        is_float = s.dtype.is_float()
        nans = int(s.is_nan().sum()) if is_float else 0
        mn, mx = s.min(), s.max()
        sample = self.sample_of(s).drop_nulls()
        if is_float:
            sample = sample.filter(~sample.is_nan())
        if nans:
            mean = sample.mean()
            mean_text = f"mean≈ {fmt_num(mean)}" if mean is not None else ""
            info.shape_stats.append(f"NaN {fmt_int(nans)} ({fmt_pct(nans, self.n_rows)})")
        else:
            mean_text = f"mean {fmt_num(s.mean())}"
        if mn is None:
            return
        if mn == mx:
            info.value_stats = [f"constant {fmt_num(mn)}"]
            return
        stats = [f"min {fmt_num(mn)}"]
        vals = sample.cast(pl.Float64).to_list()
        if vals:
            vals.sort()
            q = [_nearest_quantile(vals, p) for p in (0.25, 0.5, 0.75)]
            stats += quantile_stats(q, self.sampled)
        stats += [f"max {fmt_num(mx)}"] + ([mean_text] if mean_text else [])
        info.value_stats = stats
        if not len(sample):
            return
        if s.dtype.is_integer():
            monotonic = False
            if info.nulls == 0:
                try:
                    monotonic = bool(s.is_sorted())
                except Exception:
                    monotonic = False
            n_unique = sample.n_unique()
            self._distinct(info, sample, nonnull, id_hint=monotonic, top=n_unique <= 10)
            if monotonic:
                info.flags.append("sorted ascending")
        elif sample.n_unique() <= 10:
            self._distinct(info, sample, nonnull, id_hint=False)

    def _categorical(self, s: pl.Series, info: ColumnInfo, nonnull: int) -> None:
        vc = s.drop_nulls().value_counts(sort=True)
        values = vc.get_column(vc.columns[0]).to_list()
        counts = vc.get_column(vc.columns[-1]).to_list()
        # an Enum lists its levels; a Categorical's level set is global and open-ended
        categories = s.dtype.categories if isinstance(s.dtype, pl.Enum) else None
        n_levels = len(categories) if categories is not None else len(values)
        if categories is not None and len(values) < n_levels:
            info.shape_stats.append(f"{fmt_int(n_levels - len(values))} unused levels")
        pairs = list(zip(values[:5], counts[:5], strict=False))
        text = top_text(pairs, nonnull, False, more=len(values) - len(pairs))
        info.top = text.replace("top: ", "levels: ", 1)

    def _temporal(self, s: pl.Series, info: ColumnInfo, nonnull: int) -> None:
        mn, mx = s.min(), s.max()
        info.value_stats = [f"{_t(mn)} … {_t(mx)}"]
        sample = self.sample_of(s).drop_nulls()
        if len(sample):
            self._distinct(info, sample, nonnull, id_hint=True, top=False)
            info.flags = [
                f
                for f in info.flags
                if not f.startswith(("id-like", "high-cardinality", "all distinct"))
            ]
        if info.nulls == 0:
            try:
                if s.is_sorted():
                    info.flags.append("sorted ascending")
            except Exception:
                pass

    def _strings(self, s: pl.Series, info: ColumnInfo, nonnull: int) -> None:
        sample = self.sample_of(s).drop_nulls()
        if not len(sample):
            return
        lengths = sample.str.len_chars() if s.dtype == pl.String else sample.bin.size()
        lo, hi = lengths.min(), lengths.max()
        mark = "≈" if self.sampled else " "
        info.shape_stats.append(f"len{mark}{lo!s}" if lo == hi else f"len{mark}{lo!s}–{hi!s}")
        if s.dtype == pl.String:  # the value shapes of personal data, as for pandas
            info.personal = personal_values(
                sample.gather_every(max(1, len(sample) // 200)).head(200).to_list()
            )
        self._distinct(info, sample, nonnull, id_hint=False)

    def _generic(self, s: pl.Series, info: ColumnInfo, nonnull: int) -> None:
        sample = self.sample_of(s).drop_nulls()
        if len(sample):
            self._distinct(info, sample, nonnull, id_hint=False)

    def _rows(self, k: int, cols: Sequence[int], all_rows: bool) -> list[list[Any]]:
        if all_rows:
            positions = list(range(self.n_rows))
        else:
            pool = self.positions() or list(range(self.n_rows))
            pick = sorted(random.Random(self.seed + 1).sample(range(len(pool)), min(k, len(pool))))
            positions = [pool[p] for p in pick]
        columns = [self.col(i).gather(positions).to_list() for i in cols]
        return [list(r) for r in zip(*columns, strict=False)]


def _nearest_quantile(sorted_vals: list[float], p: float) -> float:
    return sorted_vals[min(len(sorted_vals) - 1, round(p * (len(sorted_vals) - 1)))]


def _t(value: Any) -> str:
    if value is None:
        return "null"
    text = str(value)
    return short(text[:19] if len(text) > 19 and text[10:11] in (" ", "T") else text, 30)


def fingerprint(obj: Any) -> tuple[Any, ...]:
    """id, shape, schema and a hash of a fixed set of rows (see ``frames.fingerprint``)."""
    frame = obj.to_frame() if isinstance(obj, pl.Series) else obj
    n = frame.height
    h = hashlib.blake2b(digest_size=16)
    schema = tuple((c, str(t)) for c, t in frame.schema.items())
    if n:
        k = max(8, min(64, 8192 // max(1, frame.width)))
        step = max(1, (n - 1) // max(1, k - 1))
        positions = sorted({*list(range(0, n, step))[:k], n - 1})
        sub = frame[positions]
        try:
            h.update(str(sub.hash_rows(seed=0).to_list()).encode())
        except Exception:
            from .saferepr import bounded_repr

            for row in sub.rows():
                h.update(bounded_repr(row, 2000).encode("utf-8", "replace"))
    return ("polars", type(obj).__name__, id(obj), n, frame.width, schema, h.hexdigest())


def describe_polars(obj: Any, req: Request) -> str:
    """Describe a polars DataFrame or Series."""
    s = req.settings
    memo = memo_for((fingerprint(obj), s.sample_size, s.seed))
    adapter = PolarsAdapter(obj, memo, s.sample_size, s.seed)
    settings = s.with_(private_columns=(*s.private_columns, "*")) if req.private else s
    return render_frame(adapter, req.name, settings, req.budget, req.focus)


def describe_polars_lazy(obj: Any, req: Request) -> str:
    """Describe a LazyFrame by its schema only (it is never collected)."""
    try:
        schema = obj.collect_schema()
    except AttributeError:  # older polars
        schema = obj.schema
    who = f"`{req.name}`: " if req.name else ""
    names = [c for c in schema if not column_excluded(req.name, c, req.settings)]
    lines = [
        f"### {who}polars.LazyFrame (not collected: row count and values unknown), "
        f"{fmt_int(len(names))} columns",
        "| column | dtype |",
        "|---|---|",
    ]
    limit = chars_for_tokens(req.budget) - 200
    used = sum(len(x) + 1 for x in lines)
    shown = 0
    for c in names:
        row = f"| {md_escape(short(c, 40))} | {md_escape(dtype_label(schema[c]))} |"
        if used + len(row) + 1 > limit:
            break
        lines.append(row)
        used += len(row) + 1
        shown += 1
    if shown < len(names):
        rest = ", ".join(short(c, 40) for c in names[shown : shown + 20])
        lines.append(f"… {fmt_int(len(names) - shown)} more columns: {rest}, …")
    return cap_text("\n".join(lines), req.budget)
