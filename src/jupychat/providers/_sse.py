"""Server-sent events from raw bytes: a tight, incremental decoder.

Design note: every streamed answer passes through here once per network chunk, so the
decoder works on ``bytes`` as they are read (no text decoding of the whole body, no
object per line or per event) and hands back every event the chunk completed at once,
as ``(event, data)`` pairs. It follows the event-stream rules of the HTML standard:

* lines end with CRLF, LF or a lone CR, and a line (or a CRLF pair) may be split
  between two chunks anywhere, a UTF-8 character too (lines are decoded whole);
* ``data:`` lines of one event are joined with ``"\\n"``; one space after the colon is
  dropped; a line without a colon is a field with an empty value;
* ``event:`` names the event (``"message"`` when absent: Anthropic names every one);
* lines starting with ``:`` are comments (keep-alives such as ``: ping``); ``id:``,
  ``retry:`` and unknown fields are ignored;
* a blank line dispatches the event (as ``httpx-sse`` did, an ``event:`` line alone is
  dispatched too, with empty data); a leading byte order mark is dropped; an event
  not ended by a blank line when the stream closes is discarded (:meth:`close` only
  completes a last line ended by a CR that was held back in case an LF followed).

Text is decoded as UTF-8 (the format's only encoding); invalid bytes become U+FFFD.
:attr:`SSEDecoder.heard` tells the caller whether the last chunk carried anything
but comments and blank lines, a field line still arriving included (the idle timeout
counts keep-alives as silence).
"""

from __future__ import annotations

__all__ = ["SSEDecoder"]

_BOM = b"\xef\xbb\xbf"
_CR = 13  # ord("\r"), the carriage return


class SSEDecoder:
    """Incremental event-stream decoder: feed it chunks, get the completed events."""

    __slots__ = ("_data", "_event", "_rest", "_start", "heard")

    def __init__(self) -> None:
        self._rest = b""  # the unfinished last line (with a held-back trailing CR)
        self._event = b""
        self._data: list[bytes] | None = None
        self._start = True
        self.heard = False

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        """The events ``chunk`` completes, in order, as ``(event name, data)`` pairs."""
        buf = self._rest + chunk if self._rest else chunk
        if self._start:
            if len(buf) < 3 and _BOM.startswith(buf):
                self._rest = buf  # could still be a byte order mark: wait for more
                self.heard = False
                return []
            self._start = False
            if buf.startswith(_BOM):
                buf = buf[3:]
        # (the byte's value, not ``b"\r"``: ``bytes in bytes`` first tries the operand as
        # an integer and builds, then drops, a TypeError, ~9x slower, for every chunk)
        if _CR in buf:
            held = buf.endswith(b"\r")  # may be the first half of a CRLF: decide later
            if held:
                buf = buf[:-1]
            lines = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
            last = lines.pop()
            self._rest = last + b"\r" if held else last
        else:
            lines = buf.split(b"\n")
            self._rest = lines.pop()
        out: list[tuple[str, str]] = []
        heard = False
        data = self._data
        for line in lines:
            if not line:
                if data is not None or self._event:
                    name = self._event.decode("utf-8", "replace") if self._event else "message"
                    if data is None:
                        text = ""
                    elif len(data) == 1:
                        text = data[0].decode("utf-8", "replace")
                    else:
                        text = b"\n".join(data).decode("utf-8", "replace")
                    out.append((name, text))
                    data = None
                    self._event = b""
                continue
            if line[0] == 58:  # b":": a comment (keep-alive)
                continue
            field, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if field == b"data":
                heard = True
                if data is None:
                    data = [value]
                else:
                    data.append(value)
            elif field == b"event":
                heard = True
                self._event = value
        self._data = data
        rest = self._rest
        # a field line still arriving (a long data line in pieces) is data too
        self.heard = heard or (bool(rest) and rest[0] != 58 and rest != b"\r")
        return out

    def close(self) -> list[tuple[str, str]]:
        """The stream ended: a line ended by a held-back CR is complete after all."""
        return self.feed(b"\n") if self._rest.endswith(b"\r") else []
