"""Chat Completions request bodies: a :class:`ChatRequest` as the JSON a server takes.

Design note: pure functions, used by every OpenAI-compatible HTTP server
(:mod:`.openai`) and the embedded llama.cpp model (:mod:`.local`); the stream's side of
the format is :mod:`.chat_completions`. A session's request is its previous request plus
the answer and the new question, serialised in insertion order, so the messages already
sent are byte-identical turn to turn and the servers' prefix caches hit; the entries of
a history message are made once per message and source (the history is frozen).
Context blocks are sent as text before the user's words, fenced by
:func:`~jupychat.providers._fence.context_text`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from jupychat._memo import IdentityMemo, PrefixMemo
from jupychat.types import ContextBlock, Image, Message, Text, ToolResult

from ._fence import context_text
from ._replay import replay_data
from ._wirejson import Entry
from .base import ChatRequest, OutputSchema

__all__ = ["REASONING_FIELDS", "build_payload", "messages_payload", "response_format"]

REASONING_FIELDS = ("reasoning_content", "reasoning")
"""Reasoning text fields a server may send beside ``content`` (kept under their names)."""
_REPLAY_FIELDS = frozenset({*REASONING_FIELDS, "reasoning_details"})
"""Fields of an assistant message that go back to the server that sent them."""


def _user_content(message: Message) -> str | list[dict[str, Any]]:
    # one pass over the parts: this runs for every message of the history on every call
    texts: list[str] = []
    blocks: list[ContextBlock] = []
    has_image = False
    for part in message.content:
        if isinstance(part, Text):
            texts.append(part.text)
        elif isinstance(part, ContextBlock):
            blocks.append(part)
        elif isinstance(part, Image):
            has_image = True
    context = context_text(blocks) if blocks else ""
    if not has_image:
        text = "".join(texts)
        return f"{context}\n\n{text}" if context and text else (context or text)
    parts: list[dict[str, Any]] = []
    if context:
        parts.append({"type": "text", "text": context})
    for part in message.content:
        if isinstance(part, Text) and part.text:
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, Image):
            url = f"data:{part.media_type};base64,{part.data}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def _tool_result_message(result: ToolResult) -> dict[str, Any]:
    content = result.content
    if result.is_error and not content.lower().startswith("error"):
        content = f"Error: {content}"
    return {"role": "tool", "tool_call_id": result.tool_call_id, "content": content}


def _assistant_message(message: Message, source: str | None = None) -> dict[str, Any]:
    calls = message.tool_calls
    out: dict[str, Any] = {"role": "assistant", "content": message.text or (None if calls else "")}
    replay = replay_data(message, source) or {}
    fields = replay.get("fields")
    if isinstance(fields, Mapping):
        # this server's own reasoning fields (DeepSeek's thinking mode requires them back)
        out.update({k: v for k, v in fields.items() if k in _REPLAY_FIELDS})
    found = replay.get("tool_calls")
    extras: dict[str, Mapping[str, Any]] = {
        str(k): v
        for k, v in (found.items() if isinstance(found, Mapping) else ())
        if isinstance(v, Mapping)
    }
    if calls:
        out["tool_calls"] = [
            {
                **extras.get(call.id, {}),  # what the server added (Gemini: a thought signature)
                "id": call.id,
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": json.dumps(dict(call.arguments), ensure_ascii=False),
                },
            }
            for call in calls
        ]
    return out


def messages_payload(request: ChatRequest, source: str | None = None) -> list[dict[str, Any]]:
    """The ``messages`` array: system prompt first, then the history in order.

    Assistant messages that came from ``source`` (see :mod:`._replay`) carry back the
    reasoning fields that server sent (``reasoning_content``, ``reasoning``,
    ``reasoning_details``); no other server gets them.
    """
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    messages = request.messages
    items = messages if type(messages) is list else list(messages)
    key = sys.intern(source) if source is not None else None  # (compared by identity)
    known, start = _wire_lists.resume(items, key)
    wire = list(known or ())
    make = lambda m: _wire(m, source)  # noqa: E731
    for message in items[start:]:
        wire.extend(_wire_messages.get(message, make, source))  # (the history is frozen)
    _wire_lists.keep(items, tuple(wire), key)
    out += wire
    return out


def _wire(message: Message, source: str | None) -> list[dict[str, Any]]:
    """One history message as the ``messages`` entries it becomes (remembered per
    message and source in ``_wire_messages``, as :class:`Entry`: each is encoded once)."""
    return [Entry(entry) for entry in _entries(message, source)]


def _entries(message: Message, source: str | None) -> list[dict[str, Any]]:
    if message.role == "assistant":
        return [_assistant_message(message, source)]
    results = message.tool_results
    out = [_tool_result_message(r) for r in results]
    if message.role == "system":
        if message.text:
            out.append({"role": "system", "content": message.text})
    elif message.role != "tool":
        content = _user_content(message)
        if content or not results:
            out.append({"role": "user", "content": content})
    return out


_wire_messages: IdentityMemo[list[dict[str, Any]]] = IdentityMemo(limit=2048)
#: the entries of the last histories sent (each turn's request is the last one's plus a
#: turn): a request looks up only its new messages, not all of them again. Two slots: a
#: session compacting also sends its summary request
_wire_lists: PrefixMemo[tuple[dict[str, Any], ...]] = PrefixMemo(slots=2)


def _tool_entry(tool: Any) -> Entry:
    """A tool's ``tools`` entry (remembered per tool spec in ``_wire_tools``: the data
    tools' schemas are the same every turn, and are encoded once)."""
    return Entry(
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": dict(tool.parameters),
            },
        }
    )


_wire_tools: IdentityMemo[Entry] = IdentityMemo(limit=256)


def build_payload(
    model: str, request: ChatRequest, *, stream: bool = True, source: str | None = None
) -> dict[str, Any]:
    """Map a :class:`ChatRequest` to a Chat Completions JSON body.

    ``request.extra`` is merged last, so it can set anything the API accepts
    (``response_format``, ``top_p``, ``max_completion_tokens``...). ``source``
    (:func:`._replay.source_of` of the request URL) names the server, whose own reasoning
    fields are sent back with its earlier answers.
    """
    payload: dict[str, Any] = {"model": model, "messages": messages_payload(request, source)}
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    if request.tools:
        payload["tools"] = [_wire_tools.get(tool, _tool_entry) for tool in request.tools]
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    if request.max_tokens is not None:
        payload["max_tokens"] = request.max_tokens
    if request.seed is not None:
        payload["seed"] = request.seed
    if request.stop:
        payload["stop"] = list(request.stop)
    if request.output is not None:
        payload["response_format"] = response_format(request.output)
    payload.update(request.extra)
    return payload


def response_format(output: OutputSchema) -> dict[str, Any]:
    """``response_format`` asking for JSON that matches ``output.schema``.

    OpenAI, Azure, Ollama (0.5 and later), vLLM, llama.cpp's server and LM Studio take
    this shape; ``strict`` only when the schema meets OpenAI's strict rules.
    """
    spec: dict[str, Any] = {"name": output.name}
    if output.description:
        spec["description"] = output.description
    spec["schema"] = dict(output.schema)
    spec["strict"] = output.strict
    return {"type": "json_schema", "json_schema": spec}
