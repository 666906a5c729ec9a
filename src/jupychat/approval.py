"""Showing code for approval exactly as it will run.

Design note: code a model asks to run is untrusted, and a terminal or a notebook's stream
output *interprets* some characters instead of showing them: ``\\r`` moves back to the
start of the line (so ``evil()  #\\rprint('hi')`` displays as ``print('hi')`` while Python,
which treats a lone ``\\r`` as a line break, runs both), ANSI escape sequences recolour or
erase text, Unicode bidi controls reorder it, zero-width and tag characters hide it, and
combining marks draw over their neighbours. So before code is shown for a yes/no, every
character that is not an ordinary visible one is replaced by a visible marker
``⟨U+XXXX NAME⟩``. The marker's own opening bracket is escaped the same way when it occurs
in the code, so the shown text decodes to exactly one program (:func:`decode_visible` is
the inverse of :func:`visible_code`): approving what is displayed can never run anything
that was not displayed. Code too long to review in one screenful of scrolling is refused,
not cut.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "MAX_APPROVAL_CHARS",
    "MAX_APPROVAL_LINES",
    "approval_prompt",
    "decode_visible",
    "visible_code",
]

MAX_APPROVAL_LINES = 400
MAX_APPROVAL_CHARS = 40_000
_OPEN = "⟨"  # U+27E8, escaped itself when it appears in the code
_MARKER_RE = re.compile(r"⟨U\+([0-9A-F]{4,6})(?: [^⟩]*)?⟩")
_KEEP = frozenset("\n\t ")
_SHOWN_CATEGORIES = ("L", "N", "P", "S")  # letters, numbers, punctuation, symbols


def _needs_marker(char: str) -> bool:
    if char in _KEEP:
        return False
    if char == _OPEN:
        return True
    if char.isascii():
        return not char.isprintable()
    # controls, format (bidi, zero-width), separators, surrogates, private use, unassigned,
    # and combining marks (which draw over the previous character) are all made visible
    return not unicodedata.category(char).startswith(_SHOWN_CATEGORIES)


def _marker(char: str) -> str:
    code = ord(char)
    name = unicodedata.name(char, "") or _CONTROL_NAMES.get(code, "")
    return f"⟨U+{code:04X}{' ' + name if name else ''}⟩"


_CONTROL_NAMES = {
    0x00: "NUL",
    0x07: "BELL",
    0x08: "BACKSPACE",
    0x0B: "VERTICAL TAB",
    0x0C: "FORM FEED",
    0x0D: "CARRIAGE RETURN",
    0x1B: "ESCAPE",
    0x7F: "DELETE",
    0x85: "NEXT LINE",
    0x9B: "CONTROL SEQUENCE INTRODUCER",
}


def visible_code(code: str) -> str:
    """``code`` with every invisible, control or look-alike-making character shown as
    ``⟨U+XXXX NAME⟩`` (newlines, tabs and spaces kept); :func:`decode_visible` inverts it."""
    return "".join(_marker(c) if _needs_marker(c) else c for c in code)


def decode_visible(text: str) -> str:
    """The code that :func:`visible_code` displayed as ``text``."""
    return _MARKER_RE.sub(lambda m: chr(int(m.group(1), 16)), text)


def approval_prompt(code: str, what: str = "run this code in your kernel") -> tuple[str, bool]:
    """The text to show before asking to ``what``, and whether asking is allowed at all.

    Returns ``(text, askable)``; when ``askable`` is False the code must be refused without
    asking (too long to review) and ``text`` says why.
    """
    if not isinstance(code, str):
        return (f"refused: the code is a {type(code).__name__}, not text", False)
    lines = code.count("\n") + 1
    if lines > MAX_APPROVAL_LINES or len(code) > MAX_APPROVAL_CHARS:
        return (
            f"refused: the assistant's code is {lines:,} lines / {len(code):,} characters, "
            f"too long to review here (limit {MAX_APPROVAL_LINES} lines, "
            f"{MAX_APPROVAL_CHARS:,} characters); ask it for smaller steps",
            False,
        )
    shown = visible_code(code)
    hidden = len(_MARKER_RE.findall(shown))
    head = f"The assistant wants to {what} ({lines} line{'s' if lines != 1 else ''}):"
    note = (
        f"\n[{hidden} invisible or control character{'s are' if hidden != 1 else ' is'} "
        "shown as ⟨U+…⟩ markers: the code runs with the real characters]"
        if hidden
        else ""
    )
    rule = "-" * 60
    return (f"{head}{note}\n{rule}\n{shown}\n{rule}", True)
