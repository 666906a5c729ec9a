"""The data tools (``describe_column``, ``value_counts``, ``get_rows``) as engine queries.

Design note: for a Spark, Dask, DuckDB, Ibis or polars-lazy handle the data tools must not
bring the data into the kernel either. Each tool is one or two engine queries whose
results are bounded by the tool's own caps (``top_k`` ≤ 50/100 groups, ``n`` ≤ 50 rows),
run with the same time budget and cancellation as a description (``settings.
engine_seconds``, :func:`.engine_frames.run_bounded`). ``describe_column`` is exact where
the engine makes it so (counts, distinct count, min/max/mean/std, top values) and says
so; its quantiles are exact in DuckDB and polars (linear, as pandas), and approximate,
marked ≈, in Dask (its partition-wise ``quantile``) and Spark (``percentile_approx`` at
accuracy 10,000). Privacy is
applied by the caller (:mod:`.datatools`) exactly as for pandas: private columns get no
values, excluded columns do not exist. ``get_rows(order="tail")`` is refused: an engine
table has no order unless a query gives it one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._fmt import cell, counts_table, fmt_int, fmt_num, fmt_pct, md_escape, short
from .engine_frames import EngineBackend, EngineTimeout, run_bounded

__all__ = [
    "backend_for",
    "engine_column",
    "engine_rows",
    "engine_rows_table",
    "engine_value_counts",
]

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def backend_for(obj: Any, engine: str) -> EngineBackend:
    """The describer backend of an engine handle (its queries and cancel)."""
    if engine == "duckdb":
        from .duckdb_frames import DuckDBBackend

        return DuckDBBackend(obj)
    if engine == "spark":
        from .spark_frames import SparkBackend

        return SparkBackend(obj)
    if engine == "dask":
        from .dask_frames import DaskBackend

        return DaskBackend(obj)
    if engine == "ibis":
        backend = obj.get_backend()
        if getattr(backend, "name", "") == "duckdb":
            from .ibis_frames import IbisDuckDBBackend

            return IbisDuckDBBackend(obj, backend.con)
        raise ValueError("data tools run on Ibis tables of the DuckDB backend only")
    from .polars_lazy import PolarsLazyBackend

    return PolarsLazyBackend(obj)


def _bounded(backend: EngineBackend, fn: Any, seconds: float, what: str) -> Any:
    try:
        return run_bounded(backend, fn, seconds)
    except EngineTimeout:
        raise TimeoutError(
            f"{what} did not finish within the {seconds:g} s budget and was cancelled in "
            f"{backend.engine}; ask for fewer columns or raise engine_seconds."
        ) from None


# ---------------------------------------------------------------------------- queries


def _column_query(b: Any, i: int, top_k: int) -> dict[str, Any]:
    """``{n, count, distinct, min, max, mean, std, q: [...], top: [(v, n)]}``."""
    kind = b.kinds[i]
    numeric = kind in ("int", "num")
    name = type(b).__name__
    if "DuckDB" in name:
        from .duckdb_frames import VIEW, quote

        c = quote(b.labels[i])
        qs = list(QUANTILES)
        extra = (
            f", min({c}), max({c}), avg({c}), stddev_pop({c}), quantile_cont({c}, {qs})"
            if numeric
            else f", min({c}), max({c})"
            if kind == "time"
            else ""
        )
        row = b.fetch(f"SELECT count(*), count({c}), count(DISTINCT {c}){extra} FROM {VIEW}")[0]
        top = b.fetch(
            f"SELECT CAST({c} AS VARCHAR) AS v, count(*) AS n FROM {VIEW} WHERE {c} IS NOT NULL "
            f"GROUP BY 1 ORDER BY n DESC, v LIMIT {int(top_k)}"
        )
        return _pack(row, numeric, kind, top)
    if "Spark" in name:
        F = b.F
        c = b.col(i)
        exprs = [F.count(F.lit(1)), F.count(c), F.countDistinct(c)]
        if numeric:
            exprs += [F.min(c), F.max(c), F.avg(c), F.stddev_pop(c)]
            exprs.append(F.percentile_approx(c, list(QUANTILES), 10_000))
        elif kind == "time":
            exprs += [F.min(c), F.max(c)]
        row = list(b.collect(b.df.agg(*exprs))[0])
        counted = b.df.where(c.isNotNull()).groupBy(c.cast("string").alias("v")).count()
        top = b.collect(counted.orderBy(F.desc("count"), "v").limit(int(top_k)))
        return _pack(row, numeric, kind, [(r[0], r[1]) for r in top], approx_q=True)
    if "Dask" in name:
        s = b.df[b.df.columns[i]]
        parts = [s.size, s.count(), s.nunique()]
        if numeric:
            parts += [s.min(), s.max(), s.mean(), s.std(ddof=0), s.quantile(list(QUANTILES))]
        elif kind == "time":
            parts += [s.min(), s.max()]
        parts.append(s.dropna().astype(str).value_counts().nlargest(int(top_k)))
        out = b._compute(parts)
        vc = out.pop()
        if numeric:
            out[-1] = list(out[-1])
        return _pack(out, numeric, kind, list(vc.items()), approx_q=True)
    import polars as pl

    pc = pl.col(b.labels[i])
    exprs = [pl.len(), pc.count(), pc.drop_nulls().n_unique()]
    if numeric:
        exprs += [pc.min(), pc.max(), pc.mean(), pc.std(ddof=0)]
        exprs += [pc.quantile(p, "linear") for p in QUANTILES]
    elif kind == "time":
        exprs += [pc.min(), pc.max()]
    row = list(b.collect(b.lf.select([e.alias(f"e{k}") for k, e in enumerate(exprs)])).row(0))
    if numeric:
        row = [*row[:7], row[7:]]
    top_frame = (
        b.lf.select(pc.cast(pl.String).alias("v"))
        .drop_nulls()
        .group_by("v")
        .len()
        .sort(["len", "v"], descending=[True, False])
        .head(int(top_k))
    )
    return _pack(row, numeric, kind, b.collect(top_frame).rows())


def _pack(
    row: Sequence[Any], numeric: bool, kind: str, top: Sequence[Any], approx_q: bool = False
) -> dict[str, Any]:
    """``approx_q``: the engine's quantiles are approximate (Spark's ``percentile_approx``,
    Dask's partition-wise ``quantile``), shown with ≈."""
    out: dict[str, Any] = {"n": int(row[0]), "count": int(row[1]), "distinct": int(row[2])}
    if numeric:
        out.update(min=row[3], max=row[4], mean=row[5], std=row[6], q=list(row[7] or []))
        out["q_mark"] = "≈" if approx_q else " "
    elif kind == "time":
        out.update(min=row[3], max=row[4])
    out["top"] = [(v, int(n)) for v, n in top]
    return out


