"""The notebook layer: IPython magics, rendering, the chat panel, namespace access.

``load_ipython_extension`` is what ``%load_ext jupychat`` calls. It only registers the
magics and an IPython event hook; sessions, the store, providers and ipywidgets are all
created on first use, so loading stays fast.
"""

from __future__ import annotations

from typing import Any

__all__ = ["get_chat", "load_ipython_extension", "unload_ipython_extension"]

_magics: dict[int, Any] = {}


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%chat`` / ``%%chat`` and bind a session to this notebook."""
    from .magics import ChatMagics

    if id(ipython) in _magics:
        return
    magics = ChatMagics(shell=ipython, parent=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    ipython.events.register("pre_run_cell", magics.pre_run_cell)
    ipython.set_hook("complete_command", magics.complete, str_key="%chat")
    _magics[id(ipython)] = magics
    _record_from_next_cell(ipython)


def _record_from_next_cell(ipython: Any) -> None:
    """Start the cell record (:mod:`.cells`) when the next cell starts.

    Installing it costs ~20 ms of imports, so ``%load_ext`` stays light and the first cell
    after it pays once; every cell from then on is recorded, that first one included.
    """

    def start(info: Any = None) -> None:
        try:
            ipython.events.unregister("pre_run_cell", start)
        except ValueError:
            pass
        if id(ipython) not in _magics:  # unloaded in the meantime
            return
        from .cells import CellRecord, get_record

        if get_record(ipython) is None:
            CellRecord.install(ipython).start_cell(info)

    ipython.events.register("pre_run_cell", start)


def unload_ipython_extension(ipython: Any) -> None:
    magics = _magics.pop(id(ipython), None)
    if magics is None:
        return
    try:
        ipython.events.unregister("pre_run_cell", magics.pre_run_cell)
    except ValueError:
        pass
    import sys

    cells = sys.modules.get(f"{__name__}.cells")
    record = cells.get_record(ipython) if cells is not None else None
    if record is not None:
        record.uninstall()
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)


def get_chat(ipython: Any = None) -> Any:
    """The :class:`~jupychat.notebook.binding.NotebookChat` of ``ipython`` (loads the extension)."""
    if ipython is None:
        from IPython import get_ipython

        ipython = get_ipython()
    if ipython is None:
        raise RuntimeError("jupychat's notebook features need IPython or Jupyter")
    if id(ipython) not in _magics:
        load_ipython_extension(ipython)
    return _magics[id(ipython)].nbchat
