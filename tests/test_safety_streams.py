"""Stream safety: split surrogate pairs, and fuzzed SSE streams through both wire formats.

Loopback tier: the fake server sends raw chunks that cut an emoji's surrogate pair
(``"\\ud83d"`` then ``"\\ude00"``) in text, reasoning and tool-call arguments, for the
OpenAI and Anthropic formats, streamed and as one JSON body, through the sync and async
drivers; the turn must give the emoji, a lone half must become U+FFFD, the next turn
must work and the store must hold exactly what memory holds.

Property tier (hypothesis, seeded): valid streams cut at random byte boundaries, with
random line endings, comments, junk, invalid UTF-8, huge lines, a missing end marker and
duplicate tool-call indices, fed through the real SSE path (``httpx.MockTransport`` with a
chunked body, plus a smaller sample through the loopback server), and arbitrary JSON
bodies (with junk or invalid UTF-8 in front). Every outcome is either the same parse as
the unsplit stream or a one-line ``ProviderError``; nothing else. Case counts: 150 valid
and 150 damaged streams per wire format (a quarter to a fifth also through the async
driver), 20 per format through the loopback server, 100 JSON bodies per format.
"""

from __future__ import annotations

import asyncio
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
from jupychat import ChatSession
from jupychat.errors import ProviderError
from jupychat.events import Done, ReasoningDelta, TextDelta, ToolCallComplete
from jupychat.providers._unicode import Joiner, clean  # sans-IO, under every provider
from jupychat.providers.anthropic import anthropic_provider
from jupychat.providers.base import ChatRequest
from jupychat.providers.local import _ChunkReader  # the embedded model's chunk reader, sans-IO
from jupychat.providers.openai import compatible_provider
from jupychat.store import SessionStore
from jupychat.types import Message

__all__ = ["fake_server"]  # the loopback server fixture, imported so pytest finds it here

KEY = "sk-streams-0123456789abcdefSECRET"
FAST = {"backoff": 0.001, "max_backoff": 0.002, "max_retries": 0}
HIGH, LOW = "\ud83d", "\ude00"  # the two halves of U+1F600 (😀)
EMOJI = "\U0001f600"


# --------------------------------------------------------------------------- wire builders


def _j(value: Any) -> str:
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
        return f"data: {_j(body)}\n\n"

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
    frames.append(f"data: {_j({'id': 'c', 'choices': [], 'usage': usage})}\n\n")
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
        return f"event: {name}\ndata: {_j({'type': name, **data})}\n\n"

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


# ------------------------------------------------------------------- surrogates: unit


def test_joiner_joins_pairs_across_pieces_and_replaces_lone_halves():
    joiner = Joiner()
    assert joiner.push("a" + HIGH) == "a"
    assert joiner.pending
    assert joiner.push(LOW + "b") == EMOJI + "b"
    assert joiner.push(LOW) == "\ufffd"  # a low half with no high half before it
    assert joiner.push(HIGH) == ""
    assert joiner.flush() == "\ufffd"  # the stream ended before its partner came
    assert joiner.flush() == ""
    assert joiner.push("x" + HIGH) == "x"
    assert joiner.push("plain ascii") == "\ufffd" + "plain ascii"  # a held half, then ASCII
    assert not joiner.pending and joiner.push("ok") == "ok"
    assert clean("x" + HIGH + LOW + HIGH) == "x" + EMOJI + "\ufffd"
    assert clean("plain") == "plain"


