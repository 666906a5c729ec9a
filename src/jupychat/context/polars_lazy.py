"""polars LazyFrames described by polars' query engine, never collected whole.

Design note: imported only when a LazyFrame is described. Three lazy queries, each
collected in the background (``collect(background=True)``) so that an over-budget one is
stopped with ``InProcessQuery.cancel()``:

1. one ``select`` of aggregates over every row (``pl.len()``, per column ``count``,
   ``min``/``max``/``mean``, the ``sum`` of a boolean, the string length range): exact;
2. per column, a seeded sample of its non-null values (``Expr.sample(n, seed=...)``,
   about ``settings.sample_size``) grouped by value: distinct, singleton and doubleton
   counts, the top five values and the sample quantiles; the per-column queries are
   concatenated into one plan, so polars scans the source once (common subplans);
3. three rows at seeded random positions (``with_row_index`` + ``is_in``).

With ``values="schema"`` no query runs and only the schema is shown, as before. The
cache key is the LazyFrame's object id and its plan text (``explain``; a LazyFrame over
an in-memory frame has no other identity).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

from ._lazy import LazyModule
from .engine_frames import Distinct, EngineBackend, EngineResult, describe_engine, stats_from_values
from .polars_frames import dtype_label
from .request import Request

if TYPE_CHECKING:
    import polars as pl
else:
    pl = LazyModule("polars")

__all__ = ["PolarsLazyBackend", "describe_polars_lazy_engine"]


def polars_kind(dtype: Any) -> str:
    """One of ``int num bool str time other`` for a polars data type."""
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_integer():
        return "int"
    if dtype.is_float() or isinstance(dtype, pl.Decimal):
        return "num"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, (pl.Categorical, pl.Enum)):
        return "str"
    if dtype.is_temporal() and dtype != pl.Time:
        return "time"
    return "other"


class PolarsLazyBackend(EngineBackend):
    """A polars LazyFrame (see the module note)."""

    engine = "polars"

    def __init__(self, lf: Any) -> None:
        self.lf = lf
        schema = lf.collect_schema()
        self.labels = [str(c) for c in schema]
        self.types = list(schema.values())
        self.dtypes = [dtype_label(t) for t in self.types]
        self.kinds = [polars_kind(t) for t in self.types]
        self.kind = "polars.LazyFrame (in polars' lazy engine, not collected)"
        self._queries: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.received = 0

    def identity(self) -> Hashable | None:
        try:
            plan = self.lf.explain(optimized=False)
        except Exception:
            return None
        return (id(self.lf), plan[:100_000], tuple(self.dtypes))

    def run(self, token: str, fn: Callable[[], Any]) -> Any:
        self._token = token
        return fn()

    def cancel(self, token: str) -> None:
        with self._lock:
            query = self._queries.pop(token, None)
        if query is not None:
            query.cancel()

    def collect(self, frame: Any) -> Any:
        query = frame.collect(background=True)
        token = getattr(self, "_token", "")
        with self._lock:
            self._queries[token] = query
        try:
            out = query.fetch_blocking()
        finally:
            with self._lock:
                self._queries.pop(token, None)
        self.received += int(out.estimated_size())
        return out

    def col(self, i: int) -> Any:
        return pl.col(self.labels[i])

    def aggregate(self, cols: Sequence[int], sample_size: int, seed: int) -> EngineResult:
        exprs = [pl.len().alias("__n")]
        layout = []
        for i in cols:
            c, kind = self.col(i), self.kinds[i]
            parts = [c.count()]
            if kind in ("int", "num", "time"):
                parts += [c.min(), c.max()]
            if kind in ("int", "num"):
                parts.append(c.mean())
            if kind == "bool":
                parts.append(c.sum())
            if kind == "str":
                chars = c.cast(pl.String).str.len_chars()
                parts += [chars.min(), chars.max()]
            exprs += [e.alias(f"__{i}_{k}") for k, e in enumerate(parts)]
            layout.append((i, len(parts)))
        row = list(self.collect(self.lf.select(exprs)).row(0))
        n = int(row[0])
        values = row[1:]
        result = EngineResult(n_rows=n, sample_n=min(n, sample_size))
        for i, width in layout:
            part, values = values[:width], values[width:]
            result.columns[i] = stats_from_values(self.kinds[i], n, part)
        return result

    def distinct(
        self, cols: Sequence[int], hide: set[int], result: EngineResult, seed: int
    ) -> dict[int, Distinct]:
        frames = []
        for i in cols:
            if self.kinds[i] == "other":
                continue
            stats = result.columns.get(i)
            nonnull = (result.n_rows or 0) - (stats.nulls or 0 if stats else 0)
            m = min(nonnull, max(1, result.sample_n))
            if m <= 0:
                continue
            s = self.col(i).drop_nulls().sample(n=m, seed=seed)
            numeric = self.kinds[i] in ("int", "num")
            base = self.lf.select(
                s.cast(pl.String).alias("v"),
                (s.cast(pl.Float64) if numeric else pl.lit(None, pl.Float64)).alias("x"),
            )
            counted = base.group_by("v").agg(pl.len().alias("n"), pl.col("x").first())
            top = counted.sort(["n", "v"], descending=[True, False]).head(5)
            summary = counted.select(
                pl.lit(i).alias("i"),
                pl.len().alias("d"),
                (pl.col("n") == 1).sum().alias("f1"),
                (pl.col("n") == 2).sum().alias("f2"),
                pl.col("n").sum().alias("total"),
            )
            quant = base.select(
                *[
                    pl.col("x").quantile(p, "nearest").alias(f"q{k}")
                    for k, p in enumerate((0.25, 0.5, 0.75))
                ]
            )
            shown = top.select(
                pl.col("v").implode().alias("top_v"), pl.col("n").implode().alias("top_n")
            )
            frames.append(pl.concat([summary, shown, quant], how="horizontal"))
        out: dict[int, Distinct] = {}
        if not frames:
            return out
        table = self.collect(pl.concat(frames, how="diagonal_relaxed"))
        for row in table.iter_rows(named=True):
            i = int(row["i"])
            pairs = list(zip(row["top_v"] or [], row["top_n"] or [], strict=False))
            out[i] = Distinct(
                int(row["d"]),
                int(row["f1"]),
                int(row["f2"]),
                int(row["total"]),
                [] if i in hide else [(v, int(c)) for v, c in pairs],
            )
            stats = result.columns.get(i)
            if stats is not None and stats.kind in ("int", "num") and row["q1"] is not None:
                stats.quantiles = [row["q0"], row["q1"], row["q2"]]
        return out

    def sample_rows(
        self, k: int, cols: Sequence[int], result: EngineResult, seed: int
    ) -> list[list[Any]]:
        from ._sampling import sample_positions

        n = result.n_rows or 0
        positions = sample_positions(n, min(k, n), seed + 1).tolist()
        names = [self.labels[i] for i in cols]
        frame = (
            self.lf.select(names)
            .with_row_index("__jupychat_row")
            .filter(pl.col("__jupychat_row").is_in(positions))
            .drop("__jupychat_row")
        )
        return [list(r) for r in self.collect(frame).rows()]


def describe_polars_lazy_engine(obj: Any, req: Request) -> str:
    """Describe a LazyFrame with bounded lazy queries (never collected whole).

    With ``values="schema"`` no query runs: the schema table of
    :func:`.polars_frames.describe_polars_lazy`.
    """
    if req.settings.values == "schema":
        from .polars_frames import describe_polars_lazy

        return describe_polars_lazy(obj, req)
    return describe_engine(PolarsLazyBackend(obj), req)
