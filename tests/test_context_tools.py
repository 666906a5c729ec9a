"""Data tools: exact answers, capped, filtered, never raising; run_python only when approved."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jupychat.context import ContextSettings, DataTools, data_tools, estimate_tokens
from jupychat.session import ChatSession
from jupychat.tools import Tool


@pytest.fixture
def ns() -> dict:
    rng = np.random.default_rng(5)
    n = 50_000
    return {
        "orders": pd.DataFrame(
            {
                "price": np.round(rng.lognormal(3, 1, n), 2),
                "region": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
                "channel": rng.choice(["web", "app"], n),
                "email": [f"u{i}@shop.com" for i in range(n)],
            }
        ),
        "xs": list(range(100)),
        "note": "hello",
    }


def test_tools_are_tool_objects_with_schemas(ns):
    tools = data_tools(lambda: ns)
    assert [t.name for t in tools] == [
        "list_variables",
        "describe_variable",
        "describe_column",
        "value_counts",
        "get_rows",
        "run_python",
    ]
    assert all(isinstance(t, Tool) for t in tools)
    by_name = {t.name: t for t in tools}
    assert by_name["get_rows"].parameters["properties"]["order"]["enum"] == [
        "head",
        "tail",
        "random",
    ]
    assert by_name["describe_column"].parameters["required"] == ["var", "column"]
    assert "orders" in by_name["list_variables"].run({})
    assert len(data_tools(lambda: ns, include_run_python=False)) == 5


def test_describe_column_is_exact(ns):
    tools = DataTools(lambda: ns)
    df = ns["orders"]
    text = tools.describe_column("orders", "price", top_k=3, bins=4)
    assert "exact, whole column" in text
    assert f"distinct: {df['price'].nunique():,}" in text
    assert f"p50 {df['price'].median():,.4g}"[:9] in text
    assert text.count("  [") == 4
    region = tools.describe_column("orders", "REGION")  # case-insensitive fallback
    north = int((df["region"] == "north").sum())
    assert f"north: {north:,}" in region
    private = tools.describe_column("orders", "email")
    assert "values withheld" in private and "@shop.com" not in private
    assert "length: min" in private


def test_value_counts_and_get_rows(ns):
    tools = DataTools(lambda: ns)
    df = ns["orders"]
    counts = tools.value_counts("orders", ["region", "channel"], top_k=2)
    top = df.value_counts(["region", "channel"]).iloc[0]
    assert f"| {top:,} |" in counts and "6 distinct combinations" in counts
    assert "… 4 more" in counts
    assert "withheld" in tools.value_counts("orders", ["email"])
    rows = tools.get_rows("orders", n=5, order="head")
    assert rows.count("\n| ") == 6 and "| 0 |" in rows and "‹withheld›" in rows
    assert tools.get_rows("orders", n=5) == tools.get_rows("orders", n=5)  # seeded
    assert "[99] 99" in tools.get_rows("xs", n=1, order="tail")
    assert "50 of 50,000 rows" in tools.get_rows("orders", n=500)


def test_errors_come_back_as_text(ns):
    tools = DataTools(lambda: ns)
    assert "no variable named 'nope'" in tools.describe_variable("nope")
    assert "has no column 'pricey'" in tools.describe_column("orders", "pricey")
    assert "not a DataFrame" in tools.describe_column("xs", "a")
    assert "order must be" in tools.get_rows("orders", order="sideways")  # type: ignore[arg-type]
    assert tools.describe_variable("").startswith("error")
    broken = DataTools(lambda: 1 / 0)  # type: ignore[arg-type,return-value]
    assert broken.list_variables().startswith("error: ZeroDivisionError")


def test_results_are_capped(ns):
    ns["wide"] = pd.DataFrame(np.zeros((60, 3_000)), columns=[f"c{i}" for i in range(3_000)])
    settings = ContextSettings(tool_budget=500)
    tools = DataTools(lambda: ns, settings)
    for text in (
        tools.describe_variable("wide", detail="full"),
        tools.get_rows("wide", 50),
        tools.list_variables(),
        tools.value_counts("orders", ["price"], top_k=100),
    ):
        assert estimate_tokens(text) <= 500


def test_run_python_needs_approval_every_time(ns):
    assert "no approval callback" in DataTools(lambda: ns).run_python("note = 'changed'")
    assert ns["note"] == "hello"
    asked: list[str] = []

    def approve(code: str) -> bool:
        asked.append(code)
        return "forbidden" not in code

    tools = DataTools(lambda: ns, approve=approve)
    assert tools.run_python("print('hi')\nlen(xs) * 2") == "hi\n200"
    assert "declined" in tools.run_python("forbidden = 1")
    assert "forbidden" not in ns
    assert "ZeroDivisionError" in tools.run_python("1/0")
    assert len(asked) == 3


def test_a_session_calls_the_data_tools(ns):
    from jupychat.providers.fake import FakeProvider

    fake = FakeProvider("tools")
    chat = ChatSession(fake, tools=data_tools(lambda: ns))
    fake.enqueue(
        "",
        tool_calls=[
            ("describe_column", {"var": "orders", "column": "region"}),
            ("get_rows", {"var": "orders", "n": 2, "columns": ["email"]}),
        ],
    )
    fake.enqueue("North is the largest region.")
    reply = chat.send("Which region sells most?")
    assert reply.text == "North is the largest region."
    results = [r for m in chat.history for r in m.tool_results]
    assert "north:" in results[0].content and not results[0].is_error
    assert "‹withheld›" in results[1].content and "@shop.com" not in results[1].content
