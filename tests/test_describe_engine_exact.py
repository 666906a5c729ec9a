"""Engine descriptions that read every row say "exact": their quartiles must then be
pandas' (linear interpolation), whole-number quartiles shown whole (1965.75, not 1966),
and integer values without thousands separators (years, ids)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from jupychat.context import clear_cache, describe


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 1_001  # odd and even gaps: quartiles fall between values
    return pd.DataFrame(
        {
            "year": rng.integers(1950, 2008, n),
            "ident": np.arange(10_000, 10_000 + n) * 3,
            "score": rng.normal(50, 10, n).round(3),
        }
    )


def _quartiles(text: str, col: str) -> list[float]:
    row = next(line for line in text.splitlines() if line.startswith(f"| {col} |"))
    assert "≈" not in row, row  # every row read: nothing estimated
    found = []
    for key in ("p25", "p50", "p75"):
        cells = [c.strip() for c in row.split("|")]
        header = next(line for line in text.splitlines() if line.startswith("| column |"))
        names = [c.strip() for c in header.split("|")]
        if key in names:
            found.append(cells[names.index(key)])
        else:
            match = re.search(key + r" (-?[\d.,]+)", row)
            assert match, (key, row)
            found.append(match.group(1))
    assert all("," not in v for v in found), found
    return [float(v) for v in found]


def _check(text: str, df: pd.DataFrame) -> None:
    assert "All figures are exact" in text, text
    for col in ("year", "ident"):
        truth = df[col].quantile([0.25, 0.5, 0.75]).tolist()
        assert _quartiles(text, col) == truth, (col, text)
    shown = _quartiles(text, "score")
    truth = df["score"].quantile([0.25, 0.5, 0.75]).tolist()
    assert shown == pytest.approx(truth, rel=5e-3), text
    assert str(int(df["year"].min())) in text and f"{int(df['ident'].max()):,}" not in text


def test_duckdb_exact_quartiles_are_pandas_linear_ones():
    duckdb = pytest.importorskip("duckdb")
    clear_cache()
    df = _frame()
    con = duckdb.connect()
    con.register("src", df)
    rel = con.sql("SELECT * FROM src")
    _check(describe(rel, "rel"), df)


def test_polars_lazy_exact_quartiles_are_pandas_linear_ones():
    pl = pytest.importorskip("polars")
    clear_cache()
    df = _frame()
    _check(describe(pl.from_pandas(df).lazy(), "lf"), df)
