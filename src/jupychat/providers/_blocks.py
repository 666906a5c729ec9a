"""Anthropic content blocks we do not model: merging their stream deltas, and a line to show.

Design note: the Messages API keeps adding content block types (``server_tool_use``,
``web_search_tool_result``, ``web_fetch_tool_result``, ``bash_code_execution_tool_result``,
``mcp_tool_use``, ``mcp_tool_result``, ``container_upload``…) and delta types
(``citations_delta``, ``signature_delta``…). The parser keeps every block as received and
replays it as received (:mod:`._replay`); what it needs from here is a way to build a
block from its deltas without knowing the block's type (:func:`merge_delta`), and a short,
plain line that tells the user what a server-side tool did (:func:`block_note`). The
note is text the user reads: it names the tool, its input, and what came back (result
titles and URLs, a command's output, an error code), bounded in length; it is never
sent back to Anthropic (the blocks are) and it is rendered as text, never as HTML.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["block_note", "merge_delta"]

_NOTE_LIMIT = 600
_RESULTS_SHOWN = 5


def merge_delta(block: dict[str, Any], delta: Mapping[str, Any]) -> None:
    """Fold one ``content_block_delta`` into ``block`` whatever their types.

    Text pieces are appended to the field of the same name (``text``, ``thinking``,
    ``signature``), a ``citation`` joins the block's ``citations``, list pieces extend a
    list, anything else replaces the field. ``input_json_delta`` is handled by the
    parser (the JSON is only whole at the block's end).
    """
    for key, value in delta.items():
        if key == "type":
            continue
        if key == "citation":
            block.setdefault("citations", []).append(value)
            continue
        current = block.get(key)
        if isinstance(value, str) and isinstance(current, str):
            block[key] = current + value
        elif isinstance(value, list) and isinstance(current, list):
            current.extend(value)
        else:
            block[key] = value


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _results(content: list[Any]) -> str:
    found = [c for c in content if isinstance(c, Mapping) and (c.get("url") or c.get("title"))]
    if not found:
        return f"{len(content)} item(s)"
    shown = [
        f"{_short(c.get('title') or c.get('url'), 80)} <{_short(c.get('url') or '', 120)}>"
        for c in found[:_RESULTS_SHOWN]
    ]
    more = f"; {len(found) - _RESULTS_SHOWN} more" if len(found) > _RESULTS_SHOWN else ""
    return f"{len(found)} result(s): " + "; ".join(shown) + more


def _outcome(content: Any) -> str:
    """What a tool result block's ``content`` holds, in a few words."""
    if isinstance(content, list):
        return _results(content)
    if not isinstance(content, Mapping):
        return _short(content) if content else ""
    if content.get("error_code"):
        return f"error {_short(content['error_code'], 60)}"
    if "stdout" in content or "stderr" in content or "return_code" in content:
        out = str(content.get("stdout") or "").strip()
        err = str(content.get("stderr") or "").strip()
        code = content.get("return_code")
        bits = [f"exit {code}"] if code is not None else []
        if out:
            bits.append(out)
        if err:
            bits.append(f"stderr: {err}")
        return "\n".join(bits)
    if content.get("url"):
        return f"<{_short(content['url'], 160)}>"
    inner = content.get("content")
    if inner is not None and inner is not content:
        return _outcome(inner)
    return _short({k: v for k, v in content.items() if k != "type"}) if len(content) > 1 else ""


def block_note(block: Mapping[str, Any]) -> str:
    """A line saying what a block we do not model did, or ``""`` (nothing worth showing).

    ``server_tool_use`` / ``mcp_tool_use`` and the like: ``[web_search: {"query": …}]``;
    their results: ``[web_search_tool_result: 3 result(s): Title <url>; …]``.
    """
    kind = str(block.get("type") or "")
    if kind.endswith("tool_use") and kind != "tool_use":
        name = block.get("name") or kind
        server = f"{block['server_name']}." if block.get("server_name") else ""
        return f"[{server}{_short(name, 60)}: {_short(block.get('input') or {})}]"
    if kind.endswith("tool_result") and kind != "tool_result":
        outcome = _outcome(block.get("content"))
        if block.get("is_error"):
            outcome = f"error: {outcome}" if outcome else "error"
        note = f"[{kind}: {outcome}]" if outcome else f"[{kind}]"
        return note if len(note) <= _NOTE_LIMIT else note[: _NOTE_LIMIT - 2] + "…]"
    return ""
