"""Wire builders shared by the stream-safety tests: SSE frames as OpenAI and Anthropic
servers write them (non-ASCII as ``\\u`` escapes, so a surrogate half is an escape), the
providers that read them, and what a stream amounts to once parsed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jupychat.events import Done, ReasoningDelta, TextDelta, ToolCallComplete
from jupychat.providers.anthropic import anthropic_provider
from jupychat.providers.base import ChatRequest
from jupychat.providers.openai import compatible_provider
from jupychat.types import Message

__all__ = [
    "EMOJI",
    "FAST",
    "HIGH",
    "KEY",
    "LOW",
    "REQUEST",
    "anthropic_frames",
    "encodable",
    "frames_for",
    "openai_frames",
    "provider_for",
    "summary",
    "wire_json",
]

KEY = "sk-streams-0123456789abcdefSECRET"
FAST = {"backoff": 0.001, "max_backoff": 0.002, "max_retries": 0}
HIGH, LOW = "\ud83d", "\ude00"  # the two halves of U+1F600 (😀)
EMOJI = "\U0001f600"


# --------------------------------------------------------------------------- wire builders


def wire_json(value: Any) -> str:
    """JSON as a server writes it: non-ASCII as \\u escapes (so a half is an escape)."""
    return json.dumps(value, ensure_ascii=True)


def openai_frames(
    text: Sequence[str] = (),
    reasoning: Sequence[str] = (),
    calls: Sequence[tuple[str, Sequence[str]]] = (),
    finish: str | None = None,
    done: bool = True,
) -> list[str]:
    """``data:`` frames of a Chat Completions stream (one frame per piece)."""

    def chunk(delta: dict[str, Any], fin: str | None = None) -> str:
        body = {
            "id": "c",
            "object": "chat.completion.chunk",
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": fin}],
        }
        return f"data: {wire_json(body)}\n\n"

    frames = [chunk({"role": "assistant", "content": ""})]
    frames += [chunk({"reasoning_content": r}) for r in reasoning]
    frames += [chunk({"content": t}) for t in text]
    for index, (name, pieces) in enumerate(calls):
        frames.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": f"call_{index}",
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        frames += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]}) for p in pieces
        ]
    frames.append(chunk({}, finish or ("tool_calls" if calls else "stop")))
    usage = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    frames.append(f"data: {wire_json({'id': 'c', 'choices': [], 'usage': usage})}\n\n")
    if done:
        frames.append("data: [DONE]\n\n")
    return frames


def anthropic_frames(
    text: Sequence[str] = (),
    reasoning: Sequence[str] = (),
    calls: Sequence[tuple[str, Sequence[str]]] = (),
    stop: bool = True,
) -> list[str]:
    """Named events of a Messages stream (one frame per piece)."""

    def ev(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {wire_json({'type': name, **data})}\n\n"

    usage = {"input_tokens": 5, "output_tokens": 1}
    frames = [
        ev(
            "message_start",
            {
                "message": {
                    "id": "m",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": "m",
                    "usage": usage,
                }
            },
        )
    ]
    index = 0
    if reasoning:
        frames.append(
            ev(
                "content_block_start",
                {"index": index, "content_block": {"type": "thinking", "thinking": ""}},
            )
        )
        frames += [
            ev(
                "content_block_delta",
                {"index": index, "delta": {"type": "thinking_delta", "thinking": r}},
            )
            for r in reasoning
        ]
        frames.append(ev("content_block_stop", {"index": index}))
        index += 1
    frames.append(ev("ping", {}))
    if text or not calls:
        frames.append(
            ev(
                "content_block_start",
                {"index": index, "content_block": {"type": "text", "text": ""}},
            )
        )
        frames += [
            ev("content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": t}})
            for t in text
        ]
        frames.append(ev("content_block_stop", {"index": index}))
        index += 1
    for number, (name, pieces) in enumerate(calls):
        frames.append(
            ev(
                "content_block_start",
                {
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": f"toolu_{number}",
                        "name": name,
                        "input": {},
                    },
                },
            )
        )
        frames += [
            ev(
                "content_block_delta",
                {"index": index, "delta": {"type": "input_json_delta", "partial_json": p}},
            )
            for p in pieces
        ]
        frames.append(ev("content_block_stop", {"index": index}))
        index += 1
    reason = "tool_use" if calls else "end_turn"
    frames.append(
        ev("message_delta", {"delta": {"stop_reason": reason}, "usage": {"output_tokens": 7}})
    )
    if stop:
        frames.append(ev("message_stop", {}))
    return frames


def frames_for(api: str, **kwargs: Any) -> list[str]:
    return openai_frames(**kwargs) if api == "openai" else anthropic_frames(**kwargs)


def provider_for(api: str, base_url: str, **options: Any) -> Any:
    options = {"api_key": KEY, **FAST, **options}
    if api == "openai":
        return compatible_provider(f"m@{base_url}/v1", **options)
    return anthropic_provider("claude-x", base_url=base_url, **options)


REQUEST = ChatRequest(messages=[Message.of("user", "hi")])


def summary(events: Sequence[Any]) -> dict[str, Any]:
    """What a stream amounts to (how it was cut must not change this)."""
    calls = [e.call for e in events if isinstance(e, ToolCallComplete)]
    done = [e for e in events if isinstance(e, Done)]
    return {
        "text": "".join(e.text for e in events if isinstance(e, TextDelta)),
        "reasoning": "".join(e.text for e in events if isinstance(e, ReasoningDelta)),
        "calls": [(c.name, dict(c.arguments)) for c in calls],
        "finish": done[-1].finish_reason if done else None,
        "usage": done[-1].usage if done else None,
    }


def encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
