"""Issue 21 in a real JupyterLab: after a panel question, a kernel restart and running
the cells again, each %%chat cell's request is the one its first run sent, and the
conversation keeps the page's order (the panel question after the cells it followed).

Run: ``pytest -m browser tests/test_browser_order.py`` (Debian's /usr/bin/chromium).
"""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("playwright")
pytest.importorskip("jupyterlab")

from playwright.sync_api import Page, expect

from browser_lab import KERNEL_READY_JS, browser_marks, lab_server, notebook_page, shot

pytestmark = browser_marks(300)

QUESTIONS = ["What is 2 + 2?", "And times 3?", "Name a prime."]
PANEL = "What did I ask first?"
REPORT = (
    "import json\nfrom jupychat.providers.fake import get_fake\n"
    "print('REQUESTS', json.dumps([[m.text[-40:] for m in r.messages] "
    "for r in get_fake('order').requests]))"
)
CELLS = [
    "%load_ext jupychat",
    *[f"%%chat\n{q}" for q in QUESTIONS],
    "%chat panel",
    REPORT,
    "%chat history",
]
RUN_ALL_JS = """async () => { const app = window.jupyterapp;
  await app.commands.execute('notebook:run-all-cells');
  return true; }"""
RESTART_JS = """async () => { const p = window.jupyterapp.shell.currentWidget;
  await p.sessionContext.session.kernel.restart();
  await window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs');
  return true; }"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with lab_server(
        tmp_path_factory.mktemp("order"),
        {"order.ipynb": CELLS},
        env={"JUPYCHAT_MODEL": "fake:order"},
    ) as server:
        yield server


def run_all(page: Page) -> None:
    """Run All, and wait until every cell has run (no ``[*]`` prompt left)."""
    page.evaluate(RUN_ALL_JS)
    prompts = page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt")
    expect(prompts.nth(len(CELLS) - 1)).to_have_text(re.compile(r"\[\d+\]:"), timeout=60_000)
    for i in range(len(CELLS)):
        expect(prompts.nth(i)).not_to_have_text("[*]:", timeout=30_000)


def output(page: Page, index: int, text: str) -> str:
    out = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea")
    expect(out).to_contain_text(text, timeout=15_000)
    return out.inner_text()


def requests(page: Page) -> list[list[str]]:
    text = output(page, 5, "REQUESTS")
    return json.loads(text.split("REQUESTS", 1)[1].strip())


def test_restart_and_run_all_sends_the_first_runs_requests(browser, lab):
    with notebook_page(
        browser, lab, "order.ipynb", viewport={"width": 1400, "height": 1000}
    ) as page:
        run_all(page)
        first = requests(page)
        assert len(first) == 3
        panel = page.locator("#jp-right-stack .jc-panel").first
        expect(panel).to_be_visible(timeout=30_000)
        box = panel.locator("textarea.jc-input")
        box.click()
        box.fill(PANEL)
        box.press("Enter")
        expect(panel).to_contain_text(f"You said: {PANEL}", timeout=20_000)

        page.evaluate(RESTART_JS)
        assert page.evaluate(KERNEL_READY_JS) == "python3"
        run_all(page)
        # the same requests: nothing from below, nor the panel question, moved above
        assert requests(page) == first
        text = output(page, 6, PANEL)  # %chat history
        where = [text.find(q) for q in [*QUESTIONS, PANEL]]
        assert -1 not in where and where == sorted(where), text
        shot(page, "order-after-restart-run-all")
