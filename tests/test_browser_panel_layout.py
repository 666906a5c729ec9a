"""The chat panel's layout in a real JupyterLab: small and large windows, light and dark.

Each case opens the notebook in a fresh browser context of the given size, runs
``%chat panel`` (the panel goes to the right side area at its default width), and checks
geometry, not only presence: every control keeps a usable width, no text is clipped
(``scrollWidth <= clientWidth``), the session picker's message count is readable, the
header stays on screen, the Export and Context sections do not push the transcript out of
the window, the panel takes more room on a large screen, remembers a width the user chose,
and the transcript stays at the newest message when the panel is opened again.

Screenshots go to ``test-artifacts/layout-*.png``: look at them.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("playwright")

from playwright.sync_api import Page, expect

from browser_lab import (
    KERNEL_READY_JS,
    REPO,
    RUN_PREFIX_JS,
    browser_marks,
    lab_server,
    notebook_page,
    shot,
)

pytestmark = browser_marks(240)

SIZES = {"small": (1024, 700), "large": (1920, 1080)}
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
# a conversation long enough to scroll: twelve messages, the last one easy to find
SEED = (
    "%load_ext jupychat\n"
    "for i in range(6):\n"
    "    get_ipython().run_line_magic('chat', f'ask What is 2 + 2? Question {i} ' + 'x ' * 60)\n"
    "%chat ask The newest question"
)
OPEN = "%chat panel"
GEOMETRY_JS = """() => {
  const panel = document.querySelector('#jp-right-stack .jc-panel');
  const box = (el) => { const r = el.getBoundingClientRect();
    return {x: r.x, y: r.y, w: r.width, h: r.height, bottom: r.bottom, right: r.right}; };
  const clipped = [];
  for (const el of panel.querySelectorAll('button, .widget-label, .lm-AccordionPanel-title,'
      + ' .jupyter-widget-Collapse-header, .jc-model-line, .jc-status')) {
    if (el.offsetParent && el.scrollWidth > el.clientWidth + 1)
      clipped.push((el.textContent || '').trim() || el.className);
  }
  const select = panel.querySelector('.widget-dropdown select');
  const option = select.options[select.selectedIndex];
  const style = getComputedStyle(select);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const label = option ? option.textContent : '';
  const countEnd = label.indexOf('msg') >= 0 ? label.indexOf('msg') + 4 : label.length;
  const room = select.clientWidth - parseFloat(style.paddingLeft)
    - parseFloat(style.paddingRight);
  const model = panel.querySelector('.widget-text input');
  const buttons = {};
  for (const b of panel.querySelectorAll('button')) {
    const name = (b.textContent || '').trim();
    if (name && b.offsetParent) buttons[name] = box(b).w;
  }
  return {
    panel: box(panel), window: {w: innerWidth, h: innerHeight},
    header: box(panel.firstElementChild),
    clipped, label, countWidth: ctx.measureText(label.slice(0, countEnd)).width, room,
    model: model ? {value: model.value, scroll: model.scrollWidth, client: model.clientWidth}
      : null,
    buttons,
  };
}"""
SCROLL_JS = """() => { const s = document.querySelector('#jp-right-stack .jc-panel .jc-scroll');
  return {top: s.scrollTop, height: s.scrollHeight, client: s.clientHeight}; }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_server):
    base = tmp_path_factory.mktemp("layout")
    # a model named as users name theirs (the fake server stands in for Ollama)
    env = {"JUPYCHAT_MODEL": "ollama:llama3.2", "OLLAMA_HOST": model_server}
    with lab_server(base, {"chat.ipynb": [SEED, OPEN]}, env=env) as jupyter:
        yield jupyter


