"""Fidelity to real providers, one fix at a time (issue 13).

Unit tier for the parsers and payload builders (fed wire data directly) and loopback
tier for what a session keeps (a :class:`replayserver.ReplayServer` serving a given
exchange). The recordings of real traffic that exercise the same paths end to end are
in ``test_recorded_traffic.py``.
"""

from __future__ import annotations

import json
import random
import time
import warnings
from datetime import datetime, timezone
from typing import Any

import pytest

from fakeserver import FakeServer
from jupychat import ChatSession, secrets
from jupychat.errors import ConfigError, ProviderError, ProviderUnavailable
from jupychat.events import Done, ReasoningDelta, TextDelta, ToolCallComplete
from jupychat.providers import anthropic, chat_completions
from jupychat.providers._errors import Endpoint, error_info, map_error
from jupychat.providers._reasoning import ThinkSplitter
from jupychat.providers._replay import META_KEY, source_of
from jupychat.providers._retry import RetryPolicy, RetryState, parse_retry_after
from jupychat.providers.anthropic import anthropic_provider
from jupychat.providers.base import ChatRequest
from jupychat.providers.openai import openai_provider
from jupychat.types import Message, ToolCall, ToolResult, Usage
from replayserver import Recording, ReplayServer

A_URL = "https://api.anthropic.com/v1/messages"
D_URL = "https://api.deepseek.com/chat/completions"


def anthropic_events(*events: dict[str, Any]) -> list[Any]:
    parser = anthropic.AnthropicStreamParser(Endpoint("anthropic", "claude", A_URL), "a:c")
    out: list[Any] = []
    for event in events:
        out += parser.feed(event["type"], json.dumps(event))
    return out + list(parser.finish())


def openai_events(*chunks: dict[str, Any], url: str = D_URL) -> list[Any]:
    parser = chat_completions.OpenAIStreamParser(Endpoint("deepseek", "m", url), "d:m")
    out: list[Any] = []
    for chunk in chunks:
        out += parser.feed("", json.dumps(chunk))
    return out + list(parser.finish())


def delta(**fields: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": None}]}


def text_of(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def reasoning_of(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


# ------------------------------------------------------------- <think> inside content


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_think_tags_split_at_any_point_go_to_reasoning(size: int):
    text = (
        "<think>\nweigh <b> it</think>\n\nThe answer uses <thinking> words.<think>more</think> End"
    )
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    events = openai_events(*(delta(content=c) for c in chunks), {"choices": []})
    assert reasoning_of(events) == "\nweigh <b> itmore"
    assert text_of(events) == "The answer uses <thinking> words. End"


def test_an_unclosed_think_block_is_all_reasoning_and_a_lone_lt_is_text():
    splitter = ThinkSplitter()
    assert splitter.push("a <") == ("", "a ")
    assert splitter.push("b") == ("", "<b")
    assert splitter.push("<thi") == ("", "")
    assert splitter.push("nk>deep") == ("deep", "")
    assert splitter.flush() == ("", "")
    assert ThinkSplitter().push("x</think>") == ("", "x</think>")


@pytest.mark.parametrize("seed", range(4))
def test_plain_pieces_read_the_short_way_give_what_the_long_way_gives(seed: int):
    # A plain text piece skips the think splitter and the joiner when they would hand it
    # back unchanged; any tag, held tail or surrogate half must still go through them.
    rng = random.Random(seed)
    atoms = ["a", "b c", "\n", "<", ">", "<think>", "</think>", "<thi", "nk>", "</th", "x<y"]
    atoms += ["é", "→", "😀", "\ud83d", "\ude00", ""]
    for _ in range(300):
        pieces = ["".join(rng.choices(atoms, k=rng.randint(0, 3))) for _ in range(12)]
        short = chat_completions.OpenAIStreamParser(Endpoint("deepseek", "m", D_URL), "d:m")
        long = chat_completions.OpenAIStreamParser(Endpoint("deepseek", "m", D_URL), "d:m")
        for piece in pieces:
            got = short.feed("", json.dumps(delta(content=piece)))
            assert got == (long._text_piece(piece) if piece else []), pieces
        got = [e for e in short.finish() if isinstance(e, (TextDelta, ReasoningDelta))]
        want = [e for e in long.finish() if isinstance(e, (TextDelta, ReasoningDelta))]
        assert got == want, pieces


# -------------------------------------------------- reasoning fields and replay data


def test_reasoning_fields_are_read_and_kept_under_their_own_names():
    events = openai_events(
        delta(reasoning="Let me "),
        delta(
            reasoning="see.",
            reasoning_details=[{"type": "reasoning.text", "text": "Let me ", "index": 0}],
        ),
        delta(reasoning_details=[{"type": "reasoning.text", "text": "see.", "index": 0}]),
        delta(reasoning_details=[{"type": "reasoning.text", "signature": "c2ln", "index": 0}]),
        delta(content="Hi"),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    )
    assert reasoning_of(events) == "Let me see."
    assert text_of(events) == "Hi"
    done = events[-1]
    assert done.provider_data == {
        "source": "openai https://api.deepseek.com",
        "fields": {
            "reasoning": "Let me see.",
            "reasoning_details": [
                {"type": "reasoning.text", "text": "Let me see.", "index": 0, "signature": "c2ln"}
            ],
        },
    }


def test_reasoning_details_alone_are_shown_as_reasoning():
    events = openai_events(
        delta(reasoning_details=[{"type": "reasoning.summary", "summary": "Plan", "index": 0}]),
        delta(content="Done"),
    )
    assert reasoning_of(events) == "Plan"


def test_mistral_thinking_parts_in_content_are_reasoning():
    body = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": [{"type": "text", "text": "Hmm."}]},
                        {"type": "text", "text": "Answer."},
                    ],
                },
                "finish_reason": "stop",
            }
        ]
    }
    parser = chat_completions.OpenAIStreamParser(Endpoint("mistral", "m", D_URL), "m:m")
    events = list(parser.feed_json(body)) + list(parser.finish())
    assert (reasoning_of(events), text_of(events)) == ("Hmm.", "Answer.")


