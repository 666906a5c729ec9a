"""The cold path's shortcuts agree with pandas on the layouts they take shortcuts for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jupychat.context import describe
from jupychat.context._frame_stats import (
    arrow_string_nulls,
    datetime_min_max,
    min_max_mean,
    top_positions,
)
from jupychat.context.frames import PandasAdapter


@pytest.mark.parametrize("tz", [None, "UTC", "America/New_York"])
@pytest.mark.parametrize("nat_at", [[], [0], [-1], [0, 5, -1]])
def test_datetime_min_max_skips_nat_like_pandas(tz, nat_at):
    rng = np.random.default_rng(3)
    s = pd.Series(pd.to_datetime(rng.integers(0, 10**9, 50), unit="s").tz_localize(tz))
    s.iloc[nat_at] = pd.NaT
    assert datetime_min_max(s) == (s.min(), s.max())
    adapter = PandasAdapter(s.to_frame("t"), {}, 20_000, 0)
    assert adapter.nulls(0) == int(s.isna().sum())


def test_top_positions_orders_like_a_full_lexsort():
    rng = np.random.default_rng(0)
    for _ in range(500):
        n = int(rng.integers(1, 300))
        counts = rng.integers(0, int(rng.integers(1, 20)), n)
        k = int(rng.integers(1, 10))
        expected = np.lexsort((np.arange(n), -counts))[:k]
        assert top_positions(counts, k).tolist() == expected.tolist()


def test_fast_null_counts_and_shares_match_pandas():
    pytest.importorskip("pyarrow")
    n = 1_000
    rng = np.random.default_rng(1)
    text = pd.array(np.where(rng.random(n) < 0.2, None, "x"), dtype="string[pyarrow]")
    flags = pd.array(np.where(rng.random(n) < 0.3, None, rng.random(n) < 0.4), dtype="boolean")
    floats = np.where(rng.random(n) < 0.1, np.nan, rng.random(n))
    df = pd.DataFrame({"text": text, "flag": flags, "f": floats})
    assert arrow_string_nulls(df["text"]) == int(df["text"].isna().sum())
    adapter = PandasAdapter(df, {}, 20_000, 0)
    assert [adapter.nulls(i) for i in range(3)] == df.isna().sum().tolist()
    true = int(df["flag"].sum())
    share = f"true {100 * true / int(df['flag'].notna().sum()):.0f}%"
    assert share in describe(df, "d")


def test_min_max_mean_is_pandas_own_figure_bit_for_bit():
    """The one-pass float mean is pandas' ``Series.mean()`` exactly (not to a tolerance),
    with or without missing values, infinities, float32 and sizes around numpy's pairwise
    summation blocks."""
    rng = np.random.default_rng(7)
    for n in (1, 2, 7, 8, 9, 127, 128, 129, 1000, 10_001, 262_145):
        for kind in ("normal", "huge", "nan", "inf", "both_inf", "f32", "whole"):
            values = rng.normal(size=n) * (1e300 if kind == "huge" else 1.0)
            if kind == "nan":
                values[rng.integers(0, n, max(1, n // 10))] = np.nan
            if kind in ("inf", "both_inf"):
                values[rng.integers(0, n)] = np.inf
            if kind == "both_inf":
                values[rng.integers(0, n)] = -np.inf
            if kind == "whole":
                values = np.round(values * 1000)
            s = pd.Series(values.astype(np.float32) if kind == "f32" else values)
            mn, mx, mean = min_max_mean(s)
            expected = float(s.mean())
            assert (np.isnan(mean) and np.isnan(expected)) or mean == expected, (n, kind)
            if not s.isna().all():
                assert (mn, mx) == (s.min(), s.max())
