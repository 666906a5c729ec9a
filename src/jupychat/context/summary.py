"""The table-shaped summary shared by every DataFrame backend, and its budgeted rendering.

Design note: a backend (pandas in :mod:`.frames`, polars in :mod:`.polars_frames`)
implements the small :class:`FrameAdapter` interface: shape, labels, dtypes, exact null
counts, one :class:`ColumnInfo` per column, example rows. Everything is computed lazily
and memoised in a plain dict that the fingerprint cache keeps between turns (never the
frame itself, so a deleted frame is freed). :func:`render_frame` then tries plans from
richest to leanest until one fits the token budget:

1. every column in full, with random example rows;
2. without example rows;
3. without top values/levels (columns the prompt names keep them);
4. ``column | dtype | nulls`` only (named columns keep full detail);
5. named columns lose top values too; 6. everything compact;
7. as many compact rows as fit, then ``… N more columns: a, b, … (ask with describe_column)``.

Frames wider than ``settings.wide_columns`` start at plan 4, so a 10,000-column frame
costs only the null counts of the rows that are shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._fmt import cell, fmt_int, fmt_num, fmt_pct, md_escape, short
from .budget import cap_text, chars_for_tokens, estimate_tokens
from .privacy import WITHHELD, column_excluded, column_private, name_tokens
from .settings import ContextSettings

__all__ = ["ColumnInfo", "FrameAdapter", "render_frame"]

FULL, NO_TOP, COMPACT = 0, 1, 2
LABEL_CHARS = 40
_ID_TOKENS = frozenset({"id", "ids", "uuid", "guid", "key", "code", "ref", "no", "number", "sku"})


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


class FrameAdapter:
    """What a DataFrame backend provides to the renderer (override every method)."""

    kind: str = "DataFrame"
    n_rows: int = 0
    labels: list[str]
    dtypes: list[str]
    sampled: bool = False
    sample_n: int = 0

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

    def nulls(self, i: int) -> int | None:
        cache = self.memo["nulls"]
        if i not in cache:
            try:
                cache[i] = self._nulls(i)
            except Exception:
                cache[i] = None
        return cache[i]

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


# ---------------------------------------------------------------------------------------
# helpers the backends share


def quantile_stats(
    q: Sequence[Any], sampled: bool, fmt: Callable[[Any], str] = fmt_num
) -> list[str]:
    mark = "≈" if sampled else " "
    names = ("p25", "p50", "p75")
    return [f"{n}{mark}{fmt(v)}" for n, v in zip(names, q, strict=False)]


def distinct_info(
    d: int,
    f1: int,
    n_sample: int,
    n_total: int,
    sampled: bool,
    *,
    label: str,
    id_hint: bool,
    f2: int = 0,
    upper: int | None = None,
) -> tuple[list[str], list[str], bool]:
    """Distinct-count text, flags, and whether the column looks id-like.

    ``d`` distinct values, ``f1`` singletons and ``f2`` doubletons among ``n_sample``
    non-null sampled values out of ``n_total`` non-null values. When sampled, the total
    is estimated with the bias-corrected Chao1 estimator ``d + f1(f1−1) / (2(f2+1))``,
    capped by ``n_total`` and by ``upper`` (e.g. the width of an integer range).
    """
    if n_sample <= 0:
        return [], [], False
    ratio = d / n_sample
    unique = d == n_sample
    id_like = id_hint or bool(set(name_tokens(label)) & _ID_TOKENS)
    if not sampled:
        if unique and n_sample >= 20:
            if id_like:
                return [], ["id-like (all distinct)"], True
            return [], ["all distinct"], False
        if d == 1 and n_sample > 1:
            return ["1 distinct"], ["constant"], False
        return [f"{fmt_int(d)} distinct"], [], False
    if ratio >= 0.95:
        pct = "100%" if ratio >= 0.995 else fmt_pct(d, n_sample)
        if id_like:
            return [], [f"id-like (≈{pct} distinct)"], True
        return [], [f"high-cardinality (≈{pct} distinct)"], False
    est = d + (f1 * (f1 - 1)) / (2 * (f2 + 1)) if f1 else d
    cap = n_total if upper is None else min(n_total, upper)
    est_int = int(max(d, min(round(est), cap)))
    stats = [f"≈{fmt_int(est_int)} distinct"]
    flags: list[str] = []
    if d == 1 and f1 == 0:
        flags.append("constant in sample")
    elif est_int > 1000 and est_int > 0.5 * n_total:
        flags.append("high-cardinality")
    return stats, flags, False


def show_top(d: int, counts: Sequence[int], n_sample: int) -> bool:
    """Top values are worth their tokens when few values dominate."""
    if not counts or n_sample <= 0:
        return False
    return d <= 50 or counts[0] / n_sample >= 0.02


def top_text(
    pairs: Sequence[tuple[Any, int]], denom: int, sampled: bool, more: int, k: int = 5
) -> str:
    """``top≈ a 60%, b 20%, …`` from (value, count) pairs sorted by count."""
    if not pairs or denom <= 0:
        return ""
    items = [f"{cell(v, 24)} {fmt_pct(c, denom)}" for v, c in list(pairs)[:k]]
    tail = ", …" if more > 0 or len(pairs) > k else ""
    return ("top≈ " if sampled else "top: ") + ", ".join(items) + tail


# ---------------------------------------------------------------------------------------
# rendering


def _nulls_text(nulls: int | None, n_rows: int) -> str:
    if nulls is None:
        return "?"
    if nulls == 0:
        return "0"
    text = f"{fmt_int(nulls)} ({fmt_pct(nulls, n_rows)})"
    return text + " all null" if nulls == n_rows else text


def _summary_text(info: ColumnInfo, level: int, private: bool, values: str) -> str:
    parts: list[str] = []
    if info.value_stats and not private:
        parts.append(", ".join(info.value_stats))
    if info.shape_stats:
        parts.append(", ".join(info.shape_stats))
    if level == FULL and info.top and not private and values == "full":
        parts.append(info.top)
    parts.extend(info.flags)
    if private:
        parts.append("values withheld (privacy)")
    if info.error:
        parts.append(info.error)
    return md_escape("; ".join(p for p in parts if p)).replace("\\|", "/")


class _Renderer:
    def __init__(
        self,
        adapter: FrameAdapter,
        name: str | None,
        settings: ContextSettings,
        budget: int,
        focus: Sequence[str],
    ) -> None:
        self.a = adapter
        self.name = name
        self.s = settings
        self.budget = budget
        self.limit = chars_for_tokens(budget)
        self.visible = [
            i for i, lab in enumerate(adapter.labels) if not column_excluded(name, lab, settings)
        ]
        self.n_excluded = adapter.n_cols - len(self.visible)
        self.private: dict[int, bool] = {}
        wanted = {f.lower() for f in focus}
        self.focus = [i for i in self.visible if adapter.labels[i].lower() in wanted]
        focus_set = set(self.focus)
        self.others = [i for i in self.visible if i not in focus_set]
        self.values = settings.values

    def is_private(self, i: int) -> bool:
        if i not in self.private:
            self.private[i] = column_private(self.name, self.a.labels[i], self.s)
        return self.private[i]

    def label(self, i: int) -> str:
        return md_escape(short(self.a.labels[i], LABEL_CHARS))

    # -- pieces --------------------------------------------------------------------------
    def head(self, brief: bool = False) -> list[str]:
        a = self.a
        who = f"`{self.name}`: " if self.name else ""
        if a.is_series():
            title = f"### {who}{a.kind}, {a.rows_text()} values, {a.dtypes[0]}"
        else:
            title = f"### {who}{a.kind}, {a.rows_text()} rows × {fmt_int(a.n_cols)} columns"
        bits = [] if brief else a.title_bits()
        if bits:
            title += ", " + ", ".join(bits)
        lines = [title]
        if not brief:
            lines.extend(a.extra_lines())
        if self.n_excluded:
            lines.append(
                f"{fmt_int(self.n_excluded)} column(s) left out by the exclude_columns setting."
            )
        if self.values != "schema" and a.n_rows > 0:
            if brief:
                lines.append("Null counts are exact.")
            elif a.sampled:
                lines.append(
                    "Null counts, min/max/mean, ranges, category and bool shares are exact; "
                    f"≈ = estimated from a {fmt_int(a.sample_n)}-row random sample "
                    "(shares are of non-null values)."
                )
            else:
                lines.append(
                    f"All figures are exact (all {fmt_int(a.n_rows)} rows read; "
                    "shares are of non-null values)."
                )
        return lines

    def full_row(self, i: int, level: int) -> str:
        info = self.a.column(i)
        summary = _summary_text(info, level, self.is_private(i), self.values)
        return (
            f"| {self.label(i)} | {md_escape(info.dtype)} | "
            f"{_nulls_text(info.nulls, self.a.n_rows)} | {summary} |"
        )

    def compact_row(self, i: int) -> str:
        if self.values == "schema":
            return f"| {self.label(i)} | {md_escape(self.a.dtypes[i])} |"
        return (
            f"| {self.label(i)} | {md_escape(self.a.dtypes[i])} | "
            f"{_nulls_text(self.a.nulls(i), self.a.n_rows)} |"
        )

    def full_table(self, cols: Sequence[int], level: int | dict[int, int]) -> list[str]:
        lines = ["| column | dtype | nulls | summary |", "|---|---|---|---|"]
        for i in cols:
            lv = level[i] if isinstance(level, dict) else level
            lines.append(self.full_row(i, lv))
        return lines

    def compact_header(self) -> list[str]:
        if self.values == "schema":
            return ["| column | dtype |", "|---|---|"]
        return ["| column | dtype | nulls |", "|---|---|---|"]

    def compact_lines(self, cols: Sequence[int], room: int) -> tuple[list[str], int]:
        """Compact rows until ``room`` characters are used; returns (lines, count)."""
        lines: list[str] = []
        used = 0
        for count, i in enumerate(cols):
            row = self.compact_row(i)
            if used + len(row) + 1 > room:
                return lines, count
            lines.append(row)
            used += len(row) + 1
        return lines, len(cols)

    def example_lines(self) -> list[str]:
        a = self.a
        if self.values != "full" or a.n_rows == 0 or not self.visible:
            return []
        inline = (
            a.n_rows <= self.s.inline_rows
            and len(self.visible) <= self.s.inline_columns
            and not a.is_series()
        )
        k = a.n_rows if inline else min(self.s.sample_rows, a.n_rows)
        if k <= 0:
            return []
        cols = self.visible[:40]
        rows = a.rows(k, cols, inline)
        if not rows:
            return []
        if a.is_series():
            values = [WITHHELD if self.is_private(cols[0]) else cell(r[0], 40) for r in rows]
            return [f"Random example values ({len(values)}): " + ", ".join(values)]
        title = (
            f"All {fmt_int(len(rows))} rows:"
            if inline
            else f"Random example rows ({len(rows)}, from the sample, not the head):"
        )
        lines = [
            title,
            "| " + " | ".join(self.label(i) for i in cols) + " |",
            "|" + "---|" * len(cols),
        ]
        for r in rows:
            cells = [
                WITHHELD if self.is_private(i) else cell(v, 24)
                for i, v in zip(cols, r, strict=False)
            ]
            lines.append("| " + " | ".join(cells) + " |")
        if len(self.visible) > len(cols):
            lines.append(f"(first {len(cols)} of {len(self.visible)} columns shown)")
        return lines

    def more_line(self, rest: Sequence[int], room: int) -> str:
        n = len(rest)
        prefix = f"… {fmt_int(n)} more columns: "
        suffix = " (ask with describe_column)"
        names: list[str] = []
        used = len(prefix) + len(suffix) + 3
        for i in rest:
            lab = short(self.a.labels[i], LABEL_CHARS)
            if used + len(lab) + 2 > room:
                break
            names.append(lab)
            used += len(lab) + 2
        listed = ", ".join(names) + (", …" if len(names) < n else "")
        return prefix + listed + suffix

    # -- plans ---------------------------------------------------------------------------
    def fits(self, text: str) -> bool:
        return len(text) <= self.limit and estimate_tokens(text) <= self.budget

    def render(self) -> str:
        head = self.head()
        if not self.visible:
            return "\n".join([*head, "(no columns to show)"])
        wide = len(self.visible) > self.s.wide_columns
        candidates: list[Callable[[], list[str]]] = []
        if self.values != "schema":
            levels_focus_full = dict.fromkeys(self.focus, FULL)
            if not wide:
                candidates.append(
                    lambda: [*self.full_table(self.visible, FULL), *self.example_lines()]
                )
                candidates.append(lambda: self.full_table(self.visible, FULL))
                candidates.append(
                    lambda: self.full_table(
                        self.visible, {**dict.fromkeys(self.others, NO_TOP), **levels_focus_full}
                    )
                )
            if self.focus:
                candidates.append(lambda: self.split_tables(FULL))
                candidates.append(lambda: self.split_tables(NO_TOP))
        for build in candidates:
            body = build()
            text = "\n".join([*head, *body])
            if self.fits(text):
                return text
        # all compact, or as many compact rows as fit
        if len("\n".join(head)) > self.limit * 0.5:
            head = self.head(brief=True)
        head_text = "\n".join(head)
        room = self.limit - len(head_text) - 2 - 60
        lines, shown = self.compact_lines(self.visible, room)
        text = "\n".join([*head, *self.compact_header(), *lines])
        if shown == len(self.visible) and self.fits(text):
            return text
        more_room = max(0, min(300, room // 3))
        lines, shown = self.compact_lines(self.visible, room - more_room)
        rest = self.visible[shown:]
        text = "\n".join([*head, *self.compact_header(), *lines, self.more_line(rest, more_room)])
        return cap_text(text, self.budget)

    def split_tables(self, focus_level: int) -> list[str]:
        lines = ["Columns named in the prompt:", *self.full_table(self.focus, focus_level)]
        if self.others:
            head_len = sum(len(x) + 1 for x in self.head())
            used = head_len + sum(len(x) + 1 for x in lines) + 80
            room = self.limit - used
            rows, shown = self.compact_lines(self.others, max(0, room - 300))
            lines += ["Other columns:", *self.compact_header(), *rows]
            if shown < len(self.others):
                lines.append(self.more_line(self.others[shown:], 300))
        return lines


def render_frame(
    adapter: FrameAdapter,
    name: str | None,
    settings: ContextSettings,
    budget: int,
    focus: Sequence[str] = (),
) -> str:
    """Render a frame summary that fits ``budget`` tokens (see the module note)."""
    return _Renderer(adapter, name, settings, budget, focus).render()