def reasoned(content: str, field: str, value: str, source: str, **kw: Any) -> Message:
    data = {"source": source, "fields": {field: value}}
    return Message.of("assistant", content, meta={META_KEY: data}, **kw)


def test_reasoning_content_goes_back_to_the_server_that_sent_it_and_no_other():
    deepseek = source_of("openai", D_URL)
    history = [
        Message.of("user", "q"),
        reasoned("a", "reasoning_content", "because", deepseek),
        Message.of("user", "q2"),
    ]
    request = ChatRequest(history)
    same = chat_completions.build_payload("m", request, source=deepseek)
    assert same["messages"][1] == {
        "role": "assistant",
        "content": "a",
        "reasoning_content": "because",
    }
    for other in (None, source_of("openai", "https://api.openai.com/v1/chat/completions")):
        body = chat_completions.build_payload("m", request, source=other)
        assert body["messages"][1] == {"role": "assistant", "content": "a"}
    # entries are remembered per message and source: asked again, each source gets its own
    again = chat_completions.build_payload("m", request, source=deepseek)
    assert again["messages"] == same["messages"]
    assert "reasoning_content" not in json.dumps(chat_completions.build_payload("m", request))
    # nor to Anthropic, whatever its source
    _, messages = anthropic.messages_payload(request, source_of("anthropic", A_URL))
    assert "because" not in json.dumps(messages)


def test_an_interrupted_answer_is_never_replayed():
    deepseek = source_of("openai", D_URL)
    partial = reasoned("a", "reasoning_content", "half", deepseek, interrupted=True)
    body = chat_completions.build_payload("m", ChatRequest([partial]), source=deepseek)
    assert "reasoning_content" not in body["messages"][0]


def test_openai_provider_names_its_own_source():
    provider = openai_provider("gpt-x", api_key="k", base_url="https://API.example.com:8443/v1")
    history = [reasoned("a", "reasoning_content", "r", "openai https://api.example.com:8443")]
    assert provider.build_payload(ChatRequest(history))["messages"][0]["reasoning_content"] == "r"


# ---------------------------------------------------------------------- refusals


def test_a_streamed_refusal_is_shown_and_marked():
    events = openai_events(
        delta(role="assistant", content=None, refusal=""),
        delta(refusal="I'm sorry"),
        delta(refusal=", I can't help."),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    )
    assert text_of(events) == "[refusal] I'm sorry, I can't help."
    assert events[-1].finish_reason == "refusal"


def test_anthropic_refusal_without_details_still_says_it_is_one():
    events = anthropic_events(
        {"type": "message_start", "message": {"usage": {"input_tokens": 5}}},
        {"type": "message_delta", "delta": {"stop_reason": "refusal"}, "usage": {}},
        {"type": "message_stop"},
    )
    assert text_of(events).startswith("[refused by anthropic: ")
    assert events[-1].finish_reason == "refusal"


