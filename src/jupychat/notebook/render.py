"""Showing a streamed answer in a cell's output.

In a notebook the answer is one display, created with ``display_id`` and updated in place
as text arrives, at most every ``interval`` seconds (plus once at the end), so a fast
stream does not flood the front end with messages; a status line ("loading the local
model…") shows in that same display until the answer replaces it, so a saved cell holds
exactly one output per answer. Each update publishes ``text/html``
from the safe renderer (:func:`jupychat.markdown.render`: raw HTML escaped, no remote
resources, math left for MathJax) with an escaped footer line (model, tokens, cost), and
``text/plain`` = exactly the answer text. Never ``text/markdown``: JupyterLab renders
Markdown from the live kernel without sanitising its HTML.

In a terminal IPython the text is printed as it arrives, or, when ``rich`` is installed,
rendered as Markdown live in the terminal; either way control characters are made visible
first (:func:`jupychat.markdown.terminal_text`), so an answer cannot drive the terminal.
"""

from __future__ import annotations

import itertools
import re
import sys
import time
from typing import Any

__all__ = [
    "StreamRenderer",
    "answer_bundle",
    "code_blocks",
    "history_bundle",
    "is_terminal",
]

_FENCE_RE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def code_blocks(markdown: str, language: str | None = None) -> list[str]:
    """The fenced code blocks of ``markdown`` (only ``language`` ones when given;
    unlabelled blocks always count)."""
    blocks = []
    for lang, body in _FENCE_RE.findall(markdown):
        if language is None or not lang or lang.lower() in (language, "py", "python3", "ipython"):
            blocks.append(body.rstrip("\n"))
    return blocks


def answer_bundle(text: str, foot: str = "") -> dict[str, str]:
    """The MIME bundle of an answer in a cell: safe ``text/html`` and the exact text.

    The whole HTML sits in a ``mathjax_ignore`` element: JupyterLab's MathJax typesets only
    the math elements the renderer marked, never a ``$`` in prose or in the footer.
    """
    from ..markdown import render

    body = render(text).html if text.strip() else "<p>…</p>"
    if foot:
        body += f'<div class="jc-footer"><sub>{html_escape(foot)}</sub></div>'
    return {"text/html": f'<div class="jc-answer mathjax_ignore">{body}</div>', "text/plain": text}


def history_bundle(messages: Any) -> dict[str, str]:
    """``%chat history``: every message through the safe renderer, and as plain text.

    ``messages`` are :class:`jupychat.types.Message` values (user and assistant turns).
    The plain text has its control characters made visible (a terminal prints it).
    """
    from ..markdown import render, terminal_text

    html_parts, text_parts = [], []
    for m in messages:
        who = "You" if m.role == "user" else "Assistant"
        model = f" <sub>{html_escape(m.model)}</sub>" if m.role != "user" and m.model else ""
        mark = " <em>(interrupted)</em>" if m.interrupted else ""
        html_parts.append(
            f'<p class="jc-who"><strong>{who}</strong>{model}{mark}</p>' + render(m.text).html
        )
        head = who + (f" ({m.model})" if m.role != "user" and m.model else "")
        text_parts.append(head + (" (interrupted)" if m.interrupted else "") + ":\n" + m.text)
    return {
        "text/html": '<div class="jc-history mathjax_ignore">' + "<hr>".join(html_parts) + "</div>",
        "text/plain": terminal_text("\n\n---\n\n".join(text_parts)),
    }


_display_ids = itertools.count(1)
_display_prefix: list[str] = []


def new_display_id() -> str:
    """A display id unique to this kernel's answers: a random prefix made once, then a
    counter (IPython's own ``display_id=True`` reads ``os.urandom`` for every display)."""
    if not _display_prefix:
        import secrets

        _display_prefix.append(f"jc-{secrets.token_hex(8)}-")
    return f"{_display_prefix[0]}{next(_display_ids)}"


def html_escape(text: str) -> str:
    """``text`` as HTML text (``html.escape``, imported on first use)."""
    import html

    return html.escape(text)


def terminal_text(text: str) -> str:
    """``text`` with control characters made visible (:func:`jupychat.markdown.terminal_text`)."""
    from ..markdown import terminal_text as visible

    return visible(text)


def is_terminal(shell: Any) -> bool:
    """True for a terminal IPython (no rich front end to update displays in)."""
    return type(shell).__name__ == "TerminalInteractiveShell"


