"""The turn deadline (``turn_timeout``): no server can keep a turn waiting past it.

Loopback tier, both wire formats, sync and async: a server that stalls before the
headers, one that sends only ``: ping`` keep-alives, a slow trickle, a stall after the
first words, and retry loops (a 429 whose ``Retry-After`` is longer than the time left
must not be slept). Nothing arrived: the turn fails in one line naming the setting and
history is unchanged. Some text arrived: it is kept, marked interrupted with
``finish_reason="timeout"``, with a one-line warning. The setting resolves like every
other one (argument, ``%config``, environment, config file, default 600 s).
"""

from __future__ import annotations

import asyncio
import json
import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fixtures_server import fake_server
from jupychat import ChatSession, config
from jupychat.errors import ConfigError, ProviderError, RateLimitError
from jupychat.providers.anthropic import anthropic_provider
from jupychat.providers.base import ChatRequest, Provider
from jupychat.providers.fake import get_fake
from jupychat.providers.openai import compatible_provider
from jupychat.providers.registry import resolve_model
from jupychat.store import SessionStore
from jupychat.types import Message
from llama_fixtures import needs_llama

__all__ = ["fake_server"]  # the loopback server fixture, imported so pytest finds it here

KEY = "sk-deadline-0123456789abcdefSECRET"
SLACK = 1.5  # seconds of scheduling noise allowed on a busy 2-core machine
APIS = ["openai", "anthropic"]
MODES = ["sync", "async"]


def provider_for(api: str, server: Any, **options: Any) -> Provider:
    options = {"api_key": KEY, "backoff": 0.01, "max_backoff": 0.05, **options}
    if api == "openai":
        return compatible_provider(f"m@{server.openai_base_url}", **options)
    return anthropic_provider("claude-x", base_url=server.anthropic_base_url, **options)


def first_words(api: str, text: str) -> str:
    """The start of a stream up to one text delta (no end: the server goes silent then)."""
    if api == "openai":
        chunk = {
            "id": "c",
            "object": "chat.completion.chunk",
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
        }
        return f"data: {json.dumps(chunk)}\n\n"
    events = [
        (
            "message_start",
            {
                "message": {
                    "id": "m",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": "m",
                    "usage": {"input_tokens": 3, "output_tokens": 1},
                }
            },
        ),
        ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": text}}),
    ]
    return "".join(
        f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n" for name, data in events
    )


def turn(chat: ChatSession, prompt: str, mode: str, **options: Any) -> Any:
    """One turn; returns (response or exception, seconds taken)."""
    started = time.monotonic()
    try:
        if mode == "sync":
            result: Any = chat.send(prompt, **options)
        else:
            result = asyncio.run(chat.asend(prompt, **options))
    except ProviderError as exc:
        result = exc
    return result, time.monotonic() - started


def assert_failed_in_one_line(result: Any, chat: ChatSession, before: list[Message]) -> None:
    assert isinstance(result, ProviderError), result
    message = str(result)
    assert "\n" not in message and "turn_timeout" in message, message
    assert chat.history == before  # atomic: the failed turn left nothing


# ------------------------------------------------------------------------- nothing came


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", APIS)
def test_a_server_that_stalls_before_answering_is_cut_at_the_deadline(fake_server, api, mode):
    chat = ChatSession(provider_for(api, fake_server), turn_timeout=1.0)
    before = chat.history
    fake_server.enqueue(stall=30)
    result, took = turn(chat, "hello?", mode)
    assert_failed_in_one_line(result, chat, before)
    assert 0.9 <= took < 1.0 + SLACK
    assert len(fake_server.requests) == 1  # the read timeout ended the turn, not a retry
    fake_server.enqueue("back")
    assert turn(chat, "again", mode)[0].text == "back"  # the session is usable


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", APIS)
def test_keep_alive_comments_alone_never_end_a_turn(fake_server, api, mode):
    chat = ChatSession(provider_for(api, fake_server), turn_timeout=1.0)
    fake_server.enqueue(raw=[], keepalive=0.05)
    result, took = turn(chat, "hello?", mode)
    assert_failed_in_one_line(result, chat, [])
    assert 0.9 <= took < 1.0 + SLACK


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", APIS)
def test_retries_never_sleep_past_the_deadline(fake_server, api, mode):
    chat = ChatSession(
        provider_for(api, fake_server, max_retries=5, max_backoff=60), turn_timeout=2.0
    )
    fake_server.enqueue(status=429, retry_after=30)  # longer than the whole turn may take
    result, took = turn(chat, "hello?", mode)
    assert isinstance(result, RateLimitError), result
    assert "turn_timeout" in str(result) and "\n" not in str(result)
    assert took < 0.5 + SLACK and len(fake_server.requests) == 1
    # a server that keeps failing is retried only while there is time left
    fake_server.reset()
    for _ in range(50):
        fake_server.enqueue(status=503, retry_after=0.3)
    chat = ChatSession(
        provider_for(api, fake_server, max_retries=40, max_backoff=60), turn_timeout=1.0
    )
    result, took = turn(chat, "hello?", mode)
    assert isinstance(result, ProviderError) and "turn_timeout" in str(result), result
    assert took < 1.0 + SLACK and 2 <= len(fake_server.requests) <= 5