# ------------------------------------------------------- Anthropic blocks as received


def block(index: int, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": data}


def bdelta(index: int, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": data}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def test_blocks_of_unknown_types_and_deltas_are_kept_whole_and_do_not_crash():
    events = anthropic_events(
        {"type": "message_start", "message": {"usage": {"input_tokens": 5}}},
        block(0, {"type": "thinking", "thinking": "", "signature": ""}),
        bdelta(0, {"type": "thinking_delta", "thinking": "Plan."}),
        bdelta(0, {"type": "signature_delta", "signature": "AAA"}),
        bdelta(0, {"type": "signature_delta", "signature": "BBB"}),
        stop(0),
        block(1, {"type": "future_tool_use", "id": "srv_1", "name": "lookup", "input": {}}),
        bdelta(1, {"type": "input_json_delta", "partial_json": '{"q": "wea'}),
        bdelta(1, {"type": "input_json_delta", "partial_json": 'ther"}'}),
        stop(1),
        block(2, {"type": "future_block", "payload": "x"}),
        bdelta(2, {"type": "future_delta", "payload": "yz", "extra": [1]}),
        stop(2),
        block(3, {"type": "text", "text": ""}),
        bdelta(3, {"type": "text_delta", "text": "Sunny."}),
        bdelta(3, {"type": "citations_delta", "citation": {"url": "https://w.example"}}),
        stop(3),
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}},
        {"type": "message_stop"},
    )
    assert reasoning_of(events) == "Plan."
    assert text_of(events) == '[lookup: {"q": "weather"}]\n\nSunny.'
    blocks = events[-1].provider_data["content"]
    assert blocks == [
        {"type": "thinking", "thinking": "Plan.", "signature": "AAABBB"},
        {"type": "future_tool_use", "id": "srv_1", "name": "lookup", "input": {"q": "weather"}},
        {"type": "future_block", "payload": "xyz", "extra": [1]},
        {"type": "text", "text": "Sunny.", "citations": [{"url": "https://w.example"}]},
    ]


def test_plain_answers_carry_no_replay_data():
    events = anthropic_events(
        block(0, {"type": "text", "text": "Hi"}),
        stop(0),
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}},
        {"type": "message_stop"},
    )
    assert events[-1].provider_data is None


def test_anthropic_blocks_go_back_to_the_same_source_only():
    source = source_of("anthropic", A_URL)
    blocks = [
        {"type": "thinking", "thinking": "t", "signature": "sig"},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
    ]
    answer = Message.of(
        "assistant",
        [ToolCall("toolu_1", "f", {})],
        meta={META_KEY: {"source": source, "content": blocks}},
    )
    history = [Message.of("user", "q"), answer, Message.of("tool", ToolResult("toolu_1", "f", "1"))]
    _, same = anthropic.messages_payload(ChatRequest(history), source)
    assert same[1]["content"] == blocks  # thinking, with its signature, before tool_use
    _, other = anthropic.messages_payload(
        ChatRequest(history), source_of("anthropic", "https://proxy.example/v1/messages")
    )
    assert other[1]["content"] == [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]
    body = chat_completions.build_payload("m", ChatRequest(history), source=source)
    assert "signature" not in json.dumps(body)


# ------------------------------------------------ an error after part of the answer


def anthropic_recording(*events: dict[str, Any], status: int = 200, headers=None) -> Recording:
    body = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    response = {
        "status": status,
        "headers": headers or {"content-type": "text/event-stream"},
        "body": body,
    }
    return Recording(
        "inline", "anthropic", "anthropic", {}, [{"request": {}, "response": response}]
    )


