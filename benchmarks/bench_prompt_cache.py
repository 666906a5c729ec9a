"""Prompt caching: how much of a long notebook session's input is billed as cache reads.

Run: ``python benchmarks/bench_prompt_cache.py [--turns 20] [--rows 1000000]``

What it measures
----------------
A real IPython shell with ``%load_ext jupychat`` holds a 1,000,000-row ``orders``
DataFrame. Twenty ``%%chat`` cells ask about it the way an analysis goes: the first
names ``@orders`` (its description goes into context), follow-ups ask more, two turns
call a data tool (``value_counts``, run on the real frame), a new variable appears at
turn 8 (the inventory changes) and ``orders`` gains a column at turn 14 (its description
is sent again). Answers are scripted (~150 tokens each).

The model server is the loopback fake (``tests/fakeserver.py``), whose usage figures come
from a model of each provider's documented prompt cache (``tests/fakecache.py``):
Anthropic caches prefixes up to the ``cache_control`` marks a request carries (20-block
lookback, 1,024-token minimum, 5-minute TTL); OpenAI caches any prompt of 1,024 tokens
or more automatically, in 128-token steps. So the figures measure the shape of the
requests jupychat sends, not a number written down here.

Rows, per provider: each turn's input tokens, the share read from the cache, tokens
written to it, and the turn's cost from ``session.stats()`` (catalog prices: Claude Sonnet
4 and GPT-4o mini, cache reads and writes priced as billed). Then: the share of input
billed as cache reads from turn 3 on (target ≥ 80 %), and the cost per turn with caching
against a baseline from the same run: Anthropic with its marks turned off
(``prompt_cache = false``, measured), OpenAI's own token counts priced with no cache
discount (its caching cannot be turned off). Finally ``%chat stats`` as a user sees it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from fakeserver import FakeServer  # noqa: E402

TARGET_SHARE = 0.80
ANSWER = (
    "Looking at the description, price is right-skewed (median well under the mean), "
    "region north holds the most orders, and about 5% of prices are missing. "
)
QUESTIONS = [
    "Give me an overview of @orders: what stands out?",
    "Which columns have missing values, and how many?",
    "Is price skewed? What would you use instead of the mean?",
    "How are orders spread across regions?",
    "Count the statuses, please.",  # tool call
    "Which status should I look at first for refunds?",
    "Suggest a plot for price by region.",
    "Now that I made `small`, how does it compare with orders?",  # inventory changed
    "What is a sensible price cap for outliers?",
    "Write pandas code to cap price at the 99th percentile.",
    "How many orders per channel?",  # tool call
    "Is there anything odd about the dates?",
    "Which columns look like identifiers?",
    "I added a `margin` column to @orders: what does it look like?",  # context changed
    "Is margin related to price?",
    "Which region has the best margins?",
    "Summarise what we found so far in five bullets.",
    "What should I check next?",
    "Draft a title for this analysis.",
    "Thanks, one last sanity check on row counts?",
]
TOOL_TURNS = {
    4: ("value_counts", {"var": "orders", "columns": ["status"]}),
    10: ("value_counts", {"var": "orders", "columns": ["channel"]}),
}


def make_orders(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(42)
    price = rng.lognormal(3.0, 0.8, rows).round(2)
    price[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "order_id": np.arange(1, rows + 1),
            "customer_id": rng.integers(1, rows // 8, rows),
            "price": price,
            "quantity": rng.integers(1, 9, rows),
            "region": pd.Categorical(
                rng.choice(
                    ["north", "south", "east", "west", "central"],
                    rows,
                    p=[0.3, 0.25, 0.2, 0.15, 0.1],
                )
            ),
            "channel": rng.choice(["web", "store", "phone"], rows, p=[0.6, 0.3, 0.1]),
            "status": rng.choice(
                ["shipped", "pending", "returned", "cancelled"], rows, p=[0.6, 0.2, 0.1, 0.1]
            ),
            "placed_at": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 730, rows), "D"),
            "discount": rng.choice([0.0, 0.05, 0.1, 0.2], rows),
            "rating": rng.integers(1, 6, rows).astype("float64"),
        }
    )


def run_session(
    server: FakeServer, model: str, orders: pd.DataFrame, turns: int, cache: bool, tag: str
) -> dict[str, Any]:
    """One notebook session of ``turns`` cells; returns its stats and what %chat stats says."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from jupychat import config
    from jupychat.notebook import get_chat, unload_ipython_extension

    server.reset()  # an empty cache: every run starts cold
    os.environ["JUPYCHAT_MODEL"] = model
    os.environ["JPY_SESSION_NAME"] = f"/bench/prompt-cache-{tag}.ipynb"
    config.reset_for_tests()
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupychat")
    config.set_override("prompt_cache", cache)
    shell.user_ns["orders"] = orders.copy()
    try:
        for number in range(1, turns + 1):
            question = QUESTIONS[(number - 1) % len(QUESTIONS)]
            if number == 8:
                shell.user_ns["small"] = shell.user_ns["orders"].sample(1000, random_state=1)
            if number == 14:
                frame = shell.user_ns["orders"]
                frame["margin"] = (frame["price"] * 0.3).round(2)
            if number in TOOL_TURNS:
                name, args = TOOL_TURNS[number]
                server.enqueue("Let me count.", tool_calls=[{"name": name, "arguments": args}])
            server.enqueue(f"Turn {number}. " + ANSWER * 2)
            with capture_output():
                result = shell.run_cell(f"%%chat\n{question}")
            if not result.success:
                raise RuntimeError(f"turn {number} failed: {result.error_in_exec}")
        session = get_chat(shell).session()
        with capture_output() as out:
            shell.run_line_magic("chat", "stats")
        return {"stats": session.stats(), "printed": out.stdout.strip()}
    finally:
        unload_ipython_extension(shell)
        InteractiveShell.clear_instance()


