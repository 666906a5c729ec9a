"""Column facts as text, shared by every backend: distinct counts, quartiles, top values.

Design note: the backends compute counts; these helpers decide what the counts say
(exact or ≈, id-like or high-cardinality, a complete value list or the head of one)
so that pandas, polars and engine frames word the same facts the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._fmt import cell, fmt_int, fmt_num, fmt_pct
from .privacy import name_tokens

__all__ = [
    "distinct_info",
    "quantile_stats",
    "share_pct",
    "show_top",
    "top_text",
    "value_texts",
]

_ID_TOKENS = frozenset({"id", "ids", "uuid", "guid", "key", "code", "ref", "no", "number", "sku"})


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
    is estimated with Chao1 corrected for sampling without replacement (Chao & Lin
    2012): ``d + f1² / (2·f2·n/(n−1) + f1·q/(1−q))`` with ``q = n_sample / n_total``,
    which removes Chao1's upward bias when the sample is a large share of the column.
    The estimate is capped by ``n_total`` and by ``upper`` (e.g. the width of an
    integer range); when ``upper`` is below ``n_total`` the column cannot be all
    distinct, so it is never called id-like.
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
    cap = n_total if upper is None else min(n_total, upper)
    if ratio >= 0.95 and cap >= n_total:
        pct = "100%" if ratio >= 0.995 else fmt_pct(d, n_sample)
        if id_like:
            return [], [f"id-like (≈{pct} distinct in sample)"], True
        return [], [f"high-cardinality (≈{pct} distinct in sample)"], False
    est = float(d)
    if f1:
        q = min(n_sample / max(1, n_total), 0.999999)
        denom = 2.0 * f2 * n_sample / max(1, n_sample - 1) + f1 * q / (1.0 - q)
        est = d + (f1 * f1 / denom if denom > 0 else f1 * (f1 - 1) / 2.0)
    est_int = int(max(d, min(round(est), cap)))
    stats = [f"≈{fmt_int(est_int)} distinct"]
    flags: list[str] = []
    if d == 1 and f1 == 0:
        flags.append("constant in sample")
    elif est_int > 1000 and est_int > 0.5 * n_total:
        flags.append("high-cardinality")
    return stats, flags, False


def value_texts(values: Sequence[Any], limit: int = 60) -> list[str]:
    """Cell texts of values, whole up to ``limit`` characters and never two alike.

    Two different values that would be cut to the same text are shown longer (up to
    200 characters), so a shown value can be used to write a filter.
    """
    texts = [cell(v, limit) for v in values]
    if len(set(texts)) < len(texts):
        texts = [cell(v, 200) for v in values]
    return texts


def show_top(d: int, counts: Sequence[int], n_sample: int) -> bool:
    """Top values are worth their tokens when few values dominate."""
    if not counts or n_sample <= 0:
        return False
    return d <= 50 or counts[0] / n_sample >= 0.02


def share_pct(part: float, whole: float) -> str:
    """A value's share: whole percents from 1% (``6%``), one decimal below (``0.8%``).

    A decimal on a 1–10% share (``5.5%``) costs two tokens and rarely matters for a
    value's weight; below 1% it tells a rare value from a very rare one.
    """
    if whole > 0 and 0.995 <= 100.0 * part / whole < 9.95:
        return f"{100.0 * part / whole:.0f}%"
    return fmt_pct(part, whole)


def top_text(
    pairs: Sequence[tuple[Any, int]], denom: int, sampled: bool, more: int, k: int = 5
) -> str:
    """``top≈ a 60%, b 20%, …`` from (value, count) pairs sorted by count."""
    if not pairs or denom <= 0:
        return ""
    shown = list(pairs)[:k]
    texts = value_texts([v for v, _ in shown])
    items = [f"{t} {share_pct(c, denom)}" for t, (_, c) in zip(texts, shown, strict=False)]
    tail = ", …" if more > 0 or len(pairs) > k else ""
    return ("top≈ " if sampled else "top: ") + ", ".join(items) + tail
