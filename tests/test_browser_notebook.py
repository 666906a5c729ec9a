"""The notebook as context in a real JupyterLab: %chat fix and the panel's "Replace cell"
put the fix back into the failing cell as an undoable edit; @fig sends an empty plot's
image and its text account.

Run: ``pytest -m browser tests/test_browser_notebook.py`` (Debian's /usr/bin/chromium).
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright")
pytest.importorskip("jupyterlab")

from playwright.sync_api import Page, expect

from browser_lab import (
    RUN_INDEX_JS,
    SOURCES_JS,
    browser_marks,
    lab_server,
    notebook_page,
    shot,
)

pytestmark = browser_marks(240)

BROKEN = "values = [1, 2, 3]\nprint(values[3])"
FIXED = "values = [1, 2, 3]\nprint(values[2])"
BROKEN_2 = "total = 1 + '1'"
FIXED_2 = "total = 1 + 1"
CELLS = [
    "%load_ext jupychat\n%matplotlib inline\n"
    "from jupychat.providers.fake import get_fake\nfake = get_fake('browser')",
    BROKEN,
    f"fake.enqueue('```python\\n{FIXED.encode('unicode_escape').decode()}\\n```\\n"
    "Index 3 is past the end of the list.')",
    "%chat fix",
    BROKEN_2,
    f"fake.enqueue('Add numbers, not text:\\n\\n```python\\n{FIXED_2}\\n```')\n%chat panel",
    "import pandas as pd\n"
    "ax = pd.DataFrame({'x': [], 'y': []}).plot(x='x', y='y', title='empty on purpose')",
    "%%chat -m fake:vision\nwhy is this plot empty? @fig",
    "sent = get_fake('vision').requests[-1].messages[-1]\n"
    "print('parts:', sorted({type(p).__name__ for p in sent.content}))\n"
    "print('account:', any('no plotted data' in b.text for b in sent.context_blocks))",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with lab_server(
        tmp_path_factory.mktemp("fix"), {"fix.ipynb": CELLS}, env={"JUPYCHAT_MODEL": "fake:browser"}
    ) as server:
        yield server


def run(page: Page, index: int, expect_text: str | None = None) -> None:
    """Run cell ``index`` and wait until it has finished (its prompt shows a number)."""
    page.evaluate(RUN_INDEX_JS, index)
    prompt = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputPrompt")
    expect(prompt).to_have_text(re.compile(r"\[\d+\]:"), timeout=30_000)
    if expect_text:
        cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
        expect(cell.locator(".jp-OutputArea")).to_contain_text(expect_text, timeout=15_000)


def source(page: Page, index: int) -> str:
    return page.evaluate(SOURCES_JS)[index]


def test_fix_and_replace_cell_put_the_fix_back_and_undo_brings_the_old_code(browser, lab):
    with notebook_page(browser, lab, "fix.ipynb", viewport={"width": 1500, "height": 1000}) as page:
        run(page, 0)
        run(page, 1, "IndexError")
        run(page, 2)
        run(page, 3, "past the end")
        # %chat fix: the bar under the answer replaces the failing cell (In [2])
        replace = page.get_by_role("button", name="Replace In [2] with the fix")
        expect(replace).to_be_visible(timeout=15_000)
        shot(page, "fix-bar")
        replace.click()
        expect(page.locator(".jc-fixbar")).to_contain_text("replaced", timeout=5_000)
        assert source(page, 1) == FIXED
        # an ordinary edit of that cell: undo there brings the old code back
        page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".cm-content").click()
        page.keyboard.press("Control+z")
        page.wait_for_function(f"() => ({SOURCES_JS})()[1] === {BROKEN!r}", timeout=5_000)

        # the panel: a question about an error offers "Replace In [5]" on the answer's code
        run(page, 4, "TypeError")
        run(page, 5)
        panel = page.locator("#jp-right-stack .jc-panel").first
        expect(panel).to_be_visible(timeout=30_000)
        box = panel.locator("textarea.jc-input")
        box.click()
        box.fill("How do I fix @error?")
        box.press("Enter")
        button = panel.get_by_role("button", name="Replace In [5]")
        expect(button).to_be_visible(timeout=15_000)
        button.click()
        expect(panel.locator(".jc-status")).to_contain_text("replaced", timeout=5_000)
        assert source(page, 4) == FIXED_2
        shot(page, "fix-panel-replaced")

        # @fig: an empty plot reaches an image-taking model as a PNG and a text account
        run(page, 6)
        run(page, 7, "fake:vision")
        run(page, 8, "account: True")
        out = page.locator(".jp-Notebook .jp-Cell").nth(8).locator(".jp-OutputArea")
        expect(out).to_contain_text("'Image'")
