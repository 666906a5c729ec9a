"""Values for executed notebook cells, and the text clean-up used while recording them.

Design note: a recorded cell is a frozen value made of strings, numbers and (for images)
bytes: never the objects the cell produced, so the record can keep many cells without
keeping a DataFrame, a Figure or a traceback's frames alive. Everything that can be
large is bounded when it is recorded (:class:`HeadTail` keeps the head and the tail of a
stream; :func:`head_tail` cuts a long text the same way), terminal colour codes are
stripped (:func:`strip_ansi`), ``\\r`` progress updates are collapsed to what the
screen finally showed, and HTML is reduced to text (:func:`html_to_text`, stdlib parser,
scripts and styles dropped). These values live in the core so that the context and tool
modules can read them; the IPython hooks that fill them are in ``jupychat.notebook.cells``.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Literal

__all__ = [
    "Cell",
    "CellError",
    "HeadTail",
    "Output",
    "collapse_cr",
    "head_tail",
    "html_to_text",
    "image_size",
    "strip_ansi",
]

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
OMITTED = "\n… ({n:,} characters omitted) …\n"


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape sequences (colours, cursor moves, OSC links)."""
    return _ANSI.sub("", text) if "\x1b" in text else text


def collapse_cr(text: str) -> str:
    """What a terminal shows after ``\\r`` updates: per line, the text after the last ``\\r``."""
    if "\r" not in text:
        return text
    text = text.replace("\r\n", "\n")
    lines = []
    for line in text.split("\n"):
        if "\r" in line:
            parts = [p for p in line.split("\r") if p]
            line = parts[-1] if parts else ""
        lines.append(line)
    return "\n".join(lines)


