"""The Anthropic Messages provider: payload mapping, event parsing, error mapping (unit
tier with httpx.MockTransport) and streaming against the loopback fake server."""

from __future__ import annotations

import itertools
import json

import httpx
import pytest

from fakeserver import collect
from fixtures_server import fake_server
from jupychat.errors import (
    AuthenticationError,
    ContextWindowError,
    ModelNotFoundError,
    ProtocolError,
    ProviderError,
    ProviderUnavailable,
    RateLimitError,
)
from jupychat.events import Done, ReasoningDelta, TextDelta, ToolCallComplete, ToolCallDelta
from jupychat.providers.anthropic import AnthropicProvider, anthropic_provider
from jupychat.providers.base import ChatRequest, ToolSpec
from jupychat.providers.registry import resolve_model
from jupychat.types import ContextBlock, Image, Message, Text, ToolCall, ToolResult, Usage
from mock_http import Recorder

__all__ = ["fake_server"]  # the loopback server fixture, imported so pytest finds it here

KEY = "sk-ant-api03-0123456789SECRETabcdef"
FAST = {"backoff": 0.001, "max_backoff": 0.01}


def events_body(*events: dict) -> bytes:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def start(usage: dict | None = None) -> dict:
    return {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage or {"input_tokens": 10, "output_tokens": 1},
        },
    }


def block_start(index: int, block: dict) -> dict:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, d: dict) -> dict:
    return {"type": "content_block_delta", "index": index, "delta": d}


def stop_block(index: int) -> dict:
    return {"type": "content_block_stop", "index": index}


def message_end(stop_reason: str = "end_turn", output_tokens: int = 5) -> list[dict]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]


def text_stream(text: str = "Hello") -> bytes:
    return events_body(
        start(),
        block_start(0, {"type": "text", "text": ""}),
        delta(0, {"type": "text_delta", "text": text}),
        stop_block(0),
        *message_end(),
    )


def provider_with(rec: Recorder, **options: object) -> AnthropicProvider:
    options.setdefault("api_key", KEY)
    return anthropic_provider(
        "claude-test", transport=httpx.MockTransport(rec), max_retries=0, **options
    )


def ask(provider, *messages: Message, **kw) -> list:
    return list(provider.stream(ChatRequest(list(messages) or [Message.of("user", "x")], **kw)))


# ------------------------------------------------------------------- payload mapping


def test_payload_system_tools_blocks_and_alternation():
    from jupychat import config

    config.set_override("prompt_cache", False)  # the marks have their own tests
    rec = Recorder(text_stream())
    tool = ToolSpec("head", "First rows.", {"type": "object", "properties": {}})
    history = [
        Message.of("user", [ContextBlock("df", "3 rows"), Text("Describe df")]),
        Message.of("assistant", [Text("Looking."), ToolCall("toolu_1", "head", {"n": 2})]),
        Message.of(
            "tool",
            [
                ToolResult("toolu_1", "head", "a b"),
                ToolResult("toolu_2", "tail", "boom", is_error=True),
            ],
        ),
        Message.of("user", [Text("and this"), Image("aGk=", "image/png")]),
        Message.of("assistant", "first"),
        Message.of("assistant", "second"),
        Message.of("user", "go on"),
    ]
    ask(
        provider_with(rec),
        *history,
        system="Be brief.",
        tools=[tool],
        temperature=0.3,
        stop=["END"],
        extra={"top_k": 5},
    )
    body = rec.json
    assert body["system"] == "Be brief."
    assert body["max_tokens"] == 4096
    assert body["stream"] is True
    assert body["stop_sequences"] == ["END"] and body["temperature"] == 0.3
    assert body["top_k"] == 5
    assert body["tools"] == [
        {
            "name": "head",
            "description": "First rows.",
            "input_schema": {"type": "object", "properties": {}},
        }
    ]
    msgs = body["messages"]
    roles = [m["role"] for m in msgs]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    assert all(a != b for a, b in itertools.pairwise(roles))
    first = msgs[0]["content"]
    assert first[0]["type"] == "text" and first[0]["text"].startswith('<context name="df">')
    assert first[1] == {"type": "text", "text": "Describe df"}
    assert msgs[1]["content"] == [
        {"type": "text", "text": "Looking."},
        {"type": "tool_use", "id": "toolu_1", "name": "head", "input": {"n": 2}},
    ]
    # tool results and the following user message merge into one user turn, results first
    merged = msgs[2]["content"]
    assert merged[0] == {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a b"}
    assert merged[1] == {
        "type": "tool_result",
        "tool_use_id": "toolu_2",
        "content": "boom",
        "is_error": True,
    }
    assert merged[2] == {"type": "text", "text": "and this"}
    assert merged[3] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "aGk="},
    }
    assert [b["text"] for b in msgs[3]["content"]] == ["first", "second"]


def test_max_tokens_and_headers():
    rec = Recorder(text_stream())
    ask(provider_with(rec), max_tokens=99)
    request = rec.requests[-1]
    assert rec.json["max_tokens"] == 99
    assert str(request.url) == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    assert KEY.encode() not in request.content


