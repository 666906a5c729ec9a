"""The sessions browser page in headless Debian Chromium, served by a real JupyterLab.

JupyterLab runs on 127.0.0.1 (jupychat loaded from the installed server config) with
this checkout's lab extension on its path (``jupyter-config/labextensions/jupychat``: the
Help menu entry). The tests search, open a
transcript, export, rename and delete (accepting the confirm dialog) as a person would,
and take screenshots into ``test-artifacts/``.

Run: ``pytest -m browser tests/test_browser_sessions.py`` (Chromium at /usr/bin/chromium;
install it with ``apt-get install -y chromium``; never ``playwright install``).
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("playwright")
pytest.importorskip("jupyterlab")
nbformat = pytest.importorskip("nbformat")

from playwright.sync_api import Dialog, Page, expect  # noqa: E402

from browser_lab import ARTIFACTS, LABEXTENSION_ENV, OVERRIDES, REPO, browser_marks  # noqa: E402
from jupychat.store import SessionStore  # noqa: E402
from jupychat_server_helpers import make_session, run_jupyter  # noqa: E402

pytestmark = browser_marks(180)

REPLY = """Here is a histogram of the prices:

```python
df["price"].plot.hist(bins=20)
```

| column | meaning |
|---|---|
| price | in euros |

<script>window.__pwned = true; alert("xss")</script> <img src=x onerror="alert('img')">
[a bad link](javascript:alert('link'))"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("lab")
    settings = base / "app-settings"
    settings.mkdir(parents=True)
    (settings / "overrides.json").write_text(json.dumps(OVERRIDES))
    with run_jupyter(
        base,
        app="jupyterlab",
        extra_args=[
            f"--LabApp.app_settings_dir={settings}",
            "--LabApp.expose_app_in_browser=True",
        ],
        env=LABEXTENSION_ENV,
    ) as server:
        yield server


@pytest.fixture(scope="module")
def store(lab):
    with SessionStore(lab.store_path) as st:
        yield st


@pytest.fixture
def dialogs(page: Page):
    """Every dialog the page opens: confirms are answered by ``answers``; alerts recorded."""
    seen: list[tuple[str, str]] = []
    answers: list[str | bool] = []

    def handle(dialog: Dialog) -> None:
        seen.append((dialog.type, dialog.message))
        answer = answers.pop(0) if answers else False
        if answer is False:
            dialog.dismiss()
        elif answer is True:
            dialog.accept()
        else:
            dialog.accept(answer)

    page.on("dialog", handle)
    return seen, answers


def shot(page: Page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"sessions-{name}.png"), full_page=full_page)


def test_search_open_export_rename_and_delete(page: Page, lab, store, dialogs, tmp_path):
    seen, answers = dialogs
    target = make_session(
        store,
        [
            ("Plot a histogram of the prices column", REPLY),
            ("And the median?", "The median is `df.price.median()`, **42.5** here."),
        ],
        notebook="analysis/prices.ipynb",
        model="openai:gpt-4o-mini",
        usage=(812, 190),
        metadata={"project": "pricing"},
    )
    make_session(
        store,
        [("Explain regression to the mean", "It is a statistical effect.")],
        notebook="stats.ipynb",
        model="anthropic:claude-3-5-haiku",
        usage=(300, 80),
    )
    make_session(
        store,
        [("Clean the CSV headers", "Use `df.columns.str.strip()`.")],
        notebook="etl.ipynb",
        usage=(120, 45),
    )
    page.set_viewport_size({"width": 1280, "height": 800})

    page.goto(f"{lab.url}/jupychat/?token={lab.token}")
    rows = page.locator("tr.jc-session")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Clean the CSV headers")  # newest first
    expect(rows.last).to_contain_text("prices.ipynb")
    shot(page, "1-list")

    page.get_by_label("Search sessions").fill("histogram")
    page.get_by_label("Search sessions").press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".jc-snippet mark")).to_have_text("histogram")
    expect(rows.first.locator("td").nth(5)).to_have_text("2,004")
    shot(page, "2-search")

    rows.first.locator(".jc-title a").click()
    expect(page.locator("h1#jc-title")).to_have_text("Plot a histogram of the prices column")
    messages = page.locator("section.jc-msg")
    expect(messages).to_have_count(4)
    reply = messages.nth(1)
    expect(reply.locator("pre code.language-python")).to_contain_text("plot.hist(bins=20)")
    expect(reply.locator("table td").first).to_have_text("price")
    expect(reply).to_contain_text('<script>window.__pwned = true; alert("xss")</script>')
    expect(messages.nth(3).locator("strong")).to_have_text("42.5")
    assert page.evaluate("() => window.__pwned === undefined")
    assert page.locator(".jc-md script, .jc-md img").count() == 0
    expect(reply).to_contain_text("a bad link")  # a refused link keeps its text, no <a>
    assert reply.locator("a", has_text="a bad link").count() == 0
    shot(page, "3-transcript")

    exported = {}
    for fmt, suffix in (("markdown", ".md"), ("ipynb", ".ipynb"), ("json", ".json")):
        with page.expect_download() as info:
            page.locator(f"a.jc-export[data-format={fmt}]").click()
        download = info.value
        assert download.suggested_filename == f"Plot-a-histogram-of-the-prices-column{suffix}"
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        exported[fmt] = path.read_text(encoding="utf-8")
    assert exported["markdown"].startswith("# Plot a histogram of the prices column")
    nb = nbformat.reads(exported["ipynb"], as_version=4)
    assert any("plot.hist(bins=20)" in c.source for c in nb.cells if c.cell_type == "code")
    assert json.loads(exported["json"])["id"] == target

    answers.append("Prices — histogram & median")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator("h1#jc-title")).to_have_text("Prices — histogram & median")
    expect(page.locator("#jc-flash")).to_have_text("Renamed.")
    assert store.summary(target)["title"] == "Prices — histogram & median"

    answers.append(True)
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"{lab.url}/jupychat/")
    expect(page.locator("#jc-flash")).to_have_text("Deleted “Prices — histogram & median”.")
    expect(rows).to_have_count(2)
    shot(page, "4-deleted")
    assert not store.exists(target)
    assert [kind for kind, _ in seen] == ["prompt", "confirm"]  # no alert() ever ran
    assert "Prices — histogram & median" in seen[1][1]


