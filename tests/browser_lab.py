"""Shared parts of the browser tests: Debian Chromium's flags, JupyterLab's test settings,
a JupyterLab server for one notebook, and the page snippets that drive it.

Not a test module. conftest.py's
``browser_type_launch_args`` fixture applies :func:`launch_args` and :func:`browser_marks`
makes a module's ``pytestmark``. :func:`notebook_page`
opens a notebook in a fresh browser context and waits for its kernel.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
import pytest

from jupychat_server_helpers import JupyterServer, run_jupyter

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    "@jupyterlab/notebook-extension:tracker": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
        "maxNumberOutputs": 10000,
    },
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
}
KERNEL_READY_JS = """async () => { const app = window.jupyterapp; await app.restored; let p;
  while (!(p = app.shell.currentWidget) || !p.sessionContext)
    await new Promise(r => setTimeout(r, 100));
  await p.context.ready; await p.sessionContext.ready;
  const k = p.sessionContext.session.kernel; await k.info; return k.name; }"""
RUN_INDEX_JS = """(index) => { const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  nb.activeCellIndex = index;
  app.commands.execute('notebook:run-cell');
  return true; }"""
RUN_PREFIX_JS = """(prefix) => { const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  const index = nb.widgets.findIndex(c => c.model.sharedModel.getSource().startsWith(prefix));
  if (index < 0) return false;
  nb.activeCellIndex = index;
  app.commands.execute('notebook:run-cell');
  return true; }"""
SOURCES_JS = """() => window.jupyterapp.shell.currentWidget.content.widgets
  .map(c => c.model.sharedModel.getSource())"""
# this checkout's lab extension (the Help menu entry), found as an installed one would be
LABEXTENSION_ENV = {"JUPYTER_PATH": str(REPO / "jupyter-config")}
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def browser_marks(timeout: int, *more: Any) -> list[Any]:
    """A browser test module's ``pytestmark``: the ``browser`` marker, skipped without
    Debian's Chromium, ``timeout`` seconds a test, and ``more`` marks."""
    return [
        pytest.mark.browser,
        *more,
        pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
        pytest.mark.timeout(timeout),
    ]


def launch_args(base: dict) -> dict:
    """``browser_type_launch_args`` for Debian's Chromium with the flags above."""
    return {**base, "executable_path": CHROMIUM, "args": ARGS}


@contextmanager
def lab_server(
    base: Path, notebooks: dict[str, Sequence[str]], env: dict[str, str] | None = None
) -> Iterator[JupyterServer]:
    """JupyterLab serving ``notebooks`` (``{"name.ipynb": [cell sources]}``), this
    checkout's jupychat, the app exposed to the page, autosave and news off."""
    settings = base / "app-settings"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "overrides.json").write_text(json.dumps(OVERRIDES))
    with run_jupyter(
        base,
        app="jupyterlab",
        env={"PYTHONPATH": str(REPO / "src"), **LABEXTENSION_ENV, **(env or {})},
        extra_args=[f"--LabApp.app_settings_dir={settings}", "--LabApp.expose_app_in_browser=True"],
    ) as server:
        for name, cells in notebooks.items():
            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
            nb.metadata["kernelspec"] = KERNEL
            nbformat.write(nb, server.root / name)
        yield server


@contextmanager
def notebook_page(
    browser: Any,
    server: JupyterServer,
    name: str,
    permissions: Sequence[str] = (),
    **context: Any,
) -> Iterator[Any]:
    """A page of a new browser context (``context``: its options, such as the viewport;
    ``permissions`` granted to the server's origin) showing notebook ``name`` on
    ``server``, its kernel (python3) ready; the context is closed afterwards."""
    ctx = browser.new_context(**context)
    try:
        if permissions:
            ctx.grant_permissions(list(permissions), origin=server.url)
        page = ctx.new_page()
        page.goto(f"{server.url}/lab/tree/{name}?reset&token={server.token}")
        page.wait_for_function("() => !!window.jupyterapp")
        assert page.evaluate(KERNEL_READY_JS) == "python3"
        yield page
    finally:
        ctx.close()


def shot(page, name: str) -> None:
    """A screenshot in ``test-artifacts/`` (look at them: a test can pass on a broken page)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
