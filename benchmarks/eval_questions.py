"""Questions about a frame with answers from full pandas, and how each text is graded.

Design note: the questions are what an analyst asks before writing code (how many
nulls, the median, the most common value and its share, the date range, is this a key,
are there duplicate rows), generated the same way for any frame, so held-out datasets
can be graded too. Up to 15 per frame: two frame questions, then a round robin over
columns spread evenly across the frame. Answers come from full pandas.

Grading reads the *text* a model would get. jupychat's Markdown is parsed per column
row (a run row ``a…b`` covers the columns between). The baseline
``describe(include="all") + isna().sum() + nunique()`` is graded from the same values
as printed (pandas shows six significant digits, which is always enough here). An
answer is *exact* when stated without ``≈`` and equal to the truth at the precision
shown; *estimated* when marked ``≈`` (right or wrong); *wrong* when stated as exact
but not equal — the one thing that must never happen.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from jupychat.context._fmt import md_escape, short

__all__ = [
    "Question",
    "baseline_answer",
    "column_row",
    "grade",
    "jupychat_answer",
    "questions",
]

ISO = re.compile(r"\d{4}-\d{2}(?:-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?)?")
PCT = r"(<0\.1%|>99\.9%|\d+(?:\.\d+)?%)"


@dataclass
class Question:
    kind: str  # nulls, min, max, mean, median, distinct, mode, mode_share, share_true, ...
    column: Any  # a column label, or None for frame questions
    truth: Any  # the answer from full pandas (mode: the set of tied values)


def _kind(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s.dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "datetime"
    if isinstance(s.dtype, pd.CategoricalDtype):
        return "cat"
    if pd.api.types.is_numeric_dtype(s.dtype):
        return "num"
    nonnull = s.dropna()
    if len(nonnull) and nonnull.map(lambda v: isinstance(v, str) and bool(ISO.fullmatch(v))).all():
        return "datestr"
    return "cat"


def _column_questions(s: pd.Series, col: Any, kind: str) -> list[Question]:
    nulls = int(s.isna().sum())
    nonnull = s.dropna()
    if not len(nonnull):
        return [Question("nulls", col, nulls)]
    if kind == "num":
        return [
            Question("median", col, float(nonnull.median())),
            Question("distinct", col, int(nonnull.nunique())),
            Question("max", col, float(nonnull.max())),
            Question("nulls", col, nulls),
            Question("mean", col, float(nonnull.mean())),
            Question("min", col, float(nonnull.min())),
        ]
    if kind in ("datetime", "datestr"):
        return [
            Question("min", col, nonnull.min()),
            Question("max", col, nonnull.max()),
            Question("nulls", col, nulls),
        ]
    if kind == "bool":
        return [Question("share_true", col, float(nonnull.mean())), Question("nulls", col, nulls)]
    vc = nonnull.value_counts()
    tied = {str(v) for v, c in vc.items() if c == vc.iloc[0]}
    mode = [Question("mode", col, tied)] if len(tied) <= 3 else []  # else ill-posed
    return [
        *mode,
        Question("distinct", col, int(nonnull.nunique())),
        Question("mode_share", col, float(vc.iloc[0] / len(nonnull))),
        Question("nulls", col, nulls),
    ]


def questions(df: pd.DataFrame, k: int = 15, n_cols: int = 5) -> list[Question]:
    """Up to ``k`` questions with answers computed from the full frame.

    Two frame questions (duplicate rows; is the first column a key), then a round robin
    over ``n_cols`` columns chosen across kinds (number, text/category, date, bool) and
    across the frame's width, each asked its questions in a fixed order.
    """
    first = df.columns[0]
    s0 = df[first]
    out = [
        Question("dup_rows", None, int(df.duplicated().sum())),
        Question("key", first, bool(s0.notna().all() and s0.nunique() == len(df))),
    ]
    by_kind: dict[str, list[Any]] = {}
    step = max(1, len(df.columns) // 40)
    for c in list(df.columns)[::step]:
        kind = _kind(df[c])
        kind = "date" if kind in ("datetime", "datestr") else kind
        by_kind.setdefault(kind, []).append(c)
    chosen: list[tuple[Any, str]] = []
    while len(chosen) < n_cols and any(by_kind.values()):
        for kind in ("num", "cat", "date", "bool"):
            cols = by_kind.get(kind)
            if cols and len(chosen) < n_cols:
                # the column in the middle of what is left, so choices spread out
                c = cols.pop(len(cols) // 2 if len(chosen) >= 4 else 0)
                chosen.append((c, _kind(df[c])))
    pools = [_column_questions(df[c], c, kind) for c, kind in chosen]
    r = 0
    while len(out) < k and any(r < len(p) for p in pools):
        for pool in pools:
            if r < len(pool) and len(out) < k:
                out.append(pool[r])
        r += 1
    return out


# ---------------------------------------------------------------------------------------
# matching


def _num(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _close(shown: str, truth: float) -> bool:
    """Equal at the precision shown (``1,166`` matches 1166.3; ``0.5163`` matches 0.51634)."""
    value = _num(shown)
    if value is None or truth is None or (isinstance(truth, float) and math.isnan(truth)):
        return False
    if "e" in shown.lower():
        return abs(value - truth) <= 5e-4 * abs(truth) + 1e-12
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return abs(value - truth) <= 0.5 * 10**-decimals * (1 + 1e-9) + 1e-12


def _pct_close(shown: str, truth: float) -> bool:
    if shown == "<0.1%":
        return 0 < truth < 0.001
    if shown == ">99.9%":
        return 0.999 < truth < 1
    return _close(shown.rstrip("%"), truth * 100)


def _same_time(shown: str, truth: Any) -> bool:
    if isinstance(truth, str):
        return shown.strip() == truth
    try:
        ts = pd.Timestamp(shown.strip())
        t = pd.Timestamp(truth)
        if t.tzinfo is not None:
            t = t.tz_localize(None)
        if len(shown.strip()) == 10:
            return t == t.normalize() and ts == t
        return ts == t.floor("s")
    except Exception:
        return False


# ---------------------------------------------------------------------------------------
# jupychat text


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split(" | ")]


def _joined(header: list[str], cells: list[str]) -> list[str]:
    """A numeric-table row as (column, dtype, nulls, 'min 1, p25≈2, …; more')."""
    stats = [
        f"{h}{v}" if v.startswith("≈") else f"{h} {v}"
        for h, v in zip(header[3:-1], cells[3:-1], strict=False)
        if v
    ]
    rest = cells[-1] if len(cells) >= len(header) else ""
    return [*cells[:3], ", ".join(stats) + (f"; {rest}" if rest else "")]


def _row(text: str, df: pd.DataFrame, col: Any) -> tuple[list[str], bool] | None:
    """(cells of the column's row, whether it is a run row covering several columns)."""
    want = md_escape(short(str(col), 40))
    labels = [str(c) for c in df.columns]
    header: list[str] = []
    no_nulls = bool(re.search(r"^All figures.*; no nulls\.$", text, re.M))
    for line in text.splitlines():
        if not line.startswith("| ") or line.startswith("|---"):
            continue
        cells = _cells(line)
        if cells[0] == "column":
            header = cells
            continue
        if header[2:3] != ["nulls"] and no_nulls:  # the text says so once for all columns
            cells = [*cells[:2], "0", *cells[2:]]
            header_n = [*header[:2], "nulls", *header[2:]]
        else:
            header_n = header
        if cells[0] == want:
            if len(header_n) > 4 and header_n[3] == "min":
                return _joined(header_n, cells), False
            return cells, False
        if "…" in cells[0] and "×" in (cells[1] if len(cells) > 1 else ""):
            a, _, b = cells[0].partition("…")
            if a in labels and b in labels:
                lo, hi = labels.index(a), labels.index(b)
                if lo <= labels.index(str(col)) <= hi:
                    return cells, True
    return None


def column_row(text: str, df: pd.DataFrame, col: Any) -> str | None:
    """``"own"`` when the text has the column's own row, ``"run"`` when only a run row
    covers it, None when neither (used to ask again with the column named)."""
    found = _row(text, df, col)
    if found is None:
        return None
    return "run" if found[1] else "own"


def _range(summary: str) -> tuple[str, str, bool] | None:
    m = re.search(r"(range≈ )?(\d{4}-\d{2}[^…;]*?) … ([^,;]+)", summary)
    if not m:
        return None
    return m.group(2), m.group(3), bool(m.group(1))


def _stat(summary: str, name: str) -> tuple[str, bool] | None:
    m = re.search(rf"(?:^|[ ,;]){name}( |≈)(-?[\d,]*\.?\d+(?:e[+-]?\d+)?)", summary)
    if m:
        return m.group(2), m.group(1) == "≈"
    c = re.search(r"constant (-?[\d,]*\.?\d+(?:e[+-]?\d+)?)", summary)
    if c and name in ("min", "max", "mean", "p50"):
        return c.group(1), False
    return None


def _listed(summary: str) -> int | None:
    """How many values a complete ``values: a 60%, b 40%`` list names (None: no list)."""
    m = re.search(r"(?:values|levels): (.*?)(?:;|$)", summary)
    if not m or m.group(1).endswith("…"):
        return None
    return len(re.findall(r" " + PCT + r"(?:, |$)", m.group(1)))


def _top(summary: str) -> tuple[str, str, bool] | None:
    m = re.search(r"(top: |top≈ |levels: |values: )(.*?) " + PCT + r"(?:, | \(|;|$)", summary)
    if not m:
        return None
    return m.group(2), m.group(3), m.group(1) == "top≈ "


def jupychat_answer(text: str, df: pd.DataFrame, q: Question) -> tuple[str, Any]:
    """('exact'|'approx'|'missing', the stated answer) for one question."""
    if q.kind == "dup_rows":
        m = re.search(r"^([\d,]+) duplicate rows?\b", text, re.M)
        if m:
            return "exact", int(m.group(1).replace(",", ""))
        return ("exact", 0) if re.search(r"^no duplicate rows", text, re.M) else ("missing", None)
    found = _row(text, df, q.column)
    if found is None:
        return "missing", None
    cells, run = found
    nulls_cell = cells[2] if len(cells) > 2 else ""
    summary = cells[3] if len(cells) > 3 else ""
    if q.kind == "nulls":
        m = re.match(r"([\d,]+)", nulls_cell)
        if not m or (run and nulls_cell != "0"):
            return "missing", None
        return "exact", int(m.group(1).replace(",", ""))
    if run:
        return "missing", None
    n_nonnull = len(df) - (
        int(nulls_cell.split(" ")[0].replace(",", "")) if nulls_cell[:1].isdigit() else 0
    )
    approx_sample = "in sample" in summary
    if q.kind == "key":
        if nulls_cell != "0":
            return "exact", False
        if re.search(r"all distinct|\(a key\)", summary):
            return ("approx" if approx_sample else "exact"), True
        m = re.search(r"(≈?)([\d,]+) distinct", summary)
        if m and not m.group(1):
            return "exact", int(m.group(2).replace(",", "")) == len(df)
        if "constant" in summary and len(df) > 1:
            return "exact", False
        listed = _listed(summary)
        if listed:
            return "exact", listed == len(df)
        return ("approx", False) if m or approx_sample else ("missing", None)
    if q.kind in ("min", "max") and _kind(df[q.column]) in ("datetime", "datestr"):
        r = _range(summary)
        if r is None:
            return "missing", None
        return ("approx" if r[2] else "exact"), (r[0] if q.kind == "min" else r[1])
    if q.kind in ("min", "max", "mean", "median"):
        st = _stat(summary, "p50" if q.kind == "median" else q.kind)
        if st is None:
            return "missing", None
        return ("approx" if st[1] else "exact"), st[0]
    if q.kind == "distinct":
        m = re.search(r"(≈?)([\d,]+) distinct", summary)
        if m:
            return ("approx" if m.group(1) else "exact"), int(m.group(2).replace(",", ""))
        if re.search(r"all distinct|\(a key\)", summary):
            return ("approx" if approx_sample else "exact"), n_nonnull
        if "constant" in summary:
            return ("approx" if "in sample" in summary else "exact"), 1
        listed = _listed(summary)
        if listed:
            return "exact", listed
        cat = re.match(r"category\[(\d+)", cells[1])
        if cat:
            unused = re.search(r"([\d,]+) unused levels", summary)
            return "exact", int(cat.group(1)) - (int(unused.group(1)) if unused else 0)
        return "missing", None
    if q.kind == "share_true":
        m = re.search(r"true " + PCT, summary)
        return ("exact", m.group(1)) if m else ("missing", None)
    top = _top(summary)
    if top is None:
        tied = re.search(r"top share( |≈)" + PCT, summary)
        if q.kind == "mode_share" and tied:
            return ("approx" if tied.group(1) == "≈" else "exact"), tied.group(2)
        if q.kind == "mode_share" and re.search(r"all distinct|\(a key\)", summary):
            return ("approx" if approx_sample else "exact"), f"{100 / max(1, n_nonnull)}%"
        return "missing", None
    value, share, approx = top
    return ("approx" if approx else "exact"), (value if q.kind == "mode" else share)


# ---------------------------------------------------------------------------------------
# baseline: describe(include="all") + isna().sum() + nunique()


def baseline_text(df: pd.DataFrame) -> str:
    """What the baseline sends: the three results as printed, every column shown."""
    desc = df.describe(include="all")
    return "\n\n".join(
        [
            desc.to_string(),
            "nulls:\n" + df.isna().sum().to_string(),
            "distinct:\n" + df.nunique().to_string(),
        ]
    )


def baseline_answer(
    parts: tuple[pd.DataFrame, pd.Series, pd.Series], df: pd.DataFrame, q: Question
) -> tuple[str, Any]:
    desc, na, nu = parts
    if q.kind == "dup_rows":
        return "missing", None
    col = q.column
    if q.kind == "nulls":
        return "exact", int(na[col])
    if q.kind == "distinct":
        return "exact", int(nu[col])
    if q.kind == "key":
        return "exact", bool(na[col] == 0 and nu[col] == len(df))

    def get(stat: str) -> Any:
        if stat in desc.index and col in desc.columns:
            v = desc.loc[stat, col]
            if v is not None and not (isinstance(v, float) and math.isnan(v)) and v is not pd.NaT:
                return v
        return None

    if q.kind in ("min", "max", "mean", "median"):
        v = get("50%" if q.kind == "median" else q.kind)
        if v is None:
            return "missing", None
        if isinstance(v, (pd.Timestamp, np.datetime64)):
            return "exact", str(pd.Timestamp(v))
        return "exact", f"{float(v):.6g}"
    top, freq, count = get("top"), get("freq"), get("count")
    if top is None or freq is None or not count:
        return "missing", None
    share = float(freq) / float(count)
    if q.kind == "mode":
        return "exact", str(top)
    if q.kind == "share_true":
        return "exact", f"{100 * (share if bool(top) else 1 - share):.4f}%"
    return "exact", f"{100 * share:.4f}%"


def grade(q: Question, status: str, answer: Any, df: pd.DataFrame) -> str:
    """'exact' (right and stated exact), 'approx', 'missing' or 'wrong' (stated exact, not so)."""
    if status == "missing":
        return "missing"
    right = _right(q, answer, df)
    if status == "approx":
        return "approx"
    return "exact" if right else "wrong"


def _right(q: Question, answer: Any, df: pd.DataFrame) -> bool:
    if answer is None:
        return False
    if q.kind in ("nulls", "distinct", "dup_rows", "key"):
        return answer == q.truth
    if q.kind in ("min", "max") and not isinstance(q.truth, float):
        return _same_time(str(answer), q.truth)
    if q.kind in ("min", "max", "mean", "median"):
        if isinstance(answer, str) and ISO.match(answer):
            return _same_time(answer, q.truth)
        return _close(str(answer), float(q.truth))
    if q.kind in ("mode_share", "share_true"):
        return _pct_close(str(answer), q.truth)
    if q.kind == "mode":
        shown = str(answer)
        if shown in q.truth:
            return True
        num = _num(shown)
        return num is not None and any(_num(t) == num for t in q.truth)
    return False
