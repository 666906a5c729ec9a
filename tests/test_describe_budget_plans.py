"""Descriptions that would not fit the budget in full keep their statistics (a lean
numeric table) instead of dropping to null counts; small frames are shown whole only
while the rows are cheap; a column whose every value appears once gets no "top" shares.

Figures are graded against pandas computed in full.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from jupychat.context import clear_cache, describe


def _row(text: str, col: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.startswith(f"| {col} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def _same_at_shown_precision(shown: str, truth: float) -> bool:
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return abs(float(shown) - truth) <= 0.5 * 10**-decimals + 1e-12


def _header(text: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.startswith("| column | dtype |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_thirty_numeric_columns_keep_min_median_max_mean_within_the_budget():
    rng = np.random.default_rng(3)
    names = [f"{kind} {what}" for kind in ("mean", "error", "worst") for what in (
        "radius", "texture", "perimeter", "area", "smoothness", "compactness",
        "concavity", "concave points", "symmetry", "fractal dimension",
    )]  # fmt: skip
    df = pd.DataFrame({n: rng.gamma(2.0, 3.0, 569).round(5) for n in names})
    df["target"] = rng.integers(0, 2, 569)
    clear_cache()
    text = describe(df, "cells")
    head = _header(text)
    assert {"min", "p50", "max", "mean"} <= set(head), text
    for col in names:
        cells = dict(zip(head, _row(text, col), strict=False))
        truth = df[col]
        for key, value in (
            ("min", truth.min()),
            ("max", truth.max()),
            ("p50", truth.median()),
            ("mean", truth.mean()),
        ):
            assert _same_at_shown_precision(cells[key], value), (col, key, cells)


def test_a_small_frame_is_shown_whole_only_while_its_rows_are_cheap():
    rng = np.random.default_rng(4)
    small = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": list("vwxyz"), "c": [0.5] * 5})
    clear_cache()
    assert "All 5 rows:" in describe(small, "small")
    years = np.arange(1947, 1963)
    table = pd.DataFrame({f"x{i}": rng.integers(1000, 100_000, 16) for i in range(6)})
    table["YEAR"] = years.astype(float)
    text = describe(table, "table")  # 16 × 7: its rows would cost more than its figures
    assert "All 16 rows" not in text, text
    cells = dict(zip(_header(text), _row(text, "YEAR"), strict=False))
    assert float(cells["p25"]) == table["YEAR"].quantile(0.25)  # 1950.75, exact


def test_every_value_once_gets_no_top_shares():
    df = pd.DataFrame(
        {"code": [f"C{i:02d}" for i in range(16)], "name": [f"Carrier {i}" for i in range(16)]}
    )
    clear_cache()
    text = describe(df, "codes")
    assert "16 distinct" in _row(text, "code")[-1], text
    assert not re.search(r"top: C\d\d 6%", text), text


def test_a_frame_shown_whole_keeps_its_row_labels_unless_they_are_personal():
    cities = pd.DataFrame(
        {"cases": [126, 908, 913, 235], "controls": [100, 688, 747, 172]},
        index=pd.Index(["Beijing", "Shanghai", "Shenyang", "Nanjing"], name="Location"),
    )
    clear_cache()
    text = describe(cities, "cities")
    rows = text[text.index("All 4 rows:") :].splitlines()
    assert rows[1] == "| Location | cases | controls |", text
    assert rows[3] == "| Beijing | 126 | 100 |" and rows[6] == "| Nanjing | 235 | 172 |", text
    people = cities.set_axis(
        pd.Index([f"user{i}@corp.example" for i in range(4)], name="who"), axis=0
    )
    clear_cache()
    text = describe(people, "people")
    assert "All 4 rows:" in text and "@corp.example" not in text, text
    named = cities.rename_axis("email")
    clear_cache()
    assert "Beijing" not in describe(named, "named")  # private by the rule on names
