"""A request body's JSON, with the history's part encoded once per message.

Design note: a turn's request repeats the whole conversation, and the conversation is
frozen: only the new question is new. Encoding the body with ``json.dumps`` each turn
encodes every earlier message again (0.3 ms for 22 messages on a slow machine, growing
with the session). A payload builder that remembers a message's wire entries marks them
:class:`Entry` (a dict that refuses changes); :func:`dumps_utf8` then encodes such an
entry once, keeps its text (and bytes) on it, and splices them into the body. A run of
entries is joined once too: the next body's run starts with the same entries (the very
objects), so only the new ones are joined to the remembered text (a 200-turn notebook's
cell otherwise took a step for each of its 400 messages). The result is byte for byte
what ``json.dumps(payload, ensure_ascii=False)`` gives (same separators, same key order),
so servers, recordings and tests see no difference.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NoReturn, cast

from .._memo import PrefixMemo

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
    text = "".join(p if type(p) is str else p.json() for p in pieces)
    raw: list[bytes] = []
    for piece in pieces:
        if type(piece) is str:
            try:
                data = piece.encode("utf-8")
            except UnicodeEncodeError:
                return text, None
        else:
            found = piece.utf8()
            if found is None:
                return text, None
            data = found
        raw.append(data)
    return text, b"".join(raw)


class _Run:
    """A run of entries in a list, encoded and joined (``", "``), made from the last
    run's text when it starts with that run: a turn's history is the last turn's plus
    a turn, so a body joins only its new entries to the remembered text of the others
    (each turn otherwise did a step for every message of the conversation)."""

    __slots__ = ("_text", "_utf8", "entries")

    def __init__(self, entries: tuple[Entry, ...], text: str, data: bytes | None) -> None:
        self.entries = entries  # held: the memo's key is their ids
        self._text = text
        self._utf8 = data

    def json(self) -> str:
        return self._text

    def utf8(self) -> bytes | None:
        return self._utf8


def _run(entries: list[Entry]) -> _Run:
    """The :class:`_Run` of ``entries`` (all :class:`Entry`), resumed from the last runs'."""
    ids = list(map(id, entries))  # the very entries: an equal dict may order its keys otherwise
    known, start = _RUNS.resume(ids)
    new = entries[start:]
    text = ", ".join([e.json() for e in new])
    pieces = [e.utf8() for e in new]
    data: bytes | None = None if None in pieces else b", ".join(cast("list[bytes]", pieces))
    if known is not None and start:
        if new:
            text = ", ".join((known.json(), text))
            prior = known.utf8()
            data = None if prior is None or data is None else b", ".join((prior, data))
        else:
            text, data = known.json(), known.utf8()
    run = _Run(tuple(entries), text, data)
    _RUNS.keep(ids, run)
    return run


_RUNS: PrefixMemo[_Run] = PrefixMemo(slots=2)


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
            kinds = [type(item) is Entry for item in value]
            position, size = 0, len(value)
            while position < size:
                if position:
                    text += ", "
                if kinds[position]:  # a run of entries (up to the next other item): one piece
                    try:
                        end = kinds.index(False, position)
                    except ValueError:  # entries to the end
                        end = size
                    pieces += (text, _run(value[position:end]))
                    text = ""
                    position = end
                else:
                    text += _encode(value[position])
                    position += 1
            text += "]"
        else:
            text += _encode(value)
    pieces.append(text + "}")
    return pieces if found else None
