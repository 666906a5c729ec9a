"""Small formatting helpers shared by every describer.

Design note: numbers are shown the way a person reads a report (thousands separators,
four significant digits, scientific notation only for very large or tiny values), and
anything put in a Markdown table cell is escaped and cut, so a cell can never break the
table or blow the budget. Cell values of unknown types are *not* passed to ``repr``:
they are shown as ``<TypeName>`` (see :mod:`.saferepr` for why).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
import numbers
from collections.abc import Sequence
from typing import Any

__all__ = [
    "cell",
    "counts_table",
    "fmt_bytes",
    "fmt_int",
    "fmt_num",
    "fmt_pct",
    "md_escape",
    "short",
    "type_name",
]

_SAFE_SCALARS = (
    str,
    bytes,
    bool,
    int,
    float,
    complex,
    decimal.Decimal,
    _dt.date,
    _dt.time,
    _dt.timedelta,
)


def type_name(obj: Any) -> str:
    """``module.Qualname`` of the object's type, shortened for builtins and known libraries."""
    cls = type(obj)
    module = getattr(cls, "__module__", "") or ""
    qual = getattr(cls, "__qualname__", cls.__name__)
    if module in ("builtins", "__main__", ""):
        return qual
    root = module.split(".")[0]
    if root in ("pandas", "numpy", "polars", "pyarrow", "torch", "scipy", "sklearn", "xarray"):
        return f"{root}.{qual}"
    return f"{module}.{qual}"


# Significant digits of means, and of quartiles of non-whole columns (min and max are
# values: up to 6 digits when whole, else 4). Integer parts are never cut (1996.5 -> 1996).
SUMMARY_DIGITS = 3


def fmt_value(x: Any, whole: bool) -> str:
    """A column's value (min, max, a quartile): no thousands separators ("2,013" misleads
    and costs tokens); up to 6 significant digits in a whole-number column, so a year or
    an exact quartile stays whole (1965.75, not 1966), else about 4."""
    return fmt_num(x, sig=6, sep=False) if whole else fmt_num(x, sep=False)


def fmt_int(n: int) -> str:
    """``1234567`` → ``"1,234,567"``."""
    return f"{int(n):,}"


def fmt_num(x: Any, sig: int = 4, sep: bool = True) -> str:
    """A number with about ``sig`` significant digits (thousands separators if ``sep``).

    Integers are shown whole. ``sep=False`` suits values of integer columns (years,
    ids, codes), where ``2,013`` would mislead and costs more tokens than ``2013``.
    """
    try:
        if isinstance(x, bool):
            return str(x)
        if isinstance(x, numbers.Integral):
            return fmt_int(int(x)) if sep else str(int(x))
        f = float(x)
    except (TypeError, ValueError, OverflowError):
        return short(x, 24)
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if f == 0:
        return "0"
    if f.is_integer() and abs(f) < 1e15:
        return fmt_int(int(f)) if sep else str(int(f))
    a = abs(f)
    if a >= 1e15 or a < 1e-4:
        return f"{f:.{sig - 1}e}"
    digits = max(0, sig - 1 - math.floor(math.log10(a)))
    text = f"{f:,.{digits}f}" if sep else f"{f:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def fmt_pct(part: float, whole: float) -> str:
    """Share as a short percentage (``"5.0%"``, ``"<0.1%"``, ``"100%"``)."""
    if whole <= 0:
        return "0%"
    p = 100.0 * part / whole
    if p == 0:
        return "0%"
    if p == 100:
        return "100%"
    if p < 0.1:
        return "<0.1%"
    if p > 99.9:
        return ">99.9%"
    if p < 9.95:
        return f"{p:.1f}%"
    return f"{p:.0f}%"


def fmt_bytes(n: float) -> str:
    """``159_000_000`` → ``"159 MB"`` (decimal units)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    return f"{int(n)} B"


def short(text: Any, limit: int = 40) -> str:
    """One line of at most ``limit`` characters (cut with ``…``)."""
    s = text if isinstance(text, str) else str(text)
    if len(s) > 4 * limit:
        s = s[: 4 * limit]
    s = s.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎").replace("\t", " ")
    if len(s) > limit:
        s = s[: max(1, limit - 1)] + "…"
    return s


def md_escape(text: str) -> str:
    """Escape what would break a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'")


def _datetime_text(value: Any) -> str:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:  # the column's dtype names the zone
            value = value.replace(tzinfo=None)
        if value.hour == value.minute == value.second == value.microsecond == 0 and (
            value.tzinfo is None
        ):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    return value.isoformat()


def cell(value: Any, limit: int = 24) -> str:
    """A table-safe short text for one cell value, without calling unknown reprs."""
    if value is None:
        return "None"
    if isinstance(value, str):
        return md_escape(short(value, limit))
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Number) and not isinstance(value, complex):
        return fmt_num(value, sep=False)  # cells: years and ids read best without commas
    if isinstance(value, (_dt.date, _dt.time)):
        try:
            return md_escape(short(_datetime_text(value), limit))
        except Exception:
            return f"<{type(value).__name__}>"
    if isinstance(value, _SAFE_SCALARS):
        return md_escape(short(repr(value), limit))
    module = type(value).__module__ or ""
    if module.startswith(("pandas", "numpy")):
        # pandas/numpy scalars (Timestamp, NaT, NA, Period, Interval, np.float64...)
        try:
            if hasattr(value, "isoformat") and not isinstance(value, type):
                if getattr(value, "tzinfo", None) is not None:
                    value = value.tz_localize(None) if hasattr(value, "tz_localize") else value
                text = value.isoformat()
                if text.endswith("T00:00:00"):
                    text = text[: -len("T00:00:00")]
                return md_escape(short(text.replace("T", " "), limit))
            if hasattr(value, "shape") and getattr(value, "shape", ()) != ():
                return f"<array {getattr(value, 'shape', '')}>"
            return md_escape(short(str(value), limit))
        except Exception:
            return f"<{type(value).__name__}>"
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        from .saferepr import bounded_repr

        return md_escape(short(bounded_repr(value, maxchars=limit * 2), limit))
    return f"<{type(value).__name__}>"


def counts_table(
    labels: Sequence[str],
    rows: Sequence[tuple[Sequence[Any], int]],
    groups: int,
    total: int,
    where: str = "",
) -> str:
    """The ``value_counts`` answer: ``rows`` of ``(values, count)`` out of ``groups``
    distinct ones over ``total`` rows (``where``: e.g. ``", computed in DuckDB"``)."""
    header = "| " + " | ".join(md_escape(short(lab, 40)) for lab in labels) + " | count | share |"
    lines = [
        f"Exact counts over {fmt_int(total)} rows{where} ({fmt_int(groups)} distinct "
        f"{'combinations' if len(labels) > 1 else 'values'}; nulls included):",
        header,
        "|" + "---|" * (len(labels) + 2),
    ]
    for key, count in rows:
        cells = " | ".join(cell(v, 40) for v in key)
        lines.append(f"| {cells} | {fmt_int(count)} | {fmt_pct(count, total)} |")
    if groups > len(rows):
        lines.append(f"… {fmt_int(groups - len(rows))} more")
    return "\n".join(lines)
