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
        self.queries += 1
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

    def prepare(self, hide: set[int], rows: int) -> None:
        self.rows_wanted = rows
        self._rows: list[list[Any]] | None = None

    def aggregate(self, cols: Sequence[int], sample_size: int, seed: int) -> EngineResult:
        exprs = [pl.len().alias("__n")]
        layout = []
        for i in cols:
            c, kind = self.col(i), self.kinds[i]
            parts = [pl.len() - c.null_count()]  # a null count is free in memory
            if kind in ("int", "num", "time"):
                parts += [c.min(), c.max()]
            if kind in ("int", "num"):
                parts.append(c.mean())
            if kind == "bool":
                parts.append(c.sum())
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
        """One ``select`` over one row sample (the same rows for every column, nulls
        kept): per column its value counts (distinct, singletons, doubletons, top five),
        quantiles and string lengths, plus the example rows, as one row of scalars and
        short lists."""
        n = result.n_rows or 0
        m = min(n, max(1, result.sample_n))
        shown = list(result.row_cols) if getattr(self, "rows_wanted", 0) else []
        needed = sorted(set(cols) | set(shown))
        sample = self.lf.select(
            pl.col([self.labels[i] for i in needed]).sample(n=m, seed=seed, shuffle=True)
        )
        exprs: list[Any] = []
        used = [i for i in cols if self.kinds[i] != "other"]
        for i in used:
            c = pl.col(self.labels[i])
            kind = self.kinds[i]
            values = c.drop_nulls()
            # fixed field names: a column called "n" or "count" must not collide
            counts = values.cast(pl.String).alias("v").value_counts(sort=True, name="__n")
            n_of = counts.struct.field("__n")
            exprs += [
                counts.len().alias(f"d{i}"),
                (n_of == 1).sum().alias(f"f1_{i}"),
                (n_of == 2).sum().alias(f"f2_{i}"),
                n_of.sum().alias(f"t{i}"),
                counts.head(5).implode().alias(f"top{i}"),
            ]
            if kind in ("int", "num"):
                x = values.cast(pl.Float64)
                exprs += [
                    x.quantile(p, "linear").alias(f"q{k}_{i}")
                    for k, p in enumerate((0.25, 0.5, 0.75))
                ]
            elif kind == "time":
                exprs.append(values.sort().gather(values.len() // 2).first().alias(f"q1_{i}"))
            elif kind == "str":
                chars = values.cast(pl.String).str.len_chars()
                exprs += [chars.min().alias(f"lo{i}"), chars.max().alias(f"hi{i}")]
        k = int(getattr(self, "rows_wanted", 0) or 0)
        exprs += [pl.col(self.labels[j]).head(k).implode().alias(f"r{j}") for j in shown]
        out: dict[int, Distinct] = {}
        if not exprs:
            return out
        row = self.collect(sample.select(exprs)).row(0, named=True)
        if shown:
            picked = [row[f"r{j}"] or [] for j in shown]
            self._rows = [list(r) for r in zip(*picked, strict=False)]
        for i in used:
            top = [(t["v"], int(t["__n"])) for t in (row[f"top{i}"] or [])]
            quantiles = [row.get(f"q{k}_{i}") for k in range(3)]
            lo = row.get(f"lo{i}")
            out[i] = Distinct(
                int(row[f"d{i}"]),
                int(row[f"f1_{i}"]),
                int(row[f"f2_{i}"]),
                int(row[f"t{i}"] or 0),
                [] if i in hide else top,
                quantiles=quantiles if quantiles[1] is not None else None,
                lens=(int(lo), int(row[f"hi{i}"])) if lo is not None else None,
            )
        return out

    def sample_rows(
        self, k: int, cols: Sequence[int], result: EngineResult, seed: int
    ) -> list[list[Any]]:
        stashed = getattr(self, "_rows", None)
        if stashed is not None:  # brought by the sample pass: no further query
            return stashed[:k]
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
