"""Anthropic Messages API.

Design note: like :mod:`jupychat.providers.openai`, the payload is built by a pure
function (:func:`build_payload`) and each response is read by its own parser object
(:class:`AnthropicStreamParser`); the URL, key header, ``anthropic-version`` and
environment variables are data in :data:`jupychat.providers.specs.SPECS`, and retries,
timeouts and error mapping come from :mod:`jupychat.providers._http`.

Wire format (``POST {base}/v1/messages``, headers ``x-api-key`` and
``anthropic-version: 2023-06-01``): the system prompt goes in the top-level ``system``
field, messages must alternate user/assistant (consecutive same-role messages are merged
here), tool calls are ``tool_use`` blocks and their results ``tool_result`` blocks at the
start of the next user message. The stream is named SSE events: ``message_start`` (with
input usage), per content block ``content_block_start`` / ``content_block_delta``
(``text_delta``, ``input_json_delta``, ``thinking_delta``) / ``content_block_stop``,
``message_delta`` (``stop_reason``, output usage), ``message_stop``; ``ping`` may come any
time and ``error`` carries ``{"type": "error", "error": {"type", "message"}}``.

Prompt caching: the payload gets ``cache_control`` marks from
:func:`jupychat.providers._anthropic_cache.cache_breakpoints` (where and why: there).

Structured output: :attr:`ChatRequest.output` becomes a tool whose ``input_schema`` is
the schema, forced with ``tool_choice`` (``auto`` when ``thinking`` is on, which forbids
forcing), and the forced call's input is streamed back as the answer's text
(:mod:`jupychat.providers._toolanswer`).

Usage: the ``input_tokens`` we report is ``input_tokens + cache_read_input_tokens +
cache_creation_input_tokens`` (Anthropic counts the three apart; every other provider
counts cached tokens inside the input), ``cached_tokens`` is ``cache_read_input_tokens``
and ``cache_write_tokens`` is ``cache_creation_input_tokens``.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from jupychat import config
from jupychat.errors import ProtocolError
from jupychat.events import Done, Event, ReasoningDelta, TextDelta, ToolCallComplete, ToolCallDelta
from jupychat.types import Image, Message, Text, ToolCall, ToolResult, Usage

from ._anthropic_cache import cache_breakpoints, caching
from ._errors import Endpoint, error_info, map_error, parse_json
from ._fence import context_text
from ._http import HTTPProvider
from ._stream import StreamParser
from ._toolanswer import aanswer_from_tool, answer_from_tool
from ._unicode import Joiner, clean, clean_data
from .base import ChatRequest
from .specs import SPECS, http_provider

__all__ = [
    "ANTHROPIC_VERSION",
    "AnthropicProvider",
    "AnthropicStreamParser",
    "anthropic_provider",
    "build_payload",
    "stop_reason",
]

ANTHROPIC_VERSION = str(SPECS["anthropic"].api_version)
"""The default ``anthropic-version`` header."""
DEFAULT_MAX_TOKENS = 4096
_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def stop_reason(reason: str | None, has_tool_calls: bool = False) -> str:
    """Anthropic's ``stop_reason`` in our vocabulary (``stop``, ``length``, ``tool_calls``...)."""
    if reason is None:
        return "tool_calls" if has_tool_calls else "stop"
    return _STOP_REASONS.get(reason, reason)


# -------------------------------------------------------------------------- payload


def _tool_result_block(result: ToolResult) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": result.tool_call_id,
        "content": result.content,
    }
    if result.is_error:
        block["is_error"] = True
    return block


def _blocks(message: Message) -> list[dict[str, Any]]:
    blocks = [_tool_result_block(r) for r in message.tool_results]
    context = context_text(message.context_blocks)
    if context and message.role != "assistant":
        blocks.append({"type": "text", "text": context})
    for part in message.content:
        if isinstance(part, Text) and part.text:
            blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, Image):
            blocks.append(
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": part.media_type, "data": part.data},
                }
            )
        elif isinstance(part, ToolCall) and message.role == "assistant":
            blocks.append(
                {
                    "type": "tool_use",
                    "id": part.id,
                    "name": part.name,
                    "input": dict(part.arguments),
                }
            )
    return blocks


def messages_payload(request: ChatRequest) -> tuple[str | None, list[dict[str, Any]]]:
    """``(system, messages)``: system text on top, alternating user/assistant messages.

    History messages with role ``system`` are appended to the system prompt; ``tool``
    messages become user messages of ``tool_result`` blocks; consecutive messages with
    the same role are merged, keeping ``tool_result`` blocks first.
    """
    system_parts = [request.system] if request.system else []
    out: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "system":
            if message.text:
                system_parts.append(message.text)
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            merged = out[-1]["content"] + blocks
            merged.sort(key=lambda b: 0 if b["type"] == "tool_result" else 1)
            out[-1]["content"] = merged
        else:
            out.append({"role": role, "content": blocks})
    system = "\n\n".join(system_parts) if system_parts else None
    return system, out


