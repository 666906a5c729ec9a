"""Ibis table expressions described by the backend they are bound to.

Design note: imported only when an Ibis ``Table`` is described (ibis is loaded). On the
DuckDB backend (the common local case) the expression is compiled to SQL
(``ibis.to_sql``) and opened as a DuckDB relation on the backend's own connection, so the
description is exactly the DuckDB one (:mod:`.duckdb_frames`: one aggregate + sample
query, one sample group-by, three sampled rows; ``interrupt()`` over budget), with Ibis'
types in the table. Any other backend gets one Ibis aggregate expression over every row
(count, per column non-null count, min/max/mean, string lengths: all exact), executed by
the backend; the description says that quantiles, distinct counts, top values and rows
were not computed, and a pass over budget is abandoned (Ibis has no portable cancel). The cache key
is the backend and the compiled SQL (the expression's hash on non-SQL backends).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from ._fmt import short
from .duckdb_frames import DuckDBBackend
from .engine_frames import ColStats, EngineBackend, EngineResult, describe_engine
from .request import Request

__all__ = ["IbisBackend", "describe_ibis"]


def ibis_kind(dtype: Any) -> str:
    """One of ``int num bool str time other`` for an Ibis data type."""
    if dtype.is_boolean():
        return "bool"
    if dtype.is_integer():
        return "int"
    if dtype.is_floating() or dtype.is_decimal():
        return "num"
    if dtype.is_string():
        return "str"
    if dtype.is_temporal():
        return "time"
    return "other"


def _ibis_dtypes(table: Any) -> list[str]:
    return [short(str(t), 40) for t in table.schema().types]


class IbisDuckDBBackend(DuckDBBackend):
    """An Ibis table on DuckDB, described as the DuckDB relation of its SQL."""

    def __init__(self, table: Any, con: Any) -> None:
        import ibis

        self.sql = ibis.to_sql(table, dialect="duckdb")
        super().__init__(con.sql(str(self.sql)))
        self.labels = [str(c) for c in table.columns]
        self.dtypes = _ibis_dtypes(table)
        self.kind = "ibis.Table (DuckDB backend, in DuckDB, not collected)"

    def identity(self) -> Hashable | None:
        return ("ibis", id(self.connection()), str(self.sql), tuple(self.dtypes))


class IbisBackend(EngineBackend):
    """An Ibis table on any other backend: one aggregate expression (module note)."""

    def title_bits(self) -> list[str]:
        return []

    def note(self) -> str:
        return (
            "Quantiles, distinct counts, top values and example rows are not computed on "
            "this backend (only the DuckDB backend runs the sampled passes)."
        )

    def __init__(self, table: Any, backend: Any) -> None:
        import ibis

        self.table = table
        self.backend = backend
        self.engine = f"Ibis ({getattr(backend, 'name', 'backend')})"
        self.labels = [str(c) for c in table.columns]
        self.dtypes = _ibis_dtypes(table)
        self.kinds = [ibis_kind(t) for t in table.schema().types]
        self.kind = f"ibis.Table ({getattr(backend, 'name', '?')} backend, not collected)"
        try:
            self.key: Hashable = str(ibis.to_sql(table))
        except Exception:  # not a SQL backend (polars, pandas...): the expression's hash
            self.key = hash(table.op())

    def identity(self) -> Hashable | None:
        return ("ibis", id(self.backend), self.key, tuple(self.dtypes))

    def aggregate(self, cols: Sequence[int], sample_size: int, seed: int) -> EngineResult:
        t = self.table
        metrics: dict[str, Any] = {"n": t.count()}
        for i in cols:
            c, kind = t[self.labels[i]], self.kinds[i]
            metrics[f"c{i}"] = c.count()
            if kind in ("int", "num", "time"):
                metrics[f"lo{i}"], metrics[f"hi{i}"] = c.min(), c.max()
            if kind in ("int", "num"):
                metrics[f"mean{i}"] = c.mean()
            if kind == "bool":
                metrics[f"t{i}"] = c.cast("int64").sum()
            if kind == "str":
                metrics[f"lmin{i}"], metrics[f"lmax{i}"] = c.length().min(), c.length().max()
        self.queries += 1  # the only query: no distinct or row pass (base class: empty)
        row = t.aggregate(**metrics).to_pyarrow().to_pylist()[0]
        n = int(row["n"])
        result = EngineResult(n_rows=n, sample_n=n)  # every figure is over every row
        for i in cols:
            stats = ColStats(self.kinds[i], nulls=n - int(row[f"c{i}"] or 0))
            stats.min, stats.max = row.get(f"lo{i}"), row.get(f"hi{i}")
            stats.mean = row.get(f"mean{i}")
            stats.true = row.get(f"t{i}")
            stats.len_min, stats.len_max = row.get(f"lmin{i}"), row.get(f"lmax{i}")
            result.columns[i] = stats
        return result


def describe_ibis(obj: Any, req: Request) -> str:
    """Describe an Ibis table with queries its backend runs (never executed whole)."""
    backend = obj.get_backend()
    con = getattr(backend, "con", None)
    if getattr(backend, "name", "") == "duckdb" and con is not None:
        return describe_engine(IbisDuckDBBackend(obj, con), req)
    return describe_engine(IbisBackend(obj, backend), req)
