"""PySpark DataFrames (classic and Spark Connect) described by Spark itself.

Design note: imported only when a PySpark DataFrame is described (pyspark is loaded).
Three Spark jobs at most, each returning a few rows; nothing is collected, converted
with ``toPandas()`` or written:

1. one ``agg`` over every row: ``count(*)``, per column the non-null ``count``,
   ``min``/``max``/``avg`` of numbers and times, the ``sum`` of a boolean (all codegen'd,
   cheap aggregates: exact; no string lengths, which cost a full decode of every string);
2. one job over a seeded Bernoulli sample (``sample(fraction, seed)``, the fraction set
   from the exact count so that about ``settings.sample_size`` rows are kept): each row
   is exploded into (column, value) pairs, grouped by value, then per column (one more
   group-by, no window) only the distinct, singleton and doubleton counts, the top five
   values (``sort_array`` of (-count, value)), the sample quantiles (``percentile``
   weighted by each value's count) and the string length range come back; the example
   rows ride along as one more "column" (each sampled row as JSON, keyed by a seeded
   ``rand``: the smallest keys are the rows shown), since a sample costs a full pass over
   a computed frame (Spark does not push a sample below a projection);
3. example rows only when pass 2 did not run: a small sample, shuffled, limited.

Every job runs under a job tag: ``SparkContext.addJobTag`` on a classic session
(``setJobGroup`` before Spark 3.5), ``SparkSession.addTag`` on Spark Connect; over budget,
``cancelJobsWithTag`` (``cancelJobGroup``) or ``interruptTag`` cancels it in Spark. The
cache key is the plan's ``semanticHash()`` and the schema.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Sequence
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

__all__ = ["SparkBackend", "describe_spark", "spark_kind"]

_INT = {"ByteType", "ShortType", "IntegerType", "LongType"}
_NUM = {"FloatType", "DoubleType", "DecimalType"}
_STR = {"StringType", "VarcharType", "CharType"}
_TIME = {"DateType", "TimestampType", "TimestampNTZType"}


def spark_kind(data_type: Any) -> str:
    """One of ``int num bool str time other`` for a Spark ``DataType``."""
    name = type(data_type).__name__
    if name in _INT:
        return "int"
    if name in _NUM:
        return "num"
    if name == "BooleanType":
        return "bool"
    if name in _STR:
        return "str"
    if name in _TIME:
        return "time"
    return "other"


class SparkBackend(EngineBackend):
    """A PySpark DataFrame (see the module note)."""

    engine = "Spark"

    def __init__(self, df: Any) -> None:
        self.connect = "connect" in type(df).__module__
        if self.connect:  # Connect's own Columns: pyspark.sql.functions makes classic ones
            # when a classic session lives in this process too
            from pyspark.sql.connect import functions as F
        else:
            from pyspark.sql import functions as F  # type: ignore[no-redef]
        self.F = F
        self.df = df
        fields = list(df.schema.fields)
        self.labels = [f.name for f in fields]
        self.dtypes = [short(f.dataType.simpleString(), 40) for f in fields]
        self.kinds = [spark_kind(f.dataType) for f in fields]
        # a column the schema declares non-nullable has no nulls: not counted (for a
        # computed column the count would evaluate it on every row)
        self.nullable = [bool(f.nullable) for f in fields]
        where = "Spark Connect, " if self.connect else ""
        self.kind = f"pyspark.sql.DataFrame ({where}in Spark, not collected)"
        self.session = df.sparkSession
        self.received = 0
        self.rows_wanted = 0
        self._rows: list[list[Any]] | None = None

    def identity(self) -> Hashable | None:
        return (id(self.session), int(self.df.semanticHash()), self.df.schema.simpleString())

    # -- job control -----------------------------------------------------------------------
    def run(self, token: str, fn: Callable[[], Any]) -> Any:
        session = self.session
        if self.connect:  # Spark Connect: operation tags on the session
            session.addTag(token)
            try:
                return fn()
            finally:
                session.removeTag(token)
        # classic: the session's tags do not reach the scheduler (measured on 4.x: an
        # interruptTag left the job running); the SparkContext's job tags do
        sc = session.sparkContext
        if hasattr(sc, "addJobTag"):
            sc.addJobTag(token)
            try:
                return fn()
            finally:
                sc.removeJobTag(token)
        sc.setJobGroup(token, "jupychat description", interruptOnCancel=True)
        try:
            return fn()
        finally:
            sc.setLocalProperty("spark.jobGroup.id", None)

    def cancel(self, token: str) -> None:
        session = self.session
        if self.connect:
            session.interruptTag(token)
            return
        sc = session.sparkContext
        if hasattr(sc, "cancelJobsWithTag"):
            sc.cancelJobsWithTag(token)
        else:
            sc.cancelJobGroup(token)

    def collect(self, frame: Any) -> list[Any]:
        self.queries += 1
        rows = frame.collect()
        self.received += len(repr(rows))
        return rows

    def col(self, i: int) -> Any:
        return self.F.col("`" + self.labels[i].replace("`", "``") + "`")

    # -- passes ----------------------------------------------------------------------------
    def aggregate(self, cols: Sequence[int], sample_size: int, seed: int) -> EngineResult:
        F = self.F
        exprs = [F.count(F.lit(1))]
        layout: list[tuple[int, int]] = []
        for i in cols:
            c, kind = self.col(i), self.kinds[i]
            parts = [F.count(c) if self.nullable[i] else F.count(F.lit(1))]
            if kind in ("int", "num", "time"):
                parts += [F.min(c), F.max(c)]
            if kind in ("int", "num"):
                parts.append(F.avg(c))
            if kind == "bool":
                parts.append(F.sum(c.cast("int")))
            layout.append((i, len(parts)))
            exprs += parts
        row = list(self.collect(self.df.agg(*exprs))[0])
        n = int(row[0])
        values = row[1:]
        result = EngineResult(n_rows=n, sample_n=min(n, sample_size))
        for i, width in layout:
            part, values = values[:width], values[width:]
            result.columns[i] = stats_from_values(self.kinds[i], n, part)
        return result

    def _sample(self, result: EngineResult, seed: int, size: int) -> Any:
        n = result.n_rows or 0
        if n <= size:
            return self.df
        return self.df.sample(withReplacement=False, fraction=min(1.0, size / n), seed=seed)

    def distinct(
        self, cols: Sequence[int], hide: set[int], result: EngineResult, seed: int
    ) -> dict[int, Distinct]:
        F = self.F
        sample = self._sample(result, seed, max(1, result.sample_n))
        pairs = [
            F.struct(
                F.lit(i).alias("i"),
                self.col(i).cast("string").alias("v"),
                (
                    self.col(i).cast("double")
                    if self.kinds[i] in ("int", "num")
                    else F.lit(None).cast("double")
                ).alias("x"),
            )
            for i in cols
        ]
        shown_cols = list(result.row_cols) if self.rows_wanted else []
        if shown_cols:
            # the example rows ride along as column -1: each sampled row as JSON, keyed by
            # a seeded random number, so the k smallest keys are k random sampled rows
            row = F.to_json(
                F.struct(*[self.col(i).alias(f"c{k}") for k, i in enumerate(shown_cols)]),
                {"ignoreNullFields": "false"},
            )
            pairs.append(
                F.struct(F.lit(-1).alias("i"), row.alias("v"), F.rand(seed + 2).alias("x"))
            )
        exploded = sample.select(F.explode(F.array(*pairs)).alias("p")).select("p.*")
        grouped = exploded.where(F.col("v").isNotNull()).groupBy("i", "v", "x").count()
        shown = F.when(F.col("i").isin(sorted(hide) or [-2]), F.lit(None)).otherwise(F.col("v"))
        # the top five: the smallest (-count, x, value) triples; quantiles: exact
        # percentiles of the sample, each distinct value weighted by its count
        ranked = F.sort_array(
            F.collect_list(F.struct((-F.col("count")).alias("k"), F.col("x"), shown.alias("v")))
        )
        out = grouped.groupBy("i").agg(
            F.count(F.lit(1)).alias("d"),
            F.sum(F.when(F.col("count") == 1, 1).otherwise(0)).alias("f1"),
            F.sum(F.when(F.col("count") == 2, 1).otherwise(0)).alias("f2"),
            F.sum("count").alias("total"),
            F.slice(ranked, 1, max(5, self.rows_wanted)).alias("top"),
            F.percentile(F.col("x"), [0.25, 0.5, 0.75], F.col("count")).alias("q"),
            F.min(F.length("v")).alias("lo"),
            F.max(F.length("v")).alias("hi"),
        )
        found: dict[int, Distinct] = {}
        for row in self.collect(out):
            i = int(row["i"])
            if i < 0:
                picked = [json.loads(t[2]) for t in row["top"][: self.rows_wanted]]
                self._rows = [[r.get(f"c{k}") for k in range(len(shown_cols))] for r in picked]
                continue
            q = row["q"]
            found[i] = Distinct(
                int(row["d"]),
                int(row["f1"]),
                int(row["f2"]),
                int(row["total"]),
                [(t[2], -int(t[0])) for t in row["top"][:5] if t[2] is not None],
                quantiles=list(q) if q and self.kinds[i] in ("int", "num") else None,
                lens=(int(row["lo"]), int(row["hi"])) if self.kinds[i] == "str" else None,
            )
        return found

    def prepare(self, hide: set[int], rows: int) -> None:
        self.rows_wanted = rows
        self._rows = None

    def sample_rows(
        self, k: int, cols: Sequence[int], result: EngineResult, seed: int
    ) -> list[list[Any]]:
        if self._rows is not None:  # brought by the sample pass: no further job
            return self._rows[:k]
        # a few dozen sampled rows, shuffled by a seeded random key, then k of them (a
        # plain limit would take the first rows of the first partition)
        sample = self._sample(result, seed + 1, max(k, 20 * k))
        picked = sample.select(*[self.col(i) for i in cols]).orderBy(self.F.rand(seed + 2))
        rows = self.collect(picked.limit(k))
        return [list(r) for r in rows]


def describe_spark(obj: Any, req: Request) -> str:
    """Describe a PySpark DataFrame in Spark (never collected)."""
    return describe_engine(SparkBackend(obj), req)
