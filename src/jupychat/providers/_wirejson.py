"""A request body's JSON, with the history's part encoded once per message.

Design note: a turn's request repeats the whole conversation, and the conversation is
frozen: only the new question is new. Encoding the body with ``json.dumps`` each turn
encodes every earlier message again (0.3 ms for 22 messages on a slow machine, growing
with the session). A payload builder that remembers a message's wire entries marks them
:class:`Entry` (a dict that refuses changes); :func:`dumps_utf8` then encodes such an
entry once, keeps its text (and bytes) on it, and splices them into the body. The result
is byte for byte what ``json.dumps(payload, ensure_ascii=False)`` gives (same separators,
same key order), so servers, recordings and tests see no difference.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NoReturn

__all__ = ["Entry", "dumps_utf8"]

# json.dumps(value, ensure_ascii=False) makes a new encoder on each call (its options are
# not the defaults): one made once writes the same text, ~2-4 us sooner a value
_encode = json.JSONEncoder(ensure_ascii=False).encode


def _frozen(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError("a remembered wire entry cannot change (copy it: dict(entry))")


class Entry(dict[str, Any]):
    """A wire entry (one ``messages`` item) that is encoded once: it refuses changes."""

    __slots__ = ("_text", "_utf8")

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

    def utf8(self) -> bytes | None:
        """:meth:`json` in UTF-8 (made once); ``None`` when it holds a lone surrogate."""
        try:
            return self._utf8
        except AttributeError:
            try:
                self._utf8: bytes | None = self.json().encode("utf-8")
            except UnicodeEncodeError:
                self._utf8 = None
            return self._utf8


def dumps_utf8(payload: Mapping[str, Any]) -> tuple[str, bytes | None]:
    """(``json.dumps(payload, ensure_ascii=False)``, the same text in UTF-8, or ``None``
    when it cannot be encoded), with each :class:`Entry` in a list at the top level
    spliced from its remembered text and bytes: a body that holds a character outside
    ASCII anywhere is otherwise encoded whole again every turn.
    """
    pieces = _pieces(payload)
    if pieces is None:
        text = _encode(payload)
        try:
            return text, text.encode("utf-8")
        except UnicodeEncodeError:
            return text, None
    text = "".join(p.json() if type(p) is Entry else p for p in pieces)
    raw: list[bytes] = []
    for piece in pieces:
        if type(piece) is Entry:
            data = piece.utf8()
            if data is None:
                return text, None
        else:
            try:
                data = piece.encode("utf-8")
            except UnicodeEncodeError:
                return text, None
        raw.append(data)
    return text, b"".join(raw)


def _pieces(payload: Mapping[str, Any]) -> list[Any] | None:
    """The payload's JSON as texts and :class:`Entry` values (their remembered text) to
    join in order; ``None`` when no list at the top level holds an entry, or a key is
    not a string (then it is encoded whole)."""
    if not all(type(key) is str for key in payload):
        return None
    pieces: list[Any] = []
    text = "{"  # the text since the last entry
    found = False
    for index, (key, value) in enumerate(payload.items()):
        text += (", " if index else "") + _encode(key) + ": "
        if type(value) is list and any(type(item) is Entry for item in value):
            found = True
            text += "["
            for position, item in enumerate(value):
                if position:
                    text += ", "
                if type(item) is Entry:
                    pieces += (text, item)
                    text = ""
                else:
                    text += _encode(item)
            text += "]"
        else:
            text += _encode(value)
    pieces.append(text + "}")
    return pieces if found else None