def test_local_parser_joins_split_pairs_in_text_reasoning_and_arguments():
    parser = _ChunkReader("local:m", 4096)

    def chunk(**delta: Any) -> dict[str, Any]:
        return {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}

    events = []
    for item in (
        chunk(reasoning_content="think " + HIGH),
        chunk(reasoning_content=LOW),
        chunk(content="Hi " + HIGH),
        chunk(content=LOW + " there " + HIGH),
        chunk(
            tool_calls=[
                {
                    "index": 0,
                    "id": "c1",
                    "function": {"name": "echo", "arguments": '{"s": "' + HIGH},
                }
            ]
        ),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": LOW + '"}'}}]),
    ):
        events += parser.feed(item)
    events += parser.finish()
    got = summary(events)
    assert got["reasoning"] == "think " + EMOJI
    assert got["text"] == "Hi " + EMOJI + " there \ufffd"
    assert got["calls"] == [("echo", {"s": EMOJI})]
    deltas = [getattr(e, "text", getattr(e, "arguments", "")) for e in events]
    assert encodable(deltas)


# -------------------------------------------------------------- surrogates: loopback


def echo(s: str) -> str:
    """Return the text it is given."""
    return f"echo: {s}"


def _split_turn(api: str) -> list[list[str]]:
    """Two model calls: text + reasoning + a tool call cut inside the pair, then a final
    answer whose last half never gets its partner."""
    first = frames_for(
        api,
        reasoning=["I think " + HIGH, LOW + " so"],
        text=["Hi " + HIGH, LOW + " there"],
        calls=[("echo", ['{"s": "a' + HIGH, LOW + 'b"}'])],
    )
    final = frames_for(api, text=["done " + HIGH, LOW + " and a lone " + HIGH])
    return [first, final]


def _run(chat: ChatSession, prompt: str, mode: str) -> Any:
    if mode == "sync":
        return chat.send(prompt)
    return asyncio.run(chat.asend(prompt))


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_split_surrogates_keep_the_session_and_store_working(fake_server, tmp_path, api, mode):
    for frames in _split_turn(api):
        fake_server.enqueue(raw=frames)
    store = SessionStore(tmp_path / "s.db")
    chat = ChatSession(provider_for(api, fake_server.url), store=store, tools=[echo])
    response = _run(chat, "send an emoji", mode)
    assert response.text == "done " + EMOJI + " and a lone \ufffd"
    first = chat.history[1]
    assert first.text == "Hi " + EMOJI + " there"
    assert first.reasoning == "I think " + EMOJI + " so"
    assert dict(first.tool_calls[0].arguments) == {"s": "a" + EMOJI + "b"}
    assert chat.history[2].tool_results[0].content == "echo: a" + EMOJI + "b"
    # the follow-up request carried the emoji as valid UTF-8 JSON
    follow_up = fake_server.requests[1]
    assert EMOJI in follow_up.raw
    # the next turn works, and the store holds exactly what memory holds
    fake_server.enqueue("fine " + EMOJI)
    assert _run(chat, "and again", mode).text == "fine " + EMOJI
    stored = store.load(chat.id)["messages"]
    assert stored == [m.to_dict() for m in chat.history]
    assert (
        ChatSession.resume(chat.id, store=store, model="fake", tools=[echo]).history == chat.history
    )


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_lone_surrogates_in_a_json_body_become_replacement_characters(fake_server, api):
    if api == "openai":
        body = {
            "id": "c",
            "object": "chat.completion",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": "pair " + EMOJI + " lone " + HIGH,
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {
                                    "name": "echo" + LOW,
                                    "arguments": _j({"s": LOW + "x"}),
                                },
                            }
                        ],
                    },
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2},
        }
    else:
        body = {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": "m",
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 1, "output_tokens": 2},
            "content": [
                {"type": "text", "text": "pair " + EMOJI + " lone " + HIGH},
                {"type": "tool_use", "id": "c1", "name": "echo" + LOW, "input": {"s": LOW + "x"}},
            ],
        }
    fake_server.enqueue(raw=[_j(body)])
    provider = provider_for(api, fake_server.url)
    request = ChatRequest(messages=[Message.of("user", "hi")], extra={"stream": False})
    got = summary(collect(provider, request))
    assert got["text"] == "pair " + EMOJI + " lone \ufffd"
    assert got["calls"] == [("echo\ufffd", {"s": "\ufffdx"})]


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
