"""What context a session's turn sends, and when it sends it again.

Design note: context is any object with a text rendering, a mapping of them, or a
callable returning them. :func:`render_context` turns it into ``{key: text}``, and a turn
sends a key as a :class:`~jupychat.types.ContextBlock` only when that text's digest
differs from the one last sent under the key. "Last sent" is read from history itself
(:func:`sent_digests`), so clearing, forking or a failed turn need no bookkeeping: the
next turn simply sends again what history no longer holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import secrets
from ._memo import IdentityMemo, PrefixMemo
from ._sanitize import clean_text
from .types import ContextBlock, Message

__all__ = ["ContextLike", "blocks_to_send", "clean_block", "render_context", "sent_digests"]

ContextLike = Any  # str | object with a text rendering | Mapping[str, ...] | Callable[[], ...]


def render_context(context: ContextLike, key: str = "context") -> dict[str, str]:
    """Normalise a context value to ``{key: text}`` (empty texts dropped).

    Parameters
    ----------
    context:
        ``None``; a string; an object with ``to_context``, ``_repr_markdown_``, ``render``
        or ``to_text`` returning text; a mapping of such values (its keys name the
        blocks); or a callable returning any of these.
    key:
        The key for a value that is not a mapping.
    """
    if context is None:
        return {}
    if callable(context) and not isinstance(context, type):
        return render_context(context(), key)
    if isinstance(context, Mapping):
        out: dict[str, str] = {}
        for k, v in context.items():
            out.update(render_context(v, str(k)))
        return out
    for attr in ("to_context", "_repr_markdown_", "render", "to_text"):
        method = getattr(context, attr, None)
        if callable(method):
            text = method()
            if isinstance(text, str):
                return {key: text} if text.strip() else {}
    text = context if isinstance(context, str) else str(context)
    return {key: text} if text.strip() else {}


def sent_digests(history: Iterable[Message]) -> dict[str, str]:
    """The digest of each context key as last sent in ``history`` (resumed from the last
    history asked about when this one starts with it: see :class:`PrefixMemo`)."""
    messages = list(history)
    known, start = _SENT.resume(messages)
    digests = dict(known or {})
    for message in messages[start:]:
        for block in message.context_blocks:
            digests[block.key] = block.digest
    _SENT.keep(messages, dict(digests))
    return digests


_SENT: PrefixMemo[dict[str, str]] = PrefixMemo()


def blocks_to_send(
    contexts: Iterable[ContextLike], history: Iterable[Message]
) -> list[ContextBlock]:
    """The blocks of ``contexts`` (later ones win per key) that ``history`` lacks.

    Keys and texts are cleaned (no known secret value, no lone surrogate) before their
    digest is compared, so what is compared is exactly what would be sent.
    """
    rendered: dict[str, str] = {}
    for context in contexts:
        rendered.update(render_context(context))
    if not rendered:
        return []
    sent = sent_digests(history)
    blocks = [clean_block(k, t) for k, t in rendered.items()]
    return [b for b in blocks if sent.get(b.key) != b.digest]


def clean_block(key: str, text: str) -> ContextBlock:
    """``ContextBlock(clean_text(key), clean_text(text))``, remembered per text object,
    key and set of known secrets (the cleaning depends on nothing else): a variable's
    description is the same text object turn after turn, and replay and the turn each
    clean it and take its digest."""
    known = secrets.known()
    hit = _CLEAN.find(text, (key, known))
    if hit is not None:
        return hit
    block = ContextBlock(clean_text(key), clean_text(text))
    if secrets.known() is known:  # cleaned with that very set: remembered under it
        _CLEAN.put(text, block, (key, known))
    return block


_CLEAN: IdentityMemo[ContextBlock] = IdentityMemo(64)  # text -> its cleaned block
