"""Benchmark: the sampled DataFrame summary vs pandas' full describe + isna + nunique.

Run::

    python benchmarks/bench_describe.py            # full run (~1-2 minutes)
    python benchmarks/bench_describe.py --quick    # smaller frames
    python benchmarks/bench_describe.py --docs     # print the examples of docs/context.md

For each frame it prints the median time of the summary with a cold cache (the
fingerprint cache cleared before every run), the median time of the baseline
``df.describe(include="all"); df.isna().sum(); df.nunique()`` measured in the same run,
their ratio, the summary's size in tokens (chars / 3.5), and the time of a second,
cached call. Targets on the 1,000,000 × 20 frame: >= 10x faster than the baseline,
< 150 ms median, <= 1,500 tokens.

A later chat turn (issue 22)::

    python benchmarks/bench_describe.py --turn [--against /path/to/other/src] [--rounds 5]

times, in a real IPython shell with a 1,000,000 × 20 float frame ``df``, 30 other
variables and 12 executed cells, what a later ``%%chat`` cell naming ``@df`` spends on
context when nothing changed: ``describe_named`` plus ``_inventory`` (the standing
inventory of variables and cells), median µs per call. With ``--against``, each round
runs this tree and the other source tree (e.g. main's ``src``) in fresh subprocesses,
interleaved, and prints their ratio. Target: <= 150 µs together.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from jupychat.context import clear_cache, describe, estimate_tokens


def mixed_frame(n: int, seed: int = 1) -> pd.DataFrame:
    """n × 20: ints, floats with NaNs, categories, strings (an email column), bools,
    tz-aware datetimes with NaT, an id column, nullable ints and booleans."""
    rng = np.random.default_rng(seed)
    price = rng.lognormal(3, 1, n)
    price[rng.random(n) < 0.05] = np.nan
    status = np.array(["shipped", "pending", "returned", "cancelled", "lost"], dtype=object)[
        rng.choice(5, n, p=[0.6, 0.2, 0.1, 0.08, 0.02])
    ]
    status[rng.random(n) < 0.01] = None
    emails = np.array([f"user{u}@example.com" for u in rng.integers(0, 10**7, n)], dtype=object)
    shipped = pd.Series(
        pd.Timestamp("2023-01-01", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 700 * 86400, n), unit="s")
    )
    shipped[rng.random(n) < 0.1] = pd.NaT
    comments = np.array(["ok", "late", "damaged box", "great"], dtype=object)[rng.integers(0, 4, n)]
    comments[rng.random(n) < 0.7] = None
    return pd.DataFrame(
        {
            "order_id": np.arange(1, n + 1),
            "customer_id": rng.integers(1, 50_000, n),
            "price": price,
            "quantity": rng.integers(1, 10, n),
            "discount": rng.choice([0.0, 0.05, 0.1, 0.2], n),
            "region": pd.Categorical(
                rng.choice(
                    ["north", "south", "east", "west", "central"], n, p=[0.3, 0.25, 0.2, 0.15, 0.1]
                )
            ),
            "status": pd.array(status, dtype="str"),
            "email": pd.array(emails, dtype="str"),
            "is_gift": rng.random(n) < 0.1,
            "shipped_at": shipped,
            "weight_kg": rng.gamma(2, 2, n),
            "rating": pd.array(
                np.where(rng.random(n) < 0.3, None, rng.integers(1, 6, n)), dtype="Int64"
            ),
            "channel": pd.Categorical(rng.choice(["web", "app", "store"], n)),
            "score": rng.normal(0, 1, n).astype("float32"),
            "sku": pd.array(
                np.array([f"SKU-{i:05d}" for i in rng.integers(0, 5000, n)], dtype=object),
                dtype="str",
            ),
            "created": pd.date_range("2022-01-01", periods=n, freq="min"),
            "returned": pd.array(
                np.where(rng.random(n) < 0.2, None, rng.random(n) < 0.05), dtype="boolean"
            ),
            "tax": rng.uniform(0, 5, n).round(2),
            "warehouse": rng.integers(1, 20, n).astype("int16"),
            "comment": pd.array(comments, dtype="str"),
        }
    )


def wide_frame(n: int, seed: int = 2) -> pd.DataFrame:
    """n × 200: 150 float sensors (some NaN), 30 int counters, 10 categories, 10 strings."""
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i in range(150):
        v = rng.normal(i, 1 + i % 7, n)
        v[rng.random(n) < (i % 5) / 50] = np.nan
        cols[f"sensor_{i:03d}"] = v
    for i in range(30):
        cols[f"count_{i:02d}"] = rng.poisson(3 + i, n)
    for i in range(10):
        cols[f"cat_{i}"] = pd.Categorical(rng.choice(list("abcdefgh"[: 3 + i % 5]), n))
    for i in range(10):
        words = np.array([f"w{j}" for j in range(20 * (i + 1))], dtype=object)
        cols[f"text_{i}"] = pd.array(words[rng.integers(0, len(words), n)], dtype="str")
    return pd.DataFrame(cols)


def timeseries_frame(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2015-01-01", periods=n, freq="s", tz="America/New_York", name="ts")
    return pd.DataFrame(
        {
            "temp": rng.normal(20, 5, n).cumsum() / 100,
            "pressure": rng.normal(1013, 3, n),
            "station": pd.Categorical(rng.choice(["A", "B", "C"], n)),
            "alarm": rng.random(n) < 0.001,
        },
        index=idx,
    )


def text_frame(n: int, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vocab = np.array(
        [
            "the",
            "a",
            "data",
            "model",
            "frame",
            "value",
            "quick",
            "brown",
            "fox",
            "jumps",
            "over",
            "lazy",
            "dog",
        ],
        dtype=object,
    )
    reviews = [" ".join(vocab[rng.integers(0, len(vocab), k)]) for k in rng.integers(3, 30, n)]
    return pd.DataFrame(
        {
            "review": pd.array(reviews, dtype="str"),
            "user_name": pd.array([f"name{i}" for i in rng.integers(0, n, n)], dtype="str"),
            "mixed": pd.Series([1, "two", 3.0, None] * (n // 4), dtype=object),
            "stars": rng.integers(1, 6, n),
        }
    )


def median_time(
    fn: Callable[[], object], runs: int, before: Callable[[], None] | None = None
) -> tuple[float, float]:
    """Median wall time and median CPU time (this process) of ``runs`` calls."""
    wall, cpu = [], []
    for _ in range(runs):
        if before:
            before()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def baseline(df: pd.DataFrame) -> None:
    df.describe(include="all")
    df.isna().sum()
    df.nunique()


def docs_examples() -> None:
    """Print the example summaries shown in docs/context.md (real output of this code)."""
    import polars as pl

    from jupychat.context import ContextSettings, DataTools, turn_context

    def show(title: str, text: str) -> None:
        print(f"#### {title}\n\n```\n{text}\n```\n")

    orders = mixed_frame(1_000_000)
    show("1,000,000 × 20 mixed frame, default budget (1,500 tokens)", describe(orders, "orders"))
    show(
        "The same frame at 400 tokens (examples and top values dropped first)",
        describe(orders, "orders", budget=400),
    )
    show(
        'values="aggregates" (no cell values at all)',
        describe(orders.iloc[:, :8], "orders", values="aggregates"),
    )
    wide = wide_frame(50_000)
    show(
        "A 200-column frame: compact, with the column the prompt names in full",
        turn_context(
            {"wide": wide}, ["wide"], prompt="why is sensor_042 noisy?", include_inventory=False
        )["var:wide"],
    )
    show("Time series with a tz-aware DatetimeIndex", describe(timeseries_frame(500_000), "ts"))
    show(
        "Text, personal names and a mixed-type object column",
        describe(text_frame(40_000), "reviews"),
    )
    small = pd.DataFrame(
        {
            "city": ["Oslo", "Lima", "Rome", None],
            "pop_m": [0.7, 10.9, 2.8, None],
            "capital": [True, True, True, False],
        }
    )
    show("A small frame is shown whole", describe(small, "cities"))
    rng = np.random.default_rng(0)
    pdf = pl.DataFrame(
        {
            "sensor": rng.choice(["a", "b", "c"], 100_000).tolist(),
            "reading": rng.normal(0, 1, 100_000),
            "ok": rng.random(100_000) < 0.9,
        }
    )
    show("polars DataFrame (native path)", describe(pdf, "readings"))
    show(
        'polars LazyFrame with values="schema" (schema only, no query runs)',
        describe(pdf.lazy().with_columns(pl.col("reading") * 2), "lazy", values="schema"),
    )
    ns = {
        "orders": orders,
        "cities": small,
        "threshold": 0.25,
        "np": np,
        "pd": pd,
        "api_key": "sk-not-shown-anywhere-0000000000",
    }
    show("Inventory of the other variables", turn_context(ns, ["orders"])["inventory"])
    tools = DataTools(lambda: ns, ContextSettings())
    show(
        "Tool: describe_column (exact, whole column)",
        tools.describe_column("orders", "status", top_k=5),
    )
    show("Tool: value_counts", tools.value_counts("orders", ["region", "channel"], top_k=5))


TURN_TARGET_US = 150.0


def turn_cost() -> dict[str, float]:
    """Median µs per call of describe_named and _inventory on an unchanged notebook."""
    from IPython.core.interactiveshell import InteractiveShell

    from jupychat.notebook import namespace
    from jupychat.notebook.cells import CellRecord

    shell = InteractiveShell.instance()
    CellRecord.install(shell)
    for i in range(12):  # executed cells: the inventory lists the last 8
        shell.run_cell(f"v{i} = {i} * 1.5\nprint(v{i})", store_history=True, silent=False)
    rng = np.random.default_rng(0)
    ns = shell.user_ns
    ns["df"] = pd.DataFrame({f"c{i}": rng.normal(size=1_000_000) for i in range(20)})
    ns.update(np=np, pd=pd, json=json, os=os, timeit=timeit)  # 5 modules
    for i in range(5):
        ns[f"s{i}"] = f"label {i}"
        ns[f"lst{i}"] = list(range(i * 10))
    for i in range(3):
        ns[f"small{i}"] = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
        ns[f"arr{i}"] = np.zeros((100, i + 1))
    ns["fn"], ns["cfg"] = turn_cost, {"a": 1}
    prompt = "what is the mean of c3 in @df, and is it far from c4?"
    namespace.describe_named(ns, ["df"], prompt)  # the first turn: described once
    namespace._inventory(shell)
    out = {}
    for label, fn in (
        ("describe_named", lambda: namespace.describe_named(ns, ["df"], prompt)),
        ("_inventory", lambda: namespace._inventory(shell)),
    ):
        number = 500
        for suffix, timer in (("", time.perf_counter), (" cpu", time.process_time)):
            runs = timeit.repeat(fn, number=number, repeat=7, timer=timer)
            out[label + suffix] = statistics.median(runs) / number * 1e6
    out["total"] = out["describe_named"] + out["_inventory"]
    out["total cpu"] = out["describe_named cpu"] + out["_inventory cpu"]
    return out


def turn_main(against: str | None, rounds: int) -> int:
    """Run :func:`turn_cost` in fresh subprocesses, this tree and ``against`` interleaved."""
    here = str(Path(__file__).resolve().parents[1] / "src")
    trees = [("this tree", here)] + ([("against", against)] if against else [])
    results: dict[str, list[dict[str, float]]] = {label: [] for label, _ in trees}
    for _ in range(rounds):
        for label, src in trees:
            env = {**os.environ, "PYTHONPATH": src}
            done = subprocess.run(
                [sys.executable, __file__, "--turn-child"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            results[label].append(json.loads(done.stdout.strip().splitlines()[-1]))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"later turn, unchanged 1M x 20 frame + 30 variables + 12 cells; {rounds} rounds; "
        f"load {load:.1f}"
    )
    print("median us per call, wall (CPU time of this process in brackets)")
    print(f"{'tree':<11}{'describe_named':>20}{'_inventory':>20}{'total':>20}")
    medians = {}
    for label, _ in trees:
        row = {k: statistics.median(r[k] for r in results[label]) for k in results[label][0]}
        medians[label] = row
        cells = [
            f"{row[k]:.1f} ({row[k + ' cpu']:.1f})"
            for k in ("describe_named", "_inventory", "total")
        ]
        print(f"{label:<11}" + "".join(f"{c:>20}" for c in cells))
    total, cpu = medians["this tree"]["total"], medians["this tree"]["total cpu"]
    if against:
        old = medians["against"]
        print(
            f"ratio this/against: {total / old['total']:.2f} wall, {cpu / old['total cpu']:.2f} CPU"
        )
    verdict = "yes" if min(total, cpu) <= TURN_TARGET_US else "NO"
    print(f"target <= {TURN_TARGET_US:.0f} us (CPU; wall grows with the machine's load): {verdict}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller frames, fewer runs")
    parser.add_argument("--show", action="store_true", help="print the main summary")
    parser.add_argument("--docs", action="store_true", help="print the docs examples")
    parser.add_argument("--turn", action="store_true", help="a later chat turn's context cost")
    parser.add_argument("--against", help="another src tree to compare --turn with")
    parser.add_argument("--rounds", type=int, default=5, help="--turn rounds (subprocesses)")
    parser.add_argument("--turn-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.turn_child:
        print(json.dumps(turn_cost()))
        return 0
    if args.turn:
        return turn_main(args.against, args.rounds)
    if args.docs:
        docs_examples()
        return 0
    scale = 10 if args.quick else 1
    frames = [
        ("mixed 1M×20", mixed_frame(1_000_000 // scale), 7, 3),
        ("wide 200k×200", wide_frame(200_000 // scale), 5, 1),
        ("timeseries 2M×4", timeseries_frame(2_000_000 // scale), 5, 1),
        ("text 400k×4", text_frame(400_000 // scale), 5, 1),
    ]
    describe(frames[0][1].head(100), "warmup")  # imports and registration
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at start "
        "(wall times grow with other load; CPU times much less)"
    )
    print(
        f"{'frame':<17}{'summary ms':>11}{'(cpu)':>7}{'baseline ms':>12}{'(cpu)':>7}"
        f"{'ratio':>7}{'(cpu)':>7}{'tokens':>7}{'cached ms':>10}"
    )
    results = {}
    for label, df, runs, base_runs in frames:
        summary, summary_cpu = median_time(
            lambda df=df: describe(df, "df"), runs, before=clear_cache
        )
        text = describe(df, "df")
        cached, _ = median_time(lambda df=df: describe(df, "df"), 5)
        base, base_cpu = median_time(lambda df=df: baseline(df), base_runs)
        tokens = estimate_tokens(text)
        results[label] = (summary, base, tokens, text)
        print(
            f"{label:<17}{summary * 1e3:>11.1f}{summary_cpu * 1e3:>7.0f}{base * 1e3:>12.0f}"
            f"{base_cpu * 1e3:>7.0f}{base / summary:>6.1f}x{base_cpu / summary_cpu:>6.1f}x"
            f"{tokens:>7}{cached * 1e3:>10.2f}"
        )
    summary, base, tokens, text = results["mixed 1M×20"]
    print()
    print(
        f"targets (mixed 1M×20, wall): ratio >= 10x: {'yes' if base / summary >= 10 else 'NO'}"
        f"; median < 150 ms: {'yes' if summary < 0.150 else 'NO'}; "
        f"tokens <= 1,500: {'yes' if tokens <= 1500 else 'NO'}"
    )
    if args.show:
        print()
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
