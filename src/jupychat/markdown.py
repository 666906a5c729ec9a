"""The one renderer for model answers: Markdown to HTML that cannot run script or fetch.

Design note: an answer is untrusted input (a prompt injection in a CSV, a web page or a
tool result can make the model write anything), and JupyterLab puts HTML produced by the
live kernel into the page without sanitising it. So every view that shows an answer (the
cell output, ``%chat history``, the chat panel, the sessions browser) calls
:func:`render`, which works in two independent layers:

1. **markdown-it-py** (CommonMark + tables + strikethrough, imported lazily) with raw HTML
   *off*: ``<tag>`` text, block or inline, is escaped, never passed through. Links and
   autolinks keep their target only for :data:`LINK_SCHEMES` (judged after entity
   decoding, so ``&#106;avascript:`` is refused too); a refused link keeps its text and
   loses its target. Images are never fetched: ``![alt](url)`` becomes a link labelled
   ``[image: alt]``. Code blocks are highlighted with Pygments and numbered
   (``data-index``) so views can add actions. Math (``$…$``, ``$$…$$``, ``\\(…\\)``,
   ``\\[…\\]``) is parsed before any other inline rule, so ``_`` and ``*`` inside it stay
   TeX, and is written back HTML-escaped, delimiters kept, in a ``mathjax_process``
   element. The whole answer sits in a ``mathjax_ignore`` element, so JupyterLab's MathJax
   typesets only those math elements (a ``$`` in prose is never taken for math). TeX
   commands that make MathJax emit links, CSS, attributes, global macros or load code
   (``\\href``, ``\\style``, ``\\require``...) are refused: such math is shown as code.
2. **An allowlist pass** (stdlib ``html.parser``) over the result, whatever layer 1 did:
   only :data:`ALLOWED_TAGS`, only the attributes listed per tag, ``href`` checked again
   (:func:`safe_href`), links forced to ``rel="noopener noreferrer nofollow"
   target="_blank"``, unknown ``class`` names and any ``style`` other than a table cell's
   ``text-align`` dropped, text re-escaped, tags balanced. No ``src``, ``on*``,
   ``<style>`` or ``<script>`` can come out. Code block bodies are filled in after this
   pass (Pygments' thousands of spans would dominate its cost), each accepted only if its
   markup is nothing but Pygments class spans, else written as escaped text.

:func:`terminal_text` is the terminal's counterpart: it makes control characters visible
so an answer cannot move the cursor, overwrite lines or write the clipboard (OSC 52).

No IPython, ipywidgets or pandas here; markdown-it-py and Pygments load on first use.
"""

from __future__ import annotations

import bisect
import functools
import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

__all__ = [
    "ALLOWED_TAGS",
    "LINK_SCHEMES",
    "Rendered",
    "highlight",
    "render",
    "safe_href",
    "sanitize_html",
    "terminal_text",
]

LINK_SCHEMES = frozenset({"http", "https", "mailto"})
"""The only URL schemes a rendered link may point to (no relative links either)."""

# fmt: off
ALLOWED_TAGS = frozenset({
    "a", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
})
# fmt: on
"""Every tag :func:`sanitize_html` lets through."""

_VOID = frozenset({"br", "hr"})
_ATTRS: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "div": frozenset({"data-index"}),
    "ol": frozenset({"start"}),
    "td": frozenset({"style"}),
    "th": frozenset({"style"}),
}
_LINK_ATTRS = (("rel", "noopener noreferrer nofollow"), ("target", "_blank"))
_CLASS_RE = re.compile(
    r"^(?:jc-[a-z0-9-]{1,40}|language-[A-Za-z0-9_+#.-]{1,40}|highlight|mathjax_ignore"
    r"|mathjax_process|[a-z]{1,3}[0-9]?)$"
)
_ALIGN_RE = re.compile(r"^text-align:\s*(?:left|center|right);?$")
_DIGITS_RE = re.compile(r"^[0-9]{1,9}$")
# Browsers drop C0 controls and spaces around a URL and tabs/newlines inside it; a URL
# with any of them (or C1 controls) is refused rather than second-guessed.
_URL_NOISE_RE = re.compile(r"[\x00-\x20\x7f-\x9f]")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_WRAPPER = '<div class="jc-rendered mathjax_ignore">{}</div>'


@dataclass
class Rendered:
    """HTML for one message and the source and language of each code block, in order."""

    html: str
    codes: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)


