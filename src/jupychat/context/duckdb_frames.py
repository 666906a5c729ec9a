"""DuckDB relations (``DuckDBPyRelation``) described by DuckDB itself.

Design note: imported only when a relation is described (duckdb is then loaded). The
relation is queried through ``relation.query(name, sql)``, so the SQL sees it as a table
named ``name`` and no data leaves DuckDB except the results. Pass 1 is one statement:
an aggregate over every row (``count(*)``, per column ``count``, ``min``/``max``/``avg``,
string length range) joined with one over a seeded reservoir sample
(``USING SAMPLE reservoir(n ROWS) REPEATABLE (seed)``) for ``approx_quantile``. Distinct
counts and top values come from one group-by over the same sample unnested into
(column, value) pairs (``max_by(..., 5)`` keeps the top five per column); example rows
are three rows of that sample picked by a seeded hash. A pass over budget is stopped
with the connection's ``interrupt()``. The cache key is the connection and the relation's SQL text
(``sql_query()``): a relation over a table that is changed in place keeps its cached
figures until ``clear_cache()``.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import Any

from ._fmt import short
from .engine_frames import (
    Distinct,
    EngineBackend,
    EngineResult,
    describe_engine,
    stats_from_values,
)
from .request import Request

__all__ = ["DuckDBBackend", "describe_duckdb", "duckdb_kind", "quote"]

VIEW = "__jupychat_rel"
_INT = re.compile(r"^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|INT\d*)$")


def quote(name: str) -> str:
    """A SQL identifier, double-quoted."""
    return '"' + str(name).replace('"', '""') + '"'


def duckdb_kind(type_text: str) -> str:
    """One of ``int num bool str time other`` for a DuckDB type name."""
    t = type_text.upper()
    if _INT.match(t):
        return "int"
    if t in ("FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL"):
        return "num"
    if t == "BOOLEAN":
        return "bool"
    if t == "VARCHAR":
        return "str"
    if t in ("DATE", "TIME") or t.startswith("TIMESTAMP"):
        return "time"
    return "other"


def numeric_stats_sql(kind: str, col: str) -> list[str]:
    """SQL aggregates (over every row) for one column of ``kind``; shared with Ibis SQL."""
    out = [f"count({col})"]
    if kind in ("int", "num", "time"):
        out += [f"min({col})", f"max({col})"]
    if kind in ("int", "num"):
        out.append(f"avg({col})")
    if kind == "bool":
        out.append(f"count_if({col})")
    if kind == "str":
        out += [f"min(length({col}))", f"max(length({col}))"]
    return out


class DuckDBBackend(EngineBackend):
    """A DuckDB relation (see the module note)."""

    engine = "DuckDB"

    def __init__(self, rel: Any) -> None:
        self.rel = rel
        self.labels = [str(c) for c in rel.columns]
        self.dtypes = [short(str(t), 40) for t in rel.types]
        self.kinds = [duckdb_kind(str(t)) for t in rel.types]
        self.kind = "duckdb.DuckDBPyRelation (in DuckDB, not collected)"
        self.received = 0

    # -- plumbing --------------------------------------------------------------------------
    def connection(self) -> Any:
        con = getattr(self.rel, "_con", None)
        if con is None:
            import duckdb

            con = duckdb.default_connection()
        return con

    def identity(self) -> Hashable | None:
        return (id(self.connection()), self.rel.sql_query(), tuple(self.labels), tuple(self.dtypes))

    def cancel(self, token: str) -> None:
        self.connection().interrupt()

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        rows = self.rel.query(VIEW, sql).fetchall()
        self.received += len(repr(rows))
        return rows

    # -- passes ----------------------------------------------------------------------------
    def aggregate(self, cols: Sequence[int], sample_size: int, seed: int) -> EngineResult:
        full = ["count(*)"]
        sampled = ["count(*)"]
        layout: list[tuple[int, list[str], list[str]]] = []
        for i in cols:
            col = quote(self.labels[i])
            kind = self.kinds[i]
            exact = numeric_stats_sql(kind, col)
            approx = []
            if kind in ("int", "num"):
                approx.append(f"approx_quantile({col}, [0.25, 0.5, 0.75])")
            elif kind == "time":
                approx.append(f"quantile_disc({col}, 0.5)")
            layout.append((i, exact, approx))
            full += exact
            sampled += approx
        sql = (
            f"WITH s AS (SELECT * FROM {VIEW} USING SAMPLE reservoir({int(sample_size)} ROWS) "
            f"REPEATABLE ({int(seed)})), "
            f"a AS (SELECT {', '.join(full)} FROM {VIEW}), "
            f"b AS (SELECT {', '.join(sampled)} FROM s) SELECT * FROM a, b"
        )
        row = list(self.fetch(sql)[0])
        n = int(row[0])
        a = row[1 : len(full)]
        sample_n = int(row[len(full)])
        b = row[len(full) + 1 :]
        result = EngineResult(n_rows=n, sample_n=sample_n)
        for i, exact, approx in layout:
            values, a = a[: len(exact)], a[len(exact) :]
            est, b = b[: len(approx)], b[len(approx) :]
            result.columns[i] = stats_from_values(self.kinds[i], n, values, est)
        result.received_bytes = self.received
        return result

    def distinct(
        self, cols: Sequence[int], hide: set[int], result: EngineResult, seed: int
    ) -> dict[int, Distinct]:
        size = max(1, result.sample_n)
        ids = ", ".join(str(i) for i in cols)
        values = ", ".join(f"CAST({quote(self.labels[i])} AS VARCHAR)" for i in cols)
        hidden = ", ".join(str(i) for i in sorted(hide)) or "-1"
        # one scan of the sample: each row unnested into (column, value) pairs
        sql = (
            f"WITH s AS (SELECT * FROM {VIEW} USING SAMPLE reservoir({size} ROWS) "
            f"REPEATABLE ({int(seed)})), "
            f"p AS (SELECT unnest([{ids}]) AS i, unnest([{values}]) AS v FROM s), "
            "c AS (SELECT i, v, count(*) AS n FROM p WHERE v IS NOT NULL GROUP BY i, v) "
            "SELECT i, count(*), count(*) FILTER (WHERE n = 1), count(*) FILTER (WHERE n = 2), "
            f"sum(n), CASE WHEN i IN ({hidden}) THEN [] ELSE "
            "max_by({'v': v, 'n': n}, {'n': n, 'v': v}, 5) END FROM c GROUP BY i ORDER BY i"
        )
        return distinct_from_rows(self.fetch(sql))

    def sample_rows(
        self, k: int, cols: Sequence[int], result: EngineResult, seed: int
    ) -> list[list[Any]]:
        names = ", ".join(quote(self.labels[i]) for i in cols)
        # k rows picked by a seeded hash out of the description's uniform sample: a direct
        # reservoir of 3 rows came out of the first vectors scanned (measured)
        size = max(int(k), result.sample_n or int(k))
        sql = (
            f"SELECT {names} FROM (SELECT *, row_number() OVER () AS __jupychat_r FROM "
            f"(SELECT * FROM {VIEW} USING SAMPLE reservoir({size} ROWS) REPEATABLE "
            f"({int(seed)}))) ORDER BY hash(__jupychat_r + {int(seed) + 1}) LIMIT {int(k)}"
        )
        return [list(r) for r in self.fetch(sql)]


def distinct_from_rows(rows: Sequence[Sequence[Any]]) -> dict[int, Distinct]:
    """``{col: Distinct}`` from ``(i, d, f1, f2, total, [{v, n}...])`` rows."""
    out: dict[int, Distinct] = {}
    for i, d, f1, f2, total, top in rows:
        pairs = [(t["v"], int(t["n"])) for t in (top or [])]
        out[int(i)] = Distinct(int(d), int(f1 or 0), int(f2 or 0), int(total or 0), pairs)
    return out


def describe_duckdb(obj: Any, req: Request) -> str:
    """Describe a DuckDB relation in DuckDB (never fetched whole)."""
    return describe_engine(DuckDBBackend(obj), req)