def open_lab(browser, server, size: str, theme: str, storage: dict | None = None):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    url = f"{server.url}/lab/tree/chat.ipynb?reset&token={server.token}"
    page.goto(url)
    page.wait_for_function("() => !!window.jupyterapp")
    page.evaluate(
        "async (t) => { await window.jupyterapp.restored;"
        " await window.jupyterapp.commands.execute('apputils:change-theme', {theme: t}); }",
        THEMES[theme],
    )
    assert page.evaluate(KERNEL_READY_JS) == "python3"
    return context, page


def panel(page: Page):
    return page.locator("#jp-right-stack .jc-panel")


def seed_and_open(page: Page) -> None:
    assert page.evaluate(RUN_PREFIX_JS, "%load_ext")
    expect(page.locator(".jp-OutputArea").first).to_contain_text(
        "The newest question", timeout=60_000
    )
    assert page.evaluate(RUN_PREFIX_JS, OPEN)
    expect(panel(page)).to_be_visible(timeout=30_000)
    expect(panel(page).locator(".jc-list .jc-user").last).to_contain_text("The newest question")
    page.wait_for_timeout(800)  # the side area settles its width


def switch_model(page: Page, name: str) -> None:
    box = panel(page).locator(".widget-text input").first
    box.fill(name)
    box.press("Enter")
    expect(panel(page).locator(".jc-status")).to_contain_text(name, timeout=10_000)


def check_geometry(page: Page, size: str) -> dict:
    g = page.evaluate(GEOMETRY_JS)
    panel_box, win = g["panel"], g["window"]
    assert not g["clipped"], f"clipped text: {g['clipped']}"
    for name, width in g["buttons"].items():
        assert width >= 40, f"button {name!r} squeezed to {width:.0f}px"
    assert g["countWidth"] <= g["room"], f"the message count is cut off in {g['label']!r}"
    assert g["model"] and g["model"]["scroll"] <= g["model"]["client"] + 1, g["model"]
    assert g["header"]["y"] >= 0 and g["header"]["bottom"] <= win["h"], g["header"]
    assert panel_box["right"] <= win["w"] + 1 and panel_box["x"] >= 0
    if size == "large":
        assert panel_box["w"] >= 320, f"the panel stays {panel_box['w']:.0f}px at 1920px"
    return g


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("size", ["small", "large"])
def test_panel_fits_its_side_area(browser, server, model_server, size, theme):
    context, page = open_lab(browser, server, size, theme)
    try:
        seed_and_open(page)
        shot(page, f"layout-{size}-{theme}")
        check_geometry(page, size)
        # the transcript opens at the newest message
        s = page.evaluate(SCROLL_JS)
        assert s["height"] > s["client"], "the seeded conversation should scroll"
        assert s["top"] + s["client"] >= s["height"] - 4, s
        # Export and Context variables open without pushing the header or the input away
        sections = {
            "Export": ".jc-export-path input",
            "Context variables": ".widget-select-multiple select",
        }
        for title, content in sections.items():
            header = panel(page).locator(".jupyter-widget-Collapse-header", has_text=title)
            header.click()
            expect(panel(page).locator(content)).to_be_visible()
            page.wait_for_timeout(300)
            g = page.evaluate(GEOMETRY_JS)
            assert not g["clipped"], f"clipped text with {title} open: {g['clipped']}"
            top = g["header"]
            assert top["y"] >= 0 and top["bottom"] <= g["window"]["h"], title
            for name in ("Send", "Export", "Refresh"):
                button = panel(page).get_by_role("button", name=name)
                if button.is_visible():
                    box = button.bounding_box()
                    assert box["y"] + box["height"] <= g["window"]["h"], f"{title}: {name}"
                    assert box["width"] >= 60, f"{title}: {name} is {box['width']:.0f}px"
            view = panel(page).locator(".jc-scroll").bounding_box()
            assert view["height"] >= 60, f"{title}: the transcript shrank to {view['height']}"
            shot(page, f"layout-{size}-{theme}-{title.split()[0].lower()}")
            header.click()
            expect(panel(page).locator(content)).to_be_hidden()
        # a model name longer than the picker shows is written out in full under it
        long_name = f"openai-compatible:llama3.2@{model_server}/v1"
        switch_model(page, long_name)
        line = panel(page).locator(".jc-model-line")
        expect(line).to_have_text(long_name)
        fits = line.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        assert fits and line.bounding_box()["width"] <= panel(page).bounding_box()["width"]
        shot(page, f"layout-{size}-{theme}-long-model")
        switch_model(page, "ollama:llama3.2")
        expect(line).to_be_hidden()
    finally:
        context.close()


