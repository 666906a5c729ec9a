"""Markdown to safe HTML for the chat panel, with highlighted, actionable code blocks.

Design note: answers are converted in the kernel with ``markdown-it-py`` (CommonMark plus
tables and strikethrough) and code is highlighted with Pygments, so the panel looks the
same in JupyterLab, Notebook 7 and VS Code without any front-end Markdown library. Raw
HTML in a message is *escaped* (``html=False``) and markdown-it refuses ``javascript:``
links, so a model cannot inject markup or script into the panel. Every fenced or indented
code block becomes a ``div.jc-codeblock`` with its index, and, for answers, a small bar of
"Copy" / "Insert below" buttons that the front end wires up; :func:`render_markdown` also
returns the blocks' source so the kernel can insert block *i* into a cell.

Without markdown-it-py the text is shown escaped, paragraphs kept, and code fences still
become code blocks (found with :func:`jupychat.notebook.render.code_blocks`' pattern).

Pygments token classes are coloured with JupyterLab's editor CSS variables (with plain
fallbacks), so highlighting follows the light or dark theme.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PANEL_CSS", "Rendered", "highlight", "render_markdown"]


@dataclass
class Rendered:
    """HTML for one message and the source of each code block, in order."""

    html: str
    codes: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)


def highlight(code: str, language: str = "") -> str:
    """``code`` as HTML spans with Pygments token classes (escaped text if unknown)."""
    try:
        from pygments import highlight as _pyg_highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound
    except ImportError:  # pragma: no cover - Pygments ships with IPython
        return html.escape(code)
    name = (language or "").strip().lower()
    if not name:
        return html.escape(code)
    try:
        lexer = get_lexer_by_name(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return html.escape(code)
    return str(_pyg_highlight(code, lexer, HtmlFormatter(nowrap=True)))


def _code_html(code: str, language: str, index: int, actions: bool) -> str:
    lang = (language or "").split()[0] if language else ""
    label = html.escape(lang or "code")
    bar = ""
    if actions:
        bar = (
            '<div class="jc-codebar">'
            f'<span class="jc-lang">{label}</span>'
            '<button type="button" class="jc-action" data-jc-action="copy" '
            'title="Copy this code to the clipboard">Copy</button>'
            '<button type="button" class="jc-action jc-insert" data-jc-action="insert" '
            'title="Put this code in a new cell below the active cell">Insert below</button>'
            "</div>"
        )
    body = highlight(code.rstrip("\n"), lang)
    lang_class = f" language-{html.escape(lang, quote=True)}" if lang else ""
    return (
        f'<div class="jc-codeblock" data-index="{index}">{bar}'
        f'<pre class="jc-code highlight"><code class="{lang_class.strip()}">{body}</code></pre>'
        "</div>"
    )


_parser: Any = None


def _markdown_it() -> Any:
    """The shared markdown-it parser, or ``None`` when markdown-it-py is missing."""
    global _parser
    if _parser is None:
        try:
            from markdown_it import MarkdownIt
        except ImportError:
            _parser = False
            return None
        md = MarkdownIt("commonmark", {"html": False, "breaks": False, "typographer": False})
        md.enable(["table", "strikethrough"])

        def fence(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
            token = tokens[idx]
            info = token.info.strip() if token.type == "fence" else ""
            codes = env.setdefault("codes", [])
            langs = env.setdefault("languages", [])
            codes.append(token.content.rstrip("\n"))
            langs.append(info.split()[0] if info else "")
            return _code_html(token.content, info, len(codes) - 1, env.get("actions", False))

        md.add_render_rule("fence", fence)
        md.add_render_rule("code_block", fence)

        def link_open(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
            tokens[idx].attrSet("target", "_blank")
            tokens[idx].attrSet("rel", "noopener noreferrer")
            return str(self.renderToken(tokens, idx, options, env))

        md.add_render_rule("link_open", link_open)
        _parser = md
    return _parser or None


_FENCE_RE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:\n```[^\n]*|\Z)", re.DOTALL)


def _plain(text: str, actions: bool) -> Rendered:
    """The fallback renderer: escaped paragraphs and fenced code blocks."""
    out = Rendered("")
    pieces: list[str] = []
    pos = 0
    for match in _FENCE_RE.finditer(text):
        pieces.extend(_paragraphs(text[pos : match.start()]))
        lang, code = match.group(1), match.group(2)
        out.codes.append(code.rstrip("\n"))
        out.languages.append(lang)
        pieces.append(_code_html(code, lang, len(out.codes) - 1, actions))
        pos = match.end()
    pieces.extend(_paragraphs(text[pos:]))
    out.html = "".join(pieces)
    return out


def _paragraphs(text: str) -> list[str]:
    return [
        "<p>" + html.escape(block.strip()).replace("\n", "<br>") + "</p>"
        for block in re.split(r"\n\s*\n", text)
        if block.strip()
    ]


def render_markdown(text: str, *, actions: bool = False) -> Rendered:
    """Convert ``text`` (Markdown) to safe HTML.

    Parameters
    ----------
    text:
        The message text.
    actions:
        Give each code block a Copy / Insert below bar (for finished answers).

    Returns
    -------
    Rendered
        The HTML and, in order, each code block's source and language.
    """
    md = _markdown_it()
    if md is None:
        return _plain(text, actions)
    env: dict[str, Any] = {"actions": actions}
    body = md.render(text, env)
    return Rendered(body, list(env.get("codes", [])), list(env.get("languages", [])))


# Pygments short token classes -> JupyterLab editor colour variables (with fallbacks).
_TOKEN_COLOURS = {
    "k kc kd kn kp kr kt ow": ("--jp-mirror-editor-keyword-color", "#008000", "bold"),
    "s s1 s2 sa sb sc sd se sh si sr ss sx dl": ("--jp-mirror-editor-string-color", "#ba2121", ""),
    "m mb mf mh mi mo il": ("--jp-mirror-editor-number-color", "#080", ""),
    "c c1 cm ch cp cpf cs": ("--jp-mirror-editor-comment-color", "#408080", "italic"),
    "o": ("--jp-mirror-editor-operator-color", "#aa22ff", "bold"),
    "p": ("--jp-mirror-editor-punctuation-color", "#05a", ""),
    "nb bp": ("--jp-mirror-editor-builtin-color", "#008000", ""),
    "nf fm": ("--jp-mirror-editor-def-color", "#00f", ""),
    "nc nn": ("--jp-mirror-editor-def-color", "#00f", "bold"),
    "nd": ("--jp-mirror-editor-meta-color", "#aa22ff", ""),
    "ne": ("--jp-mirror-editor-error-color", "#d2413a", "bold"),
    "nt": ("--jp-mirror-editor-tag-color", "#170", ""),
    "na": ("--jp-mirror-editor-attribute-color", "#00c", ""),
    "gd": ("--jp-mirror-editor-error-color", "#a00000", ""),
    "gi": ("--jp-mirror-editor-string-color", "#00a000", ""),
}


def _token_css() -> str:
    rules = []
    for classes, (var, fallback, weight) in _TOKEN_COLOURS.items():
        selector = ", ".join(f".jc-root .highlight .{c}" for c in classes.split())
        extra = ""
        if weight == "bold":
            extra = " font-weight: bold;"
        elif weight == "italic":
            extra = " font-style: italic;"
        rules.append(f"{selector} {{ color: var({var}, {fallback});{extra} }}")
    return "\n".join(rules)


PANEL_CSS = (
    """
