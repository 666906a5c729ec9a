"""PySpark DataFrames (classic and Spark Connect) described by Spark itself.

Design note: imported only when a PySpark DataFrame is described (pyspark is loaded).
Three Spark jobs at most, each returning a few rows; nothing is collected, converted
with ``toPandas()`` or written:

1. one ``agg`` over every row: ``count(*)``, per column the non-null ``count``,
   ``min``/``max``/``avg`` of numbers and times, the ``sum`` of a boolean, the string
   length range (all codegen'd, cheap aggregates: exact);
2. one job over a seeded Bernoulli sample (``sample(fraction, seed)``, the fraction set
   from the exact count so that about ``settings.sample_size`` rows are kept): each row
   is exploded into (column, value) pairs, grouped, and per column only the distinct,
   singleton and doubleton counts, the top five values and the sample quantiles (a
   running sum over the grouped values, ordered) come back;
3. a few example rows: ``sample(...).limit(k)``.

Every job runs under a job tag: ``SparkContext.addJobTag`` on a classic session
(``setJobGroup`` before Spark 3.5), ``SparkSession.addTag`` on Spark Connect; over budget,
``cancelJobsWithTag`` (``cancelJobGroup``) or ``interruptTag`` cancels it in Spark. The
cache key is the plan's ``semanticHash()`` and the schema.
"""

from __future__ import annotations

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
        from pyspark.sql import functions as F

        self.F = F
        self.df = df
        fields = list(df.schema.fields)
        self.labels = [f.name for f in fields]
        self.dtypes = [short(f.dataType.simpleString(), 40) for f in fields]
        self.kinds = [spark_kind(f.dataType) for f in fields]
        self.connect = "connect" in type(df).__module__
        where = "Spark Connect, " if self.connect else ""
        self.kind = f"pyspark.sql.DataFrame ({where}in Spark, not collected)"
        self.session = df.sparkSession
        self.received = 0

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
            parts = [F.count(c)]
            if kind in ("int", "num", "time"):
                parts += [F.min(c), F.max(c)]
            if kind in ("int", "num"):
                parts.append(F.avg(c))
            if kind == "bool":
                parts.append(F.sum(c.cast("int")))
            if kind == "str":
                parts += [F.min(F.length(c)), F.max(F.length(c))]
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
        from pyspark.sql import Window

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
        exploded = sample.select(F.explode(F.array(*pairs)).alias("p")).select("p.*")
        grouped = exploded.where(F.col("v").isNotNull()).groupBy("i", "v", "x").count()
        by_col = Window.partitionBy("i")
        running = by_col.orderBy("x", "v").rowsBetween(Window.unboundedPreceding, 0)
        ranked = (
            grouped.withColumn("tot", F.sum("count").over(by_col))
            .withColumn("cum", F.sum("count").over(running))
            .withColumn("r", F.row_number().over(by_col.orderBy(F.desc("count"), "v")))
        )
        shown = F.when(F.col("i").isin(sorted(hide) or [-1]), F.lit(None)).otherwise(F.col("v"))
        quantiles = [
            F.min(F.when(F.col("cum") >= F.col("tot") * p, F.col("x"))).alias(f"q{k}")
            for k, p in enumerate((0.25, 0.5, 0.75))
        ]
        out = ranked.groupBy("i").agg(
            F.count(F.lit(1)).alias("d"),
            F.sum(F.when(F.col("count") == 1, 1).otherwise(0)).alias("f1"),
            F.sum(F.when(F.col("count") == 2, 1).otherwise(0)).alias("f2"),
            F.max("tot").alias("total"),
            F.collect_list(
                F.when(F.col("r") <= 5, F.struct(F.col("r"), shown.alias("v"), F.col("count")))
            ).alias("top"),
            *quantiles,
        )
        found: dict[int, Distinct] = {}
        for row in self.collect(out):
            top = sorted((t for t in row["top"] if t is not None), key=lambda t: t["r"])
            found[int(row["i"])] = Distinct(
                int(row["d"]),
                int(row["f1"]),
                int(row["f2"]),
                int(row["total"]),
                [(t["v"], int(t["count"])) for t in top if t["v"] is not None],
            )
            stats = result.columns.get(int(row["i"]))
            if stats is not None and stats.kind in ("int", "num") and row["q1"] is not None:
                stats.quantiles = [row["q0"], row["q1"], row["q2"]]
        return found

    def sample_rows(
        self, k: int, cols: Sequence[int], result: EngineResult, seed: int
    ) -> list[list[Any]]:
        sample = self._sample(result, seed + 1, max(k, 20 * k))
        rows = self.collect(sample.select(*[self.col(i) for i in cols]).limit(k))
        return [list(r) for r in rows]


def describe_spark(obj: Any, req: Request) -> str:
    """Describe a PySpark DataFrame in Spark (never collected)."""
    return describe_engine(SparkBackend(obj), req)
