"""Token estimates and hard size caps for context text.

Design note: the budget only needs to be roughly right and must cost nothing, so the
default estimate is :func:`jupychat.tokens.estimate_tokens`, calibrated against a BPE
tokenizer on prose, code and DataFrame descriptions (a flat 3.5 characters a token was
1.6x low on tables). A real tokenizer is used only when one is already installed *and* usable
offline: ``tiktoken`` with its encoding file already in its local cache (we never let it
download). Callers may also install their own counter with :func:`set_token_counter`.
Caps are also enforced on characters (``tokens * 2``, about what tables measure), so a
description can never exceed its cap whatever the counter says.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from ..tokens import estimate_tokens as _calibrated

__all__ = [
    "CHARS_PER_TOKEN",
    "cap_text",
    "chars_for_tokens",
    "estimate_tokens",
    "set_token_counter",
]

CHARS_PER_TOKEN = 2.0  # tables measure ~1.7 characters a token, prose ~4.7
TRUNCATION_MARK = "\n… (truncated to fit the context budget)"

_counter: Callable[[str], int] | None = None
_probed = False


def _char_estimate(text: str) -> int:
    return _calibrated(text)


def tiktoken_cached() -> bool:
    """True when tiktoken is installed and has encoding files in its local cache."""
    import importlib.util

    if importlib.util.find_spec("tiktoken") is None:
        return False
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    if not cache_dir:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return os.path.isdir(cache_dir) and bool(os.listdir(cache_dir))


def _probe_tiktoken() -> Callable[[str], int] | None:
    """A tiktoken counter when its encoding file is already cached locally, else None."""
    try:
        if not tiktoken_cached():
            return None  # tiktoken would try to download: stay offline
        import tiktoken

        encoding = tiktoken.get_encoding("cl100k_base")
    except Exception:
        return None

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    return count


def set_token_counter(counter: Callable[[str], int] | None) -> None:
    """Use ``counter(text) -> int`` for token estimates (``None``: the calibrated estimate)."""
    global _counter, _probed
    _counter = counter
    _probed = True


def estimate_tokens(text: str) -> int:
    """Estimated number of tokens in ``text``.

    Parameters
    ----------
    text:
        Any text.

    Returns
    -------
    int
        The count from a real offline tokenizer when available, else the calibrated
        estimate (:func:`jupychat.tokens.estimate_tokens`).
    """
    global _counter, _probed
    if not _probed:
        _probed = True
        _counter = _probe_tiktoken()
    if _counter is not None:
        try:
            return int(_counter(text))
        except Exception:
            return _char_estimate(text)
    return _char_estimate(text)


def chars_for_tokens(tokens: int) -> int:
    """The hard character cap that corresponds to ``tokens``."""
    return max(0, int(tokens * CHARS_PER_TOKEN))


def cap_text(text: str, tokens: int) -> str:
    """``text`` cut so that it fits ``tokens`` (by the char cap and the estimate).

    The cut is made at a line end when one is near, and is marked.
    """
    limit = chars_for_tokens(tokens)
    if len(text) <= limit and estimate_tokens(text) <= tokens:
        return text
    room = max(0, limit - len(TRUNCATION_MARK))
    cut = text[:room]
    newline = cut.rfind("\n")
    if newline >= room * 0.6:
        cut = cut[:newline]
    out = cut + TRUNCATION_MARK
    while estimate_tokens(out) > tokens and len(cut) > 0:
        cut = cut[: int(len(cut) * 0.9)]
        out = cut + TRUNCATION_MARK
    return out if len(out) <= limit else out[:limit]
