"""The OpenAI Chat Completions wire format: request bodies and response chunks.

Design note: one format, two transports. Every OpenAI-compatible HTTP server
(:mod:`.openai`) and the embedded llama.cpp model (:mod:`.local`, which hands over
already-parsed chunk dicts) speak it, and both use what is here: :func:`build_payload`
(from :mod:`.chat_payload`) maps a :class:`ChatRequest` to the JSON body (a pure
function), and a per-request
:class:`OpenAIStreamParser` turns chunks into :mod:`jupychat.events`, so nothing about
one stream is kept on a provider. No network code here (and no httpx import).

Wire format (``POST {base_url}/chat/completions`` with ``stream: true`` and
``stream_options: {"include_usage": true}``): ``data: {chunk}`` lines whose
``choices[0].delta`` carries ``content``, ``refusal``, reasoning and ``tool_calls``
fragments (``index``, then ``id`` / ``function.name`` once, ``function.arguments`` in
pieces), a ``finish_reason`` on the last choice chunk, a final chunk with empty
``choices`` and ``usage`` (``prompt_tokens_details.cached_tokens`` and
``cache_write_tokens``), then ``data: [DONE]``. A non-streamed answer is one JSON body
with ``choices[0].message``. Servers differ in where reasoning goes (a field, typed
content parts, ``<think>`` tags: :mod:`._reasoning`); the fields they send are sent
back to them, and only them, with the answer (:mod:`._replay`). An ``error`` chunk
after part of the answer (OpenRouter sends one after ``finish_reason: "length"``) ends
the answer there: :class:`~jupychat.events.Done` carries the error and the turn keeps
the part that came, marked interrupted.

Context blocks are sent as text before the user's words, fenced by
:func:`~jupychat.providers._fence.context_text`. A session's request is its previous
request plus the answer and the new question, serialised in insertion order, so the
messages already sent are byte-identical turn to turn and the servers' automatic prefix
caches (OpenAI: 1,024 tokens and up) hit; ``ChatRequest.output`` becomes
``response_format`` (:func:`response_format`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jupychat.errors import ProtocolError
from jupychat.events import Done, Event, ReasoningDelta, TextDelta, ToolCallComplete, ToolCallDelta
from jupychat.types import ToolCall, Usage

from ._errors import Endpoint, error_info, fast_loads, map_error, parse_json
from ._fence import context_text
from ._reasoning import ThinkSplitter, content_pieces, details_text, merge_details
from ._replay import source_of
from ._unicode import Joiner, clean, clean_data, has_surrogates
from .chat_payload import REASONING_FIELDS, build_payload, messages_payload, response_format

__all__ = [
    "OpenAIStreamParser",
    "build_payload",
    "context_text",
    "messages_payload",
    "response_format",
]

_PLAIN_DELTA = frozenset({"content", "role"})
"""Keys of a delta that carries answer text only (``role`` changes nothing here)."""


# --------------------------------------------------------------------------- stream


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    joiner: Joiner = field(default_factory=Joiner)
    extra: dict[str, Any] = field(default_factory=dict)  # fields beyond the standard ones


_CALL_KEYS = frozenset({"index", "id", "type", "function"})


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _text_or_none(value: Any) -> str | None:
    if not value:
        return None
    return clean(value) if isinstance(value, str) else str(value)


def _objects(value: Any, what: str) -> list[Mapping[str, Any]]:
    """A list of JSON objects (``None`` → ``[]``); anything else is a protocol error."""
    if not value:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise TypeError(f"{what} is not a list of objects")
    return value


def _usage(data: Mapping[str, Any]) -> Usage:
    details = data.get("prompt_tokens_details") or {}
    if not isinstance(details, Mapping):
        details = {}
    # OpenAI/OpenRouter: prompt_tokens_details; DeepSeek: prompt_cache_hit_tokens; some
    # routers (Together via Hugging Face): a top-level cached_tokens
    cached = (
        details.get("cached_tokens")
        or data.get("prompt_cache_hit_tokens")
        or data.get("cached_tokens")
    )
    written = details.get("cache_write_tokens") or details.get("cache_creation_tokens")
    return Usage(
        input_tokens=int(data.get("prompt_tokens") or 0),
        output_tokens=int(data.get("completion_tokens") or 0),
        cached_tokens=int(cached or 0),
        cache_write_tokens=int(written or 0),
    )


class OpenAIStreamParser:
    """Turns Chat Completions chunks (streamed, one JSON body, or parsed dicts) into events.

    Reasoning is read from ``reasoning_content`` / ``reasoning`` / ``reasoning_details``,
    from Mistral-style ``thinking`` content parts and from ``<think>`` tags inside the
    content (:mod:`._reasoning`); a ``refusal`` is shown as the answer, marked, with
    ``finish_reason="refusal"``. The reasoning fields the server sent travel on
    :class:`Done` as ``provider_data``, to be sent back to the same server. An error
    chunk after part of the answer ends the answer there (``Done.error``) instead of
    discarding it.

    Parameters
    ----------
    endpoint:
        Where the chunks come from (named in errors).
    model_id:
        The model id put on :class:`~jupychat.events.Done`.
    advice:
        What a protocol error tells the user to check (default: that the endpoint's URL
        is an OpenAI-compatible Chat Completions API).
    """

    def __init__(self, endpoint: Endpoint, model_id: str, advice: str | None = None) -> None:
        self._endpoint = endpoint
        self._model_id = model_id
        self._advice = advice or (
            f"check that {endpoint.url} is an OpenAI-compatible Chat Completions API"
        )
        self._calls: dict[int, _PendingCall] = {}
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._done = False
        self._text = Joiner()
        self._reasoning = Joiner()
        self._think = ThinkSplitter()
        self._refused = False
        self._error: str | None = None
        self._started = False
        # the reasoning fields as the server named them, whole (for provider_data)
        self._fields: dict[str, list[str]] = {}
        self._details: list[dict[str, Any]] = []

    @property
    def ended(self) -> bool:
        return self._done

    @property
    def complete(self) -> bool:
        return self._done or self._finish is not None

    def feed(self, event: str, data: str) -> list[Event]:
        text = data.strip()
        if text == "[DONE]":
            self._done = True
            return []
        if not text or self._error is not None:
            return []
        try:
            chunk = fast_loads(text)
        except (ValueError, RecursionError):
            chunk = parse_json(text, self._endpoint)  # raises the one-line ProtocolError
        if type(chunk) is dict:
            out = self._plain(chunk)
            if out is not None:
                return out
        return self.feed_chunk(chunk)

    def _plain(self, chunk: dict[str, Any]) -> list[Event] | None:
        """The common chunk, one choice whose delta is a piece of answer text and nothing
        else, read the short way; ``None`` for any other chunk (read the long way)."""
        choices = chunk.get("choices")
        if (
            type(choices) is not list
            or len(choices) != 1
            or chunk.get("usage")
            or chunk.get("error")
        ):
            return None
        choice = choices[0]
        if type(choice) is not dict or choice.get("finish_reason") or choice.get("index", 0) != 0:
            return None
        delta = choice.get("delta")
        if type(delta) is not dict:
            return None
        content = delta.get("content")
        if type(content) is not str or not _PLAIN_DELTA.issuperset(delta):
            return None
        if not content:
            return []
        think = self._think
        if (
            not (think.held or think.inside or think.trim or self._text.held)
            and "<" not in content
            and (content.isascii() or not has_surrogates(content))
        ):
            # what the think splitter and the joiner hand back unchanged (no tag can start
            # here, nothing held, no half of a surrogate pair): one event, no more calls
            self._started = True
            return [TextDelta(content)]
        out = self._text_piece(content)
        if out:
            self._started = True
        return out

    def feed_chunk(self, chunk: Any) -> list[Event]:
        """One chunk already parsed from JSON (what llama.cpp hands its callbacks)."""
        if not isinstance(chunk, Mapping):
            raise self._protocol(f"a stream chunk that is not an object ({str(chunk)[:40]!r})")
        if chunk.get("error"):
            error = map_error(None, error_info(chunk), self._endpoint)
            if not (self._started or self._finish):
                raise error
            # after part of the answer (OpenRouter: after finish_reason "length"): keep it
            if chunk.get("usage"):
                self._usage = self._read_usage(chunk["usage"])
            self._error = str(error)
            self._done = True
            return []
        return self._chunk(chunk)

    def feed_json(self, body: Any) -> list[Event]:
        if not isinstance(body, Mapping):
            raise self._protocol("a response that is not a JSON object")
        if body.get("error"):
            raise map_error(None, error_info(body), self._endpoint)
        body = clean_data(body)  # one whole document: any surrogate left is a lone half
        out: list[Event] = []
        choices = body.get("choices") or []
        if not isinstance(choices, list):
            raise self._protocol("choices that are not a list")
        if choices:
            choice = choices[0]
            if not isinstance(choice, Mapping):
                raise self._protocol("a choice that is not an object")
            message = choice.get("message") or {}
            if not isinstance(message, Mapping):
                raise self._protocol("a message that is not an object")
            out.extend(self._message_part(message))
            for position, call in enumerate(_objects(message.get("tool_calls"), "tool_calls")):
                out.extend(self._call_delta(position, call))
            self._finish = _text_or_none(choice.get("finish_reason")) or self._finish
        if body.get("usage"):
            self._usage = self._read_usage(body["usage"])
        self._done = True
        return out

    def _protocol(self, what: str) -> ProtocolError:
        return ProtocolError(
            f"{self._endpoint.provider} sent {what}; {self._advice}",
            provider=self._endpoint.provider,
        )

    def _malformed(self, tool: str, what: str, raw: str) -> ProtocolError:
        """Tool-call arguments the model wrote badly (small models do): ask again."""
        return ProtocolError(
            f"{self._endpoint.provider} sent arguments for tool {tool!r} that are {what} "
            f"({raw[:60]!r}): the model wrote a malformed tool call; ask again, or use a "
            "model that is better at tools",
            provider=self._endpoint.provider,
        )

    def _call_delta(self, position: int, fragment: Mapping[str, Any]) -> list[Event]:
        index = fragment.get("index")
        index = position if not isinstance(index, int) or isinstance(index, bool) else index
        call_id = _text_or_none(fragment.get("id"))
        pending = self._calls.get(index)
        if pending is not None and call_id and pending.id and call_id != pending.id:
            index = max(self._calls) + 1  # a server that reuses index 0 for every call
            pending = None
        if pending is None:
            pending = self._calls[index] = _PendingCall()
        function = fragment.get("function") or {}
        if not isinstance(function, Mapping):
            raise self._protocol(f"tool call #{index} whose function is not an object")
        name = _text_or_none(function.get("name"))
        arguments = function.get("arguments") or ""
        if not isinstance(arguments, str):  # a server that sends parsed arguments
            arguments = json.dumps(arguments, ensure_ascii=False)
        arguments = pending.joiner.push(arguments)
        if call_id and not pending.id:
            pending.id = call_id
        if name and not pending.name:
            pending.name = name
        if arguments:
            pending.arguments.append(arguments)
        for key, value in fragment.items():  # e.g. Gemini's extra_content.thought_signature
            if key not in _CALL_KEYS and value is not None:
                pending.extra[key] = value
        self._started = True
        return [ToolCallDelta(index, call_id, name, arguments)]

    # -- text, reasoning, refusal ---------------------------------------------------
    def _reasoning_piece(self, piece: str) -> list[Event]:
        piece = self._reasoning.push(piece)
        return [ReasoningDelta(piece)] if piece else []

    def _text_piece(self, piece: str) -> list[Event]:
        reasoning, text = self._think.push(piece)
        out = self._reasoning_piece(reasoning) if reasoning else []
        text = self._text.push(text) if text else ""
        if text:
            out.append(TextDelta(text))
        return out

    def _message_part(self, part: Mapping[str, Any]) -> list[Event]:
        """A ``delta`` (or a whole ``message``): reasoning, content and refusal, in order."""
        content = part.get("content")
        if type(content) is str and _PLAIN_DELTA.issuperset(part):
            # the common chunk, a piece of answer text and nothing else: the short way
            out = self._text_piece(content) if content else []
            if out:
                self._started = True
            return out
        out = []
        for name in REASONING_FIELDS:
            value = part.get(name)
            if value and isinstance(value, str):
                self._fields.setdefault(name, []).append(value)
        details = part.get("reasoning_details")
        if details:
            merge_details(self._details, details)
        reasoning = part.get("reasoning_content") or part.get("reasoning")
        if not reasoning and details and not self._fields:
            reasoning = details_text(details)  # only details: their text is the reasoning
        if reasoning:
            out.extend(self._reasoning_piece(_as_text(reasoning)))
        thought, content = content_pieces(part.get("content"))
        if thought:
            out.extend(self._reasoning_piece(thought))
        if content:
            out.extend(self._text_piece(content))
        refusal = part.get("refusal")
        if refusal and isinstance(refusal, str):
            if not self._refused:
                self._refused = True
                refusal = f"[refusal] {refusal}"
            piece = self._text.push(refusal)
            if piece:
                out.append(TextDelta(piece))
        if out:
            self._started = True
        return out

    def _chunk(self, chunk: Mapping[str, Any]) -> list[Event]:
        out: list[Event] = []
        if chunk.get("usage"):
            self._usage = self._read_usage(chunk["usage"])
        for choice in _objects(chunk.get("choices"), "choices"):
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if not isinstance(delta, Mapping):
                raise self._protocol("a delta that is not an object")
            out.extend(self._message_part(delta))
            for position, fragment in enumerate(_objects(delta.get("tool_calls"), "tool_calls")):
                out.extend(self._call_delta(position, fragment))
            if choice.get("finish_reason"):
                self._finish = _as_text(choice["finish_reason"])
        return out

    def _read_usage(self, data: Any) -> Usage:
        try:
            return _usage(data)
        except (AttributeError, TypeError, ValueError) as exc:
            raise self._protocol(f"usage that is not token counts ({str(data)[:40]!r})") from exc

    def _replay(self, calls: list[ToolCall]) -> dict[str, Any] | None:
        fields: dict[str, Any] = {k: "".join(v) for k, v in self._fields.items()}
        if self._details:
            fields["reasoning_details"] = self._details
        pending = [self._calls[i] for i in sorted(self._calls)]
        extras = {c.id: p.extra for c, p in zip(calls, pending, strict=False) if p.extra}
        if not fields and not extras:
            return None
        data: dict[str, Any] = {"source": source_of("openai", self._endpoint.url)}
        if fields:
            data["fields"] = fields
        if extras:
            data["tool_calls"] = extras
        return clean_data(data)

    def finish(self) -> list[Event]:
        out: list[Event] = []
        thought, text = self._think.flush()
        if thought:
            out.extend(self._reasoning_piece(thought))
        if text:
            piece = self._text.push(text)
            if piece:
                out.append(TextDelta(piece))
        reasoning, text = self._reasoning.flush(), self._text.flush()
        if reasoning:
            out.append(ReasoningDelta(reasoning))
        if text:
            out.append(TextDelta(text))
        calls = self._complete_calls() if self._error is None else []
        out.extend(ToolCallComplete(call) for call in calls)
        finish = self._finish or ("tool_calls" if self._calls else "stop")
        if self._calls and finish == "stop":
            finish = "tool_calls"
        if self._refused and finish in ("stop", "content_filter"):
            finish = "refusal"
        if self._error is not None:
            finish = self._finish or "error"
        out.append(
            Done(
                usage=self._usage,
                finish_reason=finish,
                model=self._model_id,
                provider_data=None if self._error else self._replay(calls),
                error=self._error,
            )
        )
        return out

    def _complete_calls(self) -> list[ToolCall]:
        out: list[ToolCall] = []
        for index in sorted(self._calls):
            pending = self._calls[index]
            if not pending.name:
                raise self._protocol(f"tool call #{index} without a function name")
            pending.arguments.append(pending.joiner.flush())
            raw = "".join(pending.arguments).strip()
            try:
                arguments = json.loads(raw) if raw else {}
            except ValueError as exc:
                raise self._malformed(pending.name, "not valid JSON", raw) from exc
            if not isinstance(arguments, dict):
                raise self._malformed(pending.name, "not an object", raw)
            call_id = pending.id or f"call_{os.urandom(12).hex()}"
            out.append(ToolCall(call_id, pending.name, clean_data(arguments)))
        return out
