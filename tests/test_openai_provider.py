"""The OpenAI-compatible provider: payload mapping, stream parsing, factories (unit tier
with httpx.MockTransport) and end-to-end streaming against the loopback fake server."""

from __future__ import annotations

import json

import httpx
import pytest

from fakeserver import collect
from fixtures_server import fake_server
from jupychat import config
from jupychat.errors import (
    AuthenticationError,
    ConfigError,
    ContextWindowError,
    ModelNotFoundError,
    ProtocolError,
    ProviderError,
    ProviderUnavailable,
    RateLimitError,
)
from jupychat.events import Done, ReasoningDelta, TextDelta, ToolCallComplete, ToolCallDelta
from jupychat.providers.base import ChatRequest, ToolSpec
from jupychat.providers.openai import (
    OpenAIProvider,
    azure_provider,
    compatible_provider,
    ollama_provider,
    openai_provider,
)
from jupychat.providers.registry import resolve_model
from jupychat.types import ContextBlock, Image, Message, Text, ToolCall, ToolResult, Usage
from mock_http import Recorder

__all__ = ["fake_server"]  # the loopback server fixture, imported so pytest finds it here

KEY = "sk-test-0123456789abcdefSECRET"
FAST = {"backoff": 0.001, "max_backoff": 0.01}


def sse(*chunks: object) -> bytes:
    """An SSE body: each chunk JSON-encoded (strings sent as-is), then [DONE]."""
    lines = [f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n" for c in chunks]
    return "".join(lines).encode() + b"data: [DONE]\n\n"


def chunk(delta: dict | None = None, finish: str | None = None, **extra: object) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
        **extra,
    }


def provider_with(recorder: Recorder, **options: object) -> OpenAIProvider:
    options.setdefault("api_key", KEY)
    return openai_provider(
        "gpt-test", transport=httpx.MockTransport(recorder), max_retries=0, **options
    )


def ok_stream(text: str = "hi") -> bytes:
    return sse(
        chunk({"role": "assistant", "content": ""}), chunk({"content": text}), chunk({}, "stop")
    )


# ------------------------------------------------------------------- payload mapping


def test_payload_maps_every_part_kind():
    rec = Recorder(ok_stream())
    provider = provider_with(rec)
    history = [
        Message.of("user", [ContextBlock("df", 'DataFrame "df": 3 rows'), Text("Describe df")]),
        Message.of("assistant", [Text("Let me look."), ToolCall("call_1", "head", {"n": 2})]),
        Message.of(
            "tool",
            [
                ToolResult("call_1", "head", "a b\n1 2"),
                ToolResult("call_2", "tail", "boom", is_error=True),
            ],
        ),
        Message.of("assistant", "It has columns a and b."),
        Message.of("user", [Text("And this?"), Image("aGVsbG8=", "image/jpeg")]),
    ]
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    tool = ToolSpec("head", "First rows.", schema)
    request = ChatRequest(
        history,
        system="Be brief.",
        tools=[tool],
        temperature=0.2,
        max_tokens=50,
        seed=7,
        stop=["END"],
        extra={"top_p": 0.9},
    )
    list(provider.stream(request))
    body = rec.json
    assert body["model"] == "gpt-test"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    msgs = body["messages"]
    assert msgs[0] == {"role": "system", "content": "Be brief."}
    # context first, in a named tag, then the user's words
    user = msgs[1]["content"]
    assert user.index('<context name="df">') < user.index("Describe df")
    assert 'DataFrame "df": 3 rows' in user and user.endswith("Describe df")
    assert msgs[2]["role"] == "assistant" and msgs[2]["content"] == "Let me look."
    assert msgs[2]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "head", "arguments": '{"n": 2}'}}
    ]
    assert msgs[3] == {"role": "tool", "tool_call_id": "call_1", "content": "a b\n1 2"}
    assert msgs[4]["role"] == "tool" and msgs[4]["tool_call_id"] == "call_2"
    assert msgs[4]["content"].startswith("Error: boom")
    assert msgs[5] == {"role": "assistant", "content": "It has columns a and b."}
    assert msgs[6]["content"] == [
        {"type": "text", "text": "And this?"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,aGVsbG8="}},
    ]
    assert len(msgs) == 7
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "head",
                "description": "First rows.",
                "parameters": dict(tool.parameters),
            },
        }
    ]
    assert (body["temperature"], body["max_tokens"], body["seed"], body["stop"]) == (
        0.2,
        50,
        7,
        ["END"],
    )
    assert body["top_p"] == 0.9


