"""A scripted model server on 127.0.0.1 that speaks two wire formats.

Design note: a real HTTP/1.1 server (stdlib ``ThreadingHTTPServer`` on a background
thread, keep-alive, chunked transfer for streams, ``TCP_NODELAY``) so the providers are
tested through the same sockets, framing and timeouts they meet in the field. It speaks

- OpenAI Chat Completions: ``POST /v1/chat/completions`` (``stream: true`` → SSE
  ``data: {chunk}`` lines ending in ``data: [DONE]``, with the usage-only final chunk
  when ``stream_options.include_usage`` is set; otherwise one JSON body), and
- Anthropic Messages: ``POST /v1/messages`` (named SSE events ``message_start`` …
  ``message_stop`` with ``ping``; otherwise one JSON body),
- model listings: ``GET /v1/models`` and, with ``ollama=True``, Ollama's ``GET /api/tags``
  (the names in ``models``), so model discovery can find it as a local server,

with error bodies in each API's own shape. Replies come from a FIFO queue shared by both
endpoints (``enqueue``); with an empty queue the server echoes the last user message
(``You said: …``) so notebooks and demos work with no script. Every request is recorded
(headers, JSON body, handling time) for assertions. Unless a script gives ``usage``, the
input figures come from a model of each API's prompt cache (``fakecache.py``): cached and
cache-written tokens follow from the requests seen before, as on the real servers.

Faults a script can ask for: ``status`` (401/403/404/429/500/503/529… with
``retry_after``), ``hangup`` (close the connection without answering),
``drop_after=N`` (close the connection after N stream events),
``malformed=True`` (one event that is not JSON), ``stream_error`` (an in-stream error
event), ``chunk_delay`` (seconds before each event) and ``chunk_size``, ``stall``
(seconds of silence before the headers), ``keepalive`` (``: ping`` comments every N
seconds, forever), and ``raw`` (exact stream pieces, or the exact JSON body, as given).

Run it on its own for notebooks and kernel tests::

    python tests/fakeserver.py --port 0      # prints "fakeserver listening on http://…"

and script it over HTTP: ``POST /_script`` (a script object or a list of them, same
fields as :meth:`FakeServer.enqueue`), ``POST /_reset``, ``GET /_requests``,
``GET /_timings`` (seconds the server spent on each request), ``GET /_health``.
"""

from __future__ import annotations

import argparse
import json
import re
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fakecache import CacheRequestError, PromptCache

__all__ = ["FakeServer", "RecordedRequest", "Script", "collect", "spawn"]

_CONTEXT_TAG = re.compile(r"<context name=\"[^\"]*\">.*?</context>\s*", re.DOTALL)

OPENAI_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: (
        "Incorrect API key provided: {masked}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    403: ("You are not allowed to use this model.", "invalid_request_error", None),
    404: (
        "The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    429: (
        "Rate limit reached for requests per min (RPM). Please try again later.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    504: ("Gateway timeout.", "server_error", None),
    529: ("The server is overloaded.", "server_error", None),
}
ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "model: {model}"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
    500: ("api_error", "Internal server error"),
    502: ("api_error", "Bad gateway"),
    503: ("api_error", "Service unavailable"),
    504: ("api_error", "Gateway timeout"),
    529: ("overloaded_error", "Overloaded"),
}
CONTEXT_MESSAGES = {
    "openai": (
        "This model's maximum context length is 8192 tokens. However, your messages "
        "resulted in 9001 tokens. Please reduce the length of the messages."
    ),
    "anthropic": "prompt is too long: 210000 tokens > 200000 maximum",
}
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


# ------------------------------------------------------------------------- scripts


