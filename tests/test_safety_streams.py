"""Stream safety: fuzzed SSE streams and JSON bodies through both wire formats.

Property tier (hypothesis, seeded): valid streams cut at random byte boundaries, with
random line endings, comments, junk, invalid UTF-8, huge lines, a missing end marker and
duplicate tool-call indices, fed through the real SSE path (``httpx.MockTransport`` with a
chunked body, plus a smaller sample through the loopback server), and arbitrary JSON
bodies (with junk or invalid UTF-8 in front). Every outcome is either the same parse as
the unsplit stream or a one-line ``ProviderError``; nothing else. Case counts: 150 valid
and 150 damaged streams per wire format (a quarter to a fifth also through the async
driver), 20 per format through the loopback server, 100 JSON bodies per format. The split
surrogate pairs are in ``test_safety_surrogates.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakeserver import collect
from fixtures_server import fake_server
from jupychat.errors import ProviderError
from jupychat.providers.base import ChatRequest
from jupychat.types import Message
from stream_frames import (
    EMOJI,
    anthropic_frames,
    encodable,
    openai_frames,
    provider_for,
    summary,
)

__all__ = ["fake_server"]  # the loopback server fixture, imported so pytest finds it here

# ------------------------------------------------------------------ fuzz: generators

ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs",))
TEXT = st.text(
    alphabet=st.one_of(ALPHABET, st.sampled_from([EMOJI, "🎉", "𝄞", "é", "\n", '"'])), max_size=40
)


def utf16_units(text: str) -> list[str]:
    """``text`` as UTF-16 code units: an astral character becomes its two halves."""
    units: list[str] = []
    for char in text:
        code = ord(char)
        if code > 0xFFFF:
            high, low = divmod(code - 0x10000, 0x400)
            units += [chr(0xD800 + high), chr(0xDC00 + low)]
        else:
            units.append(char)
    return units


@st.composite
def pieces_of(draw: st.DrawFn, text: str) -> list[str]:
    """``text`` cut into pieces at random UTF-16 positions (so pairs get split)."""
    units = utf16_units(text)
    if not units:
        return []
    cuts = sorted(set(draw(st.lists(st.integers(1, len(units)), max_size=6))) | {len(units)})
    out, start = [], 0
    for cut in cuts:
        out.append("".join(units[start:cut]))
        start = cut
    return [p for p in out if p]


ARGS = st.dictionaries(
    st.text(alphabet="abcxyz_", min_size=1, max_size=6),
    st.one_of(
        TEXT,
        st.integers(-(10**6), 10**6),
        st.booleans(),
        st.none(),
        st.lists(st.integers(0, 9), max_size=3),
    ),
    max_size=3,
)


@st.composite
def stream_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid answer: text, reasoning, tool calls; each cut into pieces."""
    text = draw(TEXT)
    reasoning = draw(st.one_of(st.just(""), TEXT))
    calls = draw(st.lists(st.tuples(st.sampled_from(["echo", "add", "look_up"]), ARGS), max_size=2))
    return {
        "text": text,
        "reasoning": reasoning,
        "calls": [(name, args) for name, args in calls],
        "text_pieces": draw(pieces_of(text)),
        "reasoning_pieces": draw(pieces_of(reasoning)),
        "call_pieces": [
            (name, draw(pieces_of(json.dumps(args, ensure_ascii=False)))) for name, args in calls
        ],
    }


def build(api: str, spec: dict[str, Any], *, end: bool = True) -> list[str]:
    if api == "openai":
        return openai_frames(
            spec["text_pieces"], spec["reasoning_pieces"], spec["call_pieces"], done=end
        )
    return anthropic_frames(
        spec["text_pieces"], spec["reasoning_pieces"], spec["call_pieces"], stop=end
    )


def expected(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "text": spec["text"],
        "reasoning": spec["reasoning"],
        "calls": [(name, args) for name, args in spec["calls"]],
        "finish": "tool_calls" if spec["calls"] else "stop",
    }


@st.composite
def framing(draw: st.DrawFn, frames: list[str]) -> bytes:
    """The frames as bytes with a random line ending and keep-alive comments between."""
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    out: list[str] = []
    for frame in frames:
        if draw(st.integers(0, 5)) == 0:
            out.append(draw(st.sampled_from([": ping\n\n", ":\n", ": keep-alive\n\n"])))
        out.append(frame)
    return "".join(out).replace("\n", ending).encode("utf-8", "surrogatepass")


@st.composite
def splits(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut at random byte positions (inside UTF-8 sequences too)."""
    if not data:
        return [data]
    cuts = sorted(set(draw(st.lists(st.integers(1, len(data)), max_size=12))) | {len(data)})
    out, start = [], 0
    for cut in cuts:
        out.append(data[start:cut])
        start = cut
    return out


# --------------------------------------------------------------------- fuzz: running


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body delivered in the given pieces (as a chunked stream would)."""

    def __init__(self, chunks: Sequence[bytes]) -> None:
        self.chunks = list(chunks)

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    async def __aiter__(self) -> Any:
        for chunk in self.chunks:
            yield chunk


def mock_provider(api: str, chunks: Sequence[bytes], base_url: str = "http://fuzz.invalid") -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=Body(chunks)
        )

    transport = httpx.MockTransport(handler)
    return provider_for(api, base_url, transport=transport, async_transport=transport)


