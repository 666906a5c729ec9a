"""The providers' prompt caches, modelled from their documented rules, for the fake server.

Design note: a benchmark of prompt caching is only worth something if the server decides
what was cached from the request it received, the way the real one does, and not from a
number a test wrote down. :class:`PromptCache` keeps, per fake server, the prefixes earlier
requests left in the cache and answers each request's usage from them:

*Anthropic Messages* (explicit breakpoints). The prompt is tools → system → messages, one
"block" per tool definition, system block and message content block. A block carrying
``cache_control`` is a breakpoint: the prefix through it is written to the cache when it
holds at least the model's minimum (1,024 tokens; 2,048 for the Haiku 3 family; 4,096 for
Haiku 4.5 and Opus 4.5). A request reads the longest cached prefix found by looking back
from each of its breakpoints over at most 20 block boundaries. ``cache_read_input_tokens``
is that prefix, ``cache_creation_input_tokens`` runs from there to the last cacheable
breakpoint, ``input_tokens`` is the rest. ``cache_control`` itself is not part of the
cached text (moving a breakpoint keeps the prefix); ``tool_choice`` and ``thinking``
settings key the messages part (changing them invalidates the message cache, not tools or
system). Entries live 5 minutes (``"ttl": "1h"``: an hour) and a hit refreshes them. More
than 4 breakpoints, a malformed ``cache_control``, or one on an empty text block or a
thinking block is refused with a 400, as the API does.

*OpenAI Chat Completions* (automatic). The prompt is the tool definitions and the
``response_format`` schema, then the messages. Prompts of 1,024 tokens or more are cached;
``prompt_tokens_details.cached_tokens`` is the longest prefix shared with an earlier
request of the same model, counted in steps of 128 tokens from 1,024 (1,024, 1,152, …),
and it is part of ``prompt_tokens``.

Tokens are counted as 4 characters of the prompt's text rendered in the order it was sent
(each block or message as its JSON, ``cache_control`` left out). Key order is kept, so a
client that reorders keys between requests loses its cache here (a real server may be
kinder): the figures measured against this model are, if anything, conservative.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CacheRequestError", "PromptCache", "anthropic_minimum"]

CHARS_PER_TOKEN = 4
LOOKBACK_BLOCKS = 20
MAX_BREAKPOINTS = 4
ANTHROPIC_TTL = {"5m": 300.0, "1h": 3600.0}
OPENAI_MINIMUM = 1024
OPENAI_STEP = 128
OPENAI_TTL = 600.0
# (model name fragment, minimum cacheable prompt in tokens); first match wins
_ANTHROPIC_MINIMUMS = (
    ("haiku-4-5", 4096),
    ("opus-4-5", 4096),
    ("3-5-haiku", 2048),
    ("3-haiku", 2048),
)


class CacheRequestError(ValueError):
    """A request the API would refuse for its ``cache_control`` markers (HTTP 400)."""


def anthropic_minimum(model: str) -> int:
    """The fewest tokens a prefix needs to be cached for ``model``."""
    return next((n for part, n in _ANTHROPIC_MINIMUMS if part in model), 1024)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _without_marker(block: Any) -> Any:
    if isinstance(block, Mapping) and "cache_control" in block:
        return {k: v for k, v in block.items() if k != "cache_control"}
    return block


def _tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


@dataclass
class _Block:
    text: str
    marker: Any = None  # the block's cache_control, if it has one


def _check_marker(block: Any, marker: Any) -> float:
    """The TTL of a breakpoint (seconds), or the API's 400 for a bad one."""
    if not isinstance(marker, Mapping) or marker.get("type") != "ephemeral":
        raise CacheRequestError("cache_control: type must be 'ephemeral'")
    ttl = marker.get("ttl", "5m")
    if ttl not in ANTHROPIC_TTL:
        raise CacheRequestError(f"cache_control.ttl: Input should be '5m' or '1h' (got {ttl!r})")
    if isinstance(block, Mapping):
        if block.get("type") == "text" and not block.get("text"):
            raise CacheRequestError("cache_control cannot be set for empty text blocks")
        if block.get("type") in ("thinking", "redacted_thinking"):
            raise CacheRequestError(
                f"cache_control cannot be set on {block.get('type')} blocks directly"
            )
    return ANTHROPIC_TTL[ttl]


def _anthropic_blocks(body: Mapping[str, Any]) -> list[_Block]:
    blocks: list[_Block] = []
    for tool in body.get("tools") or []:
        marker = tool.get("cache_control") if isinstance(tool, Mapping) else None
        blocks.append(_Block("tool:" + _dumps(_without_marker(tool)), marker))
    system = body.get("system")
    if isinstance(system, str) and system:
        blocks.append(_Block("system:" + system))
    elif isinstance(system, list):
        for block in system:
            marker = block.get("cache_control") if isinstance(block, Mapping) else None
            blocks.append(_Block("system:" + _dumps(_without_marker(block)), marker))
    # what keys the message cache besides the messages themselves
    settings = "settings:" + _dumps([body.get("tool_choice"), body.get("thinking")])
    for number, message in enumerate(body.get("messages") or []):
        if not isinstance(message, Mapping):
            continue
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for index, block in enumerate(parts or []):
            head = f"{message.get('role')}:" if index == 0 else ""
            if number == 0 and index == 0:
                head = settings + head
            marker = block.get("cache_control") if isinstance(block, Mapping) else None
            blocks.append(_Block(head + _dumps(_without_marker(block)), marker))
    return blocks


