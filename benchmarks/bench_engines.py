"""Benchmark: engine-held tables described in their engine vs the engine's own full summary.

Run::

    python benchmarks/bench_engines.py                      # 10M rows, every engine installed
    python benchmarks/bench_engines.py --rows 2000000 --engines duckdb polars

Per engine, the same 8-column table (an id, two numbers, two low-cardinality strings
with nulls, an email-like high-cardinality string, a bool, a timestamp) is built *in the
engine* (DuckDB: a table; Ibis: that table through the DuckDB backend; polars: a
LazyFrame over an in-memory frame; Dask: a persisted frame; Spark: a cached, counted
DataFrame), so neither side pays for generating the data. It prints the median time of
our description (cold cache), the median time of the engine's own full summary measured
in the same run (DuckDB ``SUMMARIZE``, Ibis ``Table.describe()``, polars
``LazyFrame.describe()``, Dask ``describe(include="all")``, Spark ``summary()``), their
ratio (target ≥ 5x), the description's size in tokens (counted by the same real BPE
tokenizer as the description eval, ``eval_tokens.token_counter``: tiktoken cl100k_base
when its file is cached offline, else SmolLM2's tokenizer through llama.cpp — the header
says which; target ≤ 1,500), the bytes of query results brought into the kernel (the
``repr`` size of the rows returned, polars' ``estimated_size``; target a few KB), and one
more cold description with the *default* budget (``engine_seconds``, 5 s): whether every
pass finished within it ("complete") and its time. The machine's load average is printed
per line: ratios are against a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from eval_tokens import token_counter

from jupychat.context import ContextSettings, clear_cache, describe
from jupychat.context.engine_frames import compute
from jupychat.context.engine_tools import backend_for
from jupychat.context.request import Request

SETTINGS = ContextSettings(engine_seconds=600)


def duckdb_table(n: int) -> tuple[Any, Any]:
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"""CREATE TABLE events AS SELECT range AS event_id,
        (range * 7919 % 100000) / 100.0 AS price, range % 9 + 1 AS quantity,
        ['north','south','east','west','central'][range % 5 + 1] AS region,
        CASE WHEN range % 50 = 0 THEN NULL ELSE ['shipped','pending','returned'][range % 3 + 1]
          END AS status,
        'user' || (range * 48271 % 10000019) || '@example.com' AS email,
        range % 4 = 0 AS gift,
        TIMESTAMP '2024-01-01' + to_seconds(range % 31536000) AS ts FROM range({n})"""
    )
    return con, con.table("events")


def cases(n: int, engines: list[str]) -> list[tuple[str, Any, Callable[[], Any], Any]]:
    out: list[tuple[str, Any, Callable[[], Any], Any]] = []
    con = None
    if {"duckdb", "ibis", "polars", "dask"} & set(engines):
        con, rel = duckdb_table(n)
        if "duckdb" in engines:
            out.append(("duckdb", rel, lambda: con.sql("SUMMARIZE events").fetchall(), None))
        if "ibis" in engines:
            import ibis

            t = ibis.duckdb.from_connection(con).table("events")
            out.append(("ibis", t, lambda: t.describe().to_pyarrow(), None))
        if "polars" in engines:
            lf = rel.pl().lazy()
            out.append(("polars", lf, lambda: lf.describe(), None))
        if "dask" in engines:
            import dask.dataframe as dd
            import distributed

            client = distributed.Client(
                n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
            )
            pdf = rel.df()
            ddf = dd.from_pandas(pdf, npartitions=max(1, n // 1_000_000)).persist()
            del pdf
            out.append(("dask", ddf, lambda: ddf.describe(include="all").compute(), client.close))
    if "spark" in engines:
        from pyspark.sql import SparkSession
        from pyspark.sql import functions as F

        spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            # room for the cached 10M rows (the default 1g driver evicts part of the
            # cache, and every job then recomputes the evicted partitions)
            .config("spark.driver.memory", "4g")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        e = F.col("event_id")
        sdf = (
            spark.range(n)
            .withColumnRenamed("id", "event_id")
            .withColumn("price", (e * 7919 % 100000) / 100.0)
            .withColumn("quantity", e % 9 + 1)
            .withColumn(
                "region",
                F.element_at(
                    F.array(*[F.lit(r) for r in ("north", "south", "east", "west", "central")]),
                    (e % 5 + 1).cast("int"),
                ),
            )
            .withColumn(
                "status",
                F.when(e % 50 == 0, None).otherwise(
                    F.element_at(
                        F.array(F.lit("shipped"), F.lit("pending"), F.lit("returned")),
                        (e % 3 + 1).cast("int"),
                    )
                ),
            )
            .withColumn(
                "email",
                F.concat(
                    F.lit("user"), (e * 48271 % 10000019).cast("string"), F.lit("@example.com")
                ),
            )
            .withColumn("gift", e % 4 == 0)
            .withColumn("ts", F.timestamp_seconds(F.lit(1704067200) + e % 31536000))
        ).cache()
        sdf.count()
        out.append(("spark", sdf, lambda: sdf.summary().collect(), spark.stop))
    return out


def median_time(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)  # the baseline: runs - 2, at least 1
    parser.add_argument(
        "--engines", nargs="*", default=["duckdb", "ibis", "polars", "dask", "spark"]
    )
    parser.add_argument("--show", metavar="DIR", help="write each description to DIR/<engine>.md")
    args = parser.parse_args()
    counter, count_tokens, close_counter = token_counter()
    budget = ContextSettings().engine_seconds
    print(
        f"{args.rows:,} rows × 8 columns; tokens by {counter}; median of {args.runs} runs; {load()}"
    )
    print(
        f"{'engine':8} {'describe':>9} {'baseline':>9} {'ratio':>6} {'tokens':>7} "
        f"{'kernel KB':>9} {'in ' + format(budget, 'g') + ' s budget':>16}  load"
    )
    try:
        for name, obj, baseline, close in cases(args.rows, args.engines):

            def ours(obj: Any = obj, settings: ContextSettings = SETTINGS) -> str:
                clear_cache()
                return describe(obj, "events", settings=settings)

            text = ours()
            t_ours = median_time(ours, args.runs)
            t_base = median_time(baseline, max(1, args.runs - 2))  # minutes for some
            # the default budget, cold cache: did every pass finish (nothing left out)?
            start = time.perf_counter()
            bounded = ours(settings=ContextSettings())
            t_bounded = time.perf_counter() - start
            verdict = "complete" if "Not computed" not in bounded else "PARTIAL"
            if args.show:
                os.makedirs(args.show, exist_ok=True)
                with open(os.path.join(args.show, f"{name}.md"), "w", encoding="utf-8") as f:
                    f.write(f"{bounded}\n")
            engine = {"polars": "polars-lazy"}.get(name, name)
            backend = backend_for(obj, engine)
            result = compute(backend, Request("events", SETTINGS, 1500), SETTINGS, 600)
            print(
                f"{name:8} {t_ours:8.2f}s {t_base:8.2f}s {t_base / t_ours:5.1f}x "
                f"{count_tokens(text):7d} {result.received_bytes / 1024:9.1f} "
                f"{verdict:>9} {t_bounded:5.2f}s  {load()}",
                flush=True,
            )
            if close is not None:
                close()
    finally:
        close_counter()


if __name__ == "__main__":
    main()