# -------------------------------------------------------------------- part of an answer


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", APIS)
def test_a_slow_trickle_keeps_what_arrived_marked_timeout(fake_server, tmp_path, api, mode):
    store = SessionStore(tmp_path / "s.db")
    chat = ChatSession(provider_for(api, fake_server), turn_timeout=1.0, store=store)
    fake_server.enqueue("one two three four five six seven eight", chunk_size=4, chunk_delay=0.12)
    with pytest.warns(UserWarning, match="cut off at turn_timeout=1 s") as caught:
        response, took = turn(chat, "count", mode)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert took < 1.0 + SLACK
    assert response.interrupted and response.finish_reason == "timeout"
    assert response.text and "one two three four five six seven eight".startswith(response.text)
    assert response.text != "one two three four five six seven eight"
    assert [m.role for m in chat.history] == ["user", "assistant"]
    assert store.load(chat.id)["messages"] == [m.to_dict() for m in chat.history]
    fake_server.enqueue("fine")
    assert turn(chat, "next", mode)[0].text == "fine"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", APIS)
def test_a_stall_after_the_first_words_is_cut_at_the_deadline(fake_server, api, mode):
    # the first words come late (1.5 s), then silence: the read that starts then must still
    # end at the deadline (4 s), not when its own timeout (clipped to the 4 s that were
    # left when the request went out) runs out at 5.5 s. The words come 2.5 s before the
    # deadline: with 0.5 s, a loaded CI box once delivered them too late (no words kept).
    chat = ChatSession(provider_for(api, fake_server, timeout=30), turn_timeout=4.0)
    fake_server.enqueue(raw=[first_words(api, "Hello there")], chunk_delay=1.5, keepalive=100)
    with pytest.warns(UserWarning, match="cut off"):
        response, took = turn(chat, "hi", mode)
    assert response.text == "Hello there" and response.finish_reason == "timeout"
    assert 3.9 <= took < 4.0 + 1.0, took  # a read left to its own timeout ends at 5.5 s


@pytest.mark.parametrize("mode", MODES)
def test_a_provider_that_ignores_deadlines_is_still_cut(mode):
    fake = get_fake("deadline")
    fake.enqueue("abcdefghijklmnop", chunk_size=1, delay=0.25)
    chat = ChatSession(fake, turn_timeout=0.8)
    with pytest.warns(UserWarning, match="cut off"):
        response, took = turn(chat, "go", mode)
    assert response.finish_reason == "timeout" and 1 <= len(response.text) < 16
    assert took < 0.8 + SLACK


class Silent(Provider):
    """An async provider that never yields anything."""

    name = "silent"

    async def astream(self, request: ChatRequest) -> AsyncIterator[Any]:
        await asyncio.sleep(3600)
        yield None  # pragma: no cover


def test_the_async_driver_cancels_a_provider_that_never_answers():
    chat = ChatSession(Silent("m"), turn_timeout=0.5)
    result, took = turn(chat, "anyone?", "async")
    assert_failed_in_one_line(result, chat, [])
    assert took < 0.5 + SLACK