def engine_column(
    obj: Any,
    engine: str,
    var: str,
    label: str,
    private: bool,
    values: str,
    top_k: int,
    seconds: float,
) -> str:
    """``describe_column`` for an engine handle (see the module note)."""
    b = backend_for(obj, engine)
    i = b.labels.index(label)
    stats = _bounded(b, lambda: _column_query(b, i, top_k), seconds, "describe_column")
    n, nulls = stats["n"], stats["n"] - stats["count"]
    lines = [
        f"### `{var}`[{label!r}]: {b.dtypes[i]}, {fmt_int(n)} rows (computed in {b.engine}, "
        "whole column)",
        f"nulls: {fmt_int(nulls)} ({fmt_pct(nulls, n)})",
    ]
    if values == "schema" or not stats["count"]:
        return "\n".join(lines)
    lines.append(f"distinct: {fmt_int(stats['distinct'])} (exact)")
    if private:
        lines.append("values withheld (privacy): no quantiles, ranges or top values")
        return "\n".join(lines)
    if "mean" in stats:
        names = ["p1", "p5", "p25", "p50", "p75", "p95", "p99"]
        mark = stats["q_mark"]
        qs = ", ".join(f"{k}{mark}{fmt_num(v)}" for k, v in zip(names, stats["q"], strict=False))
        lines.append(f"min {fmt_num(stats['min'])}, {qs}, max {fmt_num(stats['max'])}")
        lines.append(f"mean {fmt_num(stats['mean'])}, std {fmt_num(stats['std'])}")
    elif "min" in stats:
        lines.append(f"range: {cell(stats['min'], 40)} … {cell(stats['max'], 40)}")
    if values == "full" and stats["top"]:
        if stats["distinct"] == stats["count"]:
            lines.append("every non-null value is distinct (no top values)")
        else:
            lines.append(f"top {len(stats['top'])} values (count, share of non-null):")
            for v, c in stats["top"]:
                lines.append(f"  {cell(v, 60)}: {fmt_int(c)} ({fmt_pct(c, stats['count'])})")
    return "\n".join(lines)


def _counts_query(b: Any, idx: Sequence[int], top_k: int) -> tuple[list[Any], int, int]:
    names = [b.labels[i] for i in idx]
    name = type(b).__name__
    if "DuckDB" in name:
        from .duckdb_frames import VIEW, quote

        cols = ", ".join(quote(n) for n in names)
        rows = b.fetch(
            f"SELECT {cols}, count(*) AS __n FROM {VIEW} GROUP BY ALL "
            f"ORDER BY __n DESC, {cols} LIMIT {int(top_k)}"
        )
        groups, total = b.fetch(
            f"SELECT count(*), sum(__n) FROM (SELECT count(*) AS __n FROM {VIEW} GROUP BY {cols})"
        )[0]
        return [(r[:-1], r[-1]) for r in rows], int(groups), int(total or 0)
    if "Spark" in name:
        F = b.F
        grouped = b.df.groupBy(*[b.col(i) for i in idx]).count()
        rows = b.collect(grouped.orderBy(F.desc("count")).limit(int(top_k)))
        groups, total = b.collect(grouped.agg(F.count(F.lit(1)), F.sum("count")))[0]
        return [(tuple(r[:-1]), r[-1]) for r in rows], int(groups), int(total or 0)
    if "Dask" in name:
        sizes = b.df.groupby(names, dropna=False).size()
        out = b._compute([sizes.nlargest(int(top_k)), sizes.size, b.df.shape[0]])
        top, groups, total = out
        pairs = [(k if isinstance(k, tuple) else (k,), int(v)) for k, v in top.items()]
        return pairs, int(groups), int(total)
    import polars as pl

    grouped = b.lf.group_by(names).len("__n")
    top = b.collect(grouped.sort("__n", descending=True).head(int(top_k))).rows()
    groups, total = b.collect(grouped.select(pl.len(), pl.col("__n").sum())).row(0)
    return [(r[:-1], r[-1]) for r in top], int(groups), int(total or 0)