class StreamRenderer:
    """Renders one streamed answer into the current cell output.

    Parameters
    ----------
    shell:
        The IPython shell (decides between rich display and plain printing).
    fmt:
        ``"markdown"`` (default), ``"code"`` or ``"text"``.
    interval:
        Minimum seconds between two display updates (longer for answers that take a
        while to render: at least twice the last render time).
    """

    def __init__(self, shell: Any, fmt: str = "markdown", interval: float = 0.1) -> None:
        self.terminal = is_terminal(shell)
        self.fmt = fmt
        self.interval = interval
        self.text = ""
        # the first display waits one interval too: a fast answer is shown once, at the end
        self._last = time.monotonic()
        self._gap = interval
        self._handle: Any = None
        self._status: str | None = None
        self._live: Any = None
        if self.terminal and fmt == "markdown":
            self._live = _rich_live()

    def _bundle(self, text: str, foot: str = "") -> dict[str, str]:
        line = ""
        if self._status is not None:
            line = f'<p class="jc-status mathjax_ignore"><em>{html_escape(self._status)}</em></p>'
            if not text:  # only the status line so far
                return {"text/html": line, "text/plain": self._status}
        if self.fmt == "text":
            return {"text/plain": text + (f"\n\n— {foot}" if foot else "")}
        bundle = answer_bundle(text, foot)
        bundle["text/html"] += line  # a status between steps shows under the text so far
        return bundle

    def status(self, message: str) -> None:
        """A transient status line (e.g. "loading the local model…").

        It is shown in the answer's own display, which the answer then replaces: the
        saved cell keeps one output per answer.
        """
        if self.terminal:
            print(terminal_text(message), file=sys.stderr, flush=True)
            return
        self._status = message
        self._update(self.text)

    def _clear_status(self) -> None:
        self._status = None

    def start(self) -> None:
        if self.terminal:
            return
        from IPython.display import display

        self._handle = display(self._bundle(""), raw=True, display_id=new_display_id())

    def add(self, delta: str) -> None:
        self._status = None
        self.text += delta
        now = time.monotonic()
        if self._live is not None:
            if now - self._last >= self.interval:
                self._last = now
                self._live.update(_rich_markdown(self.text))
            return
        if self.terminal:
            sys.stdout.write(terminal_text(delta))
            sys.stdout.flush()
            return
        if now - self._last >= self._gap:
            self._last = now
            self._update(self.text)
            # a long answer takes longer to render: keep rendering under ~1/3 of the time
            self._gap = max(self.interval, 2 * (time.monotonic() - now))

    def _update(self, text: str, foot: str = "", metadata: dict[str, Any] | None = None) -> None:
        if self._handle is None:
            from IPython.display import display

            # the first showing creates the output with its content: one message, not two
            extra = {"metadata": metadata} if metadata else {}
            self._handle = display(
                self._bundle(text, foot), raw=True, display_id=new_display_id(), **extra
            )
            return
        if metadata:
            self._handle.update(self._bundle(text, foot), raw=True, metadata=metadata)
        else:
            self._handle.update(self._bundle(text, foot), raw=True)

    def finish(
        self, text: str | None = None, foot: str = "", metadata: dict[str, Any] | None = None
    ) -> None:
        """Show the complete answer once more with its footer (``metadata``: the output's
        metadata, e.g. the turn's recording, saved with the notebook)."""
        self._clear_status()
        if text is not None:
            self.text = text
        if self._live is not None:
            self._live.update(_rich_markdown(self.text))
            self._live.stop()
            if not self._live.console.is_terminal:
                self._live.console.line()  # a non-terminal Live leaves the cursor on its last line
            if foot:
                from rich.markup import escape

                self._live.console.print(
                    f"[dim]{escape(terminal_text(foot))}[/dim]", highlight=False
                )
            self._live = None
            return
        if self.terminal:
            sys.stdout.write("\n" if self.text and not self.text.endswith("\n") else "")
            if foot:
                sys.stdout.write(f"[{terminal_text(foot)}]\n")
            sys.stdout.flush()
            return
        self._update(self.text, foot, metadata)


def _rich_live() -> Any:
    """A started ``rich`` live display, or None when rich is not installed."""
    try:
        from rich.console import Console
        from rich.live import Live
    except ImportError:
        return None
    live = Live(
        _rich_markdown(""), console=Console(), refresh_per_second=8, vertical_overflow="visible"
    )
    live.start()
    return live


def _rich_markdown(text: str) -> Any:
    from rich.markdown import Markdown

    return Markdown(terminal_text(text) or "…")
