"""Context for one turn: ``{key: text}`` for the variables a prompt names, plus the inventory.

Design note: the session sends a key's text only when its digest changed, so every text
here must be deterministic for unchanged data (seeded samples, sorted nothing that
depends on hashing order) and cheap to recompute (the fingerprint cache makes an
unchanged 1M-row frame cost a fingerprint). The turn budget is split in order: named
variables first (each capped by its own budget and by an equal share of what is left),
then the inventory gets what remains (at most ``settings.inventory_budget``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._memo import IdentityMemo
from .budget import estimate_tokens
from .describe import describe, is_tabular
from .inventory import inventory
from .privacy import var_excluded
from .settings import ContextSettings

__all__ = [
    "inventory_context",
    "mentioned_columns",
    "mentioned_names",
    "turn_context",
    "variables_context",
]

_MENTION = re.compile(r"(?<![\w.@`])@([A-Za-z_][A-Za-z0-9_]*)")


def mentioned_names(prompt: str, namespace: Mapping[str, Any]) -> list[str]:
    """Names written as ``@name`` in ``prompt`` that exist in ``namespace`` (in order).

    ``user@example.com`` is not a mention (a word character precedes the ``@``), and
    neither is a name that is not defined.
    """
    seen: list[str] = []
    for match in _MENTION.finditer(prompt or ""):
        name = match.group(1)
        if name in namespace and name not in seen:
            seen.append(name)
    return seen


def mentioned_columns(prompt: str, columns: Iterable[Any], limit: int = 50) -> list[str]:
    """Column labels that appear in ``prompt`` as whole words (case-insensitive)."""
    if not prompt:
        return []
    text = prompt.lower()
    found: list[str] = []
    for col in columns:
        label = str(col)
        low = label.lower()
        if len(low) < 2 or low not in text:
            continue
        if re.search(r"(?<![\w])" + re.escape(low) + r"(?![\w])", text):
            found.append(label)
            if len(found) >= limit:
                break
    return found


def _columns_of(obj: Any) -> list[Any]:
    try:
        cols = obj.columns
    except Exception:
        return []
    return _labels_list(cols)


def _labels_list(cols: Any) -> list[Any]:
    """The first 20,000 column labels as a list (``[]`` when they cannot be read)."""
    try:
        if len(cols) > 20_000:
            return list(cols[:20_000])
        return list(cols)
    except Exception:
        return []


_FOCUS_LIMIT = 64
_focus_memo: IdentityMemo[list[str]] = IdentityMemo(_FOCUS_LIMIT)  # (Index, prompt) -> named
_column_lists: IdentityMemo[list[Any]] = IdentityMemo(_FOCUS_LIMIT)  # pandas Index -> list


def _focus(prompt: str, obj: Any) -> list[str]:
    """The columns of ``obj`` that ``prompt`` names, remembered per column Index and prompt
    (a pandas Index is immutable: renaming columns makes a new one); other labels (a
    polars frame's list, made anew on each access) are looked at every time."""
    try:
        labels = obj.columns
    except Exception:
        return []
    if isinstance(labels, list) or not (type(labels).__module__ or "").startswith("pandas"):
        return mentioned_columns(prompt, _columns_of(obj))
    # the labels listed once per Index (an arrow-backed Index iterates slowly)
    found = _focus_memo.get(
        labels,
        lambda index: mentioned_columns(prompt, _column_lists.get(index, _labels_list)),
        prompt,
    )
    return list(found)


def turn_context(
    namespace: Mapping[str, Any],
    names: Sequence[str] = (),
    settings: ContextSettings | None = None,
    *,
    prompt: str | None = None,
    include_inventory: bool = True,
) -> dict[str, str]:
    """Context blocks for one turn.

    Parameters
    ----------
    namespace:
        The notebook's user namespace.
    names:
        Variables the prompt refers to (``@df``, ``{df}``, ``--context df``): described
        in full, under keys ``"var:<name>"``.
    settings:
        Privacy and budget settings.
    prompt:
        The prompt text; columns of wide frames it names get full detail.
    include_inventory:
        Add the ``"inventory"`` key listing every other user variable.

    Returns
    -------
    dict[str, str]
        Ordered ``{key: text}``; deterministic for unchanged data.
    """
    settings = settings or ContextSettings()
    out: dict[str, str] = {}
    remaining = settings.turn_budget
    wanted = list(dict.fromkeys(n for n in names if isinstance(n, str) and n))
    reserve = min(settings.inventory_budget, settings.turn_budget // 5) if include_inventory else 0
    for position, name in enumerate(wanted):
        key = f"var:{name}"
        if var_excluded(name, settings):
            out[key] = f"`{name}` is excluded from context by the exclude_vars setting."
        elif name not in namespace:
            out[key] = f"`{name}` is not defined in the notebook."
        else:
            obj = namespace[name]
            tabular = is_tabular(obj)
            own = settings.var_budget if tabular else settings.other_budget
            share = max(60, (remaining - reserve) // (len(wanted) - position))
            budget = max(60, min(own, share))
            focus = _focus(prompt, obj) if prompt and tabular else []
            out[key] = describe(obj, name, budget=budget, settings=settings, columns=focus)
        remaining -= estimate_tokens(out[key])
    if include_inventory:
        budget = max(60, min(settings.inventory_budget, remaining))
        text = inventory(namespace, settings, budget=budget, skip=frozenset(wanted))
        if text:
            out["inventory"] = text
    return out


def variables_context(
    namespace: Mapping[str, Any],
    names: Sequence[str],
    settings: ContextSettings | None = None,
    *,
    prompt: str | None = None,
) -> dict[str, str]:
    """Only the ``var:<name>`` blocks of :func:`turn_context`.

    For callers that send the inventory separately (see :func:`inventory_context`): the
    inventory's budget is kept out of the turn budget, so both together stay within
    ``settings.turn_budget``.
    """
    settings = settings or ContextSettings()
    room = max(60, settings.turn_budget - settings.inventory_budget)
    return turn_context(
        namespace, names, settings.with_(turn_budget=room), prompt=prompt, include_inventory=False
    )


def inventory_context(
    namespace: Mapping[str, Any],
    settings: ContextSettings | None = None,
    *,
    skip: Iterable[str] = (),
) -> dict[str, str]:
    """``{"inventory": text}`` for a namespace (``{}`` when nothing is defined)."""
    text = inventory(namespace, settings, skip=frozenset(skip))
    return {"inventory": text} if text else {}
