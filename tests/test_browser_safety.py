"""Hostile answers in a real JupyterLab page: nothing runs, nothing is fetched, math renders.

A notebook (kernel model ``fake:browser``, payloads queued with ``get_fake().enqueue``)
makes one ``%%chat`` answer per payload of ``safety_payloads.PAYLOADS``, shows
``%chat history``, and an answer with math and code; the chat panel (opened first) shows
every one of those turns and one more asked in the panel itself; finally the sessions
browser page shows the stored transcript. Each payload, had it run, would set
``window.__jc_pwned``, open a dialog or request ``evil.example``. The test records every
request the page makes and fails on any host other than 127.0.0.1/localhost, and scans
the rendered answers' DOM for script-capable elements, ``on*`` attributes and links with
other schemes (MathJax's own links included). Screenshots go to ``test-artifacts/``.

Run: ``pytest -m browser tests/test_browser_safety.py`` (Chromium at /usr/bin/chromium).
"""

from __future__ import annotations

import json
import shutil
from urllib.parse import urlsplit

import pytest

pytest.importorskip("playwright")
pytest.importorskip("jupyterlab")
nbformat = pytest.importorskip("nbformat")

from playwright.sync_api import Page, expect  # noqa: E402

from browser_lab import (  # noqa: E402
    ARTIFACTS,
    KERNEL_READY_JS,
    OVERRIDES,
    REPO,
    RUN_INDEX_JS,
    browser_marks,
)
from jupychat_server_helpers import run_jupyter  # noqa: E402
from safety_payloads import PAYLOADS  # noqa: E402

pytestmark = browser_marks(300)


