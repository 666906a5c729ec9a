"""Showing a streamed answer in a cell's output.

In a notebook the answer is one Markdown display, created with ``display_id`` and updated
in place as text arrives, at most every ``interval`` seconds (plus once at the end), so a
fast stream does not flood the front end with messages. A footer line gives the model,
tokens and cost. In a terminal IPython the text is printed as it arrives, or, when
``rich`` is installed, rendered as Markdown live in the terminal.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any

__all__ = ["StreamRenderer", "code_blocks", "footer", "is_terminal", "short_model"]

_FENCE_RE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def code_blocks(markdown: str, language: str | None = None) -> list[str]:
    """The fenced code blocks of ``markdown`` (only ``language`` ones when given;
    unlabelled blocks always count)."""
    blocks = []
    for lang, body in _FENCE_RE.findall(markdown):
        if language is None or not lang or lang.lower() in (language, "py", "python3", "ipython"):
            blocks.append(body.rstrip("\n"))
    return blocks


def footer(response: Any, cost: float | None = None, extra: str = "") -> str:
    """``model · 123 in / 45 out · $0.0001`` for a response."""
    usage = response.usage
    bits = [short_model(response.model)]
    if usage is not None and (usage.input_tokens or usage.output_tokens):
        cached = f" ({usage.cached_tokens:,} cached)" if usage.cached_tokens else ""
        bits.append(f"{usage.input_tokens:,} in{cached} / {usage.output_tokens:,} out")
    if cost is not None:
        bits.append(f"${cost:.4f}" if cost else "$0")
    if response.latency:
        bits.append(f"{response.latency:.1f}s")
    if getattr(response, "interrupted", False):
        bits.append("interrupted")
    if response.finish_reason == "length":
        bits.append("cut at max tokens")
    if extra:
        bits.append(extra)
    return " · ".join(bits)


def short_model(model: str | None) -> str:
    """``openai-compatible:m@http://host:8000/v1`` → ``openai-compatible:m@host:8000``."""
    if not model:
        return "?"
    name, sep, url = model.partition("@")
    if not sep or "://" not in url:
        return model
    return f"{name}@{url.split('://', 1)[1].split('/', 1)[0]}"


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
        Minimum seconds between two display updates.
    """

    def __init__(self, shell: Any, fmt: str = "markdown", interval: float = 0.1) -> None:
        self.terminal = is_terminal(shell)
        self.fmt = fmt
        self.interval = interval
        self.text = ""
        self._last = 0.0
        self._handle: Any = None
        self._status: Any = None
        self._live: Any = None
        if self.terminal and fmt == "markdown":
            self._live = _rich_live()

    def _obj(self, text: str, foot: str = "") -> Any:
        from IPython.display import Markdown, Pretty

        if self.fmt == "text":
            return Pretty(text + (f"\n\n— {foot}" if foot else ""))
        body = text if text.strip() else "…"
        if foot:
            body += f"\n\n<sub>{foot}</sub>"
        return Markdown(body)

    def status(self, message: str) -> None:
        """A transient status line (e.g. "loading the local model…")."""
        if self.terminal:
            print(message, file=sys.stderr, flush=True)
            return
        from IPython.display import Markdown, display

        if self._status is None:
            self._status = display(Markdown(f"*{message}*"), display_id=True)
        else:
            self._status.update(Markdown(f"*{message}*"))

    def _clear_status(self) -> None:
        if self._status is not None:
            from IPython.display import Markdown

            self._status.update(Markdown(""))
            self._status = None

    def start(self) -> None:
        if self.terminal:
            return
        from IPython.display import display

        self._handle = display(self._obj(""), display_id=True)

    def add(self, delta: str) -> None:
        self._clear_status()
        self.text += delta
        now = time.monotonic()
        if self._live is not None:
            if now - self._last >= self.interval:
                self._last = now
                self._live.update(_rich_markdown(self.text))
            return
        if self.terminal:
            sys.stdout.write(delta)
            sys.stdout.flush()
            return
        if now - self._last >= self.interval:
            self._last = now
            self._update(self.text)

    def _update(self, text: str, foot: str = "") -> None:
        if self._handle is None:
            self.start()
        self._handle.update(self._obj(text, foot))

    def finish(self, text: str | None = None, foot: str = "") -> None:
        """Show the complete answer once more with its footer."""
        self._clear_status()
        if text is not None:
            self.text = text
        if self._live is not None:
            self._live.update(_rich_markdown(self.text))
            self._live.stop()
            if not self._live.console.is_terminal:
                self._live.console.line()  # a non-terminal Live leaves the cursor on its last line
            if foot:
                self._live.console.print(f"[dim]{foot}[/dim]", highlight=False)
            self._live = None
            return
        if self.terminal:
            sys.stdout.write("\n" if self.text and not self.text.endswith("\n") else "")
            if foot:
                sys.stdout.write(f"[{foot}]\n")
            sys.stdout.flush()
            return
        self._update(self.text, foot)


def _rich_live() -> Any:
    """A started ``rich`` live display, or None when rich is not installed."""
    try:
        from rich.console import Console
        from rich.live import Live
    except ImportError:
        return None
    live = Live(_rich_markdown(""), console=Console(), refresh_per_second=8,
                vertical_overflow="visible")
    live.start()
    return live


def _rich_markdown(text: str) -> Any:
    from rich.markdown import Markdown

    return Markdown(text or "…")
