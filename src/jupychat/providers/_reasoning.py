"""Reasoning that arrives mixed into Chat Completions answers.

Design note: OpenAI-compatible servers hand back a model's reasoning in several ways,
and the parser (:mod:`.chat_completions`) meets all of them:

* a field beside ``content``: ``reasoning_content`` (DeepSeek, z.ai, Kimi, llama.cpp,
  older vLLM) or ``reasoning`` (OpenRouter, Ollama, Groq, newer vLLM);
* OpenRouter's ``reasoning_details``, a list of typed pieces (``reasoning.text`` with a
  ``signature``, ``reasoning.summary``, ``reasoning.encrypted``) streamed in fragments
  that share an ``index``: :func:`merge_details` folds them into whole items, which must
  be sent back as they were;
* inside ``content`` between ``<think>`` and ``</think>`` (DeepSeek-R1 and Qwen served
  raw by Hugging Face, Groq's ``raw`` format, llama.cpp without a reasoning parser):
  :class:`ThinkSplitter` moves it to the reasoning channel, also when a tag is cut
  across two chunks;
* as typed content parts (Mistral's Magistral: ``{"type": "thinking", "thinking":
  [...]}``): :func:`content_pieces`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["ThinkSplitter", "content_pieces", "details_text", "merge_details"]

OPEN, CLOSE = "<think>", "</think>"


class ThinkSplitter:
    """Splits streamed answer text into ``(reasoning, text)`` at ``<think>`` tags.

    ``push(piece)`` returns what is ready on each channel; a tail that could be the start
    of a tag is held back until the next piece shows what it is. ``flush()`` returns what
    was held at the end of the stream. Its state (``held``, ``inside``, ``trim``) is read,
    never set, by a parser that hands plain pieces on without calling it.
    """

    __slots__ = ("held", "inside", "trim")

    def __init__(self) -> None:
        self.held = ""
        self.inside = False
        self.trim = False  # the line breaks after ``</think>`` are not part of the answer

    def push(self, piece: str) -> tuple[str, str]:
        if not (self.held or self.inside or self.trim) and "<" not in piece:
            return "", piece  # the common case: plain answer text, no tag can start here
        data = self.held + piece
        self.held = ""
        reasoning: list[str] = []
        text: list[str] = []
        while data:
            tag = CLOSE if self.inside else OPEN
            at = data.find(tag)
            if at >= 0:
                (reasoning if self.inside else text).append(self._trimmed(data[:at]))
                data = data[at + len(tag) :]
                self.inside = not self.inside
                self.trim = not self.inside
                continue
            keep = _partial_tag(data, tag)
            (reasoning if self.inside else text).append(self._trimmed(data[: len(data) - keep]))
            self.held = data[len(data) - keep :]
            break
        return "".join(reasoning), "".join(text)

    def _trimmed(self, piece: str) -> str:
        if self.trim and not self.inside:
            piece = piece.lstrip("\r\n")
            self.trim = not piece
        return piece

    def flush(self) -> tuple[str, str]:
        held, self.held = self.held, ""
        return (held, "") if self.inside else ("", held)


def _partial_tag(data: str, tag: str) -> int:
    """How many characters at the end of ``data`` could be the start of ``tag``."""
    for size in range(min(len(tag) - 1, len(data)), 0, -1):
        if tag.startswith(data[-size:]):
            return size
    return 0


def content_pieces(content: Any) -> tuple[str, str]:
    """``(reasoning, text)`` of a ``content`` that is a string or a list of typed parts."""
    if content is None:
        return "", ""
    if isinstance(content, str):
        return "", content
    if not isinstance(content, list):
        return "", json.dumps(content, ensure_ascii=False)
    reasoning: list[str] = []
    text: list[str] = []
    for part in content:
        if isinstance(part, str):
            text.append(part)
        elif isinstance(part, Mapping):
            kind = part.get("type")
            if kind == "thinking":
                reasoning.append(_texts(part.get("thinking")))
            elif kind in ("text", "output_text", None) and isinstance(part.get("text"), str):
                text.append(part["text"])
    return "".join(reasoning), "".join(text)


def _texts(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_texts(v) for v in value)
    if isinstance(value, Mapping):
        return _texts(value.get("text") or value.get("thinking") or "")
    return ""


def merge_details(merged: list[dict[str, Any]], fragments: Any) -> None:
    """Fold streamed ``reasoning_details`` fragments into ``merged`` (whole items).

    A fragment continues the last item when it has the same ``index`` and ``type``: its
    strings (``text``, ``summary``, ``signature``, ``data``) are appended, other fields
    replace. Anything else starts a new item.
    """
    if not isinstance(fragments, list):
        return
    for fragment in fragments:
        if not isinstance(fragment, Mapping):
            continue
        last = merged[-1] if merged else None
        same = (
            last is not None
            and last.get("index") == fragment.get("index")
            and last.get("type") == fragment.get("type")
        )
        if not same:
            merged.append(dict(fragment))
            continue
        assert last is not None
        for key, value in fragment.items():
            if isinstance(value, str) and isinstance(last.get(key), str) and key != "type":
                last[key] += value
            elif value is not None:
                last[key] = value


def details_text(details: Any) -> str:
    """The readable text of ``reasoning_details`` items (text, or else summaries)."""
    if not isinstance(details, list):
        return ""
    out = []
    for item in details:
        if isinstance(item, Mapping):
            piece = item.get("text") or item.get("summary")
            if isinstance(piece, str):
                out.append(piece)
    return "".join(out)