def test_cancelled_delete_keeps_the_session(page: Page, lab, store, dialogs):
    seen, answers = dialogs
    sid = make_session(
        store,
        [("Keep this one", "Sure:\n\n```python\nkeep = True\n```")],
        title="Keep me",
        system_prompt="Be *brief*.",
        metadata={"project": "dark"},
    )
    page.emulate_media(color_scheme="dark")  # the page follows the system theme
    page.goto(f"{lab.url}/jupychat/sessions/{sid}?token={lab.token}")
    page.locator("details.jc-extra summary").first.click()
    expect(page.locator("details.jc-extra .jc-md em")).to_have_text("brief")
    shot(page, "9-dark", full_page=False)
    answers.append(False)
    page.get_by_role("button", name="Delete").click()
    expect(page.locator("h1#jc-title")).to_have_text("Keep me")
    assert [kind for kind, _ in seen] == ["confirm"]
    assert store.exists(sid)
    assert page.url.endswith(f"/jupychat/sessions/{sid}?token={lab.token}")


def test_long_transcript_is_paged(page: Page, lab, store):
    turns = [(f"question number {i}", f"answer number {i}") for i in range(150)]
    sid = make_session(store, turns, title="A long chat")
    page.goto(f"{lab.url}/jupychat/sessions/{sid}?token={lab.token}")
    expect(page.locator("section.jc-msg")).to_have_count(200)
    pager = page.locator("nav.jc-pager").first
    expect(pager).to_contain_text("messages 1–200 of 300")
    pager.get_by_role("link", name="Later ›").click()
    expect(page.locator("section.jc-msg")).to_have_count(100)
    expect(page.locator("section.jc-msg").last).to_contain_text("answer number 149")
    expect(page.locator("nav.jc-pager").first).to_contain_text("messages 201–300 of 300")
    shot(page, "5-paged", full_page=False)


def test_help_menu_opens_the_sessions_browser(page: Page, lab, store):
    make_session(store, [("Reached from the Help menu", "Yes.")], title="From Help")
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{lab.url}/lab?token={lab.token}")
    help_menu = page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Help")
    expect(help_menu).to_be_visible(timeout=60_000)
    help_menu.click()
    # named as the README names it, once, with no duplicate-entry warning
    item = page.locator(".lm-Menu-item", has_text="Chat Sessions")
    expect(item).to_have_count(1)
    expect(item.locator(".lm-Menu-itemLabel")).to_have_text("Chat Sessions")
    assert "Help → Chat Sessions" in (REPO / "README.md").read_text()
    shot(page, "6-help-menu")
    with page.context.expect_page() as popup_info:
        item.click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert popup.url == f"{lab.url}/jupychat/"
    expect(popup.locator("tr.jc-session", has_text="From Help")).to_have_count(1)
    expect(popup.locator("#jc-front")).to_have_text("JupyterLab")
    popup.screenshot(path=str(ARTIFACTS / "sessions-7-from-help.png"))
    popup.close()
    duplicated = [w for w in warnings if "is duplicated" in w]
    assert not duplicated, duplicated


