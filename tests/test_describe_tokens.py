"""Fewer tokens for the same facts (issue 16: tokens ≤ 60% of describe's).

Each test pins one saving and checks that the fact it replaces is still stated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from describe_rows import row
from jupychat.context import describe


def frame(n: int = 400, nulls: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    x = rng.normal(50, 10, n)
    if nulls:
        x[:40] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "k": rng.integers(0, 4, n),
            "w": rng.gamma(2, 3, n),
            "grade": rng.choice(["a", "b", "c"], n, p=[0.9, 0.055, 0.045]),
            "day": [f"2024-01-{d:02d}" for d in rng.integers(1, 29, n)],
            "code": [f"Z{v:05d}" for v in rng.integers(0, 10**5, n)],
        }
    )


def test_a_frame_without_nulls_says_so_once_and_drops_the_nulls_column():
    df = frame()
    text = describe(df, "f")
    assert "; no nulls." in text
    assert "| column | dtype | min |" in text and "| column | dtype | summary |" in text
    assert "nulls |" not in text
    assert row(text, "x")[1] == "0"  # read back as zero by the shared helper
    with_nulls = describe(frame(nulls=True), "g")
    assert "| column | dtype | nulls |" in with_nulls and "no nulls" not in with_nulls
    assert row(with_nulls, "x")[1] == "40 (10%)"


def test_default_numeric_dtypes_use_pandas_short_aliases():
    text = describe(frame(), "f")
    assert row(text, "x")[0] == "float" and row(text, "k")[0] == "int"
    small = pd.DataFrame({"a": np.arange(30, dtype="int16"), "b": np.ones(30, "float32")})
    text = describe(small, "s")
    assert row(text, "a")[0] == "int16" and row(text, "b")[0] == "float32"


def test_means_and_quartiles_of_measurements_have_three_significant_digits():
    df = frame()
    summary = row(describe(df, "f"), "w")[2]
    mean = df["w"].mean()
    assert f"mean {float(f'{mean:.3g}'):g}" in summary
    years = pd.DataFrame({"year": np.tile(np.arange(1952, 2008, 5), 10)})
    assert "p25 1965.75" in row(describe(years, "y"), "year")[2]  # whole numbers: exact


def test_value_shares_from_1_percent_are_whole_percents():
    summary = row(describe(frame(), "f"), "grade")[2]
    shares = dict(pair.rsplit(" ", 1) for pair in summary.split(": ", 1)[1].split(", "))
    assert all("." not in v for v in shares.values()), summary


def test_small_frames_drop_their_size_and_date_text_is_not_an_example_column():
    text = describe(frame(), "f")
    title = text.splitlines()[0]
    assert title.endswith("400 rows × 6 columns"), title
    examples = text.partition("Random example rows")[2]
    assert "code" in examples and "day" not in examples
    assert "2024-01-01 … 2024-01-28" in row(text, "day")[2]
    big = pd.DataFrame({"v": np.arange(200_000, dtype="float64")})
    assert "MB" in describe(big, "b").splitlines()[0]
