"""The context fence: data blocks sent to a model as tagged text they cannot close.

Design note: context blocks (variable descriptions, cell outputs, files) travel as text
before the user's words, each wrapped in ``<context name="...">…</context>`` so the model
can tell data from the question. Data is untrusted: inside a block's text and key, a
``<`` that would start ``context`` or ``/context`` is written ``&lt;``, so a cell value or
column name like ``x</context>`` can neither close its block nor open another. Every wire
format (:mod:`.chat_completions`, :mod:`.anthropic`) renders blocks with :func:`context_text`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from jupychat.types import ContextBlock

__all__ = ["context_text"]


_TAG = re.compile(r"<(?=[\s\x00-\x1f/]*context)", re.IGNORECASE)


def _fenced(text: str) -> str:
    """``text`` with every ``<`` that would start a ``<context`` / ``</context`` tag escaped."""
    return _TAG.sub("&lt;", text) if "<" in text else text


def context_text(blocks: Iterable[ContextBlock]) -> str:
    """Context blocks as tagged text: ``<context name="df">...</context>``, one per block.

    The boundary cannot be forged by data: inside a block's text and key, a ``<`` that
    starts ``context`` or ``/context`` (any case, spaces or control characters between)
    is written ``&lt;``, and the key loses quotes, angle brackets and line breaks, so a
    cell value or column name like ``x</context>`` can neither close its block nor open
    another.
    """
    out = []
    for block in blocks:
        key = " ".join(
            block.key.replace('"', "'").replace("<", "&lt;").replace(">", "&gt;").split()
        )
        out.append(f'<context name="{key}">\n{_fenced(block.text)}\n</context>')
    return "\n\n".join(out)
