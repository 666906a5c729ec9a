"""The quickstart as a newcomer runs it (issue 14): JupyterLab, Run All, the embedded model,
no key. Every chat cell shows one answer with the words its prompt asks for, and
``test-artifacts/quickstart.png`` is the screenshot to look at.

Run: ``pytest -m browser tests/test_browser_quickstart.py`` (Debian's /usr/bin/chromium).
"""

from __future__ import annotations

import re
import shutil

import pytest

pytest.importorskip("playwright")
pytest.importorskip("jupyterlab")

from playwright.sync_api import expect

from browser_lab import KERNEL_READY_JS, REPO, browser_marks, lab_server, shot
from llama_fixtures import needs_llama
from test_notebooks import QUICKSTART_ANSWERS

pytestmark = browser_marks(300, pytest.mark.llama, needs_llama)


def test_quickstart_run_all_with_the_embedded_model(page, tmp_path):
    with lab_server(tmp_path, {}, env={"JUPYCHAT_DISCOVER": "0"}) as lab:
        (lab.root / "notebooks").mkdir()
        shutil.copy(REPO / "notebooks" / "quickstart.ipynb", lab.root / "notebooks")
        page.set_viewport_size({"width": 1280, "height": 1600})
        page.goto(f"{lab.url}/lab/tree/notebooks/quickstart.ipynb?reset&token={lab.token}")
        page.evaluate(KERNEL_READY_JS)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        cells = page.locator(".jp-Notebook .jp-Cell.jp-CodeCell")
        last = cells.nth(cells.count() - 1)
        expect(last.locator(".jp-InputPrompt")).to_have_text(
            re.compile(r"\[\d+\]:"), timeout=240_000
        )
        model = cells.filter(has_text="Uncomment one line").first
        expect(model.locator(".jp-OutputArea")).to_contain_text("the embedded offline model")
        for prompt, words in QUICKSTART_ANSWERS.items():
            cell = cells.filter(has_text=prompt).first
            outputs = cell.locator(".jp-OutputArea-child")
            expect(outputs).to_have_count(1)
            for word in words:
                expect(outputs.first).to_contain_text(word.replace("```python", ""))
        page.evaluate("() => window.jupyterapp.shell.currentWidget.content.node.scrollTo(0, 0)")
        shot(page, "quickstart")
        cells.filter(has_text="%chat history").first.scroll_into_view_if_needed()
        shot(page, "quickstart-data")