def test_an_error_event_after_text_keeps_the_partial_answer_marked_with_the_reason():
    rec = anthropic_recording(
        {"type": "message_start", "message": {"usage": {"input_tokens": 5}}},
        block(0, {"type": "text", "text": ""}),
        bdelta(0, {"type": "text_delta", "text": "Half an ans"}),
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    with ReplayServer(rec) as server:
        session = ChatSession(anthropic_provider("c", base_url=server.url, api_key="k"))
        with pytest.warns(UserWarning, match="stopped the answer with an error"):
            response = session.send("hi")
    answer = session.history[-1]
    assert answer.text == "Half an ans" and answer.interrupted
    assert answer.finish_reason == "error" and "Overloaded" in answer.meta["error"]
    assert response.finish_reason == "error"


def test_an_error_event_before_any_answer_fails_the_turn_and_keeps_nothing():
    rec = anthropic_recording(
        {"type": "message_start", "message": {"usage": {"input_tokens": 5}}},
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    with ReplayServer(rec) as server:
        session = ChatSession(anthropic_provider("c", base_url=server.url, api_key="k"))
        with pytest.raises(ProviderUnavailable, match="Overloaded"):
            session.send("hi")
    assert session.history == []


def test_tool_calls_cut_by_an_error_are_not_run():
    events = openai_events(
        delta(
            content="Let me look.",
            tool_calls=[{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{"}}],
        ),
        {"error": {"code": 502, "message": "upstream died"}},
    )
    assert not [e for e in events if isinstance(e, ToolCallComplete)]
    assert events[-1].error and events[-1].finish_reason == "error"


# ------------------------------------------------------------------- error detail


def test_a_router_error_names_the_upstream_message():
    body = {
        "error": {
            "code": 400,
            "message": "Provider returned error",
            "metadata": {
                "provider_name": "Anthropic",
                "raw": json.dumps(
                    {"type": "error", "error": {"type": "x", "message": "max_tokens: too big"}}
                ),
            },
        }
    }
    error = map_error(400, error_info(body), Endpoint("openrouter", "m", D_URL))
    assert "Provider returned error — Anthropic: max_tokens: too big" in str(error)


@pytest.mark.parametrize(
    "message",
    [
        "The reasoning_content in the thinking mode must be passed back to the API.",
        "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
        "`tool_use`. When `thinking` is enabled, a final `assistant` message must start "
        "with a thinking block",
    ],
)
def test_a_provider_that_wants_its_reasoning_back_gets_a_clear_error(message: str):
    error = map_error(400, error_info({"error": {"message": message}}), Endpoint("p", "m", D_URL))
    assert type(error) is ProviderError
    assert "needs the model's earlier reasoning sent back" in str(error)
    assert "check the model name" not in str(error)


# ------------------------------------------------------------ rate-limit resets


def test_anthropic_reset_headers_say_how_long_to_wait_without_retry_after():
    now = datetime(2026, 9, 2, 17, 25, 0, tzinfo=timezone.utc).timestamp()
    headers = {
        "anthropic-ratelimit-requests-remaining": "19999",
        "anthropic-ratelimit-requests-reset": "2026-09-02T17:25:56Z",
        "anthropic-ratelimit-tokens-remaining": "0",
        "anthropic-ratelimit-tokens-reset": "2026-09-02T17:25:12Z",
    }
    assert parse_retry_after(headers, now) == pytest.approx(12.0)
    headers["retry-after"] = "3"
    assert parse_retry_after(headers, now) == 3.0
    assert (
        parse_retry_after(
            {"x-ratelimit-reset-tokens": "1m30s", "x-ratelimit-remaining-tokens": "0"}, now
        )
        == 90.0
    )


def test_a_429_waits_for_the_reset_time():
    reset = datetime.fromtimestamp(time.time() + 4, tz=timezone.utc).isoformat()
    headers = {
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": reset,
    }
    state = RetryState(
        RetryPolicy(max_retries=2, backoff=0.01, max_backoff=30), Endpoint("a", "m", A_URL)
    )
    body = b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}'
    assert 3.0 < state.after_status(429, headers, body) <= 4.0


# ------------------------------------------------------------------------ options


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("timeout", "fast"),
        ("timeout", -1),
        ("timeout", 0),
        ("max_retries", -1),
        ("max_retries", 1.5),
        ("max_retries", True),
        ("backoff", "x"),
        ("max_backoff", float("inf")),
    ],
)
def test_bad_timing_options_are_refused_when_the_session_is_built(name: str, value: Any):
    with pytest.raises(ConfigError, match=name):
        ChatSession("openai:gpt-x", api_key="k", **{name: value})


def test_timeout_and_max_retries_are_honoured_and_named_in_the_error():
    with FakeServer() as server:
        server.enqueue("late", stall=5)
        session = ChatSession(
            "openai:gpt-x", base_url=server.openai_base_url, api_key="k", timeout=0.5, max_retries=0
        )
        began = time.monotonic()
        with pytest.raises(ProviderUnavailable, match=r"raise timeout= \(now 0.5\)"):
            session.send("hi")
        assert time.monotonic() - began < 3
        assert len(server.requests) == 1


def test_anthropic_refuses_a_seed_it_cannot_honour():
    with pytest.raises(ConfigError, match="no seed"):
        anthropic.build_payload("c", ChatRequest([Message.of("user", "x")], seed=1))


# -------------------------------------------------------------- secrets in replay data


def test_a_known_key_in_replay_data_never_reaches_history(monkeypatch):
    key = "sk-live-0123456789abcdefSECRET"
    secrets.register(key)
    rec = anthropic_recording(
        {"type": "message_start", "message": {"usage": {"input_tokens": 5}}},
        block(0, {"type": "redacted_thinking", "data": f"opaque {key}"}),
        stop(0),
        block(1, {"type": "text", "text": "ok"}),
        stop(1),
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}},
        {"type": "message_stop"},
    )
    with ReplayServer(rec) as server:
        session = ChatSession(anthropic_provider("c", base_url=server.url, api_key="k"))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            session.send("hi")
    assert key not in json.dumps(session.to_dict())
    assert session.history[-1].meta[META_KEY]["content"][0]["type"] == "redacted_thinking"