def outcome(provider: Any, mode: str = "sync") -> tuple[Any, ...]:
    """``("ok", summary)`` or ``("error", class, message)``; anything else fails the test."""
    started = time.monotonic()
    request = ChatRequest(messages=[Message.of("user", "hi")], deadline=started + 20)
    try:
        events = collect(provider, request, mode)
    except ProviderError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 600, message
        assert time.monotonic() - started < 10
        return ("error", type(exc).__name__, message)
    assert time.monotonic() - started < 10
    got = summary(events)
    assert encodable([got["text"], got["reasoning"], got["calls"]])
    return ("ok", got)


FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@FUZZ
@given(data=st.data(), spec=stream_specs())
def test_splitting_a_valid_stream_never_changes_the_parse(api, data, spec):
    raw = data.draw(framing(build(api, spec)))
    whole = outcome(mock_provider(api, [raw]))
    assert whole == ("ok", {**expected(spec), "usage": whole[1]["usage"]})
    assert outcome(mock_provider(api, data.draw(splits(raw)))) == whole
    if data.draw(st.integers(0, 3)) == 0:  # a quarter of them through the async driver too
        assert outcome(mock_provider(api, data.draw(splits(raw))), "async") == whole


JUNK_LINES = [
    "data: {this is not json\n\n",
    "data: [1, 2, 3]\n\n",
    "data: 42\n\n",
    'data: {"choices": 5}\n\n',
    'data: {"choices": [5]}\n\n',
    'data: {"choices": [{"index": 0, "delta": "text"}]}\n\n',
    'data: {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": 3}]}}]}\n\n',
    'data: {"choices": [], "usage": {"prompt_tokens": "many"}}\n\n',
    'data: {"usage": [1]}\n\n',
    'event: content_block_delta\ndata: {"type": "content_block_delta", "index": "a", "delta": 5}\n\n',
    'event: content_block_start\ndata: {"type": "content_block_start", "index": 0, "content_block": 7}\n\n',
    'event: message_start\ndata: {"type": "message_start", "message": {"usage": {"input_tokens": "x"}}}\n\n',
    'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "busy\\nnow"}}\n\n',
    'data: {"error": {"message": "bad\\nthing", "type": "server_error"}}\n\n',
    "data: " + "[" * 5000 + "\n\n",
    'data: {"choices": [{"index": 0, "delta": {"content": "' + "x" * 200_000 + '"}}]}\n\n',
    "retry: 10\nid: 7\n\n",
    "\ufeffdata: hello\n\n",
    "event: ping\ndata: {}\n\n",
]


@st.composite
def mutated(draw: st.DrawFn, api: str) -> bytes:
    """A valid stream with one to three kinds of damage done to it."""
    spec = draw(stream_specs())
    frames = build(api, spec, end=draw(st.booleans()))
    if spec["calls"] and draw(st.booleans()):  # two calls sharing one index
        frames = [f.replace('"index": 1', '"index": 0') for f in frames]
    pieces = [f.encode("utf-8", "surrogatepass") for f in frames]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["junk", "bytes", "truncate", "huge", "drop"]))
        at = draw(st.integers(0, len(pieces)))
        if kind == "junk":
            pieces.insert(at, draw(st.sampled_from(JUNK_LINES)).encode("utf-8"))
        elif kind == "bytes":  # anything: invalid UTF-8, NUL, stray CR...
            pieces.insert(at, draw(st.binary(max_size=40)))
        elif kind == "huge":
            pieces.insert(at, b": " + b"p" * draw(st.integers(10_000, 300_000)) + b"\n\n")
        elif kind == "drop" and pieces:
            pieces.pop(min(at, len(pieces) - 1))
        elif kind == "truncate":
            pieces = pieces[:at]
    ending = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    return b"".join(pieces).replace(b"\n", ending)


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@FUZZ
@given(data=st.data())
def test_damaged_streams_parse_or_fail_in_one_line(api, data):
    raw = data.draw(mutated(api))
    whole = outcome(mock_provider(api, [raw]))
    assert outcome(mock_provider(api, data.draw(splits(raw)))) == whole
    if data.draw(st.integers(0, 4)) == 0:
        assert outcome(mock_provider(api, data.draw(splits(raw))), "async") == whole


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data())
def test_the_loopback_server_gives_the_same_outcomes(fake_server, api, data):
    raw = data.draw(
        st.one_of(mutated(api), stream_specs().flatmap(lambda spec: framing(build(api, spec))))
    )
    whole = outcome(mock_provider(api, [raw], fake_server.url))
    chunks = data.draw(splits(raw))
    fake_server.reset()
    fake_server.enqueue(raw=chunks)
    assert outcome(provider_for(api, fake_server.url)) == whole


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | TEXT,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "choices",
                    "message",
                    "content",
                    "tool_calls",
                    "function",
                    "name",
                    "arguments",
                    "usage",
                    "type",
                    "text",
                    "input",
                    "stop_reason",
                    "id",
                    "index",
                    "finish_reason",
                    "error",
                    "prompt_tokens",
                    "input_tokens",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def json_provider(api: str, body: bytes) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, content=body)

    transport = httpx.MockTransport(handler)
    return provider_for(api, "http://fuzz.invalid", transport=transport, async_transport=transport)


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(body=JSON, garble=st.binary(max_size=4))
def test_any_json_body_parses_or_fails_in_one_line(api, body, garble):
    raw = json.dumps(body, ensure_ascii=True).encode()
    outcome(json_provider(api, raw))
    outcome(json_provider(api, garble + raw))  # invalid UTF-8 or junk in front