def test_reopening_keeps_the_newest_message_in_view(browser, server):
    context, page = open_lab(browser, server, "small", "light")
    try:
        seed_and_open(page)
        for _ in range(2):
            assert page.evaluate(RUN_PREFIX_JS, OPEN)
            expect(panel(page)).to_be_visible(timeout=30_000)
            page.wait_for_timeout(1000)
            s = page.evaluate(SCROLL_JS)
            assert s["top"] + s["client"] >= s["height"] - 4, s
        shot(page, "layout-reopened")
        # the side area hidden and shown again (its tab clicked twice): still the newest
        tab = page.locator(".jp-SideBar.jp-mod-right .lm-TabBar-tab", has_text="Chat")
        for _ in range(2):
            tab.click()
            page.wait_for_timeout(500)
        expect(panel(page)).to_be_visible()
        s = page.evaluate(SCROLL_JS)
        assert s["top"] + s["client"] >= s["height"] - 4, s
        # once the reader scrolled up, opening again leaves the place they chose
        # (with the wheel, as a reader does: scrolls caused by layout do not count)
        scroller = page.locator("#jp-right-stack .jc-panel .jc-scroll")
        scroller.hover()
        page.mouse.wheel(0, -5000)
        page.wait_for_timeout(500)
        assert page.evaluate(RUN_PREFIX_JS, OPEN)
        page.wait_for_timeout(1000)
        s = page.evaluate(SCROLL_JS)
        assert s["top"] + s["client"] < s["height"] - 40, s
    finally:
        context.close()


def test_panel_remembers_the_width_the_user_chose(browser, server):
    context, page = open_lab(browser, server, "large", "light")
    try:
        seed_and_open(page)
        start = panel(page).bounding_box()
        handle = page.evaluate(
            """() => { const stack = document.querySelector('#jp-right-stack');
              const left = stack.getBoundingClientRect().left;
              let best = null;
              const split = stack.closest('.jp-SideArea').parentElement;
              for (const h of split.querySelectorAll(':scope > .lm-SplitPanel-handle')) {
                const r = h.getBoundingClientRect();
                if (!best || Math.abs(r.left + r.width / 2 - left) < best.d)
                  best = {d: Math.abs(r.left + r.width / 2 - left), x: r.left + r.width / 2,
                          y: r.top + r.height / 2};
              }
              return best; }"""
        )
        target = handle["x"] - 150
        page.mouse.move(handle["x"], handle["y"])
        page.mouse.down()
        page.mouse.move(target, handle["y"], steps=8)
        page.mouse.up()
        page.wait_for_timeout(500)
        chosen = panel(page).bounding_box()["width"]
        assert chosen > start["width"] + 100
        context.storage_state(path=str(REPO / "test-artifacts" / "layout-state.json"))
    finally:
        context.close()
    # a new page (fresh workspace) with the same browser storage: the same width again
    state = json.loads((REPO / "test-artifacts" / "layout-state.json").read_text())
    viewport = {"width": 1920, "height": 1080}
    with notebook_page(
        browser, server, "chat.ipynb", viewport=viewport, storage_state=state
    ) as page:
        assert page.evaluate(RUN_PREFIX_JS, OPEN)
        expect(panel(page)).to_be_visible(timeout=30_000)
        page.wait_for_timeout(1000)
        shot(page, "layout-remembered-width")
        again = panel(page).bounding_box()["width"]
        assert abs(again - chosen) <= 12, (chosen, again)
