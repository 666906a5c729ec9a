"""The OpenAI-compatible provider against a real third-party server: llama.cpp's own.

``xllamacpp.Server`` serves llama.cpp's OpenAI-compatible HTTP API on 127.0.0.1 (a port
the OS picks), running SmolLM2-135M. Nobody here wrote that server, so these tests check
that our wire handling (SSE framing, usage, finish reasons, error bodies, closing a
stream) matches what a real server sends. Tiny model: plumbing, not intelligence.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from jupychat.errors import ContextWindowError
from jupychat.events import TextDelta
from jupychat.providers.registry import resolve_model
from jupychat.types import Message
from llama_fixtures import SERVER_N_CTX, SERVER_THREADS, ask, collect, llama_server, needs_llama

__all__ = ["llama_server"]  # the session fixture, imported so pytest finds it here

pytestmark = [needs_llama, pytest.mark.llama]


@pytest.fixture
def provider(llama_server):
    return resolve_model(f"openai-compatible:smollm2@{llama_server}", max_retries=0)


def test_the_server_listens_on_loopback_only(llama_server):
    assert llama_server.startswith("http://127.0.0.1:")
    assert llama_server.endswith("/v1")


def test_model_id_carries_the_url_and_resolves_back(provider, llama_server):
    assert provider.model_id == f"openai-compatible:smollm2@{llama_server}"
    again = resolve_model(provider.model_id)
    assert again.model_id == provider.model_id


def test_streams_a_non_empty_reply_in_chunks_with_usage(provider):
    reply = collect(provider.stream(ask("Write one sentence about the sea.", max_tokens=24)))
    assert reply.text.strip()
    assert reply.deltas > 1
    usage = reply.done.usage
    assert usage is not None
    assert usage.input_tokens > 5
    assert 0 < usage.output_tokens <= 24


def test_max_tokens_gives_a_length_stop(provider):
    reply = collect(provider.stream(ask("Tell me a long story about a dragon.", max_tokens=6)))
    assert reply.done.finish_reason == "length"
    assert reply.done.usage is not None and reply.done.usage.output_tokens == 6


def test_a_short_answer_ends_with_stop(provider):
    reply = collect(provider.stream(ask("Say hello.", temperature=0, max_tokens=200)))
    assert reply.done.finish_reason == "stop"


def test_temperature_zero_and_a_seed_give_the_same_text_twice(provider):
    request = ask("Describe a cat in one sentence.", temperature=0, seed=5, max_tokens=30)
    first = collect(provider.stream(request)).text
    second = collect(provider.stream(request)).text
    assert first and first == second


def test_what_is_two_plus_two(provider):
    reply = collect(provider.stream(ask("What is 2 + 2?", temperature=0, max_tokens=40)))
    assert "4" in reply.text


def test_the_http_server_and_the_in_process_model_agree(provider):
    # the same llama.cpp, model and threads, greedy decoding: the same words either way
    request = ask("Name three colours.", temperature=0, max_tokens=20)
    over_http = collect(provider.stream(request)).text
    in_process = collect(resolve_model("local", n_threads=SERVER_THREADS).stream(request)).text
    assert over_http and over_http == in_process


def test_astream_over_http(provider):
    async def run():
        return [e async for e in provider.astream(ask("Name a colour.", max_tokens=8))]

    reply = collect(iter(asyncio.run(run())))
    assert reply.text.strip() and reply.done.usage is not None


def test_prompt_tokens_grow_with_the_history(provider):
    from jupychat.session import ChatSession

    session = ChatSession(model=provider, system_prompt="You are brief.")
    answers = [
        session.send(question, temperature=0, max_tokens=12)
        for question in ("Name a fruit.", "Name another one.", "And one more.")
    ]
    inputs = [a.usage.input_tokens for a in answers]
    assert inputs[0] < inputs[1] < inputs[2]
    # each turn's prompt holds the previous prompt and answer
    assert inputs[1] >= inputs[0] + answers[0].usage.output_tokens
    assert [m.role for m in session.history[-2:]] == ["user", "assistant"]
    assert all(a.model == provider.model_id for a in answers)


def test_a_too_long_conversation_is_a_context_window_error(provider):
    history = [Message.of("user", "word " * (SERVER_N_CTX + 200))]
    with pytest.raises(ContextWindowError) as info:
        collect(provider.stream(ask(history, max_tokens=3)))
    assert "\n" not in str(info.value)
    assert collect(provider.stream(ask("Hi", max_tokens=3))).text  # the server is fine


def test_closing_the_stream_frees_the_server(provider):
    stream = provider.stream(ask("Tell me a story.", max_tokens=1500, extra={"ignore_eos": True}))
    seen = list(itertools.islice(stream, 3))
    assert all(isinstance(e, TextDelta) for e in seen)
    stream.close()
    started = time.monotonic()
    reply = collect(provider.stream(ask("Hi", max_tokens=4)))
    assert reply.done.usage is not None
    # 1500 tokens would take many seconds: the server stopped when the client went away
    assert time.monotonic() - started < 5
