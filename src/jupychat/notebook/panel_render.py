"""The chat panel's view of the safe renderer: code blocks with Copy / Insert below.

Design note: answers are converted in the kernel by :func:`jupychat.markdown.render` (the
one renderer every view uses: raw HTML escaped, links checked, images never fetched, math
kept as TeX), so the panel looks the same in JupyterLab, Notebook 7 and VS Code without a
front-end Markdown library. This module only adds what is the panel's own: for finished
answers, a small bar of "Copy" / "Insert below" buttons in each ``div.jc-codeblock``
(the front end wires them up by the block's ``data-index``; :func:`render_markdown`
returns the blocks' source so the kernel can insert block *i* into a cell), and the CSS.
The bar is inserted after the renderer's allowlist pass, built from constant markup and
the escaped language name; it is found by the exact opening tag of a code block, which
cannot occur in the renderer's output as text (every ``<`` in text is escaped).

Pygments token classes are coloured with JupyterLab's editor CSS variables (with plain
fallbacks), so highlighting follows the light or dark theme.
"""

from __future__ import annotations

import html
import re

from ..markdown import Rendered, highlight, render

__all__ = ["PANEL_CSS", "Rendered", "highlight", "render_markdown"]

_BLOCK_RE = re.compile(r'<div class="jc-codeblock" data-index="([0-9]+)">')


def _code_bar(language: str, replace: str | None = None) -> str:
    label = html.escape(language or "code")
    swap = ""
    if replace:
        cell = html.escape(replace)
        swap = (
            '<button type="button" class="jc-action jc-insert" data-jc-action="replace" '
            f'title="Replace the code of {cell} with this (Ctrl+Z in the cell undoes it)">'
            f"Replace {cell}</button>"
        )
    return (
        '<div class="jc-codebar">'
        f'<span class="jc-lang">{label}</span>'
        '<button type="button" class="jc-action" data-jc-action="copy" '
        'title="Copy this code to the clipboard">Copy</button>'
        '<button type="button" class="jc-action jc-insert" data-jc-action="insert" '
        'title="Put this code in a new cell below the active cell">Insert below</button>'
        f"{swap}</div>"
    )


def render_markdown(text: str, *, actions: bool = False, replace: str | None = None) -> Rendered:
    """Convert ``text`` (Markdown) to safe HTML for the panel.

    Parameters
    ----------
    text:
        The message text.
    actions:
        Give each code block a Copy / Insert below bar (for finished answers).
    replace:
        The label of the cell the question was about (``In [7]``): the bar also offers to
        replace that cell's code with the block.

    Returns
    -------
    Rendered
        The HTML and, in order, each code block's source and language.
    """
    out = render(text)
    if actions and out.codes:
        languages = out.languages

        def bar(match: re.Match[str]) -> str:
            index = int(match.group(1))
            lang = languages[index] if index < len(languages) else ""
            return match.group(0) + _code_bar(lang, replace)

        out.html = _BLOCK_RE.sub(bar, out.html)
    return out


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


PANEL_CSS = """
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
.jc-root .jc-body > :first-child, .jc-root .jc-rendered > :first-child { margin-top: 0; }
.jc-root .jc-body > :last-child, .jc-root .jc-rendered > :last-child { margin-bottom: 0; }
.jc-root .jc-body p { margin: 0.35em 0; }
.jc-root .jc-body table { border-collapse: collapse; margin: 0.4em 0; }
.jc-root .jc-body th, .jc-root .jc-body td { border: 1px solid var(--jp-border-color2, #ddd);
  padding: 2px 6px; }
.jc-root .jc-body code { font-family: var(--jp-code-font-family, monospace);
  font-size: var(--jp-code-font-size, 13px); background: var(--jp-layout-color2, #f3f3f3);
  padding: 0 2px; border-radius: 3px; }
.jc-root .jc-codeblock { margin: 0.4em 0; border: 1px solid var(--jp-border-color2, #ddd);
  border-radius: 4px; overflow: hidden; }
.jc-root .jc-codebar { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 6px;
  padding: 2px 6px; background: var(--jp-layout-color2, #f0f0f0); font-size: 0.8em; }
.jc-root .jc-codebar .jc-lang { flex: 1; color: var(--jp-ui-font-color2, #777);
  white-space: nowrap; }
.jc-root.jc-fixbar { display: flex; flex-wrap: wrap; align-items: center; gap: 6px;
  padding: 4px 0; font-size: 0.9em; }
.jc-root.jc-fixbar .jc-fixnote { color: var(--jp-ui-font-color2, #777); }
.jc-root .jc-action { font-size: 0.95em; cursor: pointer; white-space: nowrap; border: 1px solid
  var(--jp-border-color1, #bbb); background: var(--jp-layout-color1, #fff);
  color: var(--jp-ui-font-color1, #222); border-radius: 3px; padding: 0 6px; }
.jc-root .jc-action:hover { background: var(--jp-layout-color3, #ddd); }
.jc-root.jc-no-insert .jc-insert { display: none; }
.jc-root pre.jc-code { margin: 0; padding: 6px 8px; overflow-x: auto;
  background: var(--jp-cell-editor-background, #f7f7f7); }
.jc-root pre.jc-code code { background: transparent; padding: 0; white-space: pre; }
.jc-root .jc-math-display { margin: 0.4em 0; overflow-x: auto; }
.jc-root .jc-cursor::after { content: "▍"; animation: jc-blink 1s steps(2) infinite;
  color: var(--jp-ui-font-color2, #999); }
@keyframes jc-blink { 50% { opacity: 0; } }
.jc-root textarea.jc-input { width: 100%; box-sizing: border-box; resize: vertical;
  min-height: 3.2em; font-family: inherit; font-size: var(--jp-content-font-size1, 14px);
  padding: 4px 6px; border: 1px solid var(--jp-border-color1, #bbb); border-radius: 4px;
  background: var(--jp-layout-color0, #fff); color: var(--jp-content-font-color1, #222); }
.jc-root textarea.jc-input:focus { outline: 1px solid var(--jp-brand-color1, #1976d2); }
""" + _token_css()
