"""Where a Messages API request gets its prompt-cache marks (``cache_control``).

Design note: Anthropic caches a prompt prefix only up to a block marked
``cache_control: {"type": "ephemeral"}``, takes at most 4 marks a request, and lets a
later request read the longest marked prefix it repeats (looking back at most ~20 blocks
from each of its marks). The prefix is tools → system → messages, and a session's
request is its previous request plus the answer and the new question: context blocks
ride on the user message that first sent them, so history is never rewritten and
changed context (a new inventory, a changed frame) lands at the end, after everything
already cached. The payload is serialised in insertion order (never sorted keys), so
the same history gives the same bytes every time.

The marks, in order of value (fewer when ``request.extra`` brings its own):

1. the last block of the last message, so the next call reads everything sent now;
2. the last block of the user message before it: the previous call's mark 1, read back
   exactly however many blocks (tool calls, results) came in between;
3. the system prompt (sent as one text block), or the last tool when there is none:
   a prefix that survives history edits (``%chat clear``, a re-run cell);
4. the context block of the latest message that carries one, when a question follows
   it, so an edited question still reads its context.

``prompt_cache = false`` (``JUPYCHAT_PROMPT_CACHE=0``, the config file) sends no marks.
A cache write costs 1.25× the input price and a read 0.1× (see :mod:`jupychat.catalog`).

The fake server (``tests/fakecache.py``) models these rules to measure the marks, and
``benchmarks/bench_prompt_cache.py`` reports what they save.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jupychat import config

__all__ = ["MAX_CACHE_BREAKPOINTS", "cache_breakpoints", "caching"]

MAX_CACHE_BREAKPOINTS = 4
"""The most ``cache_control`` marks the Messages API takes in one request."""
_EPHEMERAL = {"type": "ephemeral"}
_UNMARKABLE = ("thinking", "redacted_thinking")  # the API refuses marks on these


def caching() -> bool:
    """Whether requests carry cache marks (the ``prompt_cache`` setting, default on)."""
    value = config.resolve("prompt_cache", default=True)
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def _marks(payload: Mapping[str, Any]) -> int:
    """How many ``cache_control`` marks ``payload`` holds already."""
    system = payload.get("system")
    blocks = [*(payload.get("tools") or []), *(system if isinstance(system, list) else [])]
    for message in payload.get("messages") or []:
        content = message.get("content") if isinstance(message, Mapping) else None
        blocks += content if isinstance(content, list) else []
    return sum(isinstance(b, Mapping) and "cache_control" in b for b in blocks)


def _markable(block: Any) -> bool:
    return (
        isinstance(block, Mapping)
        and block.get("type") not in _UNMARKABLE
        and not (block.get("type") == "text" and not block.get("text"))
    )


def cache_breakpoints(payload: dict[str, Any]) -> dict[str, Any]:
    """Put the prompt-cache marks on a built Messages payload (in place; returned).

    See the module's design note for where they go and why. Marked blocks are copied,
    never changed in place, so nothing the caller passed in ``extra`` is altered, and
    the total never exceeds :data:`MAX_CACHE_BREAKPOINTS`.
    """
    room = MAX_CACHE_BREAKPOINTS - _marks(payload)
    messages = payload.get("messages")
    messages = [  # lists copied: ``extra`` may have brought some of them
        {**m, "content": list(m["content"])}
        if isinstance(m, Mapping) and isinstance(m.get("content"), list)
        else m
        for m in (messages if isinstance(messages, list) else [])
    ]
    if "messages" in payload:
        payload["messages"] = messages
    if isinstance(payload.get("tools"), list):
        payload["tools"] = list(payload["tools"])
    places: list[tuple[list[Any], int]] = []  # (a list of blocks, index), best first

    def last_block(index: int) -> None:
        content = messages[index].get("content") if isinstance(messages[index], Mapping) else None
        if isinstance(content, list) and content and _markable(content[-1]):
            places.append((content, len(content) - 1))

    if messages:
        final = len(messages) - 1
        last_block(final)
        before = [
            i
            for i in range(final)
            if isinstance(messages[i], Mapping) and messages[i].get("role") == "user"
        ]
        if before:
            last_block(before[-1])
    system = payload.get("system")
    if isinstance(system, str) and system:
        payload["system"] = system = [{"type": "text", "text": system}]
    elif isinstance(system, list):
        payload["system"] = system = list(system)
    if isinstance(system, list) and system and _markable(system[-1]):
        places.append((system, len(system) - 1))
    elif not system and payload.get("tools"):
        places.append((payload["tools"], len(payload["tools"]) - 1))
    for message in reversed(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, list):
            continue
        context = [
            i
            for i, b in enumerate(content)
            if isinstance(b, Mapping)
            and b.get("type") == "text"
            and str(b.get("text", "")).startswith("<context name=")
        ]
        if context:
            if context[-1] < len(content) - 1:
                places.append((content, context[-1]))
            break
    for blocks, index in places:
        if room <= 0:
            break
        block = blocks[index]
        if isinstance(block, Mapping) and "cache_control" not in block:
            blocks[index] = {**block, "cache_control": dict(_EPHEMERAL)}
            room -= 1
    return payload
