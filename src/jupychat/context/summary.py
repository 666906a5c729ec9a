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
5. named columns lose top values too;
6. every column again, numeric ones with min, p50, max and mean only (then without their
   distinct counts and flags), so a 30-column frame keeps its statistics;
7. everything compact;
8. runs of columns with one name pattern and dtype on one row each (every column
   accounted for, see :mod:`._layout`);
9. as many compact rows as fit, then ``… N more columns (float64 ×700, …): a, b, …``.

Frames wider than ``settings.wide_columns`` start at plan 4, so a 10,000-column frame
costs only the null counts of the rows that are shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from ._adapter import ColumnInfo, FrameAdapter
from ._column_text import (
    distinct_info,
    quantile_stats,
    share_pct,
    show_top,
    top_text,
    value_texts,
)
from ._fmt import cell, fmt_int, fmt_pct, md_escape, short
from ._layout import (
    LEAN_KEYS,
    LEVELS,
    NUM_KEYS,
    column_groups,
    dtype_counts,
    dtype_kind,
    numeric_cells,
)
from .budget import cap_text, chars_for_tokens, estimate_tokens
from .pii_values import personal_values
from .privacy import WITHHELD, column_excluded, column_private, column_public
from .settings import ContextSettings

# ColumnInfo, FrameAdapter and the column-text helpers live in ._adapter and
# ._column_text; they are re-exported here, where the backends import them from.
__all__ = [
    "ColumnInfo",
    "FrameAdapter",
    "distinct_info",
    "quantile_stats",
    "render_frame",
    "show_top",
    "top_text",
    "value_texts",
]

FULL, NO_TOP, COMPACT = 0, 1, 2
LABEL_CHARS = 40
RUNS_NOTE = "runs of columns with one name pattern and dtype share a row (nulls: range)"


# ---------------------------------------------------------------------------------------
# rendering


def _nulls_text(nulls: int | None, n_rows: int) -> str:
    if nulls is None:
        return "?"
    if nulls == 0:
        return "0"
    if nulls * 100 < n_rows:  # under 1%: the count says enough
        return fmt_int(nulls)
    text = f"{fmt_int(nulls)} ({share_pct(nulls, n_rows)})"
    return text + " all null" if nulls == n_rows else text


