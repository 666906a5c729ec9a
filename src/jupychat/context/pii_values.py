"""Personal data recognised by the shape of values, not the column's name.

Design note: a column called ``contact`` full of e-mail addresses, or ``notes`` with
phone numbers in free text, is as personal as one called ``email``. We look at a bounded
number of sampled string values (never the whole column) for three shapes: e-mail
addresses, phone numbers (international or with separators, 9–15 digits, not an ISO
date or a plain decimal), and payment-card numbers (13–19 digits, spaced or dashed,
passing the Luhn check). A column is personal when at least ``share`` of the looked-at
values carry one of the shapes (cards: any two), so an odd e-mail in a comment column
does not hide the column, but a column of them does. ISO dates of birth and zip codes
are caught by their column names (see :mod:`.privacy`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["luhn_valid", "personal_column", "personal_values"]

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}")
_PHONE = re.compile(
    r"(?<![\w.-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,5}){1,4}(?![\w.-])"
    r"|(?<![\w.])\+\d{9,15}(?![\w.])"
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum (payment cards)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _is_phone(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    if not 9 <= len(digits) <= 15 or _ISO_DATE.match(match):
        return False
    return match.startswith(("+", "(")) or len(re.findall(r"[\s.-]", match)) >= 2


def _has_card(text: str) -> bool:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and len(set(digits)) > 2 and luhn_valid(digits):
            return True
    return False


def personal_values(values: Iterable[object], limit: int = 200, share: float = 0.3) -> str:
    """What personal data the values look like (``""``: none seen).

    Parameters
    ----------
    values:
        Sampled values of one column (non-strings are skipped).
    limit:
        At most this many strings are looked at.
    share:
        The share of looked-at strings that must carry a shape.

    Returns
    -------
    str
        ``"e-mail addresses"``, ``"phone numbers"``, ``"card numbers"`` or ``""``.
    """
    seen = email = phone = card = 0
    for value in values:
        if not isinstance(value, str):
            continue
        seen += 1
        text = value[:500]
        if "@" in text and _EMAIL.search(text):
            email += 1
        if sum(c.isdigit() for c in text) >= 9:
            if any(_is_phone(m.group(0)) for m in _PHONE.finditer(text)):
                phone += 1
            if _has_card(text):
                card += 1
        if seen >= limit:
            break
    if not seen:
        return ""
    need = max(1.0, share * seen)
    if card >= min(2, seen) and card >= 0.05 * seen:
        return "card numbers"
    if email >= need:
        return "e-mail addresses"
    if phone >= need:
        return "phone numbers"
    return ""


def personal_column(obj: Any, label: str) -> str:
    """What personal data a pandas or polars column's values look like (200 spread values)."""
    root = (type(obj).__module__ or "").split(".")[0]
    if root == "polars":
        return _polars_personal(obj, label)
    if root != "pandas":
        return ""
    if hasattr(obj, "columns"):
        matches = [i for i, c in enumerate(obj.columns) if str(c) == label]
        if not matches:
            return ""
        col = obj.iloc[:, matches[0]]
    else:
        col = obj
    if col.dtype.kind not in "OSU" and "str" not in str(col.dtype):
        return ""
    step = max(1, len(col) // 200)
    return personal_values(col.iloc[::step].iloc[:200].dropna().tolist())


def _polars_personal(obj: Any, label: str) -> str:
    """:func:`personal_column` for a polars DataFrame or Series (String columns)."""
    if hasattr(obj, "columns"):
        if label not in obj.columns:
            return ""
        col = obj.get_column(label)
    else:
        col = obj
    if str(col.dtype) not in ("String", "Utf8"):
        return ""
    col = col.drop_nulls()
    return personal_values(col.gather_every(max(1, len(col) // 200)).head(200).to_list())