def test_base_url_env_and_v1_suffix(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://gateway:8080/anthropic/v1")
    assert anthropic_provider("m").request_url() == "http://gateway:8080/anthropic/v1/messages"
    assert resolve_model("anthropic:claude-x").model_id == "anthropic:claude-x"


def test_missing_key_fails_at_request_time():
    provider = anthropic_provider("claude-test")
    with pytest.raises(AuthenticationError, match=r"ANTHROPIC_API_KEY.*%chat key anthropic"):
        ask(provider)


# ------------------------------------------------------------------- event parsing


def test_text_thinking_tool_use_and_usage():
    args = json.dumps({"city": "Paris", "units": "metric"})
    body = events_body(
        start(
            {
                "input_tokens": 50,
                "cache_read_input_tokens": 200,
                "cache_creation_input_tokens": 30,
                "output_tokens": 1,
            }
        ),
        block_start(0, {"type": "thinking", "thinking": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "Let me think"}),
        delta(0, {"type": "signature_delta", "signature": "abc"}),
        stop_block(0),
        {"type": "ping"},
        block_start(1, {"type": "text", "text": ""}),
        delta(1, {"type": "text_delta", "text": "Checking "}),
        delta(1, {"type": "text_delta", "text": "weather."}),
        stop_block(1),
        block_start(2, {"type": "tool_use", "id": "toolu_A", "name": "weather", "input": {}}),
        delta(2, {"type": "input_json_delta", "partial_json": ""}),
        *[
            delta(2, {"type": "input_json_delta", "partial_json": args[i : i + 4]})
            for i in range(0, len(args), 4)
        ],
        stop_block(2),
        block_start(3, {"type": "tool_use", "id": "toolu_B", "name": "clock", "input": {}}),
        stop_block(3),
        {"type": "some_future_event", "x": 1},
        *message_end("tool_use", 42),
    )
    events = ask(provider_with(Recorder(body)))
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["Let me think"]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Checking weather."
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[0] == ToolCallDelta(0, "toolu_A", "weather", "")
    assert "".join(d.arguments for d in deltas if d.index == 0) == args
    calls = [e.call for e in events if isinstance(e, ToolCallComplete)]
    assert calls == [
        ToolCall("toolu_A", "weather", {"city": "Paris", "units": "metric"}),
        ToolCall("toolu_B", "clock", {}),
    ]
    done = events[-1]
    # input = input + cache read + cache creation; cached = cache read
    assert (done.usage, done.finish_reason, done.model) == (
        Usage(280, 42, 200, 30),
        "tool_calls",
        "anthropic:claude-test",
    )
    # the thinking block, signature included, is kept to be sent back before tool_use
    kinds = [(b["type"], b.get("signature")) for b in done.provider_data["content"]]
    assert kinds == [("thinking", "abc"), ("text", None), ("tool_use", None), ("tool_use", None)]


@pytest.mark.parametrize(
    ("reason", "ours"),
    [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("tool_use", "tool_calls"),
        ("refusal", "refusal"),
    ],
)
def test_stop_reasons_are_mapped(reason, ours):
    body = events_body(
        start(),
        block_start(0, {"type": "text", "text": ""}),
        delta(0, {"type": "text_delta", "text": "x"}),
        stop_block(0),
        *message_end(reason),
    )
    assert ask(provider_with(Recorder(body)))[-1].finish_reason == ours


def test_error_event_mid_stream_is_mapped():
    body = events_body(
        start(), {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    with pytest.raises(ProviderUnavailable, match="Overloaded"):
        ask(provider_with(Recorder(body)))


def test_bad_tool_json_is_protocol_error():
    body = events_body(
        start(),
        block_start(0, {"type": "tool_use", "id": "t", "name": "f", "input": {}}),
        delta(0, {"type": "input_json_delta", "partial_json": '{"a": tru'}),
        stop_block(0),
        *message_end("tool_use"),
    )
    with pytest.raises(ProtocolError, match="not valid JSON"):
        ask(provider_with(Recorder(body)))


def test_stream_cut_before_message_delta_is_unavailable():
    body = events_body(
        start(),
        block_start(0, {"type": "text", "text": ""}),
        delta(0, {"type": "text_delta", "text": "half"}),
    )
    sink: list = []
    with pytest.raises(ProviderUnavailable, match="mid-answer"):
        collect(provider_with(Recorder(body)), ChatRequest([Message.of("user", "x")]), sink=sink)
    assert sink == [TextDelta("half")]


def test_non_streaming_message_body():
    body = json.dumps(
        {
            "id": "msg",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [
                {"type": "text", "text": "Sure."},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"x": 1}},
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 7, "output_tokens": 3},
        }
    ).encode()
    events = ask(provider_with(Recorder(body, content_type="application/json")))
    assert TextDelta("Sure.") in events
    assert ToolCallComplete(ToolCall("toolu_1", "f", {"x": 1})) in events
    assert events[-1] == Done(Usage(7, 3), "tool_calls", "anthropic:claude-test")


# -------------------------------------------------------------------- error mapping


def err(kind: str, message: str) -> bytes:
    return json.dumps(
        {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"}
    ).encode()


@pytest.mark.parametrize(
    ("status", "body", "error", "needle"),
    [
        (
            401,
            err("authentication_error", "invalid x-api-key"),
            AuthenticationError,
            "ANTHROPIC_API_KEY",
        ),
        (403, err("permission_error", "no access"), AuthenticationError, "%chat key anthropic"),
        (404, err("not_found_error", "model: claude-test"), ModelNotFoundError, "'claude-test'"),
        (
            400,
            err("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
            ContextWindowError,
            "prompt is too long",
        ),
        (
            413,
            err("request_too_large", "Request exceeds the maximum size"),
            ContextWindowError,
            "too long",
        ),
        (429, err("rate_limit_error", "slow down"), RateLimitError, "slow down"),
        (529, err("overloaded_error", "Overloaded"), ProviderUnavailable, "HTTP 529: Overloaded"),
        (500, err("api_error", "Internal server error"), ProviderUnavailable, "HTTP 500"),
        (
            400,
            err("invalid_request_error", "messages: roles must alternate"),
            ProviderError,
            "roles must alternate",
        ),
    ],
)
def test_http_errors_map_to_our_exceptions(status, body, error, needle):
    rec = Recorder(body, status=status, content_type="application/json")
    with pytest.raises(error) as info:
        ask(provider_with(rec))
    exc = info.value
    assert type(exc) is error
    assert needle in str(exc)
    assert "\n" not in str(exc)
    assert KEY not in str(exc) and KEY not in repr(exc)
    assert exc.provider == "anthropic" and exc.status_code == status


def test_key_echoed_by_server_is_redacted():
    rec = Recorder(
        err("authentication_error", f"invalid x-api-key {KEY}"),
        status=401,
        content_type="application/json",
    )
    with pytest.raises(AuthenticationError) as info:
        ask(provider_with(rec))
    assert KEY not in str(info.value) and "[redacted]" in str(info.value)


# ------------------------------------------------------------ loopback (fake server)


@pytest.fixture(params=["sync", "async"])
def mode(request):
    return request.param


def loopback(server, **options):
    return anthropic_provider(
        "claude-fake", base_url=server.anthropic_base_url, api_key=KEY, **{**FAST, **options}
    )


def test_loopback_text_history_and_system(fake_server, mode):
    fake_server.enqueue("Bonjour tout le monde", chunk_size=3, reasoning="hmm")
    history = [
        Message.of("user", "hi"),
        Message.of("assistant", "hello"),
        Message.of("user", "in French?"),
    ]
    events = collect(loopback(fake_server), ChatRequest(history, system="Translate."), mode)
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(texts) > 3 and "".join(texts) == "Bonjour tout le monde"
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["hmm"]
    assert events[-1].finish_reason == "stop"
    sent = fake_server.last
    assert sent.path == "/v1/messages"
    assert [b["text"] for b in sent.body["system"]] == ["Translate."]
    assert [m["role"] for m in sent.body["messages"]] == ["user", "assistant", "user"]
    assert sent.headers["x-api-key"] == KEY and sent.headers["anthropic-version"]
    assert KEY not in sent.raw


def test_loopback_tool_use_split_into_many_chunks(fake_server, mode):
    args = {"query": "SELECT * FROM t WHERE x > 3", "limit": 10}
    fake_server.enqueue(
        "Let me query.", tool_calls=[{"name": "sql", "arguments": args}], chunk_size=2
    )
    events = collect(loopback(fake_server), ChatRequest([Message.of("user", "x")]), mode)
    assert sum(isinstance(e, ToolCallDelta) for e in events) > 10
    (call,) = [e.call for e in events if isinstance(e, ToolCallComplete)]
    assert call.name == "sql" and call.arguments == args and call.id.startswith("toolu_")
    assert events[-1].finish_reason == "tool_calls"


def test_loopback_usage_counts_cache_reads_and_writes(fake_server, mode):
    fake_server.enqueue(
        "ok",
        usage={
            "input_tokens": 1000,
            "output_tokens": 12,
            "cached_tokens": 600,
            "cache_write_tokens": 300,
        },
    )
    events = collect(loopback(fake_server), ChatRequest([Message.of("user", "x")]), mode)
    assert events[-1].usage == Usage(1000, 12, 600, 300)


def test_loopback_max_tokens_stop(fake_server, mode):
    fake_server.enqueue("trunc", finish_reason="length")
    events = collect(loopback(fake_server), ChatRequest([Message.of("user", "x")]), mode)
    assert events[-1].finish_reason == "length"


def test_loopback_non_streaming(fake_server, mode):
    fake_server.enqueue("whole", usage=(4, 2))
    events = collect(
        loopback(fake_server), ChatRequest([Message.of("user", "x")], extra={"stream": False}), mode
    )
    assert events == [TextDelta("whole"), Done(Usage(4, 2), "stop", "anthropic:claude-fake")]


def test_loopback_in_stream_overloaded_error(fake_server, mode):
    fake_server.enqueue("never", stream_error="overloaded_error")
    with pytest.raises(ProviderUnavailable, match="Overloaded"):
        collect(loopback(fake_server), ChatRequest([Message.of("user", "x")]), mode)