@pytest.mark.parametrize("api", APIS)
def test_a_finished_stream_held_open_ends_the_turn_normally(fake_server, api):
    chat = ChatSession(provider_for(api, fake_server), turn_timeout=30)
    fake_server.enqueue("all here", keepalive=0.1)  # pings after the end marker
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        response, took = turn(chat, "hi", "sync")
    assert response.text == "all here" and response.finish_reason == "stop"
    assert took < 2.0 + SLACK  # the grace after the end marker, not the turn deadline


def test_time_spent_running_tools_does_not_count():
    fake = get_fake("tools-deadline")

    def slow(seconds: float) -> str:
        """Sleep a while."""
        time.sleep(seconds)
        return "slept"

    fake.enqueue("", tool_calls=[("slow", {"seconds": 0.8})]).enqueue("done")
    chat = ChatSession(fake, tools=[slow], turn_timeout=0.5)
    assert chat.send("go").text == "done"


# --------------------------------------------------------------------------- the setting


def test_turn_timeout_resolves_like_every_setting(tmp_path, monkeypatch):
    fake = get_fake("setting")

    def deadline_of(chat: ChatSession, **options: Any) -> float:
        started = time.monotonic()
        chat.send("x", **options)
        deadline = fake.requests[-1].deadline
        assert deadline is not None
        return round(deadline - started)

    chat = ChatSession(fake)
    assert deadline_of(chat) == 600  # the default
    (tmp_path / "config.toml").write_text("turn_timeout = 300\n")
    assert deadline_of(chat) == 300
    monkeypatch.setenv("JUPYCHAT_TURN_TIMEOUT", "200")
    assert deadline_of(chat) == 200
    config.set_override("turn_timeout", 100)  # what %config ChatMagics.turn_timeout does
    assert deadline_of(chat) == 100
    assert deadline_of(ChatSession(fake, turn_timeout=50)) == 50
    assert deadline_of(chat, turn_timeout=20) == 20
    assert ChatSession(fake, turn_timeout=50).to_dict()["settings"] == {"turn_timeout": 50}
    config.set_override("turn_timeout", float("inf"))
    chat.send("x")
    assert fake.requests[-1].deadline is None  # inf: no limit
    for bad in (0, -1, "soon", True):
        config.set_override("turn_timeout", bad)
        with pytest.raises(ConfigError, match="turn_timeout must be a positive number"):
            chat.send("x")


def test_the_magics_trait_sets_turn_timeout(monkeypatch):
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    from jupychat.notebook import unload_ipython_extension

    monkeypatch.setenv("JUPYCHAT_MODEL", "fake:magics-deadline")
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance()
    try:
        shell.run_line_magic("load_ext", "jupychat")
        shell.run_line_magic("config", "ChatMagics.turn_timeout = 42.0")
        assert config.resolve("turn_timeout") == 42.0
    finally:
        unload_ipython_extension(shell)
        InteractiveShell.clear_instance()


# ------------------------------------------------------------------ the embedded model


@needs_llama
@pytest.mark.llama
@pytest.mark.parametrize("mode", MODES)
def test_the_local_model_stops_at_the_deadline(mode):
    provider = resolve_model("local")
    provider.load()  # loading is not what this test times
    chat = ChatSession(provider, turn_timeout=1.0, max_tokens=3000, temperature=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, took = turn(
            chat, "Write a very long story about the sea, chapter by chapter.", mode
        )
    assert took < 1.0 + SLACK
    if isinstance(result, ProviderError):  # a busy machine: not one token in a second
        assert_failed_in_one_line(result, chat, [])
    else:
        assert result.finish_reason == "timeout" and result.text
        assert any("cut off" in str(w.message) for w in caught)
    # llama.cpp was stopped: the next answer starts at once
    chat = ChatSession(provider, turn_timeout=60, max_tokens=8, temperature=0)
    started = time.monotonic()
    assert turn(chat, "Say hi.", mode)[0].text
    assert time.monotonic() - started < 30


def test_the_deadline_machinery_adds_no_import_to_load_ext():
    import subprocess
    import sys

    code = (
        "import sys, jupychat, jupychat.session;"
        "print(sorted(m for m in ('httpx', 'asyncio', 'httpx_sse') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