def _summary_text(info: ColumnInfo, level: int, private: bool, values: str) -> str:
    parts: list[str] = []
    if info.var_label:
        parts.append(f"label: {short(info.var_label, 80)}")
    if info.value_stats and not private:
        parts.append(", ".join(info.value_stats))
    if info.shape_stats:
        parts.append(", ".join(info.shape_stats))
    if level == FULL and info.top and not private and values == "full":
        parts.append(info.top)
    parts.extend(info.flags)
    if private:
        why = f" ({info.personal})" if info.personal else ""
        parts.append(f"values withheld (privacy){why}")
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
        self._no_nulls: bool | None = None

    def is_private(self, i: int) -> bool:
        """Private by name or settings, or because the values look personal."""
        if i not in self.private:
            self.private[i] = self._withheld(self.a.labels[i], lambda: self.a.column(i).personal)
        return self.private[i]

    def _withheld(self, label: object, personal: Callable[[], object]) -> bool:
        """The privacy rules for one column (or the row labels): by name and settings, then,
        unless the name is public, by what ``personal()`` finds in the values."""
        if column_private(self.name, label, self.s):
            return True
        if not self.s.pii or column_public(self.name, label, self.s) or self.values != "full":
            return False
        return bool(personal())

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
            else:
                parts = (
                    [
                        "Figures without ≈ are exact (every row read)",
                        f"≈ = from a {fmt_int(a.sample_n)}-row random sample",
                    ]
                    if a.sampled
                    else ["All figures are exact (every row read)"]
                )
                if self.no_nulls():
                    parts.append("no nulls")
                elif self.shares_with_nulls():
                    parts.append("% = share of non-null values")
                lines.append("; ".join(parts) + ".")
        return lines

    def no_nulls(self) -> bool:
        """No visible column has a null: said once in the head, and the full tables drop
        their nulls column (a frame of a few hundred rows × 20 columns saves ~40 tokens)."""
        if self._no_nulls is None:
            ok = (
                self.a.compact_no_nulls
                and self.values != "schema"
                and self.a.n_rows > 0
                and len(self.visible) <= self.s.wide_columns
            )
            self._no_nulls = ok and all(n == 0 for n in self.a.nulls_many(self.visible))
        return self._no_nulls

    def shares_with_nulls(self) -> bool:
        """Whether a column with nulls shows shares (then say what the shares are of)."""
        if len(self.visible) > self.s.wide_columns:
            return True
        for i in self.visible:
            if self.a.nulls(i) == 0:
                continue
            info = self.a.column(i)
            if "%" in info.top or any("%" in x for x in info.value_stats):
                return True
        return False

    def nulls_cell(self, nulls: int | None) -> str:
        """`` 12 (3.4%) |`` for the full tables, or nothing when no column has nulls."""
        return "" if self.no_nulls() else f" {_nulls_text(nulls, self.a.n_rows)} |"

    def full_row(self, i: int, level: int) -> str:
        info = self.a.column(i)
        summary = _summary_text(info, level, self.is_private(i), self.values)
        nulls = self.nulls_cell(info.nulls)
        return f"| {self.label(i)} | {md_escape(info.dtype)} |{nulls} {summary} |"

    def compact_row(self, i: int) -> str:
        if self.values == "schema":
            return f"| {self.label(i)} | {md_escape(self.a.dtypes[i])} |"
        return (
            f"| {self.label(i)} | {md_escape(self.a.dtypes[i])} | "
            f"{_nulls_text(self.a.nulls(i), self.a.n_rows)} |"
        )

    def full_table(
        self,
        cols: Sequence[int],
        level: int | dict[int, int],
        keys: Sequence[str] = NUM_KEYS,
        more: bool = True,
    ) -> list[str]:
        """Numeric columns (three or more) in their own table with one cell per statistic
        (the labels ``min``, ``p25`` … are written once), then the other columns.

        ``keys`` are the statistics shown (the lean plans keep ``LEAN_KEYS``); ``more``
        keeps the numeric table's last column (distinct counts, flags)."""
        numeric: dict[int, dict[str, str]] = {}
        for i in cols:
            cells = None if self.is_private(i) else numeric_cells(self.a.column(i))
            if cells is not None:
                numeric[i] = cells
        lines: list[str] = []
        nulls_head, nulls_rule = ("", "") if self.no_nulls() else (" nulls |", "-|")
        if len(numeric) >= 3:
            tail = " more |" if more else ""
            lines += [
                f"| column | dtype |{nulls_head} " + " | ".join(keys) + f" |{tail}",
                f"|-|-|{nulls_rule}" + "-|" * (len(keys) + more),
            ]
            for i, cells in numeric.items():
                lv = level[i] if isinstance(level, dict) else level
                info = self.a.column(i)
                stats = " | ".join(cells.get(k, "") for k in keys)
                rest = (
                    f" {_summary_text(replace(info, value_stats=[]), lv, False, self.values)} |"
                    if more
                    else ""
                )
                lines.append(
                    f"| {self.label(i)} | {md_escape(info.dtype)} |"
                    f"{self.nulls_cell(info.nulls)} {stats} |{rest}"
                )
            others = [i for i in cols if i not in numeric]
            if not others:
                return lines
            lines.append("")
        else:
            others = list(cols)
        lines += [f"| column | dtype |{nulls_head} summary |", f"|-|-|{nulls_rule}-|"]
        for i in others:
            lv = level[i] if isinstance(level, dict) else level
            lines.append(self.full_row(i, lv))
        return lines

    def compact_header(self) -> list[str]:
        if self.values == "schema":
            return ["| column | dtype |", "|-|-|"]
        return ["| column | dtype | nulls |", "|-|-|-|"]

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
            and a.n_rows * len(self.visible) <= self.s.inline_cells
            and not a.is_series()
        )
        k = a.n_rows if inline else min(self.s.sample_rows, a.n_rows)
        if k <= 0:
            return []
        cols = self.visible[:40] if inline or a.is_series() else self.example_columns()
        if not cols:
            return []
        rows = a.rows(k, cols, inline)
        if not rows:
            return []
        if a.is_series():
            values = [WITHHELD if self.is_private(cols[0]) else cell(r[0], 40) for r in rows]
            return [f"Random example values ({len(values)}): " + ", ".join(values)]
        title = (
            f"All {fmt_int(len(rows))} rows:" if inline else f"Random example rows ({len(rows)}):"
        )
        # a frame shown whole keeps its row labels (a city, a date), unless they are 0..n-1
        index = a.row_labels() if inline else None
        if index is not None:
            name, labels = index
            if len(labels) != len(rows) or self._withheld(name, lambda: personal_values(labels)):
                index = None
        head = [cell(index[0], 30)] if index else []
        lines = [
            title,
            "| " + " | ".join([*head, *(self.label(i) for i in cols)]) + " |",
            "|" + "-|" * (len(cols) + len(head)),
        ]
        for n, r in enumerate(rows):
            cells = [cell(index[1][n], 24)] if index else []
            cells += [
                WITHHELD if self.is_private(i) else cell(v, 24)
                for i, v in zip(cols, r, strict=False)
            ]
            lines.append("| " + " | ".join(cells) + " |")
        if inline and len(self.visible) > len(cols):
            lines.append(f"(first {len(cols)} of {len(self.visible)} columns shown)")
        return lines

    def example_columns(self, limit: int = 8) -> list[int]:
        """Columns worth example values: text that is not private nor listed in full,
        after the first column when it is a key (so a row can be told apart)."""
        cols: list[int] = []
        for i in self.visible:
            if self.is_private(i):
                continue
            info = self.a.column(i)
            listed = (info.top.startswith(("values:", "levels:")) and "…" not in info.top) or any(
                f.startswith("constant") for f in info.flags
            )
            # numbers, dates and bools are summed up by their statistics; text shows its
            # format only in examples (ids, names, codes, free text)
            if listed or numeric_cells(info) is not None or not info.shape_stats:
                continue
            if any(" … " in x for x in info.value_stats):  # date text: its range shows it
                continue
            if info.dtype.startswith(("bool", "boolean", "datetime", "category", "timedelta")):
                continue
            cols.append(i)
            if len(cols) == limit:
                break
        first = self.visible[0]
        key = any(f.startswith(("id-like", "all distinct")) for f in self.a.column(first).flags)
        if cols and first not in cols and key and not self.is_private(first):
            cols = [first, *cols[: limit - 1]]
        return cols

    def group_row(self, group: Sequence[int]) -> str:
        """One table row for a run of columns with the same name pattern and dtype."""
        if len(group) == 1:
            return self.compact_row(group[0])
        a = self.a
        first, last = short(a.labels[group[0]], 30), short(a.labels[group[-1]], 30)
        kind = dtype_kind(a.dtypes[group[0]])
        dtype = f"{kind} ×{fmt_int(len(group))}"
        levels = [int(m.group(1)) for i in group if (m := LEVELS.match(a.dtypes[i]))]
        if levels:
            lo, hi = min(levels), max(levels)
            dtype += f", {lo}–{hi} levels" if lo != hi else f", {lo} levels"
        label = md_escape(f"{first}…{last}")
        if self.values == "schema":
            return f"| {label} | {md_escape(dtype)} |"
        nulls = a.nulls_many(group)
        known = [x for x in nulls if x is not None]
        if not known or not a.n_rows:
            text = "?"
        elif max(known) == 0:
            text = "0"
        else:
            lo_n, hi_n = min(known), max(known)
            text = f"{fmt_pct(lo_n, a.n_rows)}–{fmt_pct(hi_n, a.n_rows)}"
            text = text if lo_n != hi_n else fmt_pct(lo_n, a.n_rows)
        return f"| {label} | {md_escape(dtype)} | {text} |"

    def grouped_lines(self, cols: Sequence[int]) -> list[str]:
        """Every column accounted for: runs of one pattern and dtype on one row each."""
        return [self.group_row(g) for g in column_groups(self.a.labels, self.a.dtypes, cols)]

    def more_line(self, rest: Sequence[int], room: int) -> str:
        n = len(rest)
        prefix = f"… {fmt_int(n)} more columns ({dtype_counts(self.a.dtypes, rest)}): "
        if len(prefix) > room // 2:
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
            if not wide:  # before dropping every statistic: the lean numeric table
                no_top = {**dict.fromkeys(self.others, NO_TOP), **levels_focus_full}
                candidates.append(lambda: self.full_table(self.visible, no_top, LEAN_KEYS))
                candidates.append(lambda: self.full_table(self.visible, no_top, LEAN_KEYS, False))
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
        grouped = self.grouped_lines(self.visible)
        if len(grouped) < len(self.visible):
            note = f"{RUNS_NOTE.capitalize()}; ask with describe_column for one column."
            text = "\n".join([*head, note, *self.compact_header(), *grouped])
            if self.fits(text):
                return text
        more_room = max(0, min(300, room // 3))
        while True:  # fewer rows until the whole fits by tokens too (tables are dense)
            lines, shown = self.compact_lines(self.visible, room - more_room)
            rest = self.visible[shown:]
            more = self.more_line(rest, more_room)
            text = "\n".join([*head, *self.compact_header(), *lines, more])
            if self.fits(text) or room <= more_room:
                return cap_text(text, self.budget)
            room = max(more_room, int(room * 0.85))

    def split_tables(self, focus_level: int) -> list[str]:
        lines = ["Columns named in the prompt:", *self.full_table(self.focus, focus_level)]
        if self.others:
            head_len = sum(len(x) + 1 for x in self.head())
            used = head_len + sum(len(x) + 1 for x in lines) + 80
            room = self.limit - used
            room = max(0, room - 300)
            _, shown = self.compact_lines(self.others, room)
            grouped = self.grouped_lines(self.others) if shown < len(self.others) else []
            if grouped and len(grouped) < len(self.others):
                # too many to list: runs of one name pattern account for every column
                tail = [f"Other columns; {RUNS_NOTE}:", *self.compact_header(), *grouped]
                if self.fits("\n".join([*self.head(), *lines, *tail])):
                    return lines + tail
            while True:  # fewer rows until the whole fits by tokens too
                rows, shown = self.compact_lines(self.others, room)
                tail = ["Other columns:", *self.compact_header(), *rows]
                if shown < len(self.others):
                    tail.append(self.more_line(self.others[shown:], 300))
                if room == 0 or self.fits("\n".join([*self.head(), *lines, *tail])):
                    return lines + tail
                room = int(room * 0.85) if room > 20 else 0
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
