"""Text that can always be encoded: surrogate pairs split across stream chunks, made whole.

Design note: JSON writes a character outside the Basic Multilingual Plane (an emoji) as
two ``\\u`` escapes, a surrogate pair. A server that streams such text may cut between
the two halves, so one chunk decodes to a lone high surrogate (``"\\ud83d"``) and the
next to a lone low one (``"\\ude00"``). Joined as Python strings they are two code points
that cannot be encoded as UTF-8, and everything downstream (the store, the next request)
fails. :class:`Joiner` is one stream channel's decoder: it holds back a trailing high
surrogate until the next piece arrives, combines pairs, and at the end of the stream
replaces a half that never got its partner with U+FFFD. :func:`clean` does the same for a
complete string (a non-streamed body, a stored message) and :func:`clean_data` for
parsed JSON. Text without surrogates (nearly all of it) passes through after one check
(:func:`has_surrogates`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["REPLACEMENT", "Joiner", "clean", "clean_data", "has_surrogates"]

REPLACEMENT = "\ufffd"


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds any surrogate code point (paired or not).

    ASCII is known without a scan; other text is tried as UTF-8, which refuses every
    surrogate (a fast C loop: a regex search takes ~10 ns a char, ~30 us for a
    variable's description, and a turn cleans a dozen texts and every streamed piece)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean(text: str) -> str:
    """``text`` with surrogate pairs combined and lone surrogates replaced by U+FFFD."""
    if not has_surrogates(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_data(value: Any) -> Any:
    """:func:`clean` applied to every string (and mapping key) of parsed JSON."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, Mapping):
        return {(clean(k) if isinstance(k, str) else k): clean_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_data(v) for v in value]
    if isinstance(value, tuple):
        return tuple(clean_data(v) for v in value)
    return value


class Joiner:
    """One channel of a stream (answer text, reasoning, one tool call's arguments).

    ``push(piece)`` returns the text that is ready (possibly ``""``); ``flush()`` returns
    what was held back at the end of the stream, with a lone half replaced by U+FFFD.
    ``held`` (a high half waiting for its partner) is read, never set, outside.
    """

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = ""

    def push(self, piece: str) -> str:
        if self.held:
            piece = self.held + piece
            self.held = ""
        if not has_surrogates(piece):
            return piece
        if "\ud800" <= piece[-1] <= "\udbff":  # a high half: its partner may come next
            self.held = piece[-1]
            piece = piece[:-1]
        return clean(piece)

    def flush(self) -> str:
        held, self.held = self.held, ""
        return REPLACEMENT if held else ""

    @property
    def pending(self) -> bool:
        return bool(self.held)