def test_unset_options_are_not_sent_and_extra_wins():
    rec = Recorder(ok_stream())
    list(
        provider_with(rec).stream(
            ChatRequest(
                [Message.of("user", "x")], extra={"stream_options": {"include_usage": False}}
            )
        )
    )
    body = rec.json
    for key in ("temperature", "max_tokens", "seed", "stop", "tools"):
        assert key not in body
    assert body["stream_options"] == {"include_usage": False}
    assert [m["role"] for m in body["messages"]] == ["user"]


def test_key_travels_only_in_the_authorization_header():
    rec = Recorder(ok_stream())
    list(provider_with(rec).stream(ChatRequest([Message.of("user", "x")])))
    request = rec.requests[-1]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in str(request.url)
    assert KEY.encode() not in request.content
    assert request.url.path == "/v1/chat/completions"


# ------------------------------------------------------------------- stream parsing


def test_tool_call_fragments_are_assembled_in_order():
    args_a = json.dumps({"city": "Paris", "days": [1, 2, 3]})
    args_b = json.dumps({"q": "ünïcode ✓"}, ensure_ascii=False)
    pieces = [args_a[i : i + 3] for i in range(0, len(args_a), 3)]
    body = sse(
        chunk({"role": "assistant", "content": None}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "weather", "arguments": ""},
                    }
                ]
            }
        ),
        *[chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces],
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "search", "arguments": args_b[:5]},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": args_b[5:]}}]}),
        chunk({}, "tool_calls"),
    )
    events = list(provider_with(Recorder(body)).stream(ChatRequest([Message.of("user", "x")])))
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert "".join(d.arguments for d in deltas if d.index == 0) == args_a
    assert deltas[0] == ToolCallDelta(0, "call_a", "weather", "")
    completes = [e.call for e in events if isinstance(e, ToolCallComplete)]
    assert completes == [
        ToolCall("call_a", "weather", {"city": "Paris", "days": [1, 2, 3]}),
        ToolCall("call_b", "search", {"q": "ünïcode ✓"}),
    ]
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "tool_calls"
    # every ToolCallComplete comes after the last delta and before Done
    last_delta = max(i for i, e in enumerate(events) if isinstance(e, ToolCallDelta))
    first_complete = min(i for i, e in enumerate(events) if isinstance(e, ToolCallComplete))
    assert last_delta < first_complete


def test_bad_tool_arguments_raise_protocol_error():
    body = sse(
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "c",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"a": '},
                    }
                ]
            }
        ),
        chunk({}, "tool_calls"),
    )
    with pytest.raises(ProtocolError, match="not valid JSON"):
        list(provider_with(Recorder(body)).stream(ChatRequest([Message.of("user", "x")])))


def test_usage_reasoning_and_finish_reason():
    body = sse(
        chunk({"role": "assistant", "reasoning_content": "think "}),
        chunk({"reasoning_content": "more"}),
        chunk({"content": "Answer"}),
        chunk({}, "length"),
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "choices": [],
            "usage": {
                "prompt_tokens": 120,
                "completion_tokens": 9,
                "total_tokens": 129,
                "prompt_tokens_details": {"cached_tokens": 64},
            },
        },
    )
    events = list(provider_with(Recorder(body)).stream(ChatRequest([Message.of("user", "x")])))
    # one network chunk: its adjacent reasoning pieces come up as one delta, before the text
    assert [type(e).__name__ for e in events] == ["ReasoningDelta", "TextDelta", "Done"]
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["think more"]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Answer"]
    done = events[-1]
    assert (done.usage, done.finish_reason, done.model) == (
        Usage(120, 9, 64),
        "length",
        "openai:gpt-test",
    )
    # the reasoning field is kept under its own name, to go back to this server only
    assert done.provider_data == {
        "source": "openai https://api.openai.com",
        "fields": {"reasoning_content": "think more"},
    }
    assert sum(isinstance(e, Done) for e in events) == 1


