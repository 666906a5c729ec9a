"""The chat panel in a real JupyterLab, driven through headless Debian Chromium.

One JupyterLab server and one fake model server (``tests/fakeserver.py`` as a
subprocess, scripted over ``POST /_script``) serve the whole module, and one notebook
page is shared by the tests: open the panel, ask, stop, insert code, switch sessions,
watch a ``%%chat`` cell show up in the panel, and (with ``-m llama``) ask the embedded
model. Each test makes the state it needs itself (:func:`conversation`, :func:`code_cell`),
so any one of them passes alone. Screenshots go to ``test-artifacts/``.

Run: ``pytest -m browser tests/test_browser_panel.py`` (Chromium at /usr/bin/chromium;
install it with ``apt-get install -y chromium``; never ``playwright install``).
"""

from __future__ import annotations

import pytest

pytest.importorskip("playwright")  # the [browser] extra; sidecar, ipylab, anywidget are required

from playwright.sync_api import Page, expect

from browser_lab import (
    ARTIFACTS,
    RUN_PREFIX_JS,
    SOURCES_JS,
    browser_marks,
    lab_server,
    notebook_page,
)
from fixtures_server import script
from llama_fixtures import needs_llama

pytestmark = browser_marks(180)

ADD_CELL_JS = """(source) => { const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  nb.activeCellIndex = nb.widgets.length - 1;
  app.commands.execute('notebook:insert-cell-below');
  nb.activeCell.model.sharedModel.setSource(source);
  app.commands.execute('notebook:run-cell');
  return nb.widgets.length; }"""

CELLS = ["%load_ext jupychat\n%chat panel", "%%chat\nHello from a notebook cell"]
CODE = "total = sum(range(10))\nprint(total)"