.jc-root { font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  font-size: var(--jp-content-font-size1, 14px); color: var(--jp-content-font-color1, #222);
  box-sizing: border-box; }
.jc-root .jc-scroll { overflow-y: auto; display: flex; flex-direction: column;
  padding: 4px 2px; }
.jc-root .jc-empty { color: var(--jp-ui-font-color2, #777); font-style: italic; padding: 8px; }
.jc-root .jc-msg { margin: 4px 0; padding: 6px 10px; border-radius: 6px; line-height: 1.45;
  overflow-wrap: anywhere; }
.jc-root .jc-user { background: var(--jp-layout-color2, #eef1f5); margin-left: 12%; }
.jc-root .jc-assistant { background: var(--jp-layout-color1, #fff);
  border: 1px solid var(--jp-border-color2, #e0e0e0); }
.jc-root .jc-error { color: var(--jp-error-color1, #c62828); background: transparent;
  padding: 2px 10px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.jc-root .jc-note { color: var(--jp-ui-font-color2, #777); font-size: 0.9em; padding: 2px 10px; }
.jc-root .jc-label { font-size: 0.78em; color: var(--jp-ui-font-color2, #777);
  margin-bottom: 2px; }
.jc-root .jc-footer { font-size: 0.78em; color: var(--jp-ui-font-color2, #777); margin-top: 4px; }
.jc-root .jc-body > :first-child { margin-top: 0; }
.jc-root .jc-body > :last-child { margin-bottom: 0; }
.jc-root .jc-body p { margin: 0.35em 0; }
.jc-root .jc-body table { border-collapse: collapse; margin: 0.4em 0; }
.jc-root .jc-body th, .jc-root .jc-body td { border: 1px solid var(--jp-border-color2, #ddd);
  padding: 2px 6px; }
.jc-root .jc-body code { font-family: var(--jp-code-font-family, monospace);
  font-size: var(--jp-code-font-size, 13px); background: var(--jp-layout-color2, #f3f3f3);
  padding: 0 2px; border-radius: 3px; }
.jc-root .jc-codeblock { margin: 0.4em 0; border: 1px solid var(--jp-border-color2, #ddd);
  border-radius: 4px; overflow: hidden; }
.jc-root .jc-codebar { display: flex; align-items: center; gap: 6px; padding: 2px 6px;
  background: var(--jp-layout-color2, #f0f0f0); font-size: 0.8em; }
.jc-root .jc-codebar .jc-lang { flex: 1; color: var(--jp-ui-font-color2, #777); }
.jc-root .jc-action { font-size: 0.95em; cursor: pointer; border: 1px solid
  var(--jp-border-color1, #bbb); background: var(--jp-layout-color1, #fff);
  color: var(--jp-ui-font-color1, #222); border-radius: 3px; padding: 0 6px; }
.jc-root .jc-action:hover { background: var(--jp-layout-color3, #ddd); }
.jc-root.jc-no-insert .jc-insert { display: none; }
.jc-root pre.jc-code { margin: 0; padding: 6px 8px; overflow-x: auto;
  background: var(--jp-cell-editor-background, #f7f7f7); }
.jc-root pre.jc-code code { background: transparent; padding: 0; white-space: pre; }
.jc-root .jc-cursor::after { content: "▍"; animation: jc-blink 1s steps(2) infinite;
  color: var(--jp-ui-font-color2, #999); }
@keyframes jc-blink { 50% { opacity: 0; } }
.jc-root textarea.jc-input { width: 100%; box-sizing: border-box; resize: vertical;
  min-height: 3.2em; font-family: inherit; font-size: var(--jp-content-font-size1, 14px);
  padding: 4px 6px; border: 1px solid var(--jp-border-color1, #bbb); border-radius: 4px;
  background: var(--jp-layout-color0, #fff); color: var(--jp-content-font-color1, #222); }
.jc-root textarea.jc-input:focus { outline: 1px solid var(--jp-brand-color1, #1976d2); }
"""
    + _token_css()
)