def uncached_cost(turn: dict[str, Any]) -> float:
    from jupychat.pricing import cost_of
    from jupychat.types import Usage

    cost = cost_of(Usage(turn["input_tokens"], turn["output_tokens"]), turn["model"])
    return float(cost or 0.0)


def report(
    name: str, cached: dict[str, Any], baseline: list[float], baseline_kind: str
) -> dict[str, float]:
    turns = cached["stats"]["per_turn"]
    print(f"\n{name}: {cached['stats']['model']}")
    print(
        f"{'turn':>4} {'input':>8} {'cached':>8} {'written':>8} {'share':>6} {'cost $':>9} {'no-cache $':>10}"
    )
    for turn, base in zip(turns, baseline, strict=True):
        share = turn["cached_tokens"] / turn["input_tokens"] if turn["input_tokens"] else 0.0
        print(
            f"{turn['turn']:>4} {turn['input_tokens']:>8,} {turn['cached_tokens']:>8,} "
            f"{turn['cache_write_tokens']:>8,} {share:>6.1%} {turn['cost']:>9.5f} {base:>10.5f}"
        )
    later = turns[2:]
    share = sum(t["cached_tokens"] for t in later) / sum(t["input_tokens"] for t in later)
    with_cache = sum(t["cost"] for t in turns) / len(turns)
    without = sum(baseline) / len(baseline)
    print(
        f"cache-read share of input from turn 3: {share:.1%} (target ≥ {TARGET_SHARE:.0%}: "
        f"{'met' if share >= TARGET_SHARE else 'NOT met'})"
    )
    print(
        f"cost per turn: ${with_cache:.5f} with caching, ${without:.5f} without "
        f"({baseline_kind}); ratio {with_cache / without:.2f}×"
    )
    print("%chat stats:\n  " + cached["printed"].replace("\n", "\n  "))
    return {"share": share, "with": with_cache, "without": without}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["JUPYCHAT_CONFIG"] = str(Path(tmp) / "config.toml")
        os.environ["JUPYCHAT_STORE"] = str(Path(tmp) / "sessions.db")
        orders = make_orders(args.rows)
        print(
            f"orders: {len(orders):,} rows × {orders.shape[1]} columns; {args.turns} turns per run"
        )
        with FakeServer() as server:
            os.environ["ANTHROPIC_API_KEY"] = "sk-ant-bench-not-a-real-key-000000"
            os.environ["ANTHROPIC_BASE_URL"] = server.anthropic_base_url
            os.environ["OPENAI_API_KEY"] = "sk-bench-not-a-real-key-0000000000"
            os.environ["OPENAI_BASE_URL"] = server.openai_base_url
            claude = "anthropic:claude-sonnet-4-0"
            marked = run_session(server, claude, orders, args.turns, True, "anthropic")
            unmarked = run_session(server, claude, orders, args.turns, False, "anthropic-off")
            a = report(
                "Anthropic",
                marked,
                [t["cost"] for t in unmarked["stats"]["per_turn"]],
                "cache marks off, measured",
            )
            gpt = run_session(server, "openai:gpt-4o-mini", orders, args.turns, True, "openai")
            o = report(
                "OpenAI",
                gpt,
                [uncached_cost(t) for t in gpt["stats"]["per_turn"]],
                "same tokens at the uncached price",
            )
    ok = a["share"] >= TARGET_SHARE and o["share"] >= TARGET_SHARE
    print(
        f"\nsummary: cache-read share from turn 3 — Anthropic {a['share']:.1%}, OpenAI "
        f"{o['share']:.1%}; cost per turn with/without caching — Anthropic "
        f"{a['with'] / a['without']:.2f}×, OpenAI {o['with'] / o['without']:.2f}×"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
