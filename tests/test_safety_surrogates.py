"""Stream safety: split surrogate pairs, through both wire formats.

Loopback tier: the fake server sends raw chunks that cut an emoji's surrogate pair
(``"\\ud83d"`` then ``"\\ude00"``) in text, reasoning and tool-call arguments, for the
OpenAI and Anthropic formats, streamed and as one JSON body, through the sync and async
drivers; the turn must give the emoji, a lone half must become U+FFFD, the next turn
must work and the store must hold exactly what memory holds. The sans-IO joiners and the
embedded model's chunk reader are checked on their own first.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fakeserver import collect
from fixtures_server import fake_server
from jupychat import ChatSession
from jupychat.providers._unicode import Joiner, clean  # sans-IO, under every provider
from jupychat.providers.base import ChatRequest
from jupychat.providers.local import _ChunkReader  # the embedded model's chunk reader, sans-IO
from jupychat.store import SessionStore
from jupychat.types import Message
from stream_frames import (
    EMOJI,
    HIGH,
    LOW,
    encodable,
    frames_for,
    provider_for,
    summary,
    wire_json,
)

__all__ = ["fake_server"]  # the loopback server fixture, imported so pytest finds it here

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
                                    "arguments": wire_json({"s": LOW + "x"}),
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
    fake_server.enqueue(raw=[wire_json(body)])
    provider = provider_for(api, fake_server.url)
    request = ChatRequest(messages=[Message.of("user", "hi")], extra={"stream": False})
    got = summary(collect(provider, request))
    assert got["text"] == "pair " + EMOJI + " lone \ufffd"
    assert got["calls"] == [("echo\ufffd", {"s": "\ufffdx"})]