def _background(page: Page) -> tuple[int, ...]:
    colour = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    if colour in ("rgba(0, 0, 0, 0)", "transparent"):
        colour = page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")
    return tuple(int(float(x)) for x in colour[colour.index("(") + 1 : -1].split(",")[:3])


def _dark(rgb: tuple[int, ...]) -> bool:
    return sum(rgb) / 3 < 100


@pytest.mark.parametrize("theme", ["JupyterLab Dark", "JupyterLab Light"])
def test_sessions_page_follows_the_jupyterlab_theme(browser, lab, store, theme):
    """The Lab theme wins over the system setting: opened from the Help menu, and alone."""
    make_session(store, [("Theme check", "Dark or light.")], title="Theme check")
    dark = "Dark" in theme
    system = "light" if dark else "dark"  # the system says the opposite
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=system)
    try:
        page = context.new_page()
        page.goto(f"{lab.url}/lab?token={lab.token}&reset")
        page.wait_for_function("() => document.body.dataset.jpThemeName")
        page.evaluate(
            "async (t) => { const app = window.jupyterapp; await app.restored;"
            " await app.commands.execute('apputils:change-theme', {theme: t}); }",
            theme,
        )
        page.wait_for_function("(t) => document.body.dataset.jpThemeName === t", arg=theme)
        help_menu = page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Help")
        help_menu.click()
        with context.expect_page() as popup_info:
            page.locator(".lm-Menu-item", has_text="Chat Sessions").click()
        popup = popup_info.value
        popup.wait_for_load_state()
        expect(popup.locator("tr.jc-session").first).to_be_visible()
        popup.wait_for_timeout(300)
        popup.screenshot(path=str(ARTIFACTS / f"sessions-theme-{'dark' if dark else 'light'}.png"))
        assert _dark(_background(popup)) == dark, _background(popup)
        popup.close()
        # opened on its own (a bookmark, no opener): the saved Lab setting still decides
        alone = context.new_page()
        alone.goto(f"{lab.url}/jupychat/?token={lab.token}")
        alone.evaluate("() => localStorage.clear()")
        alone.reload()
        alone.wait_for_function(
            "() => document.documentElement.dataset.theme !== undefined", timeout=10_000
        )
        assert _dark(_background(alone)) == dark, _background(alone)
        alone.close()
    finally:
        context.close()


def test_top_link_goes_back_to_the_front_end_that_opened_it(page: Page, lab, store):
    make_session(store, [("Back link", "Which front end?")], title="Back link")
    # opened from Notebook 7's file browser (/tree): the link says so, on every page
    page.goto(f"{lab.url}/jupychat/?token={lab.token}", referer=f"{lab.url}/tree/work")
    link = page.locator("#jc-front")
    expect(link).to_have_text("Jupyter Notebook")
    assert link.get_attribute("href") == "/tree"
    page.locator("tr.jc-session a", has_text="Back link").first.click()
    expect(page.locator(".jc-transcript")).to_be_visible()
    expect(link).to_have_text("Jupyter Notebook")
    assert link.get_attribute("href") == "/tree"
    shot(page, "8-back-to-notebook", full_page=False)
    # from JupyterLab
    page.goto(f"{lab.url}/jupychat/?token={lab.token}", referer=f"{lab.url}/lab/tree/x.ipynb")
    expect(link).to_have_text("JupyterLab")
    assert link.get_attribute("href") == "/lab"


def test_unknown_session_and_bad_paging_show_an_error_page(page: Page, lab):
    response = page.goto(f"{lab.url}/jupychat/sessions/no-such-id?token={lab.token}")
    assert response is not None and response.status == 404
    expect(page.locator(".jc-error-page h1")).to_have_text("404 · Not Found")
    expect(page.locator(".jc-error-page")).to_contain_text("no session 'no-such-id'")
    shot(page, "8-not-found", full_page=False)
    response = page.goto(f"{lab.url}/jupychat/?offset=-3")
    assert response is not None and response.status == 400
    expect(page.locator(".jc-error-page")).to_contain_text("offset must be a whole number")
    page.locator(".jc-error-page a").click()
    expect(page.get_by_label("Search sessions")).to_be_visible()