def test_stream_without_done_marker_is_fine_after_finish_reason():
    body = (
        f"data: {json.dumps(chunk({'content': 'ok'}))}\n\ndata: {json.dumps(chunk({}, 'stop'))}\n\n"
    ).encode()
    events = list(provider_with(Recorder(body)).stream(ChatRequest([Message.of("user", "x")])))
    assert events[-1].finish_reason == "stop"


def test_stream_that_stops_early_is_provider_unavailable():
    body = f"data: {json.dumps(chunk({'content': 'partial'}))}\n\n".encode()
    sink: list = []
    with pytest.raises(ProviderUnavailable, match="broke mid-answer"):
        collect(provider_with(Recorder(body)), ChatRequest([Message.of("user", "x")]), sink=sink)
    assert sink == [TextDelta("partial")]


def test_non_streaming_json_answer_is_accepted():
    body = json.dumps(
        {
            "id": "x",
            "object": "chat.completion",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": "Sure.",
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": '{"x": 1}'},
                            }
                        ],
                    },
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2},
        }
    ).encode()
    events = list(
        provider_with(Recorder(body, content_type="application/json")).stream(
            ChatRequest([Message.of("user", "x")])
        )
    )
    assert TextDelta("Sure.") in events
    assert ToolCallComplete(ToolCall("c1", "f", {"x": 1})) in events
    assert events[-1] == Done(Usage(5, 2), "tool_calls", "openai:gpt-test")


def test_html_answer_is_a_protocol_error_naming_the_url():
    rec = Recorder(b"<html>login</html>", content_type="text/html")
    with pytest.raises(ProtocolError, match=r"text/html.*chat/completions"):
        list(provider_with(rec).stream(ChatRequest([Message.of("user", "x")])))


def test_in_stream_error_chunk_is_mapped():
    body = sse({"error": {"message": "The server had an error", "type": "server_error"}})
    with pytest.raises(ProviderUnavailable, match="server had an error"):
        list(provider_with(Recorder(body)).stream(ChatRequest([Message.of("user", "x")])))


def test_in_stream_error_chunk_after_content_ends_the_answer_there():
    body = sse(
        chunk({"content": "a"}),
        {"error": {"message": "The server had an error", "type": "server_error"}},
    )
    events = list(provider_with(Recorder(body)).stream(ChatRequest([Message.of("user", "x")])))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["a"]
    assert events[-1].finish_reason == "error"
    assert "server had an error" in events[-1].error


# -------------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("status", "body", "error", "needle"),
    [
        (
            401,
            {
                "error": {
                    "message": f"Incorrect API key provided: {KEY}.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
            AuthenticationError,
            "OPENAI_API_KEY",
        ),
        (
            403,
            {"error": {"message": "forbidden", "type": "x"}},
            AuthenticationError,
            "%chat key openai",
        ),
        (
            404,
            {
                "error": {
                    "message": "The model `gpt-test` does not exist",
                    "code": "model_not_found",
                }
            },
            ModelNotFoundError,
            "'gpt-test'",
        ),
        (404, {"error": "model 'gpt-test' not found"}, ModelNotFoundError, "not found"),
        (
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 8192 tokens.",
                    "code": "context_length_exceeded",
                }
            },
            ContextWindowError,
            "8192",
        ),
        (
            400,
            {
                "error": {
                    "message": "the request exceeds the available context size",
                    "type": "exceed_context_size_error",
                }
            },
            ContextWindowError,
            "%chat clear",
        ),
        (
            429,
            {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}},
            RateLimitError,
            "Rate limit reached",
        ),
        (
            429,
            {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}},
            RateLimitError,
            "billing",
        ),
        (500, {"error": {"message": "oops"}}, ProviderUnavailable, "HTTP 500"),
        (503, b"<html>Service Unavailable</html>", ProviderUnavailable, "Service Unavailable"),
        (
            400,
            {"error": {"message": "temperature must be <= 2"}},
            ProviderError,
            "temperature must be",
        ),
    ],
)
def test_http_errors_map_to_our_exceptions(status, body, error, needle):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    rec = Recorder(raw, status=status, content_type="application/json")
    with pytest.raises(error) as info:
        list(provider_with(rec).stream(ChatRequest([Message.of("user", "x")])))
    exc = info.value
    assert type(exc) is error
    message = str(exc)
    assert needle in message
    assert "\n" not in message
    assert KEY not in message and KEY not in repr(exc)
    assert exc.provider == "openai" and exc.status_code == status
    assert isinstance(exc.__cause__, httpx.HTTPStatusError)


