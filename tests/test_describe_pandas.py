"""pandas DataFrame/Series descriptions: bounded, honest (exact vs ≈), deterministic."""

from __future__ import annotations

import re
import time
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from describe_rows import row
from jupychat.context import ContextSettings, clear_cache, describe, estimate_tokens
from jupychat.context.budget import chars_for_tokens

SMALL_SAMPLE = ContextSettings(sample_size=2_000, exact_cells=10_000)  # forces sampling


def make_orders(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    price = rng.lognormal(3, 1, n)
    price[rng.random(n) < 0.05] = np.nan
    status = np.array(["shipped", "pending", "returned"], dtype=object)[
        rng.choice(3, n, p=[0.7, 0.2, 0.1])
    ]
    status[rng.random(n) < 0.02] = None
    shipped = pd.Series(
        pd.Timestamp("2023-01-01", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 400 * 86400, n), unit="s")
    )
    shipped[rng.random(n) < 0.1] = pd.NaT
    return pd.DataFrame(
        {
            "order_id": np.arange(1, n + 1),
            "price": price,
            "region": pd.Categorical(rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2])),
            "status": pd.array(status, dtype="str"),
            "email": pd.array(
                [f"u{i}@example.com" for i in rng.integers(0, 10**6, n)], dtype="str"
            ),
            "is_gift": rng.random(n) < 0.25,
            "shipped_at": shipped,
            "rating": pd.array(
                np.where(rng.random(n) < 0.3, None, rng.integers(1, 6, n)), dtype="Int64"
            ),
        }
    )


