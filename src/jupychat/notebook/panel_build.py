"""The chat panel's widgets: every control built, laid out and styled, not yet wired.

Design note: :class:`~.panel.ChatPanel` is the controller (actions, pickers, the worker
thread); building its widget tree is a job of its own, kept here. :func:`build_widgets`
sets the widgets as attributes of the panel (their names are listed on ``ChatPanel``)
and tags them for :mod:`.panel_layout`'s stylesheet; the panel then wires their events.
The transcript's two anywidgets come from :mod:`.panel_widgets` (the ``lab`` extra):
without ``anywidget`` the panel refuses with a one-line error saying what to install.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from jupychat.errors import ChatError

from .panel_layout import style_panel
from .panel_transcript import Transcript

__all__ = ["EMPTY", "PLACEHOLDER", "build_widgets"]

PLACEHOLDER = "Ask anything… (Enter sends, Shift+Enter adds a line; @var attaches a variable)"
EMPTY = "No messages yet. Ask below, or in a cell with %%chat."


def build_widgets(panel: Any, interval: float) -> None:
    """Create ``panel``'s widgets (``panel.widget`` is the root) and style them.

    Parameters
    ----------
    panel:
        The :class:`~.panel.ChatPanel` being built.
    interval:
        Seconds between two updates of a streaming answer (the transcript's throttle).

    Raises
    ------
    ChatError
        When ``anywidget`` (the ``lab`` extra) is not installed.
    """
    try:
        from .panel_widgets import ChatInput, ChatView
    except ImportError as exc:
        raise ChatError(
            f"the chat panel needs the {exc.name or 'anywidget'} package; "
            "pip install 'jupychat[lab]' (or pip install anywidget)"
        ) from None

    panel.session_picker = widgets.Dropdown(
        options=[],
        description="",
        layout=widgets.Layout(flex="1 1 0%", width="auto", min_width="0"),
        tooltip="This notebook's sessions",
    )
    panel.new_button = widgets.Button(
        description="New",
        icon="plus",
        tooltip="Start a fresh session",
        layout=widgets.Layout(width="auto"),
    )
    panel.model_picker = widgets.Combobox(
        options=[],
        placeholder="provider:model",
        ensure_option=False,
        continuous_update=False,
        description="Model",
        layout=widgets.Layout(width="auto", min_width="0"),
        style={"description_width": "initial"},
    )
    panel.view = ChatView(empty_text=EMPTY, max_height="60vh")
    panel.view.add_class("jc-panel-view")
    panel.view.layout = widgets.Layout(width="100%")
    panel.transcript = Transcript(panel.view, interval)
    panel.status = widgets.HTML("", layout=widgets.Layout(width="100%", min_height="1.2em"))
    panel.input = ChatInput(placeholder=PLACEHOLDER, rows=3)
    panel.input.layout = widgets.Layout(width="100%")
    panel.send_button = widgets.Button(
        description="Send",
        button_style="primary",
        icon="paper-plane",
        tooltip="Send (Enter)",
        layout=widgets.Layout(width="auto"),
    )
    panel.stop_button = widgets.Button(
        description="Stop",
        icon="stop",
        disabled=True,
        tooltip="Stop the answer",
        layout=widgets.Layout(width="auto"),
    )
    panel.continue_button = widgets.Button(
        description="Continue",
        icon="forward",
        disabled=True,
        tooltip="Continue the answer cut at max tokens (%chat continue)",
        layout=widgets.Layout(width="auto"),
    )
    panel.vars_picker = widgets.SelectMultiple(
        options=[],
        rows=6,
        layout=widgets.Layout(width="100%"),
    )
    panel.vars_refresh = widgets.Button(
        description="Refresh",
        icon="refresh",
        tooltip="Re-read the notebook's variables",
        layout=widgets.Layout(width="auto"),
    )
    panel.vars_label = widgets.HTML(
        '<div style="line-height:1.3;font-size:0.85em;margin:2px 0">Attach these '
        "variables' descriptions to your next messages (Ctrl/Shift-click for several):</div>"
    )
    panel.export_path = widgets.Text(
        placeholder="chat.md, chat.json or chat.ipynb",
        layout=widgets.Layout(flex="1 1 auto", width="auto"),
    )
    panel.export_button = widgets.Button(
        description="Export",
        icon="download",
        layout=widgets.Layout(width="auto"),
    )
    context_box = widgets.VBox([panel.vars_label, panel.vars_picker, panel.vars_refresh])
    export_box = widgets.HBox([panel.export_path, panel.export_button])
    panel.extras = widgets.Accordion(children=[context_box, export_box], selected_index=None)
    panel.extras.set_title(0, "Context variables")
    panel.extras.set_title(1, "Export")
    panel.widget = widgets.VBox(
        [
            widgets.HBox(
                [panel.session_picker, panel.new_button], layout=widgets.Layout(width="100%")
            ),
            panel.model_picker,
            panel.view,
            panel.status,
            panel.input,
            widgets.HBox([panel.send_button, panel.stop_button, panel.continue_button]),
            panel.extras,
        ],
        layout=widgets.Layout(width="100%", padding="4px"),
    )
    panel.widget.add_class("jc-panel")
    style_panel(panel)