def build_payload(model: str, request: ChatRequest, *, stream: bool = True) -> dict[str, Any]:
    """Map a :class:`ChatRequest` to a Messages API JSON body.

    ``max_tokens`` (required by the API) falls back to the ``max_tokens`` setting, then
    to 4096. ``seed`` is not sent (the API has none). ``request.extra`` is merged last.
    """
    system, messages = messages_payload(request)
    max_tokens = request.max_tokens or config.resolve("max_tokens") or DEFAULT_MAX_TOKENS
    payload: dict[str, Any] = {
        "model": model,
        "max_tokens": int(max_tokens),
        "messages": messages,
    }
    if stream:
        payload["stream"] = True
    if system:
        payload["system"] = system
    if request.tools:
        payload["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": dict(t.parameters)}
            for t in request.tools
        ]
    if request.output is not None:  # after the session's tools: their cached prefix stays
        out = request.output
        payload.setdefault("tools", []).append(
            {
                "name": out.name,
                "description": out.description or "Record the answer as structured data.",
                "input_schema": dict(out.schema),
            }
        )
        forced = "thinking" not in request.extra  # thinking allows only tool_choice auto
        payload["tool_choice"] = {"type": "tool", "name": out.name} if forced else {"type": "auto"}
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    if request.stop:
        payload["stop_sequences"] = list(request.stop)
    payload.update(request.extra)
    if caching():
        cache_breakpoints(payload)
    return payload


# --------------------------------------------------------------------------- stream