def test_quota_429_is_not_retried():
    body = json.dumps({"error": {"message": "quota", "code": "insufficient_quota"}}).encode()
    rec = Recorder(body, status=429, content_type="application/json")
    provider = openai_provider(
        "m", api_key=KEY, transport=httpx.MockTransport(rec), max_retries=3, **FAST
    )
    with pytest.raises(RateLimitError):
        list(provider.stream(ChatRequest([Message.of("user", "x")])))
    assert len(rec.requests) == 1


def test_missing_key_fails_at_request_time_with_what_to_do():
    rec = Recorder(ok_stream())
    provider = openai_provider("gpt-test", transport=httpx.MockTransport(rec))  # no error yet
    with pytest.raises(AuthenticationError) as info:
        list(provider.stream(ChatRequest([Message.of("user", "x")])))
    assert "OPENAI_API_KEY" in str(info.value) and "%chat key openai" in str(info.value)
    assert rec.requests == []
    config.set_api_key("openai", KEY)  # what `%chat key openai` does
    assert list(provider.stream(ChatRequest([Message.of("user", "x")])))[-1].finish_reason
    assert rec.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_env_key_is_used_and_never_shown(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    rec = Recorder(
        json.dumps({"error": {"message": f"bad key {KEY}"}}).encode(),
        status=401,
        content_type="application/json",
    )
    provider = openai_provider("gpt-test", transport=httpx.MockTransport(rec))
    assert KEY not in repr(provider) and KEY not in str(vars(provider).get("base_url"))
    with pytest.raises(AuthenticationError) as info:
        list(provider.stream(ChatRequest([Message.of("user", "x")])))
    assert KEY not in str(info.value)
    assert "[redacted]" in str(info.value)


# ------------------------------------------------------------------------ factories


def test_openai_base_url_env_is_honoured(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://proxy.local:9000/v1/")
    provider = openai_provider("gpt-4o-mini")
    assert provider.request_url() == "http://proxy.local:9000/v1/chat/completions"
    assert provider.model_id == "openai:gpt-4o-mini"


def test_azure_uses_deployment_url_api_version_and_api_key_header(monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com/")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    rec = Recorder(ok_stream())
    provider = azure_provider("my-deploy", transport=httpx.MockTransport(rec), max_retries=0)
    list(provider.stream(ChatRequest([Message.of("user", "x")])))
    request = rec.requests[-1]
    assert str(request.url).startswith(
        "https://res.openai.azure.com/openai/deployments/my-deploy/chat/completions?"
    )
    assert request.url.params["api-version"]
    assert request.headers["api-key"] == KEY
    assert "authorization" not in request.headers
    assert provider.model_id == "azure:my-deploy"
    other = azure_provider("d", api_version="2099-01-01")
    assert other.request_url().endswith("api-version=2099-01-01")


def test_azure_without_endpoint_says_what_to_set():
    with pytest.raises(ConfigError, match="AZURE_OPENAI_ENDPOINT"):
        azure_provider("d")


def test_azure_missing_key_names_its_env_var(monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com")
    with pytest.raises(AuthenticationError, match=r"AZURE_OPENAI_API_KEY.*%chat key azure"):
        list(azure_provider("d").stream(ChatRequest([Message.of("user", "x")])))


def test_ollama_needs_no_key_and_honours_ollama_host(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box:11434")
    rec = Recorder(ok_stream())
    provider = ollama_provider("llama3.2", transport=httpx.MockTransport(rec))
    assert provider.base_url == "http://gpu-box:11434/v1"
    list(provider.stream(ChatRequest([Message.of("user", "x")])))
    assert "authorization" not in rec.requests[-1].headers
    assert resolve_model("ollama:llama3.2").base_url == "http://gpu-box:11434/v1"


def test_compatible_model_id_round_trips_through_the_registry():
    provider = resolve_model("openai-compatible:qwen2.5:7b@http://127.0.0.1:8080/v1")
    assert provider.model == "qwen2.5:7b"
    assert provider.base_url == "http://127.0.0.1:8080/v1"
    assert provider.model_id == "openai-compatible:qwen2.5:7b@http://127.0.0.1:8080/v1"
    again = resolve_model(provider.model_id)
    assert (again.model, again.base_url) == (provider.model, provider.base_url)
    via_option = compatible_provider("qwen", base_url="http://h:1/v1")
    assert resolve_model(via_option.model_id).base_url == "http://h:1/v1"


def test_compatible_alias_from_config_table(tmp_path, monkeypatch):
    (tmp_path / "config.toml").write_text(
        '[providers.mylab]\ntype = "openai-compatible"\nbase_url = "http://lab:8000/v1"\n'
        'api_key_env = "MYLAB_KEY"\nheaders = { "x-team" = "nlp" }\n'
    )
    monkeypatch.setenv("MYLAB_KEY", KEY)
    rec = Recorder(ok_stream())
    provider = resolve_model("mylab:mistral", transport=httpx.MockTransport(rec))
    assert provider.model_id == "mylab:mistral"
    assert resolve_model(provider.model_id).base_url == "http://lab:8000/v1"
    list(provider.stream(ChatRequest([Message.of("user", "x")])))
    request = rec.requests[-1]
    assert str(request.url) == "http://lab:8000/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-team"] == "nlp"


def test_compatible_without_url_or_with_bad_option_is_a_config_error():
    with pytest.raises(ConfigError, match="needs a base URL"):
        compatible_provider("qwen")
    with pytest.raises(ConfigError, match="unknown option"):
        compatible_provider("qwen@http://h/v1", temprature=0.1)
    with pytest.raises(ConfigError, match="http://"):
        compatible_provider("qwen", base_url="localhost:8080")


def test_compatible_key_is_optional_and_read_from_its_env_var(monkeypatch):
    rec = Recorder(ok_stream())
    provider = compatible_provider("m@http://h:1/v1", transport=httpx.MockTransport(rec))
    list(provider.stream(ChatRequest([Message.of("user", "x")])))
    assert "authorization" not in rec.requests[-1].headers
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", KEY)
    list(provider.stream(ChatRequest([Message.of("user", "x")])))
    assert rec.requests[-1].headers["authorization"] == f"Bearer {KEY}"


# ------------------------------------------------------------ loopback (fake server)


@pytest.fixture(params=["sync", "async"])
def mode(request):
    return request.param


def loopback(server, **options):
    return compatible_provider(
        f"fake-model@{server.openai_base_url}", api_key=KEY, **{**FAST, **options}
    )


def test_loopback_text_streams_and_history_is_sent(fake_server, mode):
    fake_server.enqueue("The answer is forty-two.", chunk_size=4)
    history = [
        Message.of("user", "first"),
        Message.of("assistant", "one"),
        Message.of("user", "second"),
    ]
    events = collect(loopback(fake_server), ChatRequest(history, system="sys"), mode)
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(texts) > 3 and "".join(texts) == "The answer is forty-two."
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop"
    sent = fake_server.last.body
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]
    assert [m["content"] for m in sent["messages"][1:]] == ["first", "one", "second"]
    assert fake_server.last.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in fake_server.last.raw


def test_loopback_echo_when_nothing_is_queued(fake_server, mode):
    events = collect(loopback(fake_server), ChatRequest([Message.of("user", "ping")]), mode)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "You said: ping"


def test_loopback_tool_call_split_into_many_chunks(fake_server, mode):
    args = {"expr": "sum(range(10))", "precision": 3, "tags": ["a", "b"]}
    fake_server.enqueue(
        tool_calls=[
            {"name": "calc", "arguments": args, "id": "call_9"},
            {"name": "noop", "arguments": {}},
        ],
        chunk_size=2,
    )
    events = collect(loopback(fake_server), ChatRequest([Message.of("user", "x")]), mode)
    assert sum(isinstance(e, ToolCallDelta) for e in events) > 10
    calls = [e.call for e in events if isinstance(e, ToolCallComplete)]
    assert calls[0] == ToolCall("call_9", "calc", args)
    assert calls[1].name == "noop" and calls[1].arguments == {}
    assert events[-1].finish_reason == "tool_calls"


def test_loopback_usage_with_cached_tokens(fake_server, mode):
    fake_server.enqueue(
        "ok", usage={"input_tokens": 1000, "output_tokens": 7, "cached_tokens": 768}
    )
    events = collect(loopback(fake_server), ChatRequest([Message.of("user", "x")]), mode)
    assert events[-1].usage == Usage(1000, 7, 768)


def test_loopback_non_streaming_reply(fake_server, mode):
    fake_server.enqueue("whole", usage=(3, 1))
    request = ChatRequest([Message.of("user", "x")], extra={"stream": False})
    events = collect(loopback(fake_server), request, mode)
    assert events == [TextDelta("whole"), Done(Usage(3, 1), "stop", events[-1].model)]
    assert fake_server.last.body["stream"] is False


def test_loopback_finish_reason_length(fake_server, mode):
    fake_server.enqueue("cut sho", finish_reason="length")
    events = collect(loopback(fake_server), ChatRequest([Message.of("user", "x")]), mode)
    assert events[-1].finish_reason == "length"


def test_injected_clients_are_used_for_sync_and_async():
    rec = Recorder(ok_stream("via injected"))
    client = httpx.Client(transport=httpx.MockTransport(rec))
    aclient = httpx.AsyncClient(transport=httpx.MockTransport(rec))
    provider = openai_provider("m", api_key=KEY, client=client, async_client=aclient)
    request = ChatRequest([Message.of("user", "x")])
    for mode in ("sync", "async"):
        events = collect(provider, request, mode)
        assert TextDelta("via injected") in events
    assert len(rec.requests) == 2
    provider.close()
    assert not client.is_closed  # injected clients belong to the caller
    client.close()


def test_plain_compatible_table_and_azure_version_env(tmp_path, monkeypatch):
    (tmp_path / "config.toml").write_text(
        '[providers.openai-compatible]\nbase_url = "http://box:1234/v1"\n'
    )
    provider = resolve_model("openai-compatible:phi")
    assert provider.request_url() == "http://box:1234/v1/chat/completions"
    assert resolve_model(provider.model_id).base_url == "http://box:1234/v1"
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-06-01")
    azure = azure_provider("dep", base_url="https://r.openai.azure.com")
    assert azure.request_url().endswith("?api-version=2024-06-01")


def test_fake_server_runs_as_a_subprocess_scripted_over_http():
    from fakeserver import spawn

    proc, url = spawn()
    try:
        control = httpx.Client(base_url=url, timeout=10)
        assert control.get("/_health").json()["ok"] is True
        control.post(
            "/_script", json=[{"text": "scripted reply", "usage": [7, 3]}, {"status": 404}]
        )
        provider = compatible_provider(f"nb-model@{url}/v1", max_retries=0)
        events = list(provider.stream(ChatRequest([Message.of("user", "hello")])))
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "scripted reply"
        assert events[-1].usage == Usage(7, 3)
        with pytest.raises(ModelNotFoundError):
            list(provider.stream(ChatRequest([Message.of("user", "again")])))
        recorded = control.get("/_requests").json()
        assert [r["body"]["messages"][-1]["content"] for r in recorded] == ["hello", "again"]
        assert control.post("/_script", json={"bogus": 1}).status_code == 400
        control.post("/_reset")
        assert control.get("/_requests").json() == []
        echo = list(provider.stream(ChatRequest([Message.of("user", "ping")])))
        assert "".join(e.text for e in echo if isinstance(e, TextDelta)) == "You said: ping"
        control.close()
        provider.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
