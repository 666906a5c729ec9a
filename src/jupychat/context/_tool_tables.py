"""Exact tables of the data tools: one column in full, value counts, rows.

Design note: the implementations behind :class:`.datatools.DataTools`'s
``describe_column``, ``value_counts`` and ``get_rows`` for in-memory pandas and polars
objects (imported lazily, only for such objects), moved out of :mod:`.datatools` so the
tool surface (privacy, refusals, budgets) and the table-making each keep one module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._fmt import cell, counts_table, fmt_int, fmt_num, fmt_pct, md_escape, short
from .privacy import WITHHELD

__all__ = [
    "_column_as_pandas_like",
    "_exact_column",
    "_is_pandas_series",
    "_is_polars",
    "_lengths",
    "_positions",
    "_rows_table",
    "_top_counts",
    "_value_counts",
]


def _is_polars(obj: Any) -> bool:
    return (type(obj).__module__ or "").startswith("polars")


def _is_pandas_series(obj: Any) -> bool:
    return (type(obj).__module__ or "").startswith("pandas") and type(obj).__name__ == "Series"


def _positions(length: int, n: int, order: str, seed: int) -> list[int]:
    n = min(n, length)
    if order == "head":
        return list(range(n))
    if order == "tail":
        return list(range(length - n, length))
    import random

    return sorted(random.Random(seed).sample(range(length), n))


def _column_as_pandas_like(obj: Any, pos: int) -> Any:
    if _is_polars(obj):
        return obj if type(obj).__name__ == "Series" else obj.to_series(pos)
    if _is_pandas_series(obj):
        return obj
    return obj.iloc[:, pos]


def _exact_column(
    var: str, label: str, s: Any, private: bool, values: str, top_k: int, bins: int
) -> str:
    import numpy as np

    polars = _is_polars(s)
    n = len(s)
    nulls = int(s.null_count()) if polars else int(s.isna().sum())
    dtype = str(s.dtype)
    lines = [
        f"### `{var}`[{label!r}]: {dtype}, {fmt_int(n)} rows (exact, whole column)",
        f"nulls: {fmt_int(nulls)} ({fmt_pct(nulls, n)})",
    ]
    if values == "schema" or n == nulls:
        return "\n".join(lines)
    try:
        distinct = int(s.drop_nulls().n_unique()) if polars else int(s.nunique(dropna=True))
        lines.append(f"distinct: {fmt_int(distinct)}")
    except Exception:
        distinct = -1
        lines.append("distinct: not countable (unhashable values)")
    if polars:
        numeric = s.dtype.is_numeric()
        vals = s.drop_nulls().cast(float).to_numpy() if numeric else None
    else:
        from pandas.api import types as ptypes

        numeric = ptypes.is_numeric_dtype(s.dtype) and not ptypes.is_bool_dtype(s.dtype)
        vals = s.to_numpy(dtype="float64", na_value=np.nan) if numeric else None
    if vals is not None:
        vals = vals[np.isfinite(vals)]
    if private:
        lines.append("values withheld (privacy): no quantiles, histogram or top values")
        if not numeric:
            lengths = _lengths(s, polars)
            if lengths:
                lines.append(lengths)
        return "\n".join(lines)
    if vals is not None and len(vals):
        qs = np.quantile(vals, [0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1])
        names = ["min", "p1", "p5", "p25", "p50", "p75", "p95", "p99", "max"]
        lines.append(", ".join(f"{k} {fmt_num(v)}" for k, v in zip(names, qs, strict=False)))
        lines.append(f"mean {fmt_num(vals.mean())}, std {fmt_num(vals.std())}")
        if distinct > bins:
            counts, edges = np.histogram(vals, bins=bins)
            lines.append(f"histogram ({bins} bins, finite values):")
            for i, c in enumerate(counts):
                close = "]" if i == bins - 1 else ")"
                lines.append(
                    f"  [{fmt_num(edges[i])}, {fmt_num(edges[i + 1])}{close}: {fmt_int(c)}"
                )
    else:
        try:
            mn, mx = s.min(), s.max()
            if mn is not None and not isinstance(mn, (str, bytes)):
                lines.append(f"range: {cell(mn, 40)} … {cell(mx, 40)}")
        except Exception:
            pass
        lengths = _lengths(s, polars)
        if lengths:
            lines.append(lengths)
    if values == "full" and top_k and distinct == n - nulls:
        lines.append("every non-null value is distinct (no top values)")
    elif values == "full" and top_k and distinct != -1:
        lines.append(f"top {top_k} values (count, share of non-null):")
        nonnull = n - nulls
        for value, count in _top_counts(s, polars, top_k):
            lines.append(f"  {cell(value, 60)}: {fmt_int(count)} ({fmt_pct(count, nonnull)})")
    return "\n".join(lines)


def _lengths(s: Any, polars: bool) -> str:
    try:
        if polars:
            if str(s.dtype) not in ("String", "Utf8"):
                return ""
            lens = s.drop_nulls().str.len_chars()
            return f"length: min {lens.min()}, mean {fmt_num(lens.mean())}, max {lens.max()}"
        nonnull = s.dropna()
        if not len(nonnull) or not isinstance(nonnull.iloc[0], str):
            return ""
        lens = nonnull.astype(str).str.len()
        return f"length: min {lens.min()}, mean {fmt_num(lens.mean())}, max {lens.max()}"
    except Exception:
        return ""


def _top_counts(s: Any, polars: bool, k: int) -> list[tuple[Any, int]]:
    if polars:
        vc = s.drop_nulls().value_counts(sort=True).head(k)
        return list(
            zip(
                vc.get_column(vc.columns[0]).to_list(),
                vc.get_column(vc.columns[-1]).to_list(),
                strict=False,
            )
        )
    vc = s.value_counts(dropna=True).head(k)
    return list(zip(vc.index.tolist(), vc.to_numpy().tolist(), strict=False))


def _value_counts(obj: Any, positions: list[int], labels: list[str], top_k: int) -> str:
    if _is_polars(obj):
        import polars as pl

        frame = obj.to_frame() if type(obj).__name__ == "Series" else obj
        names = [frame.columns[p] for p in positions]
        counted = (
            frame.select(names)
            .group_by(names)
            .agg(pl.len().alias("__n"))
            .sort("__n", descending=True)
        )
        total = frame.height
        rows = [(r[:-1], r[-1]) for r in counted.head(top_k).rows()]
        groups = counted.height
    else:
        frame = obj.to_frame() if _is_pandas_series(obj) else obj
        sub = frame.iloc[:, positions]
        vc = sub.value_counts(dropna=False, sort=True)
        total = len(frame)
        groups = len(vc)
        rows = [
            (k if isinstance(k, tuple) else (k,), int(c))
            for k, c in zip(vc.index[:top_k], vc.to_numpy()[:top_k], strict=False)
        ]
    return counts_table(labels, rows, groups, total)


def _rows_table(
    var: str,
    obj: Any,
    positions: list[int],
    labels: list[str],
    n: int,
    order: str,
    seed: int,
    private: Callable[[str], bool],
) -> str:
    length = obj.height if _is_polars(obj) and hasattr(obj, "height") else len(obj)
    picks = _positions(length, n, order, seed)
    cols = positions[:40]
    header = ["(row)", *[md_escape(short(labels[p], 40)) for p in cols]]
    lines = [
        f"`{var}`: {len(picks)} of {fmt_int(length)} rows ({order})"
        + (f"; first 40 of {len(positions)} columns" if len(positions) > 40 else ""),
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    columns = []
    for p in cols:
        if private(labels[p]):
            columns.append([WITHHELD] * len(picks))
            continue
        series = _column_as_pandas_like(obj, p)
        if _is_polars(series):
            columns.append([cell(v, 40) for v in series.gather(picks).to_list()])
        else:
            columns.append([cell(v, 40) for v in series.iloc[picks].tolist()])
    if _is_polars(obj):
        index = [str(p) for p in picks]
    else:
        index = [cell(v, 30) for v in obj.index[picks].tolist()]
    for r, label in enumerate(index):
        lines.append("| " + " | ".join([label, *[c[r] for c in columns]]) + " |")
    return "\n".join(lines)
