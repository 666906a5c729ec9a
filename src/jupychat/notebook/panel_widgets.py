"""The two custom widgets of the chat panel: the transcript and the input box.

Design note: both are ``anywidget`` widgets: a few dozen lines of plain ES-module
JavaScript each (``static/chat_input.js``, ``static/chat_view.js``, loaded by anywidget from
those files), with no TypeScript build and no lab extension of our own;
they render in JupyterLab, Notebook 7, VS Code and Colab alike. Everything else in the
panel is stock ipywidgets.

- :class:`ChatInput` is a ``<textarea>`` where Enter sends and Shift+Enter adds a line
  (stock ``ipywidgets.Textarea`` cannot tell the two apart: both add a newline). It sends
  ``{"event": "submit", "text": ...}`` to the kernel.
- :class:`ChatView` shows the finished messages (``messages``: a list of small dicts with
  pre-rendered, escaped HTML) and the answer being streamed (``live``), keeps the view
  scrolled to the bottom while the reader is there, and wires each code block's "Copy"
  button to the browser clipboard and "Insert below" to a ``{"event": "insert"}``
  message. When the clipboard is refused (plain-HTTP pages, strict browsers) it sends
  ``{"event": "copy_failed"}`` so the kernel can insert the code instead.

Finished messages change only at turn boundaries, while ``live`` changes up to ~10 times a
second, so a long conversation is not re-sent on every streamed chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .panel_layout import LAYOUT_CSS
from .panel_render import PANEL_CSS

__all__ = ["ChatInput", "ChatView"]

STATIC = Path(__file__).parent / "static"


class _Messages(anywidget.AnyWidget):
    """Shared plumbing: route ``{"event": ...}`` messages from the front end to handlers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._handlers: dict[str, list[Callable[[dict[str, Any]], Any]]] = {}
        self.on_msg(self._receive)

    def on(self, event: str, handler: Callable[[dict[str, Any]], Any]) -> None:
        """Call ``handler(message)`` when the front end sends ``{"event": event, ...}``."""
        self._handlers.setdefault(event, []).append(handler)

    def _receive(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict):
            self.dispatch(content)

    def dispatch(self, content: dict[str, Any]) -> None:
        """Handle one front-end message (also what the Python-side tests call)."""
        for handler in self._handlers.get(str(content.get("event")), []):
            handler(content)


class ChatInput(_Messages):
    """A text box where Enter sends and Shift+Enter adds a line."""

    _esm = STATIC / "chat_input.js"
    _css = PANEL_CSS + LAYOUT_CSS
    value = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("").tag(sync=True)
    rows = traitlets.Int(3).tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)

    def focus(self) -> None:
        """Put the keyboard focus in the box."""
        self.send({"event": "focus"})


class ChatView(_Messages):
    """The conversation: finished ``messages`` plus the ``live`` (streaming) answer.

    Each message is ``{"id", "role", "html" | "text", "label", "footer"}`` where ``role``
    is ``user``, ``assistant``, ``error`` or ``note``; ``html`` must already be safe.
    """

    # the cell-editing helpers first: the transcript's "Replace cell" uses them
    _esm = "".join(
        (STATIC / n).read_text() for n in ("cell_edit.js", "side_area.js", "chat_view.js")
    )
    _css = PANEL_CSS + LAYOUT_CSS
    messages = traitlets.List(traitlets.Dict()).tag(sync=True)
    live = traitlets.Dict().tag(sync=True)
    can_insert = traitlets.Bool(False).tag(sync=True)
    height = traitlets.Unicode("").tag(sync=True)
    max_height = traitlets.Unicode("").tag(sync=True)
    empty_text = traitlets.Unicode("").tag(sync=True)