@dataclass
class Script:
    """One scripted reply (consumed by one request, whichever endpoint it hits).

    Parameters
    ----------
    text:
        The answer text, streamed ``chunk_size`` characters per event.
    tool_calls:
        ``[{"name": ..., "arguments": {...} or "raw json", "id": optional}]``; the
        arguments text is streamed ``chunk_size`` characters per event.
    usage:
        ``{"input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens"}`` in
        jupychat's vocabulary (rendered per API: Anthropic's ``input_tokens`` excludes the
        cached parts); default: a deterministic estimate from the request size.
    reasoning:
        Text sent as ``reasoning_content`` deltas / a ``thinking`` block before the answer.
    finish_reason:
        OpenAI finish reason (``stop``, ``length``, ``tool_calls``); mapped for Anthropic.
    status, retry_after, error_message, error_type, error_code:
        Answer with an error in the API's own body shape instead of a reply.
    context_overflow:
        Answer 400 with the API's "context too long" error.
    drop_after:
        Close the connection after this many stream events.
    malformed:
        Send one event whose data is not JSON (after the first event).
    stream_error:
        Send an in-stream error event of this type (e.g. ``"overloaded_error"``) after
        the first event.
    chunk_delay:
        Seconds to sleep before each stream event.
    chunk_size:
        Characters per text / arguments event.
    hangup:
        Read the request, then close the connection without answering (what a client
        sees when a kept-alive connection was closed by the server under its feet).
    raw:
        Pieces written exactly as given (``str`` is sent as UTF-8, ``bytes`` as they are),
        each as its own HTTP chunk after ``chunk_delay``, instead of the generated events;
        for a request without ``stream``, their concatenation is the JSON body.
    content_type:
        The content type of a ``raw`` answer (default: the event stream, or JSON).
    stall:
        Seconds to stay silent after reading the request, before sending anything.
    keepalive:
        After the events (or ``raw`` pieces), send a ``: ping`` comment every this many
        seconds instead of ending the stream, until the client hangs up (at most 60 s).
    """

    text: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] | None = None
    reasoning: str | None = None
    finish_reason: str | None = None
    status: int = 200
    retry_after: str | float | None = None
    error_message: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    context_overflow: bool = False
    drop_after: int | None = None
    malformed: bool = False
    stream_error: str | None = None
    chunk_delay: float = 0.0
    chunk_size: int = 8
    hangup: bool = False
    raw: list[str | bytes] | None = None
    content_type: str | None = None
    stall: float = 0.0
    keepalive: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Script:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown script field(s): {', '.join(sorted(unknown))}")
        values = dict(data)
        calls = []
        for call in values.get("tool_calls") or []:
            if isinstance(call, (list, tuple)):
                call = {"name": call[0], "arguments": call[1]}
            calls.append(dict(call))
        values["tool_calls"] = calls
        usage = values.get("usage")
        if isinstance(usage, (list, tuple)):
            values["usage"] = {"input_tokens": usage[0], "output_tokens": usage[1]}
        return cls(**values)


