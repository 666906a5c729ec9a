"""Where the chat panel goes, and how it talks to the JupyterLab application.

Design note: the kernel cannot ask its front end what it is, so ``where="auto"`` decides
in two steps:

1. Rule out what is clearly not JupyterLab, from the kernel side: no kernel (terminal
   IPython, a plain ``InteractiveShell``), VS Code (``VSCODE_PID``/``VSCODE_CWD`` in the
   environment or ``__vsc_ipynb_file__`` in the namespace), Colab, Databricks.
2. Otherwise, when ``ipylab`` is installed, show the panel inline at once and let the
   front end answer: ipylab's ``JupyterFrontEnd`` model reports the application's version
   (JupyterLab 3–6 versus Notebook 7+) as soon as the front end creates it, which is
   after the cell finishes. In JupyterLab the panel then moves into a ``Sidecar`` in the
   right side area and the cell keeps a one-line note; anywhere else it stays inline. If
   no answer comes (ipylab's front-end part missing), it simply stays inline.
   Without ipylab, the Jupyter server's command line (``jupyter-lab`` or
   ``-m jupyterlab``, read from ``/proc`` on Linux) decides.

An explicit ``where="sidecar"`` or ``"inline"`` always wins.

The same ``JupyterFrontEnd`` runs JupyterLab commands for the panel's "Insert below":
``notebook:insert-cell-below`` then ``notebook:replace-selection`` on the notebook the
user last worked in, which needs no TypeScript build of our own (ipylab ships a prebuilt
lab extension). The new cell's editor is created a frame or more after the cell, and
``replace-selection`` does nothing without it, so the panel sends the text only once the
front end reports the editor exists (see ``ChatPanel.insert_code``).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["Frontend", "Placement", "detect", "frontend", "may_answer", "widget_output"]

log = logging.getLogger("jupychat")

WHERE = ("auto", "sidecar", "inline")


def widget_output(widget: Any) -> dict[str, Any]:
    """An output record that shows ``widget`` (for ``Output.outputs``, no capture needed)."""
    return {
        "output_type": "display_data",
        "data": {
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2,
                "version_minor": 0,
                "model_id": widget.model_id,
            },
            "text/plain": "Chat panel",
        },
        "metadata": {},
    }


def _has_kernel(shell: Any) -> bool:
    return getattr(shell, "kernel", None) is not None


def _other_frontend(shell: Any) -> str | None:
    """The name of a front end that is surely not JupyterLab, or ``None``."""
    env = os.environ
    user_ns = getattr(shell, "user_ns", {}) or {}
    if "VSCODE_PID" in env or "VSCODE_CWD" in env or "__vsc_ipynb_file__" in user_ns:
        return "vscode"
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in env:
        return "colab"
    if "DATABRICKS_RUNTIME_VERSION" in env:
        return "databricks"
    return None


def _server_is_lab() -> bool:
    """True when the Jupyter server that started this kernel was started as JupyterLab."""
    pid = os.environ.get("JPY_PARENT_PID")
    if not pid or not (pid.isascii() and pid.isdigit()):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            words = fh.read().split(b"\0")
    except OSError:
        return False
    text = b" ".join(words).decode("utf-8", "replace")
    return "jupyter-lab" in text or "jupyterlab" in text


def _importable(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def may_answer(shell: Any) -> bool:
    """True when a JupyterLab/Notebook front end might run ipylab for this kernel."""
    return _has_kernel(shell) and _other_frontend(shell) is None


Placement = str  # "sidecar" | "inline" | "probe"


def detect(shell: Any, where: str = "auto") -> Placement:
    """Decide where the panel goes: ``"sidecar"``, ``"inline"`` or ``"probe"``.

    ``"probe"`` means: show inline now, move to the sidecar if the front end turns out to
    be JupyterLab (see the module notes).
    """
    if where not in WHERE:
        raise ValueError(f"where must be one of {', '.join(WHERE)}; got {where!r}")
    if where != "auto":
        return where
    if not _has_kernel(shell) or _other_frontend(shell):
        return "inline"
    if not _importable("sidecar"):
        return "inline"
    if _importable("ipylab"):
        return "probe"
    return "sidecar" if _server_is_lab() else "inline"


class Frontend:
    """The JupyterLab (or Notebook 7) application, through ipylab, when it answers.

    ``kind`` is ``None`` until the front end reports, then ``"lab"`` or ``"notebook"``.
    """

    def __init__(self) -> None:
        self.kind: str | None = None
        self.version = ""
        self._app: Any = None
        self._waiting: list[Callable[[str], None]] = []

    @property
    def available(self) -> bool:
        """ipylab is installed (its front end may still be missing)."""
        return _importable("ipylab")

    def start(self) -> bool:
        """Create the ipylab front-end object once; returns False without ipylab."""
        if self._app is not None:
            return True
        try:
            from ipylab import JupyterFrontEnd
        except ImportError:
            return False
        try:
            self._app = JupyterFrontEnd()
        except Exception as exc:  # a broken ipylab must not break the panel
            log.warning("jupychat: ipylab could not start (%s); 'Insert below' is off", exc)
            return False
        self._app.observe(self._on_version, names="version")
        if self._app.version:
            self._on_version({"new": self._app.version})
        return True

    def _on_version(self, change: Any) -> None:
        version = str(change.get("new") or "")
        if not version:
            return
        self.version = version
        major = version.split(".", 1)[0]
        self.kind = "lab" if major.isascii() and major.isdigit() and int(major) < 7 else "notebook"
        waiting, self._waiting = self._waiting, []
        for callback in waiting:
            try:
                callback(self.kind)
            except Exception:
                log.exception("jupychat: front-end callback failed")

    def when_known(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(kind)`` once the front end has reported (now, if it has)."""
        if self.kind is not None:
            callback(self.kind)
            return
        self._waiting.append(callback)
        self.start()

    @property
    def can_run_commands(self) -> bool:
        return self._app is not None and self.kind is not None

    def execute(self, command: str, args: dict[str, Any] | None = None) -> bool:
        """Run a JupyterLab command (fire and forget); False when no front end answered."""
        if not self.can_run_commands:
            return False
        self._app.commands.execute(command, args or {})
        return True


_frontend: Frontend | None = None


def frontend() -> Frontend:
    """The kernel's one :class:`Frontend`."""
    global _frontend
    if _frontend is None:
        _frontend = Frontend()
    return _frontend
