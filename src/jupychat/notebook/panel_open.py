"""Opening the chat panel: one panel per notebook, placed in the side area or a cell.

Design note: :func:`get_panel` keeps one :class:`~.panel.ChatPanel` per
:class:`~.binding.NotebookChat`; :func:`open_panel` shows it where it belongs
(:func:`.panel_place.detect`: JupyterLab's right side area through ``sidecar``, else the
cell's output), and opening it again moves the same panel instead of making a second one.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from jupychat.errors import ChatError

from .panel_place import detect, widget_output

if TYPE_CHECKING:
    from .panel import ChatPanel

__all__ = ["close_panel", "forget", "get_panel", "open_panel"]

_IN_SIDEBAR = "<small>The chat panel is open in the right side area (the “Chat” tab).</small>"
_MOVED = "<small>The chat panel moved to a later cell or to the side area.</small>"
_panels: weakref.WeakKeyDictionary[Any, ChatPanel] = weakref.WeakKeyDictionary()


def forget(panel: ChatPanel) -> None:
    """Drop ``panel`` from the registry (it was closed)."""
    if _panels.get(panel.chat) is panel:
        del _panels[panel.chat]


def get_panel(chat: Any = None) -> ChatPanel:
    """The panel of ``chat`` (default: this notebook's), created on first use, not shown."""
    if chat is None:
        from . import get_chat

        chat = get_chat()
    panel = _panels.get(chat)
    if panel is None:
        from .panel import ChatPanel

        panel = ChatPanel(chat)
        _panels[chat] = panel
    return panel


def open_panel(chat: Any = None, where: str = "auto") -> None:
    """Open the chat panel of this notebook (again: the same panel).

    Parameters
    ----------
    chat:
        A :class:`~jupychat.notebook.binding.NotebookChat`; default: this notebook's.
    where:
        ``"auto"`` (JupyterLab: the right side area; elsewhere: this cell's output),
        ``"sidecar"`` or ``"inline"``.
    """
    from IPython.display import display

    from .render import is_terminal

    if chat is None:
        from . import get_chat

        chat = get_chat()
    if is_terminal(chat.shell):
        raise ChatError(
            "the chat panel needs a notebook front end (JupyterLab, Notebook 7, VS Code); "
            "in a terminal ask with %chat ask or %%chat"
        )
    panel = get_panel(chat)
    placement = detect(panel.shell, where)
    if placement == "probe" and panel.front.kind is not None:
        placement = "sidecar" if panel.front.kind == "lab" else "inline"
    if panel.holder is not None:  # the cell that showed it before now points elsewhere
        panel.holder.children = (widgets.HTML(_MOVED),)
    if placement == "sidecar":
        _to_sidecar(panel)
        panel.holder = widgets.VBox([widgets.HTML(_IN_SIDEBAR)])
        display(panel.holder)
        return
    if panel.sidecar is not None:
        panel.sidecar.close()
        panel.sidecar = None
    holder = widgets.VBox([panel.widget], layout=widgets.Layout(width="100%"))
    panel.holder = holder
    display(holder)
    if placement == "probe":

        def placed(kind: str) -> None:
            if kind == "lab" and panel.holder is holder:
                _to_sidecar(panel)
                holder.children = (widgets.HTML(_IN_SIDEBAR),)

        panel.front.when_known(placed)


def _to_sidecar(panel: ChatPanel) -> None:
    """Show the panel in a fresh ``Sidecar`` (closing the previous one)."""
    from sidecar import Sidecar

    if panel.sidecar is not None:
        panel.sidecar.close()
    sidecar = Sidecar(title="Chat", anchor="right")
    sidecar.outputs = (widget_output(panel.widget),)
    panel.sidecar = sidecar


def close_panel(chat: Any = None) -> None:
    """Close this notebook's chat panel (the conversation stays in the session)."""
    if chat is None:
        from . import get_chat

        chat = get_chat()
    panel = _panels.pop(chat, None)
    if panel is not None:
        panel.close()