def head_tail(text: str, limit: int) -> str:
    """``text`` when it has at most ``limit`` characters, else its head and tail with a mark."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return OMITTED.format(n=len(text)).strip()
    head = limit * 2 // 3
    tail = limit - head
    omitted = len(text) - head - tail
    return text[:head] + OMITTED.format(n=omitted) + (text[-tail:] if tail else "")


class HeadTail:
    """A bounded text sink: keeps the first ``head`` and the last ``tail`` characters.

    ``write`` costs O(len(chunk)); memory stays under ``head + tail`` plus one chunk.
    """

    __slots__ = ("_head", "_head_len", "_tail", "_tail_len", "head", "tail", "total")

    def __init__(self, head: int, tail: int) -> None:
        self.head = max(0, head)
        self.tail = max(0, tail)
        self.total = 0
        self._head: list[str] = []
        self._head_len = 0
        self._tail: deque[str] = deque()
        self._tail_len = 0

    def write(self, text: str) -> None:
        n = len(text)
        if not n:
            return
        self.total += n
        room = self.head - self._head_len
        if room > 0:
            self._head.append(text[:room])
            self._head_len += min(room, n)
            if n <= room:
                return
            text = text[room:]
            n = len(text)
        if not self.tail:
            return
        if n >= self.tail:
            self._tail.clear()
            self._tail.append(text[-self.tail :])
            self._tail_len = self.tail
            return
        self._tail.append(text)
        self._tail_len += n
        while self._tail and self._tail_len - len(self._tail[0]) >= self.tail:
            self._tail_len -= len(self._tail.popleft())

    def text(self) -> str:
        """The kept text, with a mark where characters were dropped."""
        head = "".join(self._head)
        tail = "".join(self._tail)
        if len(tail) > self.tail:
            tail = tail[-self.tail :]
        omitted = self.total - len(head) - len(tail)
        if omitted <= 0:
            return head + tail
        return head + OMITTED.format(n=omitted) + tail


class _TextOfHTML(HTMLParser):
    _BLOCK = frozenset(
        {
            "p",
            "div",
            "br",
            "tr",
            "li",
            "ul",
            "ol",
            "table",
            "thead",
            "tbody",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "pre",
            "section",
            "article",
            "header",
            "footer",
            "blockquote",
            "hr",
            "dl",
            "dt",
            "dd",
            "caption",
        }
    )
    _CELL = frozenset({"td", "th"})
    _SKIP = frozenset({"script", "style", "head", "template", "noscript", "svg"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.row_cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skip += 1
        elif tag in self._CELL:
            if self.row_cells:
                self.parts.append(" | ")
            self.row_cells += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
            if tag == "tr":
                self.row_cells = 0
            if tag == "li":
                self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str, limit: int = 200_000) -> str:
    """Readable text of an HTML fragment: tags dropped, scripts and styles skipped.

    Table cells are joined with `` | ``, blocks become lines, entities are decoded. Only
    the first ``limit`` characters of ``html`` are parsed.
    """
    parser = _TextOfHTML()
    try:
        parser.feed(html[:limit])
        parser.close()
    except Exception:
        return re.sub(r"<[^>]*>", " ", html[:limit])
    text = "".join(parser.parts)
    lines = [re.sub(r"[ \t\f\v]+", " ", line).strip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG, GIF or JPEG header, without decoding the image."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
            return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
        if data[:2] == b"\xff\xd8":
            i = 2
            while i + 9 < len(data):
                if data[i] != 0xFF:
                    i += 1
                    continue
                marker = data[i + 1]
                if marker in (
                    0xC0,
                    0xC1,
                    0xC2,
                    0xC3,
                    0xC5,
                    0xC6,
                    0xC7,
                    0xC9,
                    0xCA,
                    0xCB,
                    0xCD,
                    0xCE,
                    0xCF,
                ):
                    h = int.from_bytes(data[i + 5 : i + 7], "big")
                    w = int.from_bytes(data[i + 7 : i + 9], "big")
                    return w, h
                if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                    i += 2
                    continue
                i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    except Exception:
        return None
    return None


@dataclass(frozen=True)
class Output:
    """One thing a cell showed: its execute result or a displayed object.

    Parameters
    ----------
    kind:
        ``"result"`` (the ``Out[n]`` value), ``"display"`` (``display()``, figures) or
        ``"error"`` (a traceback shown without ending the cell).
    mime:
        The MIME types the front end received, e.g. ``("text/plain", "image/png")``.
    text:
        The best text form: text/plain, Markdown, HTML reduced to text, or the text of an
        SVG; bounded.
    summary:
        One short line: for a result, a safe preview of the value (``<DataFrame 1000×5>``);
        for a display, what it was (``matplotlib Figure``, ``Markdown``...).
    type_name:
        The type of the displayed Python object, when one was seen.
    figure:
        A text account of a figure or chart (matplotlib, Vega-Lite, Plotly), when one was.
    image:
        PNG or JPEG bytes, as shown (not downscaled), when kept.
    image_type:
        ``"image/png"`` or ``"image/jpeg"`` for ``image``.
    note:
        Why something was not kept (over the per-cell cap...).
    display_id:
        The display id when the output was shown with one (updates replace it).
    """

    kind: Literal["result", "display", "error"]
    mime: tuple[str, ...] = ()
    text: str = ""
    summary: str = ""
    type_name: str = ""
    figure: str | None = None
    image: bytes | None = field(default=None, repr=False)
    image_type: str | None = None
    note: str = ""
    display_id: str | None = None

    @property
    def is_figure(self) -> bool:
        """A figure or chart: an image or a text account of one."""
        return (
            self.figure is not None
            or self.image is not None
            or any(m.startswith("image/") for m in self.mime)
        )

    @property
    def image_dims(self) -> tuple[int, int] | None:
        return image_size(self.image) if self.image else None

    @property
    def nbytes(self) -> int:
        return (
            len(self.text)
            + len(self.summary)
            + len(self.figure or "")
            + len(self.note)
            + (len(self.image) if self.image else 0)
            + 200
        )

    def digest_parts(self) -> Iterable[bytes]:
        yield self.kind.encode()
        yield "\x1f".join(self.mime).encode()
        for text in (self.text, self.summary, self.figure or "", self.note):
            yield text.encode("utf-8", "surrogatepass")
        if self.image:
            yield hashlib.sha256(self.image).digest()


@dataclass(frozen=True)
class CellError:
    """The error that ended a cell: exception name, message and plain-text traceback."""

    ename: str
    evalue: str
    traceback: str

    @property
    def line(self) -> str:
        """``ValueError: bad value`` (the message cut to one line)."""
        first = self.evalue.strip().splitlines()[0] if self.evalue.strip() else ""
        return f"{self.ename}: {first[:300]}" if first else self.ename


@dataclass(frozen=True)
class Cell:
    """One executed cell as the kernel ran it (see :class:`jupychat.notebook.cells.CellRecord`).

    Parameters
    ----------
    seq:
        Position in the record (increases by one per recorded cell, never reused).
    execution_count:
        The ``In [n]`` number, or None for a cell run without history.
    code:
        The source as submitted (bounded).
    cell_id:
        The front end's cell id, when it sent one.
    started:
        Wall-clock start (seconds since the epoch).
    duration:
        Seconds from ``pre_run_cell`` to ``post_run_cell``.
    outputs:
        Results and displays, in the order shown.
    stdout, stderr:
        What was printed (ANSI stripped, ``\\r`` collapsed, head and tail kept).
    stdout_chars, stderr_chars:
        How many characters were printed in total.
    error:
        The error that ended the cell, if any.
    dropped:
        Outputs not kept (over the per-cell output count or byte cap).

    Attributes
    ----------
    fingerprint:
        A digest of the code and everything shown (not the timing): a context block built
        from this cell needs re-sending only when it changed.
    """

    seq: int
    execution_count: int | None
    code: str
    cell_id: str | None = None
    started: float = 0.0
    duration: float = 0.0
    outputs: tuple[Output, ...] = ()
    stdout: str = ""
    stderr: str = ""
    stdout_chars: int = 0
    stderr_chars: int = 0
    error: CellError | None = None
    dropped: int = 0
    fingerprint: str = field(default="", init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", self._digest())

    def _digest(self) -> str:
        """A digest of the code and everything shown: equal when nothing visible changed."""
        h = hashlib.sha256()
        for text in (str(self.execution_count), self.code, self.stdout, self.stderr):
            h.update(text.encode("utf-8", "surrogatepass"))
            h.update(b"\x1e")
        if self.error is not None:
            for text in (self.error.ename, self.error.evalue, self.error.traceback):
                h.update(text.encode("utf-8", "surrogatepass"))
                h.update(b"\x1e")
        for output in self.outputs:
            for part in output.digest_parts():
                h.update(part)
                h.update(b"\x1f")
        return h.hexdigest()[:16]

    @property
    def label(self) -> str:
        """``In [7]`` (``In [ ]`` when the cell has no execution count)."""
        return f"In [{self.execution_count}]" if self.execution_count is not None else "In [ ]"

    @property
    def lines(self) -> int:
        return self.code.count("\n") + 1 if self.code else 0

    @property
    def is_chat(self) -> bool:
        """A ``%%chat``/``%chat`` cell (the conversation already holds its text)."""
        return self.code.lstrip().startswith(("%%chat", "%chat"))

    @property
    def figures(self) -> tuple[Output, ...]:
        return tuple(o for o in self.outputs if o.is_figure)

    @property
    def result(self) -> Output | None:
        return next((o for o in self.outputs if o.kind == "result"), None)

    @property
    def nbytes(self) -> int:
        """Approximate memory held by this cell's strings and bytes."""
        size = len(self.code) + len(self.stdout) + len(self.stderr) + 400
        if self.error is not None:
            size += len(self.error.traceback) + len(self.error.evalue) + len(self.error.ename)
        return size + sum(o.nbytes for o in self.outputs)