@pytest.fixture(scope="module")
def jlab(tmp_path_factory, model_server):
    """JupyterLab serving chat.ipynb, the model being the fake server."""
    env = {"JUPYCHAT_MODEL": f"openai-compatible:fake@{model_server}/v1"}
    with lab_server(tmp_path_factory.mktemp("jlab"), {"chat.ipynb": CELLS}, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def lab(browser, jlab, model_server):
    """One notebook page, its kernel started and ``%chat panel`` run."""
    ARTIFACTS.mkdir(exist_ok=True)
    with notebook_page(
        browser,
        jlab,
        "chat.ipynb",
        permissions=["clipboard-read", "clipboard-write"],
        viewport={"width": 1500, "height": 950},
    ) as page:
        assert page.evaluate(RUN_PREFIX_JS, "%load_ext")
        yield page
        shot(page, "panel-final")


@pytest.fixture(autouse=True)
def _shot_after_each_test(request, lab):
    """A screenshot after every test, so a failure can be seen, not only read."""
    yield
    shot(lab, "after-" + request.node.originalname.removeprefix("test_"))


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def panel(page: Page):
    return page.locator("#jp-right-stack .jc-panel, .jp-Notebook .jc-panel").first


def ask(page: Page, text: str) -> None:
    box = panel(page).locator("textarea.jc-input")
    box.click()
    box.fill(text)
    box.press("Enter")


FIRST_QUESTION = "Does streaming work?"


def conversation(page: Page, url: str) -> None:
    """Make sure the panel's session holds the first question and its answer."""
    expect(panel(page)).to_be_visible(timeout=30_000)
    if panel(page).locator(".jc-list .jc-user", has_text=FIRST_QUESTION).count():
        return
    script(
        url,
        text="Streaming works: **bold** and a list:\n\n- one\n- two\n- three",
        chunk_size=4,
        chunk_delay=0.01,
    )
    ask(page, FIRST_QUESTION)
    expect(panel(page).locator(".jc-list .jc-assistant").last).to_contain_text(
        "three", timeout=15_000
    )


def code_cell(page: Page) -> None:
    """Make sure the notebook has a cell starting ``total =`` (``total = 45`` once run)."""
    if not page.evaluate(RUN_PREFIX_JS, "total ="):
        page.evaluate(ADD_CELL_JS, CODE)


def test_panel_opens_in_the_right_side_area(lab: Page):
    expect(panel(lab)).to_be_visible(timeout=30_000)
    expect(lab.locator(".jp-Notebook .jp-OutputArea").first).to_contain_text("right side area")
    box = panel(lab).bounding_box()
    assert box is not None and box["x"] > 700, "the panel should sit on the right"
    shot(lab, "panel-open")


def test_send_shows_the_streamed_answer(lab: Page, model_server):
    answer = "Streaming works: **bold** and a list:\n\n- one\n- two\n- three"
    script(model_server, text=answer, chunk_size=4, chunk_delay=0.06)
    ask(lab, "Does streaming work?")
    live = panel(lab).locator(".jc-live-holder .jc-assistant")
    expect(live).to_be_visible(timeout=10_000)
    shot(lab, "panel-streaming")
    final = panel(lab).locator(".jc-list .jc-assistant").last
    expect(final).to_contain_text("three", timeout=15_000)
    expect(final.locator("strong")).to_have_text("bold")
    expect(final.locator(".jc-footer")).to_contain_text("out")
    expect(panel(lab).locator(".jc-list .jc-user").last).to_contain_text("Does streaming work?")
    expect(panel(lab).locator("textarea.jc-input")).to_have_value("")
    shot(lab, "panel-answer")


def test_shift_enter_adds_a_line_instead_of_sending(lab: Page):
    box = panel(lab).locator("textarea.jc-input")
    box.click()
    box.fill("first line")
    box.press("Shift+Enter")
    box.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    before = panel(lab).locator(".jc-list .jc-user").count()
    lab.wait_for_timeout(300)
    assert panel(lab).locator(".jc-list .jc-user").count() == before
    box.fill("")


def test_stop_mid_stream_keeps_the_partial_answer(lab: Page, model_server):
    words = " ".join(f"w{i}" for i in range(80))
    script(model_server, text=words, chunk_size=6, chunk_delay=0.25)
    ask(lab, "Say many words")
    live = panel(lab).locator(".jc-live-holder .jc-assistant")
    expect(live).to_contain_text("w3", timeout=10_000)
    stop = panel(lab).get_by_role("button", name="Stop")
    expect(stop).to_be_enabled()
    stop.click()
    final = panel(lab).locator(".jc-list .jc-assistant").last
    expect(final.locator(".jc-footer")).to_contain_text("interrupted", timeout=2_000)
    text = final.locator(".jc-body").inner_text()
    assert text.startswith("w0") and "w79" not in text
    expect(panel(lab).get_by_role("button", name="Send")).to_be_enabled()
    shot(lab, "panel-stopped")


def test_code_blocks_copy_and_insert_below(lab: Page, model_server):
    script(
        model_server,
        text=f"Here you go:\n\n```python\n{CODE}\n```\n",
        chunk_size=8,
        chunk_delay=0.01,
    )
    ask(lab, "Give me code")
    block = panel(lab).locator(".jc-list .jc-assistant").last.locator(".jc-codeblock")
    expect(block).to_contain_text("print(total)", timeout=10_000)
    expect(block.locator(".highlight .k, .highlight .nb").first).to_be_visible()
    block.get_by_role("button", name="Copy").click()
    expect(block.get_by_role("button", name="Copied")).to_be_visible()
    assert lab.evaluate("() => navigator.clipboard.readText()") == CODE
    insert = block.get_by_role("button", name="Insert below")
    expect(insert).to_be_visible()
    before = lab.evaluate(SOURCES_JS)
    insert.click()
    # Well under the panel's 5 s fallback: the text must follow the front end's
    # "editor ready" answer, not the timer.
    lab.wait_for_function(
        "([code, n]) => { const s = (" + SOURCES_JS + ")(); "
        "return s.length === n && s.includes(code); }",
        arg=[CODE, len(before) + 1],
        timeout=3_000,
    )
    shot(lab, "panel-inserted")


def test_a_chat_cell_turn_appears_in_the_panel(lab: Page, model_server):
    script(
        model_server,
        text="Answer to the cell, streamed to both places.",
        chunk_size=5,
        chunk_delay=0.03,
    )
    assert lab.evaluate(RUN_PREFIX_JS, "%%chat")
    user = panel(lab).locator(".jc-list .jc-user").last
    expect(user).to_contain_text("Hello from a notebook cell", timeout=10_000)
    expect(user.locator(".jc-label")).to_have_text("You · cell")
    expect(panel(lab).locator(".jc-list .jc-assistant").last).to_contain_text(
        "streamed to both places", timeout=10_000
    )
    expect(lab.locator(".jp-Notebook .jp-OutputArea").last).to_contain_text(
        "streamed to both places"
    )
    shot(lab, "panel-cell-turn")


def test_new_session_and_switch_back(lab: Page, model_server):
    conversation(lab, model_server)
    picker = panel(lab).locator(".widget-dropdown select").first
    old = picker.input_value()
    panel(lab).get_by_role("button", name="New").click()
    expect(panel(lab).locator(".jc-empty")).to_be_visible(timeout=10_000)
    assert picker.input_value() != old
    picker.select_option(old)
    expect(panel(lab).locator(".jc-list .jc-user").first).to_contain_text(
        "Does streaming work?", timeout=10_000
    )
    shot(lab, "panel-switched")


def test_reopening_after_closing_the_tab_reuses_the_panel(lab: Page, model_server):
    conversation(lab, model_server)
    sidebar = lab.locator("#jp-right-stack .jc-panel")
    icon = lab.locator(".jp-SideBar.jp-mod-right .lm-TabBar-tabCloseIcon").first
    box = icon.bounding_box()  # the rotated tab covers the icon for Playwright's hit test
    assert box is not None
    lab.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(sidebar).to_have_count(0)
    assert lab.evaluate(RUN_PREFIX_JS, "%load_ext")
    expect(sidebar).to_be_visible(timeout=15_000)
    expect(sidebar.locator(".jc-list .jc-user").first).to_contain_text("Does streaming work?")
    expect(lab.locator("#jp-right-stack .jupyterlab-sidecar")).to_have_count(1)


def test_context_variables_and_export(lab: Page, jlab, model_server):
    conversation(lab, model_server)
    code_cell(lab)  # total = 45
    panel(lab).get_by_text("Context variables").click()
    picker = panel(lab).locator(".widget-select-multiple select")
    expect(picker.locator("option", has_text="total")).to_have_text(
        "total — int = 45", timeout=10_000
    )
    picker.select_option(label="total — int = 45")
    expect(panel(lab).get_by_text("Context variables (1 attached)")).to_be_visible()
    shot(lab, "panel-context")
    panel(lab).get_by_text("Export").first.click()
    path = panel(lab).locator("input[placeholder^='chat.md']")
    path.fill("exported-chat.md")
    panel(lab).get_by_role("button", name="Export").click()
    expect(panel(lab).locator(".jc-status")).to_contain_text("exported to", timeout=10_000)
    assert "Does streaming work?" in (jlab.root / "exported-chat.md").read_text()


def test_inline_placement_moves_the_panel_into_the_cell(lab: Page, model_server):
    conversation(lab, model_server)
    lab.evaluate(
        ADD_CELL_JS, "from jupychat.notebook.panel import open_panel\nopen_panel(where='inline')"
    )
    inline = lab.locator(".jp-Notebook .jp-OutputArea .jc-panel")
    expect(inline).to_be_visible(timeout=15_000)
    expect(lab.locator("#jp-right-stack .jc-panel")).to_have_count(0)
    expect(inline.locator(".jc-list .jc-user").first).to_contain_text("Does streaming work?")
    expect(lab.locator(".jp-Notebook .jp-OutputArea").first).to_contain_text("moved")
    inline.scroll_into_view_if_needed()
    shot(lab, "panel-inline")


@pytest.mark.llama
@needs_llama
def test_the_embedded_model_answers_in_the_sidebar(lab: Page):
    model = panel(lab).locator("input[list]").first
    model.fill("local")
    model.press("Enter")
    expect(panel(lab).locator(".jc-status")).to_contain_text("model: local", timeout=10_000)
    before = panel(lab).locator(".jc-list .jc-assistant").count()
    ask(lab, "What is 2 + 2?")
    answers = panel(lab).locator(".jc-list .jc-assistant")
    expect(answers).to_have_count(before + 1, timeout=120_000)
    final = answers.last
    assert final.locator(".jc-body").inner_text().strip()
    expect(final.locator(".jc-footer")).to_contain_text("local")
    shot(lab, "panel-local-model")