def _openai_text(body: Mapping[str, Any]) -> str:
    pieces = [_dumps(tool) for tool in body.get("tools") or []]
    if body.get("response_format") is not None:
        pieces.append(_dumps(body["response_format"]))
    pieces += [_dumps(m) for m in body.get("messages") or []]
    return "".join(pieces)


class PromptCache:
    """The prompt caches of one fake server (thread-safe).

    Parameters
    ----------
    clock:
        Seconds, monotonic (tests pass a fake clock to expire entries).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, float] = {}  # prefix key -> expiry time

    def reset(self) -> None:
        """Forget every cached prefix."""
        with self._lock:
            self._entries.clear()

    def usage(self, api: str, body: Mapping[str, Any]) -> dict[str, int]:
        """``input_tokens`` (all of the prompt), ``cached_tokens``, ``cache_write_tokens``.

        Raises :class:`CacheRequestError` for markers the API refuses.
        """
        with self._lock:
            if api == "anthropic":
                return self._anthropic(body)
            return self._openai(body)

    # -- Anthropic ------------------------------------------------------------------
    def _anthropic(self, body: Mapping[str, Any]) -> dict[str, int]:
        model = str(body.get("model", ""))
        blocks = _anthropic_blocks(body)
        breakpoints = [i for i, b in enumerate(blocks) if b.marker is not None]
        if len(breakpoints) > MAX_BREAKPOINTS:
            raise CacheRequestError(
                f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                f"Found {len(breakpoints)}."
            )
        ttls = {i: _check_marker(None, blocks[i].marker) for i in breakpoints}
        self._check_blocks(body)
        digest = hashlib.sha256(f"anthropic\0{model}\0".encode())
        keys: list[str] = []
        ends: list[int] = []  # tokens of the prefix through each block
        chars = 0
        for block in blocks:
            digest.update(block.text.encode("utf-8", "surrogatepass"))
            keys.append(digest.copy().hexdigest())
            chars += len(block.text)
            ends.append(_tokens(chars))
        total = ends[-1] if ends else 0
        now = self._clock()
        hit = -1
        for point in breakpoints:
            for index in range(point, max(-1, point - LOOKBACK_BLOCKS), -1):
                if self._entries.get(keys[index], 0.0) > now:
                    hit = max(hit, index)
                    break
        read = ends[hit] if hit >= 0 else 0
        if hit >= 0:
            self._entries[keys[hit]] = max(self._entries[keys[hit]], now + ANTHROPIC_TTL["5m"])
        minimum = anthropic_minimum(model)
        written_to = read
        for point in breakpoints:
            if ends[point] >= minimum:
                self._entries[keys[point]] = max(
                    self._entries.get(keys[point], 0.0), now + ttls[point]
                )
                written_to = max(written_to, ends[point])
        return {
            "input_tokens": max(1, total),
            "cached_tokens": read,
            "cache_write_tokens": written_to - read,
        }

    @staticmethod
    def _check_blocks(body: Mapping[str, Any]) -> None:
        """The per-block rules (empty text, thinking) for every marked block."""
        system = body.get("system")
        marked: list[Any] = [t for t in body.get("tools") or [] if isinstance(t, Mapping)]
        marked += system if isinstance(system, list) else []
        for message in body.get("messages") or []:
            content = message.get("content") if isinstance(message, Mapping) else None
            marked += content if isinstance(content, list) else []
        for block in marked:
            if isinstance(block, Mapping) and "cache_control" in block:
                _check_marker(block, block["cache_control"])

    # -- OpenAI ---------------------------------------------------------------------
    def _openai(self, body: Mapping[str, Any]) -> dict[str, int]:
        model = str(body.get("model", ""))
        text = _openai_text(body)
        total = _tokens(len(text))
        cached = 0
        if total >= OPENAI_MINIMUM:
            now = self._clock()
            digest = hashlib.sha256(f"openai\0{model}\0".encode())
            done = 0
            keys: list[tuple[int, str]] = []
            for size in range(OPENAI_MINIMUM, total + 1, OPENAI_STEP):
                end = size * CHARS_PER_TOKEN
                digest.update(text[done:end].encode("utf-8", "surrogatepass"))
                done = end
                keys.append((size, digest.copy().hexdigest()))
            for size, key in keys:
                if self._entries.get(key, 0.0) > now:
                    cached = size
                else:
                    break  # a longer prefix cannot be cached when a shorter one is not
            for _, key in keys:
                self._entries[key] = now + OPENAI_TTL
        return {"input_tokens": max(1, total), "cached_tokens": cached, "cache_write_tokens": 0}
