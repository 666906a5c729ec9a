"""DuckDB relations (``DuckDBPyRelation``) described by DuckDB itself.

Design note: imported only when a relation is described (duckdb is then loaded). The
relation is queried through ``relation.query(name, sql)``, so the SQL sees it as a table
named ``name`` and no data leaves DuckDB except the results. Pass 1 is one statement of
cheap aggregates over every row (``count(*)``, per column ``count``, ``min``/``max``/
``avg``, ``count_if``; no string lengths, quantiles or distinct counts: those cost a hash
or sort of every value and are what makes ``SUMMARIZE`` slow). Pass 2 is one statement
over a seeded reservoir sample of the needed columns (``USING SAMPLE reservoir(n ROWS)
REPEATABLE (seed)``, materialised once): per column a group-by of the sample unnested
into (column, value) pairs (``max_by(..., 5)`` keeps the top five), ``quantile_disc``
and the string length range, plus three example rows of the sample picked by a seeded
hash, all returned as one row of lists. A pass over budget is stopped
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
    """SQL aggregates (over every row, all cheap) for one column of ``kind``."""
    out = [f"count({col})"]
    if kind in ("int", "num", "time"):
        out += [f"min({col})", f"max({col})"]
    if kind in ("int", "num"):
        out.append(f"avg({col})")
    if kind == "bool":
        out.append(f"count_if({col})")
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
        self.queries += 1
        rows = self.rel.query(VIEW, sql).fetchall()
        self.received += len(repr(rows))
        return rows

    # -- passes ----------------------------------------------------------------------------
    def prepare(self, hide: set[int], rows: int) -> None:
        self.rows_wanted = rows
        self._rows: list[list[Any]] | None = None

    def aggregate(self, cols: Sequence[int], sample_size: int, seed: int) -> EngineResult:
        full = ["count(*)"]
        layout: list[tuple[int, int]] = []
        for i in cols:
            exact = numeric_stats_sql(self.kinds[i], quote(self.labels[i]))
            layout.append((i, len(exact)))
            full += exact
        row = list(self.fetch(f"SELECT {', '.join(full)} FROM {VIEW}")[0])
        n = int(row[0])
        values = row[1:]
        result = EngineResult(n_rows=n, sample_n=min(n, int(sample_size)))
        for i, width in layout:
            part, values = values[:width], values[width:]
            result.columns[i] = stats_from_values(self.kinds[i], n, part)
        result.received_bytes = self.received
        return result

    def distinct(
        self, cols: Sequence[int], hide: set[int], result: EngineResult, seed: int
    ) -> dict[int, Distinct]:
        """One statement over one materialised sample: counts, top values, quantiles,
        string lengths and (when wanted) the example rows."""
        size = max(1, result.sample_n)
        shown = list(result.row_cols) if getattr(self, "rows_wanted", 0) else []
        needed = sorted(set(cols) | set(shown))
        names = ", ".join(quote(self.labels[i]) for i in needed)
        ids = ", ".join(str(i) for i in cols)
        values = ", ".join(f"CAST({quote(self.labels[i])} AS VARCHAR)" for i in cols)
        hidden = ", ".join(str(i) for i in sorted(hide)) or "-1"
        quants = []
        for i in cols:
            col, kind = quote(self.labels[i]), self.kinds[i]
            if kind in ("int", "num"):
                quants.append(f"quantile_cont({col}, [0.25, 0.5, 0.75])")
            elif kind == "time":
                quants.append(f"[NULL, quantile_cont({col}, 0.5), NULL]")
            else:
                quants.append("NULL")
        rows_sql = "SELECT NULL AS r"
        if shown:
            picked = ", ".join(quote(self.labels[i]) for i in shown)
            # k rows picked by a seeded hash out of the uniform sample: a direct reservoir
            # of 3 rows came out of the first vectors scanned (measured)
            rows_sql = (
                f"SELECT list(row({picked})) AS r FROM (SELECT {picked} FROM s "
                f"ORDER BY hash(__jupychat_r + {int(seed) + 1}) LIMIT {int(self.rows_wanted)})"
            )
        # one scan into a materialised sample; each sampled row unnested into
        # (column, value) pairs and grouped per column
        sql = (
            f"WITH s AS MATERIALIZED (SELECT *, row_number() OVER () AS __jupychat_r FROM "
            f"(SELECT {names} FROM {VIEW} USING SAMPLE reservoir({size} ROWS) "
            f"REPEATABLE ({int(seed)}))), "
            f"p AS (SELECT unnest([{ids}]) AS i, unnest([{values}]) AS v FROM s), "
            "c AS (SELECT i, v, count(*) AS n FROM p WHERE v IS NOT NULL GROUP BY i, v), "
            "g AS (SELECT list({'i': i, 'd': d, 'f1': f1, 'f2': f2, 'total': total, 'top': top, "
            "'lo': lo, 'hi': hi}) AS g FROM (SELECT i, count(*) AS d, "
            "count(*) FILTER (WHERE n = 1) AS f1, count(*) FILTER (WHERE n = 2) AS f2, "
            f"sum(n) AS total, CASE WHEN i IN ({hidden}) THEN [] ELSE "
            "max_by({'v': v, 'n': n}, {'n': n, 'v': v}, 5) END AS top, "
            "min(length(v)) AS lo, max(length(v)) AS hi FROM c GROUP BY i)), "
            f"q AS (SELECT {', '.join(quants)} FROM s), r AS ({rows_sql}) "
            "SELECT g, r, q.* FROM g, r, q"
        )
        g, r, *q = self.fetch(sql)[0]
        if shown:
            self._rows = [list(t) for t in (r or [])]
        found = distinct_from_rows(
            [(t["i"], t["d"], t["f1"], t["f2"], t["total"], t["top"]) for t in (g or [])]
        )
        for t in g or []:
            i = int(t["i"])
            k = list(cols).index(i)
            found[i].quantiles = list(q[k]) if q and q[k] is not None else None
            if self.kinds[i] == "str" and t["lo"] is not None:
                found[i].lens = (int(t["lo"]), int(t["hi"]))
        return found

    def sample_rows(
        self, k: int, cols: Sequence[int], result: EngineResult, seed: int
    ) -> list[list[Any]]:
        stashed = getattr(self, "_rows", None)
        if stashed is not None:  # brought by the sample pass: no further query
            return stashed[:k]
        names = ", ".join(quote(self.labels[i]) for i in cols)
        size = max(int(k), result.sample_n or int(k))
        sql = (
            f"SELECT {names} FROM (SELECT *, row_number() OVER () AS __jupychat_r FROM "
            f"(SELECT {names} FROM {VIEW} USING SAMPLE reservoir({size} ROWS) REPEATABLE "
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