def engine_value_counts(
    obj: Any, engine: str, labels: Sequence[str], top_k: int, seconds: float
) -> str:
    """``value_counts`` for an engine handle: a group-by in the engine, top rows only."""
    b = backend_for(obj, engine)
    idx = [b.labels.index(lab) for lab in labels]
    rows, groups, total = _bounded(b, lambda: _counts_query(b, idx, top_k), seconds, "value_counts")
    return counts_table(labels, rows, groups, total, f", computed in {b.engine}")


def _rows_query(b: Any, idx: Sequence[int], n: int, order: str, seed: int) -> list[list[Any]]:
    from .engine_frames import EngineResult

    name = type(b).__name__
    if order == "random" and "Dask" in name:
        count = max(1, _count(b))
        frame = b.df[[b.df.columns[i] for i in idx]]
        picked = frame.sample(frac=min(1.0, 20 * n / count), random_state=seed)
        rows = b._compute(picked.head(n, npartitions=-1, compute=False))
        return [list(r) for r in rows.itertuples(index=False)]
    if order == "random":
        count = _count(b)
        return b.sample_rows(n, idx, EngineResult(n_rows=count, sample_n=n), seed)
    if "DuckDB" in name:
        from .duckdb_frames import VIEW, quote

        cols = ", ".join(quote(b.labels[i]) for i in idx)
        return [list(r) for r in b.fetch(f"SELECT {cols} FROM {VIEW} LIMIT {int(n)}")]
    if "Spark" in name:
        return [list(r) for r in b.collect(b.df.select(*[b.col(i) for i in idx]).limit(n))]
    if "Dask" in name:
        frame = b.df[[b.df.columns[i] for i in idx]].head(n, npartitions=-1, compute=False)
        return [list(r) for r in b._compute(frame).itertuples(index=False)]
    return [list(r) for r in b.collect(b.lf.select([b.labels[i] for i in idx]).head(n)).rows()]


def _count(b: Any) -> int:
    name = type(b).__name__
    if "DuckDB" in name:
        from .duckdb_frames import VIEW

        return int(b.fetch(f"SELECT count(*) FROM {VIEW}")[0][0])
    if "Spark" in name:
        return int(b.df.count())
    if "Dask" in name:
        return int(b._compute(b.df.shape[0]))
    import polars as pl

    return int(b.collect(b.lf.select(pl.len())).item())


def engine_rows(
    obj: Any, engine: str, labels: Sequence[str], n: int, order: str, seed: int, seconds: float
) -> list[list[Any]]:
    """Up to ``n`` rows (``head`` or ``random``) of the named columns, from the engine."""
    if order == "tail":
        raise ValueError(
            "order='tail' is not defined for a table held in an engine (it has no row order); "
            "use order='head' or 'random'"
        )
    b = backend_for(obj, engine)
    b.prepare(set(), n)
    idx = [b.labels.index(lab) for lab in labels]
    return _bounded(b, lambda: _rows_query(b, idx, n, order, seed), seconds, "get_rows")


def engine_rows_table(
    tools: Any, var: str, obj: Any, engine: str, labels: Sequence[str], n: int, order: str
) -> str:
    """``get_rows`` for an engine handle: a Markdown table, private columns withheld."""
    from .privacy import WITHHELD

    shown = list(labels[:40])
    public = [lab for lab in shown if not tools._private(var, lab)]
    s = tools.settings
    rows = engine_rows(obj, engine, public, n, order, s.seed, s.engine_seconds) if public else []
    lines = [
        f"`{var}`: {len(rows)} rows ({order}, read from the engine; an engine table has no "
        "row numbers)" + (f"; first 40 of {len(labels)} columns" if len(labels) > 40 else ""),
        "| " + " | ".join(md_escape(short(lab, 40)) for lab in shown) + " |",
        "|" + "---|" * len(shown),
    ]
    for row in rows:
        values = dict(zip(public, row, strict=False))
        cells = [cell(values[lab], 40) if lab in values else WITHHELD for lab in shown]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