MATH = (
    "Math: $a_1 * b_2 < c_3$ and $$\\sum_{i=1}^n x_i^2$$ and \\(e^{i\\pi}\\). "
    "Prose dollars stay text: it costs $5 and $10.\n\n"
    "```python\ndef area(r):\n    return 3.14159 * r ** 2\n```\n"
)
PANEL_ANSWER = "```python\nprint('from the panel')\n```\n\n" + "\n\n".join(
    text for _, text in PAYLOADS[:60]
)
CELLS = [
    "%load_ext jupychat\n%chat panel",
    # one %%chat turn per payload (run_cell: a nested run has no cell id, so turns add up)
    "import json, pathlib\n"
    "from jupychat.providers.fake import get_fake\n"
    "fake = get_fake('browser')\n"
    "for name, text in json.loads(pathlib.Path('payloads.json').read_text()):\n"
    "    fake.enqueue(text, chunk_size=64)\n"
    "    get_ipython().run_cell(f'%%chat\\npayload {name}', store_history=False)\n"
    "fake.enqueue(json.loads(pathlib.Path('math.json').read_text()))",
    "%%chat\nShow me math and code",
    "%chat history",
    "get_fake('browser').enqueue(json.loads(pathlib.Path('panel.json').read_text()))",
]
DOM_CHECK_JS = """(roots, ours) => {
  const bad = [];
  const allowed = new Set(["http:", "https:", "mailto:"]);
  const banned = ["script", "style", "img", "image", "iframe", "frame", "object", "embed",
      "video", "audio", "source", "svg", "form", "input", "textarea", "meta", "base", "link",
      "details", "marquee", "template", "noscript", "x"].filter(t => !ours.includes(t)).join(",");
  for (const root of roots) {
    for (const el of root.querySelectorAll("*")) {
      if (el.closest("mjx-container") === null && el.matches(banned))
        bad.push("element " + el.tagName);
      if (el.closest("mjx-container") !== null && el.matches("script,iframe,img,image,foreignObject"))
        bad.push("element in MathJax " + el.tagName);
      for (const attr of el.attributes) {
        if (attr.name.startsWith("on")) bad.push(el.tagName + " " + attr.name);
        if (["src", "srcdoc", "style", "formaction", "action", "background", "poster",
             "xlink:href"].includes(attr.name) && el.closest("mjx-container") === null)
          bad.push(el.tagName + " " + attr.name + "=" + attr.value);
      }
      if (el.hasAttribute("href")) {
        let protocol = "";
        try { protocol = new URL(el.getAttribute("href"), "http://127.0.0.1/").protocol; }
        catch (e) { protocol = "bad"; }
        const relative = !/^[a-z][a-z0-9+.-]*:/i.test(el.getAttribute("href").replace(/[\\x00-\\x20]/g, ""));
        if (!allowed.has(protocol) || relative) bad.push("href " + el.getAttribute("href"));
      }
    }
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("safety")
    settings = base / "app-settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(json.dumps(OVERRIDES))
    env = {"JUPYCHAT_MODEL": "fake:browser", "PYTHONPATH": str(REPO / "src")}  # this checkout
    with run_jupyter(
        base,
        app="jupyterlab",
        env=env,
        extra_args=[f"--LabApp.app_settings_dir={settings}", "--LabApp.expose_app_in_browser=True"],
    ) as server:
        root = server.root
        (root / "payloads.json").write_text(json.dumps(PAYLOADS))
        (root / "math.json").write_text(json.dumps(MATH))
        (root / "panel.json").write_text(json.dumps(PANEL_ANSWER))
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, root / "safety.ipynb")
        yield server
    shutil.rmtree(base / "ipython", ignore_errors=True)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"safety-{name}.png"))


def test_hostile_answers_stay_inert_everywhere(browser, lab):
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    requests: list[str] = []
    dialogs: list[str] = []

    def watched() -> Page:
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("websocket", lambda ws: requests.append(ws.url))
        page.on("popup", lambda p: requests.append("popup " + p.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        return page

    page = watched()
    try:
        page.goto(f"{lab.url}/lab/tree/safety.ipynb?reset&token={lab.token}")
        page.wait_for_function("() => !!window.jupyterapp")
        assert page.evaluate(KERNEL_READY_JS) == "python3"
        panel = page.locator("#jp-right-stack .jc-panel").first

        page.evaluate(RUN_INDEX_JS, 0)
        expect(panel).to_be_visible(timeout=30_000)
        page.evaluate(RUN_INDEX_JS, 1)
        cell = page.locator(".jp-Notebook .jp-Cell").nth(1)
        outputs = cell.locator(".jp-OutputArea-output")
        expect(outputs).to_have_count(len(PAYLOADS) + 1, timeout=60_000)  # + Out[2]
        expect(outputs.nth(len(PAYLOADS) - 1)).to_contain_text("fake:browser")  # its footer
        page.wait_for_timeout(1000)  # give anything that would fire (onerror, refresh) time
        assert page.evaluate("() => window.__jc_pwned") is None, "an answer ran script"
        assert dialogs == [], dialogs
        bad = outputs.evaluate_all(DOM_CHECK_JS, [])
        assert bad == [], bad[:20]
        assert cell.locator(".jc-answer").count() == len(PAYLOADS)

        page.evaluate(RUN_INDEX_JS, 2)
        math_out = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jc-answer")
        expect(math_out.locator(".jc-footer")).to_be_visible(timeout=20_000)
        expect(math_out.locator("mjx-container")).to_have_count(3, timeout=20_000)
        expect(math_out.locator(".jc-codeblock pre code")).to_contain_text("3.14159")
        prose = math_out.locator("p").filter(has_text="it costs $5 and $10")
        expect(prose).to_have_count(1)
        assert prose.locator("mjx-container").count() == 3  # only the marked math is typeset
        math_out.scroll_into_view_if_needed()
        shot(page, "1-math-and-code")

        page.evaluate(RUN_INDEX_JS, 3)
        history = page.locator(".jp-Notebook .jp-Cell").nth(3).locator(".jc-history")
        expect(history).to_contain_text("payload script", timeout=20_000)
        expect(history).to_contain_text("Show me math and code")

        page.evaluate(RUN_INDEX_JS, 4)
        page.wait_for_timeout(1500)  # the enqueue cell has run
        before = panel.locator(".jc-list .jc-assistant").count()
        assert before >= len(PAYLOADS) + 1  # every cell turn reached the panel
        box = panel.locator("textarea.jc-input")
        box.click()
        box.fill("Answer from the panel, please")
        box.press("Enter")
        expect(panel.locator(".jc-list .jc-assistant")).to_have_count(before + 1, timeout=30_000)
        expect(
            panel.locator(".jc-list .jc-assistant")
            .last.locator("button[data-jc-action='copy']")
            .first
        ).to_be_visible()
        shot(page, "2-panel")

        page.wait_for_timeout(1000)  # give anything that would fire (onerror, refresh) time
        cells = page.locator(".jp-Notebook .jp-Cell")
        bad = [
            b
            for i in (1, 2, 3)
            for b in cells.nth(i).locator(".jp-OutputArea-output").evaluate_all(DOM_CHECK_JS, [])
        ]
        bad += panel.locator(".jc-body").evaluate_all(DOM_CHECK_JS, [])
        assert bad == [], bad[:20]
        assert page.evaluate("() => window.__jc_pwned") is None
        assert page.evaluate("() => document.querySelectorAll('.jc-answer').length") >= len(
            PAYLOADS
        )

        # The sessions browser page, same transcript, same browser.
        page = watched()
        page.goto(f"{lab.url}/jupychat/?token={lab.token}")
        page.locator("tr.jc-session .jc-title a").first.click()
        expect(page.locator(".jc-msg").first).to_be_visible(timeout=10_000)
        page.wait_for_timeout(500)
        # the page's own <details> (context, tool results) hold escaped text only
        bad = page.locator(".jc-md").evaluate_all(DOM_CHECK_JS, ["details"])
        assert bad == [], bad[:20]
        assert page.evaluate("() => window.__jc_pwned") is None
        shot(page, "3-sessions-page")
    except BaseException:
        shot(page, "failure")
        raise
    finally:
        context.close()
    assert dialogs == []
    assert any(urlsplit(u).hostname == "127.0.0.1" for u in requests)  # recording works
    outside = [
        u
        for u in requests
        if urlsplit(u).scheme in ("http", "https", "ws", "wss", "popup")
        and urlsplit(u).hostname not in ("127.0.0.1", "localhost")
    ]
    outside += [u for u in requests if u.startswith("popup ")]
    assert outside == [], outside[:20]
