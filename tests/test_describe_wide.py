"""Wide frames: every column accounted for, and a named column answerable (issue 16)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from describe_rows import row
from jupychat.context import describe


def wide(n: int = 2_000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {f"m_{i:03d}": rng.normal(i, 1, n) for i in range(300)}
    cols |= {f"cat_{i:02d}": pd.Categorical(rng.choice(["a", "b", "c"], n)) for i in range(20)}
    cols |= {f"cnt_{i:02d}": rng.integers(0, 9, n) for i in range(40)}
    return pd.DataFrame(cols)


def run_rows(text: str) -> dict[str, int]:
    """``{"m_000…m_149": 150, …}`` from the run rows of a text."""
    return {
        m.group(1): int(m.group(2)) for m in re.finditer(r"^\| (\S+…\S+) \| \S+ ×(\d+)", text, re.M)
    }


def test_named_columns_of_a_wide_frame_are_exact_and_the_rest_are_all_accounted_for():
    df = wide()
    text = describe(df, "w", columns=["m_150", "cat_05"])
    summary = row(text, "m_150")[2]
    assert f"p50 {df['m_150'].median():.3g}" in summary and "all distinct" in summary
    assert "levels:" in row(text, "cat_05")[2]
    runs = run_rows(text)
    # runs stop at the named columns, so a…b covers exactly a to b
    assert runs["m_000…m_149"] == 150 and runs["m_151…m_299"] == 149, runs
    assert runs["cat_00…cat_04"] == 5 and runs["cat_06…cat_19"] == 14, runs
    assert sum(runs.values()) + 2 == df.shape[1]


def test_a_wide_frame_with_a_key_column_has_no_duplicate_rows():
    df = wide()
    assert "no duplicate rows" in describe(df, "w")
    tied = df.copy()
    tied["m_000"] = 1.0  # no key among the first columns: not claimed either way
    tied = tied[[c for c in tied.columns if not c.startswith("m_")][:5] + list(tied.columns)]
    assert "duplicate row" not in describe(tied, "t")
