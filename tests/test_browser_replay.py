"""Recordings travel with the notebook in a real JupyterLab: the answer's output metadata
holds the recording, JupyterLab saves it in the .ipynb, and after a kernel restart the
cell replays from the saved file (strict mode, a fresh empty store, no model call).

Run: ``pytest -m browser tests/test_browser_replay.py`` (Debian's /usr/bin/chromium).
"""

from __future__ import annotations

import re

import nbformat
import pytest

pytest.importorskip("playwright")
pytest.importorskip("jupyterlab")

from playwright.sync_api import Page, expect

from browser_lab import RUN_INDEX_JS, browser_marks, lab_server, notebook_page, shot

pytestmark = browser_marks(240)

CELLS = [
    "%load_ext jupychat\nimport pandas as pd\nsales = pd.DataFrame({'region': ['n', 's'], "
    "'amount': [1.5, 2.5]})\nfrom jupychat.providers.fake import get_fake",
    "%%chat\nDescribe @sales in one line.",
    "%config ChatMagics.store = 'fresh.db'\n%chat replay strict",  # a store that never saw it
    "from jupychat.store import SessionStore\nfrom jupychat.store.recordings import "
    "RecordingStore\nprint('model calls:', len(get_fake('browser').requests), '; in the fresh "
    "store:', RecordingStore(SessionStore('fresh.db')).count())",
]
SAVE_JS = """async () => { const p = window.jupyterapp.shell.currentWidget;
  await p.context.save(); return true; }"""
RESTART_JS = """async () => { const p = window.jupyterapp.shell.currentWidget;
  await p.sessionContext.session.kernel.restart(); await p.sessionContext.ready; return true; }"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with lab_server(
        tmp_path_factory.mktemp("replay"),
        {"replay.ipynb": CELLS},
        env={"JUPYCHAT_MODEL": "fake:browser"},
    ) as server:
        yield server


def run(page: Page, index: int, expect_text: str | None = None) -> None:
    before = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputPrompt")
    old = before.inner_text()
    page.evaluate(RUN_INDEX_JS, index)
    expect(before).not_to_have_text(old, timeout=30_000)
    expect(before).to_have_text(re.compile(r"\[\d+\]:"), timeout=30_000)
    if expect_text:
        cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
        expect(cell.locator(".jp-OutputArea")).to_contain_text(expect_text, timeout=15_000)


def test_jupyterlab_saves_the_recording_and_a_restarted_kernel_replays_it(browser, lab):
    with notebook_page(
        browser, lab, "replay.ipynb", viewport={"width": 1400, "height": 1000}
    ) as page:
        run(page, 0)
        run(page, 1, "You said")
        page.evaluate(SAVE_JS)
        saved = nbformat.read(lab.root / "replay.ipynb", as_version=4)
        (output,) = saved.cells[1].outputs
        block = output["metadata"]["jupychat"]
        assert block["v"] == 1 and "var:sales" in block["in"]["context"]
        live_text = output["data"]["text/plain"]

        page.evaluate(RESTART_JS)
        run(page, 0)
        run(page, 2, "strict")
        run(page, 1, "replayed")  # its outputs were cleared: the saved file has the recording
        run(page, 3, "model calls: 0 ; in the fresh store: 1")  # it came from the file
        shot(page, "replay-after-restart")
        page.evaluate(SAVE_JS)
        again = nbformat.read(lab.root / "replay.ipynb", as_version=4)
        (output,) = again.cells[1].outputs
        assert output["data"]["text/plain"] == live_text
        assert output["metadata"]["jupychat"] == block
