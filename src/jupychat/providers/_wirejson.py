"""A request body's JSON, with the history's part encoded once per message.

Design note: a turn's request repeats the whole conversation, and the conversation is
frozen: only the new question is new. Encoding the body with ``json.dumps`` each turn
encodes every earlier message again (0.3 ms for 22 messages on a slow machine, growing
with the session). A payload builder that remembers a message's wire entries marks them
:class:`Entry` (a dict that refuses changes); :func:`dumps` then encodes such an entry
once, keeps its text on it, and splices the text into the body. The result is byte for
byte what ``json.dumps(payload, ensure_ascii=False)`` gives (same separators, same key
order), so servers, recordings and tests see no difference.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NoReturn

__all__ = ["Entry", "dumps"]

# json.dumps(value, ensure_ascii=False) makes a new encoder on each call (its options are
# not the defaults): one made once writes the same text, ~2-4 us sooner a value
_encode = json.JSONEncoder(ensure_ascii=False).encode


def _frozen(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError("a remembered wire entry cannot change (copy it: dict(entry))")


class Entry(dict[str, Any]):
    """A wire entry (one ``messages`` item) that is encoded once: it refuses changes."""

    __slots__ = ("_text",)

    __setitem__ = __delitem__ = _frozen
    update = pop = popitem = clear = setdefault = __ior__ = _frozen

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))  # a copy is a plain dict, free to change

    def json(self) -> str:
        """This entry as ``json.dumps(..., ensure_ascii=False)`` writes it (made once)."""
        try:
            return self._text
        except AttributeError:
            self._text: str = _encode(self)
            return self._text


def dumps(payload: Mapping[str, Any]) -> str:
    """``json.dumps(payload, ensure_ascii=False)``, with each :class:`Entry` in a list
    at the top level spliced from its remembered text."""
    spliced = {key: _list(value) for key, value in payload.items() if type(value) is list}
    if not any(text is not None for text in spliced.values()) or not all(
        type(key) is str for key in payload
    ):
        return _encode(payload)
    parts = []
    for key, value in payload.items():
        text = spliced.get(key)
        if text is None:
            text = _encode(value)
        parts.append(f"{_encode(key)}: {text}")
    return "{" + ", ".join(parts) + "}"


def _list(items: list[Any]) -> str | None:
    """The list's JSON when it holds an :class:`Entry` (else None: encode it as usual)."""
    if not any(type(item) is Entry for item in items):
        return None
    return (
        "["
        + ", ".join(item.json() if type(item) is Entry else _encode(item) for item in items)
        + "]"
    )
