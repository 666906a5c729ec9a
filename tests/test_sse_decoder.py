"""The event-stream decoder (providers/_sse.py) and how the HTTP driver uses it.

The decoder is checked against a plain reading of the HTML standard's event-stream rules
written here (whole stream at once, text lines), on streams cut into chunks anywhere;
the driver is checked through real providers over ``httpx.MockTransport``: all events of
one network chunk come up as one merged delta, and events before a failing one are
still handed out before the error.
"""

from __future__ import annotations

import itertools
import json
import re

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupychat.errors import ProtocolError
from jupychat.events import Done, TextDelta
from jupychat.providers._sse import SSEDecoder
from jupychat.providers.anthropic import anthropic_provider
from jupychat.providers.base import ChatRequest
from jupychat.providers.openai import openai_provider
from jupychat.types import Message


def reference(stream: bytes) -> list[tuple[str, str]]:
    """The events of a whole stream, read the simple way (the standard's algorithm)."""
    text = stream.decode("utf-8", "replace")
    text = text.removeprefix("\ufeff")
    lines = re.split(r"\r\n|\r|\n", text)
    lines.pop()  # the unterminated rest (empty when the stream ends with a line break)
    out, event, data = [], "", None
    for line in lines:
        if line == "":
            if data is not None or event:
                out.append((event or "message", "\n".join(data or [])))
            event, data = "", None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data = [*(data or []), value]
        elif name == "event":
            event = value
    return out


def decode(chunks: list[bytes]) -> list[tuple[str, str]]:
    decoder = SSEDecoder()
    return [pair for chunk in chunks for pair in decoder.feed(chunk)] + decoder.close()


def cut(stream: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(stream), *(p % (len(stream) + 1) for p in points)})
    return [stream[a:b] for a, b in itertools.pairwise(edges)]


_value = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12
)
_line = st.one_of(
    _value.map(lambda v: f"data: {v}"),
    _value.map(lambda v: f"data:{v}"),
    st.just("data"),
    _value.map(lambda v: f"event: {v}"),
    _value.map(lambda v: f": {v}"),
    _value.map(lambda v: f"id: {v}"),
    st.just("retry: 10"),
    _value.map(lambda v: f"x-other:{v}"),
    st.just(""),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_line, st.sampled_from(["\n", "\r\n", "\r"])), max_size=30),
    st.booleans(),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
)
def test_any_stream_cut_anywhere_decodes_as_the_standard_says(lines, bom, points):
    stream = ("\ufeff" if bom else "") + "".join(line + end for line, end in lines)
    raw = stream.encode("utf-8")
    expected = reference(raw)
    assert decode(cut(raw, points)) == expected
    assert decode([bytes([b]) for b in raw]) == expected  # one byte at a time


def fed(chunks: list[bytes]) -> list[tuple[str, str]]:
    """The events handed out as the chunks come, before the stream is closed."""
    decoder = SSEDecoder()
    return [pair for chunk in chunks for pair in decoder.feed(chunk)]


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_events_come_out_as_they_end_whatever_the_line_end(end):
    # (the random streams above mix the three line ends and are read to their close,
    # which reads whatever is left; here a stream with CRs alone, no LF, must hand out
    # each event as soon as its blank line has come, not at the close)
    lines = [": hi", "event: e", 'data: {"a":', "data: 1}", "", "data: x", "", "data: rest"]
    raw = "".join(line + end for line in lines).encode()
    expected = [("e", '{"a":\n1}'), ("message", "x")]
    assert reference(raw) == expected
    assert fed([raw]) == expected
    assert fed([bytes([b]) for b in raw]) == expected
    for at in range(1, len(raw)):
        assert fed([raw[:at], raw[at:]]) == expected


def test_the_shapes_providers_send():
    stream = (
        b": keep-alive\r\n\r\n"
        b'event: message_start\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
        b"data: caf\xc3\xa9\n\n"
        b"data: [DONE]\n\n"
        b"data: never ended"
    )
    want = [("message_start", '{"a":\n1}'), ("message", "café"), ("message", "[DONE]")]
    for size in (1, 2, 3, 5, 7, len(stream)):
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        assert decode(chunks) == want


def test_a_leading_byte_order_mark_is_dropped():
    assert decode([b"\xef\xbb", b"\xbfdata: x\n\n"]) == [("message", "x")]
    assert decode([b"\xef\xbb\xbfevent: e\ndata: y\n\n"]) == [("e", "y")]


