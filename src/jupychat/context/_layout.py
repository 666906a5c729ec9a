"""Table layouts of a frame summary: numeric statistic cells and runs of similar columns.

Design note: two ways to say more per token. Numeric columns share one table whose
header names the statistics once (``min | p25 | p50 | p75 | max | mean``), so each row
carries only numbers; :func:`numeric_cells` reads a column's statistics back into those
cells. A frame too wide to list column by column is shown as runs of neighbouring
columns with one name pattern and dtype (:func:`column_groups`), so every column is
still accounted for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._fmt import fmt_int, md_escape, short

if TYPE_CHECKING:
    from .summary import ColumnInfo

__all__ = [
    "LEAN_KEYS",
    "LEVELS",
    "NUM_KEYS",
    "column_groups",
    "dtype_counts",
    "dtype_kind",
    "numeric_cells",
]

TRAILING_DIGITS = re.compile(r"\d+$")
LEVELS = re.compile(r"^category\[(\d+)")


def dtype_kind(dtype: str) -> str:
    return "category" if dtype.startswith("category") else dtype


def column_groups(
    labels: Sequence[str], dtypes: Sequence[str], cols: Sequence[int]
) -> list[list[int]]:
    """Runs of neighbouring columns that share a name pattern and a dtype.

    The pattern is the label without its trailing digits (``m_000`` … ``m_699`` →
    ``m_``); a label without trailing digits forms its own group, and a run stops at a
    gap in positions so that ``a…b`` covers exactly the columns from ``a`` to ``b``.
    """
    groups: list[list[int]] = []
    last: tuple[str, str] | None = None
    for i in cols:
        label = labels[i]
        prefix = TRAILING_DIGITS.sub("", label)
        key = (prefix, dtype_kind(dtypes[i])) if prefix != label else None
        # a gap (a column shown elsewhere or excluded) ends the run: a…b covers a to b
        if key is not None and key == last and groups and i == groups[-1][-1] + 1:
            groups[-1].append(i)
        else:
            groups.append([i])
        last = key
    return groups


def dtype_counts(dtypes: Sequence[str], cols: Sequence[int], k: int = 6) -> str:
    """``float64 ×700, category ×30, …`` for the given columns."""
    counts: dict[str, int] = {}
    for i in cols:
        kind = dtype_kind(dtypes[i])
        counts[kind] = counts.get(kind, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{md_escape(short(t, 30))} ×{fmt_int(c)}" for t, c in ranked[:k])
    return text + (", …" if len(ranked) > k else "")


NUM_KEYS = ("min", "p25", "p50", "p75", "max", "mean")
# the lean plans' numeric statistics: a median without the quartiles around it
LEAN_KEYS = ("min", "p50", "max", "mean")
NUM_STAT = re.compile(r"^(min|p25|p50|p75|max|mean)( |≈)(\S+)$")


def numeric_cells(info: ColumnInfo) -> dict[str, str] | None:
    """``{"min": "1", "p25": "≈10.4", …}`` when the value statistics are the numeric kind."""
    cells: dict[str, str] = {}
    for stat in info.value_stats:
        m = NUM_STAT.match(stat)
        if m is None:
            return None
        cells[m.group(1)] = (m.group(2).strip()) + md_escape(m.group(3))
    return cells if {"min", "max", "mean"} <= set(cells) else None
