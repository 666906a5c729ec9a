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
``message_delta`` (``stop_reason``, ``stop_details``, output usage), ``message_stop``;
``ping`` may come any time and ``error`` carries ``{"type": "error", "error": {"type",
"message"}}``.

Blocks: every content block is kept as received (see :class:`AnthropicStreamParser`) and,
when the answer holds more than text and ``tool_use`` (thinking with its ``signature``,
``redacted_thinking``, server tools and their results, block types added later), sent
back as received to the same API origin: with extended thinking, a tool loop's next
request must start the assistant turn with its signed thinking block (:mod:`._replay`).
A ``refusal`` stop shows the API's explanation (``stop_details``) as the answer.

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
from jupychat.errors import ConfigError, ProtocolError
from jupychat.events import Done, Event, ReasoningDelta, TextDelta, ToolCallComplete, ToolCallDelta
from jupychat.types import Image, Message, Text, ToolCall, ToolResult, Usage

from ._anthropic_cache import cache_breakpoints, caching
from ._blocks import block_note, merge_delta
from ._errors import Endpoint, error_info, map_error, parse_json
from ._fence import context_text
from ._http import HTTPProvider
from ._replay import replay_data, source_of
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
    "refusal": "refusal",
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


# blocks a request's user side carries (a file, a page, a result): never in an answer, so
# never replayed from one (a session file could hold anything)
_INPUT_BLOCKS = frozenset({"image", "document", "tool_result", "search_result"})


def _blocks(message: Message, source: str | None = None) -> list[dict[str, Any]]:
    replay = replay_data(message, source) if message.role == "assistant" else None
    if replay is not None and isinstance(replay.get("content"), list):
        # this provider's own answer: its blocks as received (thinking with signatures,
        # redacted thinking, server tools...), which it needs back in that order
        return [
            dict(b)
            for b in replay["content"]
            if isinstance(b, Mapping) and b.get("type") not in _INPUT_BLOCKS
        ]
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


def messages_payload(
    request: ChatRequest, source: str | None = None
) -> tuple[str | None, list[dict[str, Any]]]:
    """``(system, messages)``: system text on top, alternating user/assistant messages.

    History messages with role ``system`` are appended to the system prompt; ``tool``
    messages become user messages of ``tool_result`` blocks; consecutive messages with
    the same role are merged, keeping ``tool_result`` blocks first. An assistant message
    that came from ``source`` (see :mod:`._replay`) is sent as the blocks received.
    """
    system_parts = [request.system] if request.system else []
    out: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "system":
            if message.text:
                system_parts.append(message.text)
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message, source)
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


def build_payload(
    model: str, request: ChatRequest, *, stream: bool = True, source: str | None = None
) -> dict[str, Any]:
    """Map a :class:`ChatRequest` to a Messages API JSON body.

    ``max_tokens`` (required by the API) falls back to the ``max_tokens`` setting, then
    to 4096. A ``seed`` is refused (the API has none). ``request.extra`` is merged last.
    ``source`` (:func:`._replay.source_of` of the request URL) says which earlier answers
    are this provider's own, to be sent back as received.
    """
    if request.seed is not None:
        raise ConfigError(
            "the Anthropic Messages API has no seed, so seed= cannot be honoured; remove it "
            "(del session.options['seed']) or use a provider that takes one"
        )
    system, messages = messages_payload(request, source)
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

# blocks we can rebuild from a message's parts; any other block makes the answer carry
# its blocks as received (replayed to this provider only, see ._replay)
_PLAIN_BLOCKS = frozenset({"text", "tool_use"})