def test_heard_is_true_only_for_chunks_with_fields():
    decoder = SSEDecoder()
    decoder.feed(b": ping\n\n")
    assert decoder.heard is False
    decoder.feed(b"data: x\n")
    assert decoder.heard is True
    decoder.feed(b"\n: ping\n")
    assert decoder.heard is False
    decoder.feed(b"data: a long line in pie")  # no line end yet: still data
    assert decoder.heard is True
    decoder.feed(b"ces\n\n: pi")
    assert decoder.heard is True
    decoder.feed(b"ng\n")
    assert decoder.heard is False


def test_invalid_utf8_becomes_replacement_characters():
    assert decode([b"data: a\xffb\n\n"]) == [("message", "a\ufffdb")]


# ---------------------------------------------------------------- through the driver


def _chunk(content: str) -> bytes:
    body = {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
    return f"data: {json.dumps(body)}\n\n".encode()


def _openai(chunks: list[bytes]):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=iter(chunks)
        )

    return openai_provider(
        "gpt-test", api_key="sk-x", transport=httpx.MockTransport(handler), max_retries=0
    )


def _request() -> ChatRequest:
    return ChatRequest([Message.of("user", "x")])


def test_the_events_of_one_network_chunk_come_up_as_one_delta():
    finish = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    provider = _openai(
        [_chunk("a") + _chunk("b") + _chunk("c"), _chunk("d"), finish + b"data: [DONE]\n\n"]
    )
    events = list(provider.stream(_request()))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["abc", "d"]
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop"


def test_a_line_split_between_chunks_is_read_whole():
    whole = _chunk("héllo") + b'data: {"choices":[],"usage":null}\n\ndata: [DONE]\n\n'
    split = [whole[:9], whole[9:20], whole[20:]]
    events = list(_openai(split).stream(_request()))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "héllo"


def test_events_before_a_bad_one_in_the_same_chunk_are_handed_out_first():
    stream = _openai([_chunk("kept") + b"data: {not json\n\n"]).stream(_request())
    got = []

    def read() -> None:
        got.extend(iter(stream.__next__, None))

    with pytest.raises(ProtocolError, match="openai"):
        read()
    assert got == [TextDelta("kept")]


def test_anthropic_named_events_in_one_chunk():
    def event(name: str, data: dict) -> bytes:
        return f"event: {name}\r\ndata: {json.dumps(data)}\r\n\r\n".encode()

    usage = {"input_tokens": 3, "output_tokens": 2}
    body = (
        event("message_start", {"type": "message_start", "message": {"usage": usage}})
        + b'event: ping\r\ndata: {"type": "ping"}\r\n\r\n'
        + event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
        )
        + event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hel"},
            },
        )
        + event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "lo"},
            },
        )
        + event("content_block_stop", {"type": "content_block_stop", "index": 0})
        + event(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": usage},
        )
        + event("message_stop", {"type": "message_stop"})
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=iter([body[:50], body[50:]])
        )

    provider = anthropic_provider(
        "claude-test", api_key="sk-ant-x", transport=httpx.MockTransport(handler), max_retries=0
    )
    events = list(provider.stream(_request()))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello"]
    assert events[-1].finish_reason == "stop"


# ------------------------------------------------------- the chunk parser's short way

_delta = st.fixed_dictionaries(
    {},
    optional={
        "content": st.one_of(st.none(), st.sampled_from(["", "a", "<think>x</think>b", "é"])),
        "role": st.just("assistant"),
        "refusal": st.sampled_from(["no", None]),
        "reasoning_content": st.sampled_from(["r", None]),
        "tool_calls": st.just([{"index": 0, "id": "c1", "function": {"name": "f"}}]),
    },
)
_choice = st.fixed_dictionaries(
    {"delta": _delta},
    optional={"index": st.sampled_from([0, 1]), "finish_reason": st.sampled_from([None, "stop"])},
)
_wire_chunk = st.fixed_dictionaries(
    {"choices": st.lists(_choice, max_size=2)},
    optional={"usage": st.sampled_from([None, {"prompt_tokens": 3, "completion_tokens": 1}])},
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_wire_chunk, min_size=1, max_size=6))
def test_streamed_chunks_read_as_the_parsed_ones_are(chunks):
    from jupychat.providers._errors import Endpoint
    from jupychat.providers.chat_completions import OpenAIStreamParser

    def run(feed) -> list:
        parser = OpenAIStreamParser(Endpoint("openai", "m", "u"), "openai:m")
        out = []
        try:
            for chunk in chunks:
                out.extend(feed(parser, chunk))
            out.extend(parser.finish())
        except ProtocolError as exc:
            out.append(str(exc))
        return out

    # feed() (the wire, with its short way for plain text) and feed_chunk() (dicts)
    assert run(lambda p, c: p.feed("message", json.dumps(c))) == run(lambda p, c: p.feed_chunk(c))
