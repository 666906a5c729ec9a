"""``%chat fix``: the fixed code goes back into the notebook.

Design note: the answer to "fix the error in @error" is an ordinary turn (the engine, with
the failing cell and its traceback as context). What is special is the way back: in
JupyterLab and Notebook 7 a small bar under the answer offers to replace the failing
cell's code with the fix, as an ordinary edit of that cell's editor, so Ctrl+Z there
brings the old code back (``static/cell_edit.js`` finds the cell by the code it ran). Where
no such page is there to edit (terminal IPython, VS Code, Colab), the fix goes into a new
cell below, as ``--format code`` does.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

__all__ = ["FIX_PROMPT", "offer_fix"]

STATIC = Path(__file__).parent / "static"
FIX_PROMPT = (
    "Fix the error in @error. Reply with the corrected code of that whole cell in one "
    "```python block, then one short sentence on what was wrong."
)


def offer_fix(shell: Any, cell: Any, code: str) -> str:
    """Offer ``code`` as the fix of recorded ``cell``; returns how (``"bar"``/``"below"``)."""
    from .panel_place import _has_kernel, _other_frontend
    from .render import is_terminal

    if (
        cell is not None
        and _has_kernel(shell)
        and not is_terminal(shell)
        and not (_other_frontend(shell))
    ):
        try:
            bar = fix_bar(cell.label, cell.code, code)
        except ImportError:
            bar = None
        if bar is not None:
            from IPython.display import display

            display(bar)
            return "bar"
    shell.set_next_input(code, replace=False)
    return "below"


@functools.cache
def _fix_bar_class() -> Any:
    import anywidget
    import traitlets

    from .panel_render import PANEL_CSS

    class FixBar(anywidget.AnyWidget):
        """Replace the cell that ran ``target`` with ``code`` (or copy ``code``)."""

        _esm = (STATIC / "cell_edit.js").read_text() + (STATIC / "fix_bar.js").read_text()
        _css = PANEL_CSS
        label = traitlets.Unicode("").tag(sync=True)
        target = traitlets.Unicode("").tag(sync=True)
        code = traitlets.Unicode("").tag(sync=True)
        status = traitlets.Unicode("").tag(sync=True)

    return FixBar


def fix_bar(label: str, target: str, code: str) -> Any:
    """The widget that replaces the cell that ran ``target`` with ``code``."""
    return _fix_bar_class()(label=label, target=target, code=code)