@dataclass
class _Block:
    """One content block being received: the block as sent, plus what is half-read."""

    data: dict[str, Any]
    ordinal: int = -1  # tool_use blocks: the tool call's index among the calls
    json_parts: list[str] = field(default_factory=list)
    json_joiner: Joiner = field(default_factory=Joiner)
    text: Joiner = field(default_factory=Joiner)
    closed: bool = False

    @property
    def kind(self) -> str:
        return str(self.data.get("type") or "")


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class AnthropicStreamParser(StreamParser):
    """Turns Messages API stream events (or one JSON message) into our events.

    Every content block is kept as received (deltas folded in, ``signature`` included):
    text is shown, thinking is reasoning, ``tool_use`` blocks are tool calls, and blocks
    of any other type (``redacted_thinking``, server tools and their results, types added
    later) are kept for replay, with a short note shown for server tools
    (:func:`._blocks.block_note`). The blocks travel on :class:`Done` as
    ``provider_data`` when the answer cannot be rebuilt from text and tool calls alone.
    """

    def __init__(self, endpoint: Endpoint, model_id: str) -> None:
        self._endpoint = endpoint
        self._model_id = model_id
        self._source = source_of("anthropic", endpoint.url)
        self._blocks: dict[int, _Block] = {}
        self._calls = 0
        self._usage: dict[str, int] = {}
        self._stop: str | None = None
        self._stop_details: Mapping[str, Any] | None = None
        self._error: str | None = None
        self._done = False
        self._tail = ""  # the last characters of the answer text shown so far
        self._after_note = False

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

    # -- blocks --------------------------------------------------------------------
    def _shown(self, block: _Block, kind: str, text: Any) -> list[Event]:
        """Text or thinking of ``block``, with split surrogate pairs made whole."""
        if not text:
            return []
        piece = block.text.push(text if isinstance(text, str) else str(text))
        if not piece:
            return []
        return [self._text(piece) if kind == "text" else ReasoningDelta(piece)]

    def _text(self, piece: str, note: bool = False) -> TextDelta:
        """A piece of answer text; a note goes on lines of its own, apart from the text."""
        if note or self._after_note:
            gap = "" if not self._tail or self._tail.endswith("\n\n") else "\n\n"
            piece = gap + (piece.lstrip("\n") if not note else piece)
        self._after_note = note
        self._tail = (self._tail + piece)[-2:]
        return TextDelta(piece)

    def _start_block(self, index: int, raw: Mapping[str, Any]) -> list[Event]:
        if not isinstance(raw, Mapping):
            raise self._protocol(f"content block {index} that is not an object")
        out = self._stop_block(index) if index in self._blocks else []
        block = self._blocks[index] = _Block(dict(clean_data(raw)))
        kind = block.kind
        if kind == "text":
            return out + self._shown(block, "text", block.data.get("text"))
        if kind == "thinking":
            return out + self._shown(block, "thinking", block.data.get("thinking"))
        if kind == "tool_use":
            block.data["id"] = str(block.data.get("id") or f"toolu_{os.urandom(12).hex()}")
            block.data["name"] = str(block.data.get("name") or "")
            block.ordinal = self._calls
            self._calls += 1
            return [*out, ToolCallDelta(block.ordinal, block.data["id"], block.data["name"], "")]
        return out

    def _delta(self, index: int, delta: Mapping[str, Any]) -> list[Event]:
        if not isinstance(delta, Mapping):
            raise self._protocol(f"a delta for content block {index} that is not an object")
        kind = delta.get("type")
        block = self._blocks.get(index)
        if block is None:  # a delta before its block's start
            if kind not in ("text_delta", "thinking_delta"):
                raise self._protocol(f"a {kind} for content block {index} that never started")
            block = self._blocks[index] = _Block({"type": str(kind)[: -len("_delta")]})
        if kind == "input_json_delta":
            fragment = block.json_joiner.push(str(delta.get("partial_json") or ""))
            if not fragment:
                return []
            block.json_parts.append(fragment)
            if block.kind == "tool_use":
                return [ToolCallDelta(block.ordinal, None, None, fragment)]
            return []
        merge_delta(block.data, delta)  # cleaned once whole (a pair may span two deltas)
        if kind == "text_delta":
            return self._shown(block, "text", delta.get("text"))
        if kind == "thinking_delta":
            return self._shown(block, "thinking", delta.get("thinking"))
        return []  # signature_delta, citations_delta and kinds added later: kept, not shown

    def _stop_block(self, index: int) -> list[Event]:
        block = self._blocks.get(index)
        if block is None or block.closed:
            return []
        block.closed = True
        block.data = clean_data(block.data)
        out: list[Event] = []
        rest = block.text.flush()
        if rest:
            out.append(self._text(rest) if block.kind == "text" else ReasoningDelta(rest))
        if block.json_parts or block.json_joiner.pending:
            block.json_parts.append(block.json_joiner.flush())
            raw = "".join(block.json_parts).strip()
            if raw:
                try:
                    block.data["input"] = clean_data(json.loads(raw))
                except ValueError as exc:
                    name = block.data.get("name") or block.kind
                    raise self._protocol(
                        f"input for tool {name!r} that is not valid JSON ({raw[:60]!r})"
                    ) from exc
        note = block_note(block.data)
        if note:
            out.append(self._text(note, note=True))
        elif block.kind not in ("text", "thinking", "tool_use") and block.data.get("text"):
            out.append(self._text(str(block.data["text"])))
        return out

    # -- events ----------------------------------------------------------------------
    def feed(self, event: str, data: str) -> list[Event]:
        if self._error is not None or not data.strip():
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
            return self._stop_block(_int(payload.get("index")))
        if kind == "message_delta":
            delta = payload.get("delta") or {}
            if isinstance(delta, Mapping) and delta.get("stop_reason"):
                self._stop = clean(str(delta["stop_reason"]))
            if isinstance(delta, Mapping) and isinstance(delta.get("stop_details"), Mapping):
                self._stop_details = clean_data(delta["stop_details"])
            self._take_usage(payload.get("usage"))
            return []
        if kind == "message_stop":
            self._done = True
            return []
        if kind == "error":
            error = map_error(None, error_info(payload), self._endpoint)
            if not self._blocks:
                raise error
            self._error = str(error)  # after part of the answer: keep it (see finish)
            self._done = True
            return []
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
        for index, raw in enumerate(content):
            if not isinstance(raw, Mapping):
                continue
            out.extend(self._start_block(index, raw))
            out.extend(self._stop_block(index))
        stop = body.get("stop_reason")
        self._stop = str(stop) if stop else None
        if isinstance(body.get("stop_details"), Mapping):
            self._stop_details = body["stop_details"]
        self._take_usage(body.get("usage"))
        self._done = True
        return out

    # -- the end ---------------------------------------------------------------------
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

    def _refusal_note(self) -> str:
        details = self._stop_details or {}
        category = details.get("category")
        explanation = details.get("explanation")
        label = f"refused by {self._endpoint.provider}" + (f" ({category})" if category else "")
        why = str(explanation) if explanation else "the model declined to answer this request"
        return f"[{label}: {why}]"

    def _tool_call(self, block: _Block) -> ToolCall:
        name = str(block.data.get("name") or "")
        if not name:
            raise self._protocol(f"tool_use block {block.data.get('id')!r} without a name")
        arguments = block.data.get("input")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise self._protocol(f"input for tool {name!r} that is not an object")
        return ToolCall(str(block.data["id"]), name, clean_data(arguments))

    def _replay(self) -> dict[str, Any] | None:
        blocks = [self._blocks[i].data for i in sorted(self._blocks)]
        if all(b.get("type") in _PLAIN_BLOCKS and not b.get("citations") for b in blocks):
            return None  # text and tool calls: rebuilt from the message's parts
        return {"source": self._source, "content": blocks}

    def finish(self) -> list[Event]:
        out: list[Event] = []
        for index in sorted(self._blocks):  # blocks that never sent content_block_stop
            if self._error is None or self._blocks[index].kind != "tool_use":
                out.extend(self._stop_block(index))
        if self._stop == "refusal":
            out.append(self._text(self._refusal_note(), note=True))
        calls = [b for b in self._blocks.values() if b.kind == "tool_use"]
        if self._error is None:
            out.extend(
                ToolCallComplete(self._tool_call(b)) for b in sorted(calls, key=lambda b: b.ordinal)
            )
        finish = stop_reason(self._stop, bool(calls))
        if self._error is not None:
            finish = stop_reason(self._stop) if self._stop else "error"
        out.append(
            Done(
                usage=self._reported_usage(),
                finish_reason=finish,
                model=self._model_id,
                provider_data=self._replay() if self._error is None else None,
                error=self._error,
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
        return build_payload(self.model, request, source=source_of("anthropic", self.request_url()))

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