def with_text(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with a free-text column (example rows show text columns)."""
    rng = np.random.default_rng(1)
    out = df.copy()
    out["sku"] = pd.array([f"SKU-{i:05d}" for i in rng.integers(0, 90_000, len(df))], dtype="str")
    return out


def nulls_value(text: str) -> int:
    return int(text.split(" ")[0].replace(",", ""))


def assert_bounded(text: str, budget: int) -> None:
    assert estimate_tokens(text) <= budget
    assert len(text) <= chars_for_tokens(budget)


# -- exact vs estimated --------------------------------------------------------------------


def test_exact_figures_match_pandas_and_estimates_are_marked():
    df = make_orders(10_000)
    text = describe(df, "orders", settings=SMALL_SAMPLE)
    assert "10,000 rows × 8 columns" in text
    assert "2,000-row random sample" in text
    for col in df.columns:
        _, nulls, _ = row(text, col)
        assert nulls_value(nulls) == int(df[col].isna().sum()), col
    _, _, price = row(text, "price")
    assert re.search(r"min [\d.]+", price) and "p50≈" in price and "mean" in price
    mn = float(re.search(r"min ([\d.,]+)", price).group(1).replace(",", ""))
    assert mn == pytest.approx(df["price"].min(), rel=1e-3)
    _, _, region = row(text, "region")
    shares = df["region"].value_counts(normalize=True)
    assert f"north {round(shares['north'] * 100)}%" in region  # exact category share
    _, _, status = row(text, "status")
    assert "top≈" in status and "shipped" in status
    _, _, order_id = row(text, "order_id")
    assert "id-like" in order_id and "max 10000" in order_id  # ids: no separators
    _, _, gift = row(text, "is_gift")
    assert f"true {round(df['is_gift'].mean() * 100)}%" in gift
    _, _, shipped = row(text, "shipped_at")
    lo = df["shipped_at"].min().strftime("%Y-%m-%d %H:%M:%S")
    assert shipped.startswith(lo)


def test_frame_within_sample_size_is_exact_without_approx_marks():
    df = make_orders(500)
    text = describe(df, "orders")
    assert "All figures are exact" in text
    table = [ln for ln in text.split("Random example rows")[0].splitlines() if ln.startswith("|")]
    # numeric table (order_id, price, rating) and the other columns' table
    assert len(table) == 12 and not any("≈" in ln for ln in table)
    assert "≈" not in text.splitlines()[0]  # memory of 500 rows is measured, not estimated


def test_example_rows_are_random_not_head():
    df = with_text(make_orders(10_000))
    text = describe(df, "orders", settings=SMALL_SAMPLE)
    block = text.split("Random example rows")[1].splitlines()[3:6]
    ids = [int(line.strip("|").split("|")[0].strip().replace(",", "")) for line in block]
    assert len(ids) == 3 and ids != [1, 2, 3]
    # email is a private column: its values never appear, it is left out of the examples
    assert "@example.com" not in text and "values withheld (privacy)" in text


def test_description_is_deterministic_and_cached():
    df = make_orders(200_000)
    clear_cache()
    t0 = time.perf_counter()
    first = describe(df, "orders")
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    second = describe(df, "orders")
    warm = time.perf_counter() - t0
    assert first == second
    assert warm < cold / 3
    clear_cache()
    assert describe(df.copy(), "orders") == first  # a fresh scan gives the same text


def test_fingerprint_sees_a_change_in_shape_dtype_or_sampled_rows():
    df = make_orders(5_000)
    before = describe(df, "orders")
    df.loc[0, "price"] = 1e9  # row 0 is always in the fingerprint rows
    after = describe(df, "orders")
    assert before != after and "1000000000" in after  # no separators in table cells
    df["extra"] = 1
    assert "× 9 columns" in describe(df, "orders")


# -- budget and degradation -----------------------------------------------------------------


def test_degradation_order_under_shrinking_budgets():
    df = with_text(make_orders(10_000))
    stages = []
    for budget in (3000, 900, 500, 330, 150, 90):
        text = describe(df, "orders", budget=budget, settings=SMALL_SAMPLE)
        assert_bounded(text, budget)
        stages.append(text)
    has_rows = ["Random example rows" in t for t in stages]
    has_top = ["top≈" in t or "levels:" in t for t in stages]
    has_summary = ["| summary |" in t for t in stages]
    has_more = ["more columns" in t for t in stages]
    # each feature, once dropped, stays dropped; and they drop in the documented order
    for flags in (has_rows, has_top, has_summary):
        assert flags == sorted(flags, reverse=True)
    assert has_more == sorted(has_more)
    assert has_rows[0] and not has_rows[-1]
    first_no_rows = has_rows.index(False)
    first_no_top = has_top.index(False) if False in has_top else len(stages)
    first_no_summary = has_summary.index(False)
    assert first_no_rows <= first_no_top <= first_no_summary
    assert has_more[-1] and "describe_column" in stages[-1]


def test_default_budget_holds_for_a_realistic_frame():
    df = with_text(make_orders(30_000))
    text = describe(df, "orders")
    assert_bounded(text, 1500)
    assert "Random example rows" in text  # fits at full detail


def test_wide_frame_starts_compact_and_details_named_columns():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(1_000, 400)), columns=[f"c{i}" for i in range(400)])
    text = describe(df, "wide")
    assert_bounded(text, 1500)
    assert "| column | dtype | nulls |" in text and "| summary |" not in text
    # every column accounted for: one run of a name pattern and dtype per row
    assert "| c0…c399 | float ×400 | 0 |" in text and "describe_column" in text
    focused = describe(df, "wide", columns=["c150"])
    assert "Columns named in the prompt" in focused
    assert re.search(r"\| c150 \| float \| 0 \| min -?[\d.]+", focused)


def test_ten_thousand_columns_is_bounded_and_quick():
    df = pd.DataFrame(np.zeros((5, 10_000)), columns=[f"feature_{i}" for i in range(10_000)])
    t0 = time.perf_counter()
    text = describe(df, "huge")
    assert time.perf_counter() - t0 < 3
    assert_bounded(text, 1500)
    assert "10,000 columns" in text and "feature_0…feature_9999 | float ×10,000" in text


# -- odd frames -----------------------------------------------------------------------------


def odd_frames() -> dict[str, object]:
    rng = np.random.default_rng(3)
    n = 300
    frames: dict[str, object] = {
        "empty_rows": pd.DataFrame(
            {"a": pd.Series([], dtype="int64"), "b": pd.Series([], dtype="str")}
        ),
        "no_columns": pd.DataFrame(index=range(5)),
        "zero_by_zero": pd.DataFrame(),
        "all_nan": pd.DataFrame({"x": [np.nan] * n, "y": [None] * n, "z": range(n)}),
        "mixed_objects": pd.DataFrame(
            {"m": pd.Series([1, "a", 2.5, None, [1, 2], {"k": 1}, b"raw", (1,)] * 40, dtype=object)}
        ),
        "duplicates": pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "a", "b"]),
        "multiindex": pd.DataFrame(
            rng.normal(size=(n, 4)),
            index=pd.MultiIndex.from_product([range(n // 3), ["x", "y", "z"]], names=["id", "k"]),
            columns=pd.MultiIndex.from_product([["sales", "cost"], ["q1", "q2"]]),
        ),
        "extension": pd.DataFrame(
            {
                "int": pd.array([1, None, 3] * 100, dtype="Int64"),
                "flt": pd.array([1.5, None, 3.0] * 100, dtype="Float64"),
                "string": pd.array(["a", None, "c"] * 100, dtype="string"),
                "boolean": pd.array([True, None, False] * 100, dtype="boolean"),
                "category": pd.Categorical(
                    ["lo", "hi", None] * 100, categories=["lo", "hi", "mid"], ordered=True
                ),
                "tz": pd.date_range("2024-01-01", periods=300, freq="h", tz="Europe/Paris"),
                "period": pd.period_range("2020-01", periods=300, freq="M"),
                "interval": pd.IntervalIndex.from_breaks(range(301)),
                "delta": pd.to_timedelta(range(300), unit="min"),
                "sparse": pd.arrays.SparseArray([0, 0, 1.5] * 100),
                "complex": np.arange(300) * (1 + 1j),
                "dates": pd.date_range("2020-01-01", periods=300, freq="D"),
            }
        ),
        "unhashable": pd.DataFrame(
            {"lists": [[i, i + 1] for i in range(n)], "dicts": [{"k": i} for i in range(n)]}
        ),
        "int_labels": pd.DataFrame({0: range(n), 1.5: range(n), ("t", 1): range(n)}),
        "datetime_index": pd.DataFrame(
            {"v": range(n)}, index=pd.date_range("2021-01-01", periods=n)
        ),
        "pipes_and_newlines": pd.DataFrame({"a|b\nc": ["x|y", "line1\nline2", "`tick`"] * 100}),
        "huge_cells": pd.DataFrame({"text": ["x" * 100_000, "y" * 50_000] * 10}),
        "inf": pd.DataFrame({"v": [np.inf, -np.inf, 1.0, np.nan] * 50}),
        "constant": pd.DataFrame({"c": [7] * n, "s": ["same"] * n}),
        "uint_big": pd.DataFrame({"u": np.array([2**63, 2**64 - 1, 0] * 100, dtype=np.uint64)}),
        "series": pd.Series(rng.normal(size=n), name="price"),
        "series_unnamed": pd.Series(["a", "b", None] * 100),
    }
    return frames


@pytest.mark.parametrize("key", list(odd_frames()))
def test_odd_frames_always_give_a_bounded_description(key):
    obj = odd_frames()[key]
    before = obj.copy(deep=True)
    for budget in (1500, 120):
        text = describe(obj, key, budget=budget)
        assert text.startswith(f"### `{key}`"), text
        assert_bounded(text, budget)
        assert "describer failed" not in text, text
        assert text == describe(obj, key, budget=budget)
    if isinstance(obj, pd.DataFrame):
        pd.testing.assert_frame_equal(obj, before)
    else:
        pd.testing.assert_series_equal(obj, before)


def test_odd_frame_details():
    frames = odd_frames()
    assert "0 rows × 2 columns" in describe(frames["empty_rows"], "e")
    assert "(no columns to show)" in describe(frames["no_columns"], "n")
    all_nan = describe(frames["all_nan"], "a")
    assert row(all_nan, "x")[1] == "300 (100%) all null"
    mixed = describe(frames["mixed_objects"], "m")
    assert "mixed types" in row(mixed, "m")[2]
    dup = describe(frames["duplicates"], "d")
    assert "duplicate column labels: a (×2)" in dup
    multi = describe(frames["multiindex"], "mi")
    assert "index: MultiIndex with 2 levels (id, k)" in multi
    assert "| sales / q1 |" in multi
    ext = describe(frames["extension"], "ext", budget=4000)
    assert row(ext, "int")[1] == "100 (33%)"
    assert row(ext, "category")[0] == "category[3, ordered]"
    assert "unused levels" in row(ext, "category")[2]
    assert "Europe/Paris" in row(ext, "tz")[0]
    assert "2020-01-01 … 2020-10-26" in row(ext, "dates")[2]
    assert "min 0 days" in row(ext, "delta")[2]
    pipes = describe(frames["pipes_and_newlines"], "p")
    for line in pipes.splitlines():
        if line.startswith("|"):
            assert "\n" not in line
    assert "contains ±inf" in row(describe(frames["inf"], "i"), "v")[2]
    assert "constant 7" in row(describe(frames["constant"], "c"), "c")[2]


def test_arrow_dtypes_when_pyarrow_is_installed():
    pa = pytest.importorskip("pyarrow")
    df = pd.DataFrame(
        {
            "i": pd.array([1, None, 3] * 100, dtype=pd.ArrowDtype(pa.int64())),
            "s": pd.array(["a", None, "c"] * 100, dtype=pd.ArrowDtype(pa.string())),
            "t": pd.array(
                pd.date_range("2024-01-01", periods=300), dtype=pd.ArrowDtype(pa.timestamp("us"))
            ),
            "b": pd.array([True, False, None] * 100, dtype=pd.ArrowDtype(pa.bool_())),
        }
    )
    text = describe(df, "arrow")
    assert row(text, "i")[1] == "100 (33%)" and "max 3" in row(text, "i")[2]
    assert "describer failed" not in text


def test_series_is_one_summary_row_with_example_values():
    s = pd.Series(np.arange(50_000) % 7, name="weekday")
    text = describe(s, "s")
    assert "pandas.Series 'weekday', 50,000 values, int" in text
    assert row(text, "weekday")[0] == "int"
    assert "Random example values (3)" in text


def test_small_frames_are_inlined_whole():
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    text = describe(df, "tiny")
    assert "All 3 rows:" in text and "| 3 | z |" in text


def test_describing_does_not_copy_a_large_frame():
    n = 2_000_000
    df = pd.DataFrame({f"f{i}": np.random.default_rng(i).normal(size=n) for i in range(4)})
    df["s"] = pd.array(np.array(["a", "b", "c", "d"], dtype=object)[np.arange(n) % 4], dtype="str")
    describe(df.head(10), "warm")  # import and register outside the measurement
    clear_cache()
    tracemalloc.start()
    try:
        describe(df, "big")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    frame_bytes = df.memory_usage(deep=False).sum()
    assert peak < frame_bytes / 8, (peak, frame_bytes)