@dataclass
class RecordedRequest:
    """What the server saw: method, path, headers (lower-case names), JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: str
    received_at: float
    handling_time: float = 0.0

    @property
    def api(self) -> str:
        return "anthropic" if self.path.startswith("/v1/messages") else "openai"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _chunks(text: str, size: int) -> list[str]:
    size = max(1, int(size))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def echo_text(api: str, body: Mapping[str, Any]) -> str:
    """The deterministic reply for an empty queue: echo the last user or tool message."""
    for message in reversed(body.get("messages") or []):
        role = message.get("role")
        content = message.get("content")
        if role == "tool":
            return f"The tool returned: {_text_of(content)}"
        if role != "user":
            continue
        if api == "anthropic" and isinstance(content, list):
            results = [p for p in content if isinstance(p, dict) and p.get("type") == "tool_result"]
            if results:
                return f"The tool returned: {_text_of(results[-1].get('content'))}"
        said = _CONTEXT_TAG.sub("", _text_of(content)).strip()
        return f"You said: {said}" if said else "Hello!"
    return "Hello!"


def _estimate_usage(
    raw: str, text: str, script: Script, prompt: Mapping[str, int] | None = None
) -> dict[str, int]:
    """The script's usage, else ``prompt`` (the prompt cache's input figures) and an
    output estimate; without ``prompt``, input is estimated from the request size."""
    if script.usage is not None:
        usage = {"input_tokens": 0, "output_tokens": 0, "cached_tokens": 0, "cache_write_tokens": 0}
        usage.update({k: int(v) for k, v in script.usage.items()})
        return usage
    out_chars = len(text) + sum(len(json.dumps(c.get("arguments"))) for c in script.tool_calls)
    inputs = {"input_tokens": max(1, len(raw) // 4), "cached_tokens": 0, "cache_write_tokens": 0}
    return {**inputs, **(prompt or {}), "output_tokens": max(1, out_chars // 4)}


def _arguments_text(call: Mapping[str, Any]) -> str:
    args = call.get("arguments", {})
    return args if isinstance(args, str) else json.dumps(args)


# -------------------------------------------------------------------- wire: OpenAI


def _openai_error(script: Script, model: str, key: str) -> dict[str, Any]:
    status = 400 if script.context_overflow else script.status
    message, kind, code = OPENAI_ERRORS.get(status, ("Error.", "server_error", None))
    if script.context_overflow:
        message, code = CONTEXT_MESSAGES["openai"], "context_length_exceeded"
    masked = f"{key[:6]}{'*' * 10}{key[-4:]}" if len(key) > 12 else "(none)"
    message = script.error_message or message
    message = message.replace("{masked}", masked).replace("{model}", model)
    return {
        "error": {
            "message": message,
            "type": script.error_type or kind,
            "param": None,
            "code": script.error_code or code,
        }
    }


def openai_events(
    script: Script, body: Mapping[str, Any], text: str, usage: dict[str, int]
) -> Iterator[str]:
    """The SSE ``data:`` payloads of a Chat Completions stream (without framing)."""
    model = str(body.get("model", "fake"))
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:20]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
    }
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        data = {
            **base,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if with_usage:
            data["usage"] = None
        return json.dumps(data)

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    for piece in _chunks(script.reasoning or "", script.chunk_size):
        yield chunk({"reasoning_content": piece})
    for piece in _chunks(text, script.chunk_size):
        yield chunk({"content": piece})
    for index, call in enumerate(script.tool_calls):
        call_id = call.get("id") or f"call_{uuid.uuid4().hex[:24]}"
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call_id,
                        "type": "function",
                        "function": {"name": call["name"], "arguments": ""},
                    }
                ]
            }
        )
        for piece in _chunks(_arguments_text(call), script.chunk_size):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    finish = script.finish_reason or ("tool_calls" if script.tool_calls else "stop")
    yield chunk({}, finish)
    if with_usage:
        yield json.dumps({**base, "choices": [], "usage": _openai_usage(usage)})
    yield "[DONE]"


def _openai_usage(usage: Mapping[str, int]) -> dict[str, Any]:
    return {
        "prompt_tokens": usage["input_tokens"],
        "completion_tokens": usage["output_tokens"],
        "total_tokens": usage["input_tokens"] + usage["output_tokens"],
        "prompt_tokens_details": {"cached_tokens": usage["cached_tokens"], "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def openai_body(
    script: Script, body: Mapping[str, Any], text: str, usage: dict[str, int]
) -> dict[str, Any]:
    """A non-streamed Chat Completions response."""
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if script.reasoning:
        message["reasoning_content"] = script.reasoning
    if script.tool_calls:
        message["tool_calls"] = [
            {
                "id": c.get("id") or f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": c["name"], "arguments": _arguments_text(c)},
            }
            for c in script.tool_calls
        ]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:20]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(body.get("model", "fake")),
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": script.finish_reason
                or ("tool_calls" if script.tool_calls else "stop"),
            }
        ],
        "usage": _openai_usage(usage),
        "system_fingerprint": "fp_fake",
    }


# ----------------------------------------------------------------- wire: Anthropic


def _anthropic_error(script: Script, model: str) -> dict[str, Any]:
    status = 400 if script.context_overflow else script.status
    kind, message = ANTHROPIC_ERRORS.get(status, ("api_error", "Error"))
    if script.context_overflow:
        message = CONTEXT_MESSAGES["anthropic"]
    return {
        "type": "error",
        "error": {
            "type": script.error_type or kind,
            "message": (script.error_message or message).replace("{model}", model),
        },
        "request_id": f"req_{uuid.uuid4().hex[:24]}",
    }


def _anthropic_usage(usage: Mapping[str, int]) -> dict[str, int]:
    cached, written = usage["cached_tokens"], usage["cache_write_tokens"]
    return {
        "input_tokens": max(0, usage["input_tokens"] - cached - written),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
        "output_tokens": usage["output_tokens"],
    }


def _stop_reason(script: Script) -> str:
    finish = script.finish_reason or ("tool_calls" if script.tool_calls else "stop")
    return _STOP_REASONS.get(finish, finish)


def anthropic_events(
    script: Script, body: Mapping[str, Any], text: str, usage: dict[str, int]
) -> Iterator[tuple[str, str]]:
    """``(event name, data)`` pairs of a Messages stream."""
    wire_usage = _anthropic_usage(usage)

    def ev(name: str, data: dict[str, Any]) -> tuple[str, str]:
        return name, json.dumps({"type": name, **data})

    yield ev(
        "message_start",
        {
            "message": {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": str(body.get("model", "fake")),
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {**wire_usage, "output_tokens": 1},
            }
        },
    )
    index = 0
    if script.reasoning:
        yield ev(
            "content_block_start",
            {"index": index, "content_block": {"type": "thinking", "thinking": ""}},
        )
        for piece in _chunks(script.reasoning, script.chunk_size):
            yield ev(
                "content_block_delta",
                {"index": index, "delta": {"type": "thinking_delta", "thinking": piece}},
            )
        yield ev(
            "content_block_delta",
            {"index": index, "delta": {"type": "signature_delta", "signature": "c2ln"}},
        )
        yield ev("content_block_stop", {"index": index})
        index += 1
    yield ev("ping", {})
    if text or not script.tool_calls:
        yield ev(
            "content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}
        )
        for piece in _chunks(text, script.chunk_size):
            yield ev(
                "content_block_delta",
                {"index": index, "delta": {"type": "text_delta", "text": piece}},
            )
        yield ev("content_block_stop", {"index": index})
        index += 1
    for call in script.tool_calls:
        yield ev(
            "content_block_start",
            {
                "index": index,
                "content_block": {
                    "type": "tool_use",
                    "id": call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}",
                    "name": call["name"],
                    "input": {},
                },
            },
        )
        yield ev(
            "content_block_delta",
            {"index": index, "delta": {"type": "input_json_delta", "partial_json": ""}},
        )
        for piece in _chunks(_arguments_text(call), script.chunk_size):
            yield ev(
                "content_block_delta",
                {"index": index, "delta": {"type": "input_json_delta", "partial_json": piece}},
            )
        yield ev("content_block_stop", {"index": index})
        index += 1
    yield ev(
        "message_delta",
        {
            "delta": {"stop_reason": _stop_reason(script), "stop_sequence": None},
            "usage": {"output_tokens": wire_usage["output_tokens"]},
        },
    )
    yield ev("message_stop", {})


def anthropic_body(
    script: Script, body: Mapping[str, Any], text: str, usage: dict[str, int]
) -> dict[str, Any]:
    """A non-streamed Messages response."""
    content: list[dict[str, Any]] = []
    if script.reasoning:
        content.append({"type": "thinking", "thinking": script.reasoning, "signature": "c2ln"})
    if text:
        content.append({"type": "text", "text": text})
    for call in script.tool_calls:
        args = call.get("arguments", {})
        call_id = call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}"
        content.append(
            {
                "type": "tool_use",
                "id": call_id,
                "name": call["name"],
                "input": json.loads(args) if isinstance(args, str) else args,
            }
        )
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": str(body.get("model", "fake")),
        "content": content,
        "stop_reason": _stop_reason(script),
        "stop_sequence": None,
        "usage": _anthropic_usage(usage),
    }


# -------------------------------------------------------------------------- server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing ------------------------------------------------------------------

    def _read_body(self) -> str:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length).decode("utf-8") if length else ""

    def _send_json(self, status: int, data: Any, headers: Mapping[str, str] | None = None) -> None:
        payload = json.dumps(data).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    # -- routes --------------------------------------------------------------------

    def do_GET(self) -> None:
        if self.path.startswith("/_requests"):
            self._send_json(200, [r.to_dict() for r in self.server.owner.requests])
        elif self.path.startswith("/_timings"):
            self._send_json(200, [r.handling_time for r in self.server.owner.requests])
        elif self.path.startswith("/_health"):
            self._send_json(200, {"ok": True, "queued": self.server.owner.pending})
        elif self.path.startswith("/v1/models"):
            self.server.owner.listings.append(self.path)
            names = self.server.owner.models or ["fake-model"]
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": name,
                            "object": "model",
                            "created": 0,
                            "owned_by": "fakeserver",
                            **self.server.owner.model_meta,
                        }
                        for name in names
                    ],
                },
            )
        elif self.path.startswith("/api/tags") and self.server.owner.ollama:
            # Ollama's own listing (the fake answers as an Ollama only when asked to)
            self.server.owner.listings.append(self.path)
            names = self.server.owner.models or ["fake-model:latest"]
            self._send_json(
                200,
                {
                    "models": [
                        {
                            "name": name,
                            "model": name,
                            "size": 1,
                            "details": {
                                "family": "nomic-bert" if "embed" in name else "llama",
                                "families": ["nomic-bert" if "embed" in name else "llama"],
                            },
                        }
                        for name in names
                    ]
                },
            )
        else:
            self._send_json(
                404,
                {
                    "error": {
                        "message": f"no route {self.path}",
                        "type": "invalid_request_error",
                        "code": None,
                    }
                },
            )

    def do_POST(self) -> None:
        started = time.perf_counter()
        raw = self._read_body()
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        if path == "/_reset":
            owner.reset()
            self._send_json(200, {"ok": True})
            return
        if path == "/_script":
            try:
                data = json.loads(raw or "{}")
                for item in data if isinstance(data, list) else [data]:
                    owner.enqueue_script(Script.from_dict(item))
            except (ValueError, TypeError) as exc:
                self._send_json(400, {"error": str(exc)})
                return
            self._send_json(200, {"ok": True, "queued": owner.pending})
            return
        if path.endswith("/chat/completions"):
            api = "openai"
        elif path.endswith("/v1/messages"):
            api = "anthropic"
        else:
            self._send_json(
                404,
                {
                    "error": {
                        "message": f"no route {self.path}",
                        "type": "invalid_request_error",
                        "code": None,
                    }
                },
            )
            return
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        record = RecordedRequest(
            "POST",
            self.path,
            {k.lower(): v for k, v in self.headers.items()},
            body,
            raw,
            time.time(),
        )
        owner.record(record)
        try:
            if not isinstance(body, dict):
                self._send_json(
                    400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}}
                )
                return
            script = owner.next_script()
            if owner.context_window and len(raw) // 4 > owner.context_window:
                script = Script(context_overflow=True)
            elif script == Script() and owner.responder is not None:
                text = owner.responder(api, body)
                script = Script(text=text) if text is not None else script
            self._answer(api, script, body, raw)
        finally:
            record.handling_time = time.perf_counter() - started

    def _client_gone(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True as soon as the client closes its end."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return False
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.05))
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return True
                except OSError:
                    return True
                time.sleep(min(left, 0.05))

    def _raw(self, script: Script, body: dict[str, Any]) -> None:
        pieces = [
            p if isinstance(p, bytes) else p.encode("utf-8", "surrogatepass")
            for p in script.raw or []
        ]
        if not body.get("stream"):
            payload = b"".join(pieces)
            self.send_response(200)
            self.send_header("content-type", script.content_type or "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("content-type", script.content_type or "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for piece in pieces:
            if script.chunk_delay and self._client_gone(script.chunk_delay):
                return
            if piece:
                self._write_chunk(piece)
        self._finish_stream(script)

    def _finish_stream(self, script: Script) -> None:
        if script.keepalive is None:
            self._end_stream()
            return
        self.close_connection = True
        end = time.monotonic() + 60.0
        while time.monotonic() < end:
            self.wfile.flush()
            if self._client_gone(script.keepalive):
                return
            self._write_chunk(b": ping\n\n")

    def _answer(self, api: str, script: Script, body: dict[str, Any], raw: str) -> None:
        model = str(body.get("model", ""))
        if script.stall and self._client_gone(script.stall):
            self.close_connection = True
            return
        if script.raw is not None:
            self._raw(script, body)
            return
        if script.hangup:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if script.status >= 400 or script.context_overflow:
            status = 400 if script.context_overflow else script.status
            headers: dict[str, str] = {}
            if script.retry_after is not None:
                headers["retry-after"] = str(script.retry_after)
            if api == "openai":
                key = self.headers.get("authorization", "").removeprefix("Bearer ").strip()
                headers["x-request-id"] = f"req_{uuid.uuid4().hex[:16]}"
                self._send_json(status, _openai_error(script, model, key), headers)
            else:
                headers["request-id"] = f"req_{uuid.uuid4().hex[:16]}"
                self._send_json(status, _anthropic_error(script, model), headers)
            return
        try:  # the prompt cache decides the input figures, as the real servers do
            prompt = self.server.owner.prompt_cache.usage(api, body)
        except CacheRequestError as exc:
            self._send_json(
                400, _anthropic_error(Script(status=400, error_message=str(exc)), model)
            )
            return
        text = (
            script.text
            if script.text is not None
            else ("" if script.tool_calls else echo_text(api, body))
        )
        usage = _estimate_usage(raw, text, script, prompt)
        if not body.get("stream"):
            maker = openai_body if api == "openai" else anthropic_body
            self._send_json(200, maker(script, body, text, usage))
            return
        if api == "openai":
            frames: Iterable[bytes] = (
                f"data: {data}\n\n".encode() for data in openai_events(script, body, text, usage)
            )
        else:
            frames = (
                f"event: {name}\ndata: {data}\n\n".encode()
                for name, data in anthropic_events(script, body, text, usage)
            )
        self._stream(api, script, frames)

    def _stream(self, api: str, script: Script, frames: Iterable[bytes]) -> None:
        self._start_stream()
        for n, frame in enumerate(frames):
            if script.drop_after is not None and n >= script.drop_after:
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if script.chunk_delay:
                if script.keepalive is not None or script.chunk_delay >= 0.05:
                    if self._client_gone(script.chunk_delay):
                        self.close_connection = True
                        return
                else:
                    time.sleep(script.chunk_delay)
            self._write_chunk(frame)
            if n == 0 and script.malformed:
                self._write_chunk(b"data: {this is not json\n\n")
            if n == 0 and script.stream_error:
                self._write_chunk(self._stream_error(api, script.stream_error))
                self._end_stream()
                return
        self._finish_stream(script)

    @staticmethod
    def _stream_error(api: str, kind: str) -> bytes:
        messages = {
            "overloaded_error": "Overloaded",
            "api_error": "Internal server error",
            "rate_limit_error": "Rate limited",
        }
        if api == "anthropic":
            data = {"type": "error", "error": {"type": kind, "message": messages.get(kind, kind)}}
            return f"event: error\ndata: {json.dumps(data)}\n\n".encode()
        data = {"error": {"message": messages.get(kind, kind), "type": kind, "code": None}}
        return f"data: {json.dumps(data)}\n\n".encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-stream (tests of cancellation, timeouts) are normal here.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def __init__(self, address: tuple[str, int], owner: FakeServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)


class FakeServer:
    """The loopback fake model server.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``openai_base_url``
    (``http://127.0.0.1:PORT/v1``) and ``anthropic_base_url`` (``http://127.0.0.1:PORT``)
    are what the providers take as ``base_url``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        models: Sequence[str] = (),
        ollama: bool = False,
    ) -> None:
        self._address = (host, port)
        self.models = list(models)  # what /v1/models (and /api/tags) list
        self.ollama = ollama  # also answer Ollama's GET /api/tags
        self.listings: list[str] = []  # paths of the model-listing GETs received
        self._queue: deque[Script] = deque()
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.prompt_cache = PromptCache()
        # a "capable" model for long-session tests: with an empty queue, answer with
        # responder(api, body) when it returns text; refuse requests over context_window
        # tokens (len/4) as the real servers do; model_meta is added to /v1/models
        self.responder: Any = None
        self.context_window: int | None = None
        self.model_meta: dict[str, Any] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> FakeServer:
        self._server = _Server(self._address, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fakeserver",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    # -- scripting -----------------------------------------------------------------

    def enqueue(self, text: str | None = None, **fields: Any) -> FakeServer:
        """Queue one reply; see :class:`Script` for the fields. Returns ``self``."""
        return self.enqueue_script(Script.from_dict({"text": text, **fields}))

    def enqueue_script(self, script: Script) -> FakeServer:
        with self._lock:
            self._queue.append(script)
        return self

    def next_script(self) -> Script:
        with self._lock:
            return self._queue.popleft() if self._queue else Script()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def reset(self) -> None:
        """Forget queued replies, recorded requests and the prompt cache."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
        self.prompt_cache.reset()

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    @property
    def last(self) -> RecordedRequest:
        """The most recent request."""
        return self.requests[-1]

    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]


def collect(
    provider: Any, request: Any, mode: str = "sync", sink: list[Any] | None = None
) -> list[Any]:
    """Test helper: run one provider call, ``"sync"`` (``stream``) or ``"async"`` (``astream``).

    Events are appended to ``sink`` as they arrive, so a test can see what was yielded
    before an error was raised.
    """
    import asyncio

    out = sink if sink is not None else []
    if mode == "sync":
        for event in provider.stream(request):
            out.append(event)
        return out

    async def run() -> None:
        async for event in provider.astream(request):
            out.append(event)

    asyncio.run(run())
    return out


def spawn(
    port: int = 0, python: str | None = None, timeout: float = 10.0
) -> tuple[subprocess.Popen[str], str]:
    """Start ``python tests/fakeserver.py`` as a subprocess; returns ``(process, base URL)``."""
    proc = subprocess.Popen(
        [python or sys.executable, __file__, "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline().strip() if ready else ""
    proc.stdout.close()  # the server prints nothing after its address line
    match = re.search(r"(http://\S+)", line)
    if not match:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"fakeserver did not start: {line!r}")
    return proc, match.group(1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    server = FakeServer(args.host, args.port).start()
    print(f"fakeserver listening on http://{args.host}:{server.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
