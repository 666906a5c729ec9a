"""How the chat panel uses the room it is given: CSS classes, the stylesheet, row labels.

Design note: the panel is stock ipywidgets boxes plus two anywidgets; its layout lives
here so :mod:`.panel` stays the controller. :func:`style_panel` tags the panel's rows
with classes, and :data:`LAYOUT_CSS` (shipped with the panel's anywidgets, see
:mod:`.panel_widgets`) lays them out:

- every row wraps instead of squeezing: the session picker and New, Send and Stop, the
  export path and its button; buttons never shrink below their label;
- in JupyterLab's side area (a ``Sidecar``) the panel fills the area's height and the
  transcript takes what is left, so opening Export or Context variables shrinks the
  transcript instead of pushing the input off screen, and the header never scrolls away;
- inline (Notebook 7, VS Code) the transcript keeps its ``max_height``.

The side area's *width* is the front end's to set; ``static/side_area.js`` widens it on a
large window and brings back the width the user last dragged it to.

:func:`session_label` puts a session's message count first, so a narrow picker cuts the
title, never the count.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LAYOUT_CSS", "MODEL_FITS", "session_label", "show_model", "style_panel"]

#: Characters of a model name the picker shows whole at the side area's default width
#: (238 px); a longer name is also written out in full, wrapped, under the picker.
MODEL_FITS = 24

LAYOUT_CSS = """
.jc-panel.jc-panel { box-sizing: border-box; max-width: 100%; gap: 4px; }
.jc-panel .jc-row { flex-wrap: wrap; gap: 4px; align-items: center; width: 100%;
  max-width: 100%; box-sizing: border-box; }
.jc-panel .jc-row > * { margin: 0; }
.jc-panel .jc-row > .jupyter-button, .jc-panel .jc-row > .widget-button {
  flex: 0 0 auto; min-width: max-content; }
.jc-panel .jc-session-picker { flex: 1 1 9em; min-width: 0; width: auto; }
.jc-panel .jc-session-picker select { min-width: 0; width: 100%; text-overflow: ellipsis; }
.jc-panel .jc-model-picker { width: 100%; max-width: 100%; flex-wrap: wrap; gap: 2px 4px; }
.jc-panel .jc-model-picker > input { flex: 1 1 10em; min-width: 0; width: auto; }
.jc-panel .jc-model-line { width: 100%; }
.jc-panel .jc-model-full { font-size: 0.8em; line-height: 1.3; overflow-wrap: anywhere;
  color: var(--jp-ui-font-color2, #666); margin: 0 0 2px; }
.jc-panel .jc-export-path { flex: 1 1 8em; min-width: 0; width: auto; }
.jc-panel .jc-export-path input { min-width: 0; }
.jc-panel .jupyter-widget-Collapse-header, .jc-panel .lm-AccordionPanel-title,
.jc-panel .p-Collapse-header { white-space: normal; overflow-wrap: anywhere; }
/* In JupyterLab's side area: fill its height, the transcript takes what is left. */
.jupyterlab-sidecar:has(.jc-panel) { overflow: hidden; }
.jupyterlab-sidecar:has(.jc-panel), .jupyterlab-sidecar :has(.jc-panel) {
  display: flex; flex-direction: column; flex: 1 1 auto; min-height: 0; height: 100%;
  box-sizing: border-box; }
.jupyterlab-sidecar .jp-OutputArea-prompt:empty { display: none; }
.jupyterlab-sidecar .jc-panel.jc-panel { width: 100%; flex: 1 1 auto; min-height: 0;
  height: 100%; overflow-y: auto; margin: 0; }
.jupyterlab-sidecar .jc-panel > * { flex: 0 0 auto; }
.jupyterlab-sidecar .jc-panel > .jc-panel-view { flex: 1 1 auto; min-height: 6em;
  display: flex; flex-direction: column; }
.jupyterlab-sidecar .jc-panel > .jc-panel-view > .jc-scroll { flex: 1 1 auto; min-height: 0;
  max-height: none !important; }
"""


def style_panel(panel: Any) -> None:
    """Tag the rows of ``panel`` (a :class:`~.panel.ChatPanel`) for :data:`LAYOUT_CSS`, and
    add the line under the model picker that :func:`show_model` fills."""
    import ipywidgets as widgets

    line = widgets.HTML("", layout=widgets.Layout(width="100%", display="none"))
    line.add_class("jc-model-line")
    rows = list(panel.widget.children)
    rows.insert(rows.index(panel.model_picker) + 1, line)
    panel.widget.children = tuple(rows)
    panel.model_line = line
    panel.session_picker.add_class("jc-session-picker")
    panel.model_picker.add_class("jc-model-picker")
    panel.export_path.add_class("jc-export-path")
    for row in panel.widget.children:
        if row.__class__.__name__ == "HBox":
            row.add_class("jc-row")
    panel.widget.children[0].add_class("jc-header")
    for child in panel.extras.children:
        if child.__class__.__name__ == "HBox":
            child.add_class("jc-row")


def show_model(panel: Any, model_id: str) -> None:
    """Show ``model_id`` whole: the picker's tooltip, and (when it is longer than the
    picker shows at the default width) written out, wrapped, under the picker."""
    import html

    panel.model_picker.tooltip = model_id
    line = getattr(panel, "model_line", None)
    if line is None:
        return
    long = len(model_id) > MODEL_FITS
    text = html.escape(model_id)
    line.value = f'<div class="jc-model-full" title="{text}">{text}</div>' if long else ""
    line.layout.display = None if long else "none"


def session_label(item: dict[str, Any]) -> str:
    """``12 msgs · What is 2 + 2? · 12-02 01:52``: the count first, the title shortened."""
    title = item.get("title") or "(new session)"
    if len(title) > 40:
        title = title[:39] + "…"
    count = item.get("message_count") or 0
    when = str(item.get("updated_at") or "")[5:16].replace("T", " ")
    unit = "msg" if count == 1 else "msgs"
    return f"{count} {unit} · {title}" + (f" · {when}" if when else "")
