"""polars frames: the same honest table natively; LazyFrames by schema when values="schema"."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from jupychat.context import ContextSettings, describe, estimate_tokens

pl = pytest.importorskip("polars")


def make_frame(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(1)
    price = rng.lognormal(3, 1, n)
    price[:10] = np.nan
    return pl.DataFrame(
        {
            "id": np.arange(n),
            "price": price,
            "qty": pl.Series(
                np.where(rng.random(n) < 0.1, None, rng.integers(1, 5, n)).tolist(), dtype=pl.Int64
            ),
            "city": pl.Series(
                rng.choice(["Oslo", "Rome", "Lima"], n).tolist(), dtype=pl.Categorical
            ),
            "user_email": [f"u{i}@x.org" for i in rng.integers(0, 10**6, n)],
            "when": pl.datetime_range(
                dt.datetime(2024, 1, 1),
                dt.datetime(2024, 1, 1) + dt.timedelta(minutes=n - 1),
                "1m",
                eager=True,
                time_zone="UTC",
            ),
            "ok": rng.random(n) < 0.5,
            "tags": [[int(i), int(i) + 1] for i in rng.integers(0, 3, n)],
        }
    )


def row(text: str, column: str) -> list[str]:
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if cells[0] == column:
            return cells
    raise AssertionError(column)


def test_polars_frame_summary_is_exact_where_it_says_so():
    df = make_frame(30_000)
    text = describe(df, "pdf", settings=ContextSettings(sample_size=5_000))
    assert "polars.DataFrame, 30,000 rows × 8 columns" in text
    assert "5,000-row random sample" in text
    assert row(text, "qty")[2] == f"{df['qty'].null_count():,} (10%)" or row(text, "qty")[
        2
    ].startswith(f"{df['qty'].null_count():,} (")
    price = row(text, "price")[3]
    assert "NaN 10 (<0.1%)" in price and "mean≈" in price
    assert f"min {df['price'].min():.4g}"[:8] in price
    assert "id-like" in row(text, "id")[3] and "sorted ascending" in row(text, "id")[3]
    assert "levels:" in row(text, "city")[3]
    assert "values withheld (privacy)" in row(text, "user_email")[3]
    assert "@x.org" not in text
    assert row(text, "when")[1] == "datetime[us, UTC]"
    assert "2024-01-01 00:00:00 …" in row(text, "when")[3]
    assert estimate_tokens(text) <= 1500
    assert text == describe(df, "pdf", settings=ContextSettings(sample_size=5_000))


def test_polars_series_and_small_frames():
    s = pl.Series("score", [1.0, 2.0, None, 4.0])
    text = describe(s, "s")
    assert "polars.Series 'score', 4 values, Float64" in text
    assert row(text, "score")[2] == "1 (25%)"
    small = describe(pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}), "small")
    assert "All 2 rows:" in small and "| 2 | y |" in small
    empty = describe(pl.DataFrame({"a": []}), "e")
    assert "0 rows × 1 columns" in empty


def test_lazyframe_schema_level_runs_no_query():
    calls = []

    def spy(s):
        calls.append(1)
        return s * 2

    lf = pl.LazyFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}).with_columns(
        pl.col("a").map_batches(spy, return_dtype=pl.Int64).alias("c")
    )
    text = describe(lf, "lazy", values="schema")
    assert "polars.LazyFrame (not collected" in text
    assert "| c | Int64 |" in text
    assert calls == []
    # the default level describes it with bounded lazy queries (see test_describe_engines)
    full = describe(lf, "lazy")
    assert "3 rows × 3 columns" in full and "min 2, " in full and "max 6" in full
    wide = pl.LazyFrame({f"c{i}": [1] for i in range(2_000)})
    out = describe(wide, "w", budget=200, values="schema")
    assert "more columns" in out and estimate_tokens(out) <= 200