def safe_href(url: str) -> str | None:
    """``url`` if a browser would open it with an allowed scheme, else ``None``.

    Relative, protocol-relative and scheme-less URLs are refused as well, and so is any
    URL holding a space or control character (Markdown percent-encodes those).
    """
    url = url.strip(" ")
    if _URL_NOISE_RE.search(url):  # controls or spaces: refused, not guessed at
        return None
    match = _SCHEME_RE.match(url)
    if match is None or match.group(1).lower() not in LINK_SCHEMES:
        return None
    return url


# -- layer 2: the allowlist -------------------------------------------------------------------


class _Allowlist(HTMLParser):
    """Re-emits only allowlisted tags and attributes; all text escaped; tags balanced."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            return
        kept: list[tuple[str, str]] = []
        allowed = _ATTRS.get(tag, frozenset())
        for name, value in attrs:
            value = value or ""
            if name == "class":
                names = [c for c in value.split() if _CLASS_RE.match(c)]
                if names:
                    kept.append(("class", " ".join(names)))
            elif name not in allowed:
                continue
            elif name == "href":
                if safe_href(value) is not None:
                    kept.append((name, value))
            elif name == "style":
                if _ALIGN_RE.match(value.strip()):
                    kept.append((name, value.strip()))
            elif name in ("data-index", "start"):
                if _DIGITS_RE.match(value):
                    kept.append((name, value))
            else:
                kept.append((name, value))
        if tag == "a" and any(name == "href" for name, _ in kept):
            kept.extend(_LINK_ATTRS)
        text = "".join(f' {name}="{html.escape(value, quote=True)}"' for name, value in kept)
        self.out.append(f"<{tag}{text}>")
        if tag not in _VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and self.open and self.open[-1] == tag:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.open:
            return
        while self.open:
            top = self.open.pop()
            self.out.append(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))

    def close(self) -> None:
        super().close()
        while self.open:
            self.out.append(f"</{self.open.pop()}>")


def sanitize_html(markup: str) -> str:
    """``markup`` reduced to :data:`ALLOWED_TAGS` and their allowed attributes.

    Comments, declarations and every other tag are dropped (their text kept, escaped);
    ``href`` must pass :func:`safe_href`; links get ``rel``/``target``.
    """
    parser = _Allowlist()
    parser.feed(markup)
    parser.close()
    return "".join(parser.out)


# -- layer 1: Markdown ----------------------------------------------------------------------


def highlight(code: str, language: str = "") -> str:
    """``code`` as HTML spans with Pygments token classes (escaped text if unknown).

    Results are cached: while an answer streams, its finished code blocks are rendered
    again on every update, and only the growing one needs Pygments.
    """
    name = (language or "").strip().lower()
    if len(code) > 20_000:  # big blocks are not worth keeping
        return _highlight.__wrapped__(code, name)
    return _highlight(code, name)


@functools.lru_cache(maxsize=256)
def _highlight(code: str, name: str) -> str:
    if not name:
        return html.escape(code, quote=False)
    try:
        from pygments import highlight as _pygments
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound
    except ImportError:  # pragma: no cover - Pygments ships with IPython
        return html.escape(code, quote=False)
    try:
        lexer = get_lexer_by_name(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return html.escape(code, quote=False)
    return str(_pygments(code, lexer, HtmlFormatter(nowrap=True)))


def _code_html(info: str, index: int) -> str:
    """A code block, its body left as a placeholder that :func:`render` fills in."""
    lang = info.split()[0] if info.split() else ""
    safe_lang = re.sub(r"[^A-Za-z0-9_+#.-]", "", lang)[:40]
    lang_class = f' class="language-{safe_lang}"' if safe_lang else ""
    return (
        f'<div class="jc-codeblock" data-index="{index}">'
        f'<pre class="jc-code highlight"><code{lang_class}>\x00{index}\x00</code></pre></div>\n'
    )


# Pygments' own markup (nowrap): class spans around escaped text, nothing else.
_PYGMENTS_TAG_RE = re.compile(r'<span class="[a-z0-9 ]{1,40}">|</span>')
_PLACEHOLDER_RE = re.compile("\x00([0-9]+)\x00")


def _code_body(code: str, language: str, colour: bool) -> str:
    """Highlighted ``code`` if its markup is only Pygments class spans, else escaped text."""
    if colour:
        body = highlight(code, language)
        rest = _PYGMENTS_TAG_RE.sub("", body)
        if "<" not in rest and ">" not in rest:
            return body
    return html.escape(code, quote=False)


# TeX commands that give MathJax links, CSS, classes/ids/attributes, page-global macros,
# or code loading. Math using any of them is shown as code, never typeset.
_TEX_DENIED = re.compile(
    r"\\(?:href|url|class|cssId|style|data|html|require|mmlToken|unicode|bbox|setOptions"
    r"|def|gdef|edef|xdef|let|futurelet|global|newcommand|renewcommand|providecommand"
    r"|newenvironment|renewenvironment|DeclareMathOperator|Newextarrow|definecolor"
    r"|newcolumntype|mathtoolsset|DeclarePairedDelimiter[A-Za-z]*|newtagform|renewtagform)"
    r"(?![A-Za-z])"
)
_BLOCK_MATH = (("$$", "$$"), ("\\[", "\\]"))
_MAX_BLOCK_LINES = 400


def _positions(env: dict[str, Any], src: str, needle: str) -> list[int]:
    """Sorted start offsets of ``needle`` in ``src`` (computed once per paragraph)."""
    cache = env.setdefault("_jc_math", {})
    key = (src, needle)
    if key not in cache:
        if needle == "$":  # a closing single $: text before it, not escaped, no digit after
            found = [m.start() for m in re.finditer(r"(?<=[^\s\\$])\$(?![0-9$])", src)]
        else:
            found = [m.start() for m in re.finditer(re.escape(needle), src)]
        cache[key] = found
    return cache[key]


def _next(env: dict[str, Any], src: str, needle: str, start: int, end: int) -> int:
    found = _positions(env, src, needle)
    i = bisect.bisect_left(found, start)
    return found[i] if i < len(found) and found[i] < end else -1


def _math_inline(state: Any, silent: bool) -> bool:
    src, pos, end = state.src, state.pos, state.posMax
    if src.startswith("\\(", pos) or src.startswith("\\[", pos):
        opener = src[pos : pos + 2]
        closer = "\\)" if opener == "\\(" else "\\]"
        start = pos + 2
        close = _next(state.env, src, closer, start, end)
    elif src.startswith("$$", pos):
        opener = closer = "$$"
        start = pos + 2
        close = _next(state.env, src, closer, start, end)
    elif src.startswith("$", pos):
        if pos + 1 >= end or src[pos + 1].isspace():
            return False
        opener = closer = "$"
        start = pos + 1
        close = _next(state.env, src, "$", start + 1, end)  # at least one character
    else:
        return False
    if close < 0 or close == start:
        return False
    if not silent:
        token = state.push("math_inline", "math", 0)
        token.content = src[start:close]
        token.markup = opener
        token.info = closer
    state.pos = close + len(closer)
    return True


def _closer_lines(state: Any, closer: str) -> list[int]:
    """Lines of the source that end with ``closer`` (found once per render)."""
    cache = state.env.setdefault("_jc_block_closers", {})
    if closer not in cache:
        pattern = re.escape(closer) + r"[ \t]*(?=\n|\Z)"
        ends = {m.end() for m in re.finditer(pattern, state.src)}
        cache[closer] = [i for i, end in enumerate(state.eMarks) if end in ends]
    return cache[closer]


def _math_block(state: Any, start_line: int, end_line: int, silent: bool) -> bool:
    if state.sCount[start_line] - state.blkIndent >= 4:
        return False
    begin = state.bMarks[start_line] + state.tShift[start_line]
    first = state.src[begin : state.eMarks[start_line]]
    pair = next((p for p in _BLOCK_MATH if first.startswith(p[0])), None)
    if pair is None:
        return False
    opener, closer = pair
    rest = first[len(opener) :].rstrip()
    lines: list[str] = []
    line = start_line
    if rest.endswith(closer) and rest[: -len(closer)].strip():
        lines.append(rest[: -len(closer)])  # $$ x $$ on one line
    else:
        closers = _closer_lines(state, closer)
        found = bisect.bisect_right(closers, start_line)
        if found == len(closers):
            return False
        line = closers[found]
        if line >= end_line or line - start_line > _MAX_BLOCK_LINES:
            return False
        lines.append(rest)
        for inner in range(start_line + 1, line + 1):
            text_start = state.bMarks[inner] + state.tShift[inner]
            if text_start < state.eMarks[inner] and state.sCount[inner] < state.blkIndent:
                return False  # left the container (list item, quote) before closing
            lines.append(state.src[text_start : state.eMarks[inner]].rstrip())
        lines[-1] = lines[-1][: -len(closer)]
    if not "\n".join(lines).strip():
        return False
    if silent:
        return True
    state.line = line + 1
    token = state.push("math_block", "math", 0)
    token.block = True
    token.content = "\n".join(lines).strip("\n")
    token.markup = opener
    token.info = closer
    token.map = [start_line, state.line]
    return True


def _math_html(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    source = f"{token.markup}{token.content}{token.info}"
    if _TEX_DENIED.search(token.content):
        return f'<code class="jc-math-raw">{html.escape(source)}</code>'
    display = token.markup in ("$$", "\\[")
    kind = "jc-math jc-math-display" if display else "jc-math"
    tag = "div" if token.block else "span"
    return f'<{tag} class="{kind} mathjax_process">{html.escape(source)}</{tag}>'


def _drop_unsafe_links(state: Any) -> None:
    """Core rule: a link whose target is refused keeps its text and loses the ``<a>``."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        stack: list[Any] = []
        for token in block.children:
            if token.type == "link_open":
                ok = safe_href(str(token.attrGet("href") or "")) is not None
                stack.append((token, ok))
                if not ok:
                    token.type = "jc_skip"
            elif token.type == "link_close" and stack:
                _, ok = stack.pop()
                if not ok:
                    token.type = "jc_skip"


