"""What a DataFrame backend gives the summary renderer: per-column facts, lazily.

Design note: a backend (pandas in :mod:`.frames`, polars in :mod:`.polars_frames`,
engines in :mod:`.engine_frames`) subclasses :class:`FrameAdapter` and fills one
:class:`ColumnInfo` per column; results are memoised in a plain dict that the
fingerprint cache keeps between turns (never the frame itself). Rendering is
:mod:`.summary`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._fmt import fmt_int

__all__ = ["ColumnInfo", "FrameAdapter"]


@dataclass
class ColumnInfo:
    """What we know about one column.

    ``value_stats`` are aggregates of the values (min/max/mean, quantiles, ranges, bool
    shares): hidden for private columns. ``shape_stats`` reveal no value (distinct
    counts, lengths, level counts, types). ``top`` names values (top values, levels):
    shown only with ``values="full"`` and never for private columns.
    """

    label: str
    dtype: str
    nulls: int | None = None
    value_stats: list[str] = field(default_factory=list)
    shape_stats: list[str] = field(default_factory=list)
    top: str = ""
    flags: list[str] = field(default_factory=list)
    error: str = ""
    personal: str = ""  # what personal data the values look like ("e-mail addresses")
    var_label: str = ""  # a variable label (``Series.attrs["label"]``), shown first


class FrameAdapter:
    """What a DataFrame backend provides to the renderer (override every method)."""

    kind: str = "DataFrame"
    n_rows: int = 0
    labels: list[str]
    dtypes: list[str]
    sampled: bool = False
    sample_n: int = 0
    # a frame with no null anywhere says so once and its full tables drop the nulls
    # column (backends whose readers expect the column keep it)
    compact_no_nulls: bool = False

    def __init__(self, memo: dict[Any, Any]) -> None:
        self.memo = memo
        self.memo.setdefault("nulls", {})
        self.memo.setdefault("columns", {})

    @property
    def n_cols(self) -> int:
        return len(self.labels)

    def rows_text(self) -> str:
        """The row count as shown in the title (an engine may not know it)."""
        return fmt_int(self.n_rows)

    def title_bits(self) -> list[str]:
        """Extra facts for the title line (memory...)."""
        return []

    def extra_lines(self) -> list[str]:
        """Lines under the title (index, duplicate labels...)."""
        return []

    def is_series(self) -> bool:
        return False

    def row_labels(self) -> tuple[str, list[Any]] | None:
        """(name, every row's label) when the rows have labels of their own (a pandas
        index other than 0..n-1); shown with a frame that is shown whole."""
        return None

    def nulls(self, i: int) -> int | None:
        cache = self.memo["nulls"]
        if i not in cache:
            try:
                cache[i] = self._nulls(i)
            except Exception:
                cache[i] = None
        return cache[i]

    def nulls_many(self, cols: Sequence[int]) -> list[int | None]:
        """Null counts of many columns (backends may count them in blocks)."""
        return [self.nulls(i) for i in cols]

    def column(self, i: int) -> ColumnInfo:
        cache = self.memo["columns"]
        if i not in cache:
            try:
                info = self._column(i)
            except Exception as exc:  # never let one odd column break the description
                info = ColumnInfo(
                    self.labels[i], self.dtypes[i], error=f"summary failed ({type(exc).__name__})"
                )
            if info.nulls is None:
                info.nulls = self.nulls(i)
            cache[i] = info
        return cache[i]

    def rows(self, k: int, cols: Sequence[int], all_rows: bool) -> list[list[Any]]:
        """``k`` random rows of the sample (or every row), values of ``cols``."""
        key = ("rows", k, tuple(cols), all_rows)
        if key not in self.memo:
            try:
                self.memo[key] = self._rows(k, cols, all_rows)
            except Exception:
                self.memo[key] = []
        return self.memo[key]

    # backend hooks
    def _nulls(self, i: int) -> int | None:
        raise NotImplementedError

    def _column(self, i: int) -> ColumnInfo:
        raise NotImplementedError

    def _rows(self, k: int, cols: Sequence[int], all_rows: bool) -> list[list[Any]]:
        raise NotImplementedError