@dataclass
class _PendingCall:
    ordinal: int
    id: str
    name: str
    initial: Mapping[str, Any] = field(default_factory=dict)
    parts: list[str] = field(default_factory=list)
    joiner: Joiner = field(default_factory=Joiner)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class AnthropicStreamParser(StreamParser):
    """Turns Messages API stream events (or one JSON message) into our events."""

    def __init__(self, endpoint: Endpoint, model_id: str) -> None:
        self._endpoint = endpoint
        self._model_id = model_id
        self._calls: dict[int, _PendingCall] = {}
        self._usage: dict[str, int] = {}
        self._stop: str | None = None
        self._done = False
        self._text: dict[int, tuple[str, Joiner]] = {}  # per block: its kind and decoder

    @property
    def ended(self) -> bool:
        return self._done

    @property
    def complete(self) -> bool:
        return self._done or self._stop is not None

    def _protocol(self, what: str) -> ProtocolError:
        return ProtocolError(
            f"{self._endpoint.provider} sent {what}; check that {self._endpoint.url} is the "
            "Anthropic Messages API",
            provider=self._endpoint.provider,
        )

    def _take_usage(self, usage: Any) -> None:
        if not isinstance(usage, Mapping):
            return
        for key in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ):
            if usage.get(key) is not None:
                self._usage[key] = _int(usage[key])

    def _piece(self, index: int, kind: str, text: Any) -> list[Event]:
        """Text or thinking for block ``index``, with split surrogate pairs made whole."""
        if not text:
            return []
        entry = self._text.get(index)
        if entry is None or entry[0] != kind:
            out = self._end_block(index)
            entry = self._text[index] = (kind, Joiner())
        else:
            out = []
        piece = entry[1].push(text if isinstance(text, str) else str(text))
        if piece:
            out.append(TextDelta(piece) if kind == "text" else ReasoningDelta(piece))
        return out

    def _end_block(self, index: int) -> list[Event]:
        entry = self._text.pop(index, None)
        rest = entry[1].flush() if entry is not None else ""
        if not rest or entry is None:
            return []
        return [TextDelta(rest) if entry[0] == "text" else ReasoningDelta(rest)]

    def _start_block(self, index: int, block: Mapping[str, Any]) -> list[Event]:
        if not isinstance(block, Mapping):
            raise self._protocol(f"content block {index} that is not an object")
        kind = block.get("type")
        if kind == "text":
            return self._piece(index, "text", block.get("text"))
        if kind == "thinking":
            return self._piece(index, "thinking", block.get("thinking"))
        if kind == "tool_use":
            initial = block.get("input")
            call = _PendingCall(
                ordinal=len(self._calls),
                id=clean(str(block.get("id") or f"toolu_{os.urandom(12).hex()}")),
                name=clean(str(block.get("name") or "")),
                initial=clean_data(initial) if isinstance(initial, Mapping) else {},
            )
            self._calls[index] = call
            return [ToolCallDelta(call.ordinal, call.id, call.name, "")]
        return []

    def _delta(self, index: int, delta: Mapping[str, Any]) -> list[Event]:
        if not isinstance(delta, Mapping):
            raise self._protocol(f"a delta for content block {index} that is not an object")
        kind = delta.get("type")
        if kind == "text_delta":
            return self._piece(index, "text", delta.get("text"))
        if kind == "thinking_delta":
            return self._piece(index, "thinking", delta.get("thinking"))
        if kind == "input_json_delta":
            call = self._calls.get(index)
            if call is None:
                raise self._protocol(f"tool input for content block {index} that never started")
            fragment = call.joiner.push(str(delta.get("partial_json") or ""))
            if not fragment:
                return []
            call.parts.append(fragment)
            return [ToolCallDelta(call.ordinal, None, None, fragment)]
        return []  # signature_delta, citations_delta and future kinds carry nothing we show

    def feed(self, event: str, data: str) -> list[Event]:
        if not data.strip():
            return []
        payload = parse_json(data, self._endpoint)
        if not isinstance(payload, Mapping):
            raise self._protocol(f"an event that is not an object ({data[:40]!r})")
        kind = payload.get("type") or event
        if kind == "message_start":
            message = payload.get("message") or {}
            if isinstance(message, Mapping):
                self._take_usage(message.get("usage"))
            return []
        if kind == "content_block_start":
            return self._start_block(_int(payload.get("index")), payload.get("content_block") or {})
        if kind == "content_block_delta":
            return self._delta(_int(payload.get("index")), payload.get("delta") or {})
        if kind == "content_block_stop":
            return self._end_block(_int(payload.get("index")))
        if kind == "message_delta":
            delta = payload.get("delta") or {}
            if isinstance(delta, Mapping) and delta.get("stop_reason"):
                self._stop = clean(str(delta["stop_reason"]))
            self._take_usage(payload.get("usage"))
            return []
        if kind == "message_stop":
            self._done = True
            return []
        if kind == "error":
            raise map_error(None, error_info(payload), self._endpoint)
        return []  # ping and event types added later

    def feed_json(self, body: Any) -> list[Event]:
        if not isinstance(body, Mapping):
            raise self._protocol("a response that is not a JSON object")
        if body.get("type") == "error" or body.get("error"):
            raise map_error(None, error_info(body), self._endpoint)
        body = clean_data(body)  # one whole document: any surrogate left is a lone half
        content = body.get("content") or []
        if not isinstance(content, list):
            raise self._protocol("content that is not a list")
        out: list[Event] = []
        for index, block in enumerate(content):
            if not isinstance(block, Mapping):
                continue
            if block.get("type") == "tool_use":
                out.extend(self._start_block(index, block))
            elif block.get("type") == "text" and block.get("text"):
                out.append(TextDelta(str(block["text"])))
            elif block.get("type") == "thinking" and block.get("thinking"):
                out.append(ReasoningDelta(str(block["thinking"])))
        stop = body.get("stop_reason")
        self._stop = str(stop) if stop else None
        self._take_usage(body.get("usage"))
        self._done = True
        return out

    def _reported_usage(self) -> Usage | None:
        if not self._usage:
            return None
        read = self._usage.get("cache_read_input_tokens", 0)
        written = self._usage.get("cache_creation_input_tokens", 0)
        return Usage(
            input_tokens=self._usage.get("input_tokens", 0) + read + written,
            output_tokens=self._usage.get("output_tokens", 0),
            cached_tokens=read,
            cache_write_tokens=written,
        )

    def finish(self) -> list[Event]:
        out: list[Event] = []
        for index in sorted(self._text):  # blocks that never sent content_block_stop
            out.extend(self._end_block(index))
        for call in sorted(self._calls.values(), key=lambda c: c.ordinal):
            if not call.name:
                raise self._protocol(f"tool_use block {call.id!r} without a name")
            call.parts.append(call.joiner.flush())
            raw = "".join(call.parts).strip()
            if raw:
                try:
                    arguments = json.loads(raw)
                except ValueError as exc:
                    raise self._protocol(
                        f"input for tool {call.name!r} that is not valid JSON ({raw[:60]!r})"
                    ) from exc
            else:
                arguments = dict(call.initial)
            if not isinstance(arguments, dict):
                raise self._protocol(f"input for tool {call.name!r} that is not an object")
            out.append(ToolCallComplete(ToolCall(call.id, call.name, clean_data(arguments))))
        out.append(
            Done(
                usage=self._reported_usage(),
                finish_reason=stop_reason(self._stop, bool(self._calls)),
                model=self._model_id,
            )
        )
        return out


# ------------------------------------------------------------------------- provider


class AnthropicProvider(HTTPProvider):
    """The Anthropic Messages API: any spec whose wire is ``"anthropic"``.

    Built by :func:`jupychat.providers.specs.http_provider` (see
    :class:`~jupychat.providers._http.HTTPProvider` for the parameters).
    """

    name = "anthropic"
    structured_output = True

    def build_payload(self, request: ChatRequest) -> dict[str, Any]:
        return build_payload(self.model, request)

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        events = super().stream(request)
        if request.output is None:
            return events
        return answer_from_tool(events, request.output.name)

    def astream(self, request: ChatRequest) -> AsyncIterator[Event]:
        events = super().astream(request)
        if request.output is None:
            return events
        return aanswer_from_tool(events, request.output.name)

    def new_parser(self, endpoint: Endpoint) -> StreamParser:
        return AnthropicStreamParser(endpoint, self.model_id)


def anthropic_provider(model: str, **options: Any) -> AnthropicProvider:
    """``anthropic:MODEL`` — key ``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL`` honoured."""
    return cast(AnthropicProvider, http_provider("anthropic", model, **options))