_parser: Any = None


def _markdown_it() -> Any:
    """The shared parser (built on first use; markdown-it-py is imported lazily)."""
    global _parser
    if _parser is not None:
        return _parser
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    # Parse every link (so a refused one still reads as its text, and a reference
    # definition never shows as a stray line); jc_links and the image rule judge targets.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    md.inline.ruler.before("escape", "jc_math", _math_inline)
    md.block.ruler.before(
        "fence",
        "jc_math_block",
        _math_block,
        {"alt": ["paragraph", "reference", "blockquote", "list"]},
    )
    md.core.ruler.push("jc_links", _drop_unsafe_links)

    def fence(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        info = token.info.strip() if token.type == "fence" else ""
        env["codes"].append(token.content.rstrip("\n"))
        env["languages"].append(info.split()[0] if info else "")
        return _code_html(info, len(env["codes"]) - 1)

    def image(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        alt = self.renderInlineAsText(token.children, options, env).strip()
        label = html.escape(f"[image: {alt}]" if alt else "[image]")
        href = safe_href(str(token.attrGet("src") or ""))
        if href is None or env["links_open"]:  # no link inside a link
            return label
        title = token.attrGet("title")
        tip = f' title="{html.escape(str(title))}"' if title else ""
        rel = "".join(f' {name}="{value}"' for name, value in _LINK_ATTRS)
        return f'<a class="jc-image-link" href="{html.escape(href)}"{tip}{rel}>{label}</a>'

    def link_open(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        env["links_open"] += 1
        for name, value in _LINK_ATTRS:
            tokens[idx].attrSet(name, value)
        return str(self.renderToken(tokens, idx, options, env))

    def link_close(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        env["links_open"] -= 1
        return "</a>"

    md.add_render_rule("fence", fence)
    md.add_render_rule("code_block", fence)
    md.add_render_rule("image", image)
    md.add_render_rule("link_open", link_open)
    md.add_render_rule("link_close", link_close)
    md.add_render_rule("jc_skip", lambda *args: "")
    md.add_render_rule("math_inline", _math_html)
    md.add_render_rule("math_block", _math_html)
    _parser = md
    return md


def render(text: str, *, highlight: bool = True) -> Rendered:
    """Convert an answer (Markdown) to HTML that is safe to put in a live page.

    Parameters
    ----------
    text:
        The message text: Markdown, possibly hostile.
    highlight:
        Colour code blocks with Pygments token classes (the view supplies the CSS).

    Returns
    -------
    Rendered
        The HTML (one ``div.jc-rendered.mathjax_ignore``) and, in order, each code
        block's source and language.
    """
    env: dict[str, Any] = {"codes": [], "languages": [], "highlight": highlight, "links_open": 0}
    body = _markdown_it().render(text, env)
    codes, languages = env["codes"], env["languages"]

    def code(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return _code_body(codes[index], languages[index], highlight)

    # Code blocks are filled in after the allowlist pass (their Pygments spans would be
    # most of its work) and checked on their own. The placeholders cannot be forged: the
    # parser turns every NUL of the input into U+FFFD.
    safe = _PLACEHOLDER_RE.sub(code, sanitize_html(body))
    return Rendered(_WRAPPER.format(safe), codes, languages)


# -- terminals ---------------------------------------------------------------------------------

_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char == "\r":
        return ""
    if code < 0x20:
        return chr(0x2400 + code)  # ␛ for ESC, ␇ for BEL...
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<U+{code:04X}>"


def terminal_text(text: str) -> str:
    """``text`` with every control character made visible (newlines and tabs kept).

    ESC, BEL and the other C0 controls become their Unicode "control picture" (``␛``...),
    C1 controls (a one-byte CSI or OSC) and bidirectional overrides become ``<U+XXXX>``,
    and carriage returns are removed, so an answer cannot move the cursor, recolour or
    overwrite the terminal, or set the clipboard. Works chunk by chunk while streaming.
    """
    return _CONTROL_RE.sub(_visible, text)
