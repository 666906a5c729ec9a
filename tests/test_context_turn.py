"""Turn context: which variables, how much, deterministic, cached; @mentions; inventory."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd

from jupychat.context import (
    ContextSettings,
    clear_cache,
    estimate_tokens,
    inventory,
    mentioned_columns,
    mentioned_names,
    turn_context,
)
from jupychat.types import ContextBlock


def notebook() -> dict:
    rng = np.random.default_rng(0)
    n = 300_000
    return {
        "__name__": "__main__",
        "_": 1,
        "_i3": "x = 1",
        "In": [""],
        "Out": {},
        "get_ipython": lambda: None,
        "exit": object(),
        "quit": object(),
        "np": np,
        "pd": pd,
        "json": json,
        "sales": pd.DataFrame(
            {
                "amount": rng.normal(100, 10, n),
                "store": rng.integers(0, 50, n),
                "day": pd.date_range("2020-01-01", periods=n, freq="min"),
            }
        ),
        "wide": pd.DataFrame(
            rng.normal(size=(100, 300)), columns=[f"sensor_{i}" for i in range(300)]
        ),
        "threshold": 0.5,
        "label": "Q3 report",
        "items": [1, 2, 3],
        "_hidden": 42,
    }


def test_mentioned_names():
    ns = {"df": 1, "sales_2024": 2, "x": 3}
    prompt = "Compare @df with @sales_2024, mail me at bob@x.com, and @missing @df again"
    assert mentioned_names(prompt, ns) == ["df", "sales_2024"]
    assert mentioned_names("`@df` and @x.", ns) == ["x"]
    assert mentioned_names("", ns) == []


def test_mentioned_columns_are_whole_words():
    cols = ["amount", "store", "store_id", "a"]
    assert mentioned_columns("plot Amount by store", cols) == ["amount", "store"]


def test_inventory_lists_user_variables_only():
    ns = notebook()
    text = inventory(ns)
    assert "- sales: pandas.DataFrame 300,000×3" in text
    assert "- threshold: float = 0.5" in text and "- label: str = 'Q3 report'" in text
    assert "- items: list len 3" in text
    assert f"Imports: np (numpy) {np.__version__}, pd (pandas) {pd.__version__}, json" in text
    for hidden in ("_hidden", "_i3", "In", "Out", "get_ipython", "exit", "quit", "__name__"):
        assert f"- {hidden}:" not in text
    many = {f"v{i}": i for i in range(2_000)}
    capped = inventory(many, budget=200)
    assert estimate_tokens(capped) <= 200 and "more:" in capped


def test_turn_context_keys_budget_and_determinism():
    ns = notebook()
    settings = ContextSettings()
    clear_cache()
    t0 = time.perf_counter()
    blocks = turn_context(ns, ["sales", "threshold", "nope"], settings, prompt="total @sales")
    cold = time.perf_counter() - t0
    assert list(blocks) == ["var:sales", "var:threshold", "var:nope", "inventory"]
    assert blocks["var:nope"] == "`nope` is not defined in the notebook."
    assert "- sales:" not in blocks["inventory"] and "- wide:" in blocks["inventory"]
    assert sum(estimate_tokens(t) for t in blocks.values()) <= settings.turn_budget
    t0 = time.perf_counter()
    again = turn_context(ns, ["sales", "threshold", "nope"], settings, prompt="total @sales")
    warm = time.perf_counter() - t0
    assert again == blocks
    assert warm < cold / 3
    digests = {k: ContextBlock(k, v).digest for k, v in blocks.items()}
    ns["threshold"] = 0.7
    changed = turn_context(ns, ["sales", "threshold", "nope"], settings, prompt="total @sales")
    new = {k: ContextBlock(k, v).digest for k, v in changed.items()}
    assert [k for k in new if new[k] != digests[k]] == ["var:threshold"]
    ns["label"] = "Q4 report"  # listed in the inventory only
    changed = turn_context(ns, ["sales", "threshold", "nope"], settings, prompt="total @sales")
    assert [k for k in changed if changed[k] != again[k]] == ["var:threshold", "inventory"]


def test_turn_budget_is_shared_between_many_variables():
    rng = np.random.default_rng(1)
    ns = {
        f"df{i}": pd.DataFrame(rng.normal(size=(50, 20)), columns=[f"c{j}" for j in range(20)])
        for i in range(8)
    }
    settings = ContextSettings(turn_budget=3_000)
    blocks = turn_context(ns, list(ns), settings)
    assert sum(estimate_tokens(t) for t in blocks.values()) <= 3_000
    assert all(f"var:df{i}" in blocks for i in range(8))


def test_prompt_columns_get_full_detail_in_wide_frames():
    ns = notebook()
    blocks = turn_context(ns, ["wide"], prompt="why does sensor_250 spike?")
    text = blocks["var:wide"]
    assert "Columns named in the prompt" in text
    assert "| sensor_250 | float | 0 | min" in text


def test_variables_and_inventory_context_split_the_turn_budget():
    from jupychat.context import inventory_context, variables_context

    ns = notebook()
    settings = ContextSettings(turn_budget=1_200, inventory_budget=300)
    blocks = variables_context(ns, ["sales", "wide"], settings)
    assert list(blocks) == ["var:sales", "var:wide"]
    inv = inventory_context(ns, settings)
    assert list(inv) == ["inventory"] and "- sales:" in inv["inventory"]
    total = sum(estimate_tokens(t) for t in [*blocks.values(), *inv.values()])
    assert total <= 1_200
    assert inventory_context({"_x": 1}) == {}