def test_usage_reads_cache_writes_and_deepseek_cache_hits():
    usage = chat_completions._usage(
        {
            "prompt_tokens": 10,
            "completion_tokens": 2,
            "prompt_tokens_details": {"cache_write_tokens": 7},
        }
    )
    assert usage == Usage(10, 2, 0, 7)
    assert (
        chat_completions._usage({"prompt_tokens": 9, "prompt_cache_hit_tokens": 4}).cached_tokens
        == 4
    )


def test_done_carries_nothing_extra_for_a_plain_answer():
    events = openai_events(delta(content="Hi"), url="https://api.openai.com/v1/chat/completions")
    assert events[-1] == Done(None, "stop", "d:m")
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("Hi")]


@pytest.mark.parametrize("use_async", [False, True])
def test_a_stream_of_keepalives_alone_ends_at_timeout(use_async: bool):
    """``timeout=1`` means an answer within about a second, pings or not."""
    import asyncio

    with FakeServer() as server:
        answer = {"choices": [{"index": 0, "delta": {"content": "late"}, "finish_reason": "stop"}]}
        # what OpenRouter sends while a request waits upstream, then the answer (5 s on)
        server.enqueue(
            raw=[": OPENROUTER PROCESSING\n\n"] * 25
            + [f"data: {json.dumps(answer)}\n\n", "data: [DONE]\n\n"],
            chunk_delay=0.2,
        )
        session = ChatSession(
            "openai:gpt-x",
            base_url=server.openai_base_url,
            api_key="k",
            timeout=1,
            max_retries=0,
            turn_timeout=8,
        )
        began = time.monotonic()
        send = (lambda: asyncio.run(session.asend("hi"))) if use_async else session.send
        with pytest.raises(ProviderUnavailable, match="only keep-alive comments"):
            send() if use_async else send("hi")
        assert time.monotonic() - began < 3
        assert len(server.requests) == 1
    assert session.history == []


def test_extra_fields_on_a_tool_call_go_back_with_it_to_the_same_server():
    """Gemini (OpenAI-compatible) signs its tool calls and needs the signature back."""
    gemini = "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"
    signature = {"google": {"thought_signature": "c2lnbmF0dXJl"}}
    events = openai_events(
        delta(
            tool_calls=[
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                    "extra_content": signature,
                }
            ]
        ),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        url=gemini,
    )
    done = events[-1]
    answer = Message.of(
        "assistant",
        [ToolCall("call_1", "weather", {"city": "Oslo"})],
        meta={META_KEY: done.provider_data},
    )
    history = [
        Message.of("user", "q"),
        answer,
        Message.of("tool", ToolResult("call_1", "weather", "9")),
    ]
    same = chat_completions.build_payload(
        "g", ChatRequest(history), source=source_of("openai", gemini)
    )
    assert same["messages"][1]["tool_calls"][0]["extra_content"] == signature
    other = chat_completions.build_payload(
        "g", ChatRequest(history), source=source_of("openai", D_URL)
    )
    assert "extra_content" not in other["messages"][1]["tool_calls"][0]


def test_a_crafted_session_cannot_replay_input_blocks_to_anthropic():
    source = source_of("anthropic", A_URL)
    blocks = [
        {"type": "document", "source": {"type": "url", "url": "https://attacker.example/x.pdf"}},
        {"type": "text", "text": "hi"},
    ]
    answer = Message.of("assistant", "hi", meta={META_KEY: {"source": source, "content": blocks}})
    _, messages = anthropic.messages_payload(ChatRequest([Message.of("user", "q"), answer]), source)
    assert messages[1]["content"] == [{"type": "text", "text": "hi"}]
