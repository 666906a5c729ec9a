"""Personal data recognised by values in polars frames, as in pandas frames.

A polars column named ``contact`` full of e-mail addresses, ``notes`` with phone numbers
or ``pay`` with card numbers must be withheld in the frame summary and by the data
tools, whatever its name; ordinary text stays visible.
"""

from __future__ import annotations

import pytest

from jupychat.context import ContextSettings, DataTools, describe

pl = pytest.importorskip("polars")

CARDS = ["4111 1111 1111 1111", "5500 0055 5555 5559", "4012 8888 8888 1881"]


def people(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "contact": [f"person{i}@mail.org" for i in range(n)],
            "notes": [f"call +1 (555) 01{i % 100:02d}-{i:04d} after 5" for i in range(n)],
            "pay": [CARDS[i % 3] for i in range(n)],
            "city": [["Oslo", "Rome", "Lima"][i % 3] for i in range(n)],
        }
    )


def row(text: str, column: str) -> str:
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if cells[0] == column:
            return line
    raise AssertionError(f"no row for {column!r} in:\n{text}")


@pytest.mark.parametrize("n", [300, 50_000])  # read whole, and sampled
def test_polars_summary_withholds_columns_whose_values_look_personal(n):
    text = describe(people(n), "people", settings=ContextSettings(sample_size=5_000))
    assert "withheld" in row(text, "contact") and "e-mail" in row(text, "contact")
    assert "withheld" in row(text, "notes") and "phone" in row(text, "notes")
    assert "withheld" in row(text, "pay") and "card" in row(text, "pay")
    assert "@mail.org" not in text and "(555)" not in text and "4111" not in text
    assert "withheld" not in row(text, "city") and "Oslo" in text


def test_polars_data_tools_withhold_columns_whose_values_look_personal():
    tools = DataTools(lambda: {"people": people(60)}, ContextSettings())
    assert "@mail.org" not in tools.get_rows("people", n=5)
    assert "withheld" in tools.value_counts("people", ["contact"])
    assert "@mail.org" not in tools.describe_column("people", "contact")
    assert "Oslo" in tools.value_counts("people", ["city"])


def test_public_columns_setting_overrides_the_value_check_on_polars():
    settings = ContextSettings(public_columns=["contact"])
    text = describe(people(300), "people", settings=settings)
    assert "withheld" not in row(text, "contact") and "@mail.org" in text
