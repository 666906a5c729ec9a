"""Safe HTML for the sessions browser: Markdown, search snippets, message views.

Design note: model output is untrusted text. Message Markdown goes through the one
renderer every view uses, :func:`jupychat.markdown.render` (raw HTML escaped, links only
http/https/mailto, images turned into links so a transcript never fetches a remote URL,
math kept as escaped TeX); code is not colour-highlighted here (the page has no Pygments
stylesheet). Everything else is escaped with ``markupsafe``. The page's
Content-Security-Policy (see ``pages.py``) is a second fence.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from markupsafe import Markup, escape

from ..markdown import render

__all__ = [
    "ROLE_LABELS",
    "format_time",
    "markdown_html",
    "message_view",
    "snippet_html",
]

ROLE_LABELS = {"user": "You", "assistant": "Assistant", "system": "System", "tool": "Tool"}
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def markdown_html(text: str) -> Markup:
    """Markdown to HTML with raw HTML escaped and unsafe URLs neutralised.

    Stored messages never change, so renderings of texts up to 20,000 characters are
    kept in a small LRU cache (a transcript page seen twice renders once).
    """
    if len(text) <= _CACHE_MAX_TEXT:
        return _cached_markdown(text)
    return _markdown(text)


def _markdown(text: str) -> Markup:
    return Markup(render(text, highlight=False).html)


_CACHE_MAX_TEXT = 20_000
_cached_markdown = functools.lru_cache(maxsize=1024)(_markdown)


def snippet_html(snippet: str) -> Markup:
    """A search snippet (matches marked ``**like this**`` by the store) as escaped HTML."""
    escaped = str(escape(snippet))
    return Markup(re.sub(r"\*\*(.+?)\*\*", r"<mark>\1</mark>", escaped))


def format_time(value: Any) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM`` UTC (the page localises it in the browser)."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _pre(text: str, css: str = "") -> Markup:
    return Markup('<pre class="{}">{}</pre>').format(css, text)


def _image(part: Mapping[str, Any]) -> Markup:
    media = str(part.get("media_type", ""))
    data = str(part.get("data", ""))
    if media in _IMAGE_TYPES:
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            pass
        else:
            return Markup(
                '<img class="jc-image" alt="attached image" src="data:{};base64,{}">'
            ).format(media, data)
    return Markup('<p class="jc-note">[image: {}]</p>').format(media or "unknown type")


def _part_html(part: Mapping[str, Any]) -> Markup:
    kind = part.get("type")
    if kind == "text":
        return markdown_html(str(part.get("text", "")))
    if kind == "context":
        return Markup(
            '<details class="jc-context"><summary>context: {}</summary>{}</details>'
        ).format(part.get("key", ""), _pre(str(part.get("text", ""))))
    if kind == "image":
        return _image(part)
    if kind == "tool_call":
        args = json.dumps(part.get("arguments", {}), ensure_ascii=False, indent=2)
        return Markup('<div class="jc-tool"><p>tool call <code>{}</code></p>{}</div>').format(
            part.get("name", ""), _pre(args)
        )
    if kind == "tool_result":
        label = "tool error" if part.get("is_error") else "tool result"
        return Markup(
            '<details class="jc-tool"><summary>{} <code>{}</code></summary>{}</details>'
        ).format(label, part.get("name", ""), _pre(str(part.get("content", ""))))
    return Markup('<p class="jc-note">[{} part]</p>').format(kind or "unknown")


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def message_view(message: Mapping[str, Any], index: int) -> dict[str, Any]:
    """What the transcript template shows for one stored message (all HTML escaped)."""
    from .._compaction import summary_label

    role = str(message.get("role", ""))
    raw_usage = message.get("usage")
    usage: Mapping[str, Any] = raw_usage if isinstance(raw_usage, Mapping) else {}
    tokens = _count(usage.get("input_tokens")) + _count(usage.get("output_tokens"))
    content = message.get("content")
    parts = (
        [_part_html(p) for p in content if isinstance(p, Mapping)]
        if isinstance(content, list)
        else []
    )
    reasoning = message.get("reasoning")
    return {
        "index": index,
        "role": role,
        "label": summary_label(message) or ROLE_LABELS.get(role, role.title() or "Message"),
        "model": message.get("model") if role == "assistant" else None,
        "created_at": message.get("created_at") or "",
        "time": format_time(message.get("created_at")),
        "tokens": tokens,
        "interrupted": bool(message.get("interrupted")),
        "reasoning": _pre(str(reasoning)) if reasoning else None,
        "parts": parts,
    }
