"""Prompt caching: the fake server's model of the providers' caches, the marks jupychat
puts on Anthropic requests, byte-stable prefixes for OpenAI-compatible servers, and honest
usage and cost (checked against the providers' documented example usage blocks)."""

from __future__ import annotations

import copy
import itertools
import json

import numpy as np
import pandas as pd
import pytest
from IPython.utils.capture import capture_output

from cell_run import run
from fakecache import CacheRequestError, PromptCache
from fixtures_server import fake_server
from jupychat import ChatSession, config
from jupychat.errors import ProviderError
from jupychat.events import Done
from jupychat.pricing import cost_of
from jupychat.providers._anthropic_cache import MAX_CACHE_BREAKPOINTS, cache_breakpoints
from jupychat.providers._errors import Endpoint
from jupychat.providers.anthropic import AnthropicStreamParser, anthropic_provider
from jupychat.providers.chat_completions import OpenAIStreamParser
from jupychat.types import Usage

__all__ = ["fake_server"]

KEY = "sk-ant-api03-cache-tests-0123456789"
FAST = {"backoff": 0.001, "max_backoff": 0.01}
SYSTEM = "You are a careful data assistant. " * 150  # ≈1,300 tokens: cacheable alone
# a stand-in for a large variable's description: ≈2,500 tokens
FRAME = "\n".join(
    f"| col_{i:03d} | float64 | {i * 7} nulls | min {i / 3:.2f}, p50≈{i:.1f}, max {i * 9} |"
    for i in range(160)
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def text_message(role: str, text: str, mark: bool = False) -> dict:
    block: dict = {"type": "text", "text": text}
    if mark:
        block["cache_control"] = {"type": "ephemeral"}
    return {"role": role, "content": [block]}


def marks(body: dict) -> int:
    system = body.get("system")
    blocks = [*(body.get("tools") or []), *(system if isinstance(system, list) else [])]
    for message in body["messages"]:
        if isinstance(message["content"], list):
            blocks += message["content"]
    return sum("cache_control" in b for b in blocks)


def unmarked(messages: list) -> list:
    out = copy.deepcopy(messages)
    for message in out:
        if isinstance(message["content"], list):
            for block in message["content"]:
                block.pop("cache_control", None)
    return out


# ---------------------------------------------------------------- the cache model


def test_openai_caches_from_1024_tokens_in_128_token_steps():
    cache = PromptCache()
    short = {"model": "m", "messages": [{"role": "user", "content": "x" * 3000}]}
    assert cache.usage("openai", short)["cached_tokens"] == 0
    assert cache.usage("openai", short)["cached_tokens"] == 0  # < 1,024 tokens: never
    # OpenAI's guide shows prompt_tokens 2006 with cached_tokens 1920: a prompt that
    # repeats the first 1,950 tokens of an earlier one caches 1,024 + 7 × 128 of them
    first = {"role": "user", "content": "x" * (4 * 1950 - 31)}  # 31 characters of framing
    assert len(json.dumps(first)) == 4 * 1950
    assert cache.usage("openai", {"model": "m", "messages": [first]})["cached_tokens"] == 0
    second = {"model": "m", "messages": [first, {"role": "assistant", "content": "y" * 188}]}
    usage = cache.usage("openai", second)
    assert (usage["input_tokens"], usage["cached_tokens"]) == (2006, 1920)
    assert cache.usage("openai", {**second, "model": "other"})["cached_tokens"] == 0  # per model


def test_anthropic_writes_at_breakpoints_and_reads_them_back():
    cache = PromptCache()
    system = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
    body = {"model": "claude-sonnet-4-0", "system": system, "messages": [text_message("user", "a")]}
    first = cache.usage("anthropic", body)
    assert first["cached_tokens"] == 0 and first["cache_write_tokens"] > 1024
    assert first["input_tokens"] - first["cache_write_tokens"] < 20  # the question only
    later = {**body, "messages": [text_message("user", "another question entirely")]}
    second = cache.usage("anthropic", later)
    assert second["cached_tokens"] == first["cache_write_tokens"]
    assert second["cache_write_tokens"] == 0  # the system prefix was there already


def test_anthropic_marks_are_not_part_of_the_cached_text_and_lookback_is_20_blocks():
    cache = PromptCache()
    blocks = [
        text_message("user" if i % 2 == 0 else "assistant", f"{i} " + "w" * 400) for i in range(60)
    ]
    blocks.append(text_message("user", "end"))
    first = copy.deepcopy(blocks[:31])
    first[30]["content"][0]["cache_control"] = {"type": "ephemeral"}
    wrote = cache.usage("anthropic", {"model": "claude-sonnet-4-0", "messages": first})
    assert wrote["cache_write_tokens"] > 1024
    near = copy.deepcopy(blocks[:50])  # a mark 19 blocks further on: found by looking back
    near[49]["content"][0]["cache_control"] = {"type": "ephemeral"}
    hit = cache.usage("anthropic", {"model": "claude-sonnet-4-0", "messages": near})
    assert hit["cached_tokens"] == wrote["cache_write_tokens"]
    cache.reset()
    cache.usage("anthropic", {"model": "claude-sonnet-4-0", "messages": first})
    far = copy.deepcopy(blocks[:52])  # 21 blocks further on: out of reach
    far[51]["content"][0]["cache_control"] = {"type": "ephemeral"}
    miss = cache.usage("anthropic", {"model": "claude-sonnet-4-0", "messages": far})
    assert miss["cached_tokens"] == 0


def test_anthropic_minimums_ttl_and_what_invalidates_what():
    clock = Clock()
    cache = PromptCache(clock)
    small = {"model": "claude-sonnet-4-0", "messages": [text_message("user", "x" * 3000, True)]}
    assert cache.usage("anthropic", small)["cache_write_tokens"] == 0  # < 1,024 tokens
    mid = {"model": "claude-3-5-haiku", "messages": [text_message("user", "x" * 6000, True)]}
    assert cache.usage("anthropic", mid)["cache_write_tokens"] == 0  # < 2,048 for Haiku 3.5
    system = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
    body = {
        "model": "claude-sonnet-4-0",
        "system": system,
        "messages": [text_message("user", "q " * 3000, True)],
    }
    full = cache.usage("anthropic", body)["cache_write_tokens"]
    assert cache.usage("anthropic", body)["cached_tokens"] == full
    # a new tool_choice keeps tools and system, not the messages
    forced = {**body, "tool_choice": {"type": "any"}}
    partly = cache.usage("anthropic", forced)
    assert 1024 < partly["cached_tokens"] < full
    clock.now += 301  # five minutes without a hit: gone
    assert cache.usage("anthropic", body)["cached_tokens"] == 0


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"type": "text", "text": "", "cache_control": {"type": "ephemeral"}}, "empty text"),
        ({"type": "text", "text": "a", "cache_control": {"type": "persistent"}}, "ephemeral"),
        ({"type": "text", "text": "a", "cache_control": {"type": "ephemeral", "ttl": "2h"}}, "ttl"),
    ],
)
def test_anthropic_bad_marks_are_refused(block, message):
    body = {"model": "claude-sonnet-4-0", "messages": [{"role": "user", "content": [block]}]}
    with pytest.raises(CacheRequestError, match=message):
        PromptCache().usage("anthropic", body)


def test_more_than_four_marks_is_a_400_from_the_server(fake_server):
    provider = anthropic_provider(
        "claude-sonnet-4-0", base_url=fake_server.anthropic_base_url, api_key=KEY, **FAST
    )
    system = [
        {"type": "text", "text": f"rule {i}", "cache_control": {"type": "ephemeral"}}
        for i in range(5)
    ]
    session = ChatSession(provider, extra={"system": system})
    with pytest.raises(ProviderError, match="A maximum of 4 blocks with cache_control"):
        session.send("hello")
    assert session.history == []


# ------------------------------------------------------------ the marks we send


def anthropic_session(server, **kwargs):
    provider = anthropic_provider(
        "claude-sonnet-4-0", base_url=server.anthropic_base_url, api_key=KEY, **FAST
    )
    return ChatSession(provider, **kwargs)


def shares_from_turn_3(responses) -> list[float]:
    return [r.usage.cached_tokens / r.usage.input_tokens for r in responses[2:]]


def test_an_anthropic_session_reads_most_of_its_input_from_the_cache(fake_server):
    session = anthropic_session(fake_server, system_prompt=SYSTEM, context={"df": FRAME})
    responses = []
    for turn in range(8):
        fake_server.enqueue("Here is what I found about the frame. " * 8)
        responses.append(session.send(f"question {turn}: what about col_{turn:03d}?"))
    assert min(shares_from_turn_3(responses)) >= 0.8
    for request in fake_server.requests:
        assert 3 <= marks(request.body) <= MAX_CACHE_BREAKPOINTS
        assert "cache_control" in request.body["system"][-1]
    # honest usage: Anthropic's own input_tokens excludes reads and writes; ours includes them
    usage = responses[-1].usage
    assert usage.input_tokens >= usage.cached_tokens + usage.cache_write_tokens
    assert usage.input_tokens > responses[-2].usage.input_tokens  # history grows
    assert session.stats()["cache_write_tokens"] == sum(
        r.usage.cache_write_tokens for r in responses
    )


def test_turning_the_setting_off_sends_no_marks_and_reads_nothing(fake_server):
    config.set_override("prompt_cache", False)
    session = anthropic_session(fake_server, system_prompt=SYSTEM, context={"df": FRAME})
    for turn in range(3):
        fake_server.enqueue("ok")
        response = session.send(f"q{turn}")
        assert response.usage.cached_tokens == response.usage.cache_write_tokens == 0
    assert all(marks(r.body) == 0 for r in fake_server.requests)
    assert isinstance(fake_server.last.body["system"], str)


def test_a_tool_loop_reads_the_previous_call_of_the_same_turn(fake_server):
    def lookup(name: str) -> str:
        """Look a name up."""
        return f"{name}: 42 rows"

    session = anthropic_session(fake_server, context={"df": FRAME}, tools=[lookup])
    fake_server.enqueue("Checking.", tool_calls=[{"name": "lookup", "arguments": {"name": "df"}}])
    fake_server.enqueue("It has 42 rows.")
    response = session.send("how many rows in df?")
    first, second = (m.usage for m in response.messages if m.role == "assistant")
    assert first.cached_tokens == 0 and first.cache_write_tokens > 1024
    assert second.cached_tokens == first.input_tokens  # everything the first call sent
    body = fake_server.last.body
    assert "cache_control" in body["tools"][-1]  # no system prompt: the tools carry mark 3


def test_marks_leave_room_for_the_callers_own_and_never_change_them():
    own = [
        {"type": "text", "text": f"rule {i}", "cache_control": {"type": "ephemeral"}}
        for i in range(3)
    ]
    kept = copy.deepcopy(own)
    payload = {
        "system": own,
        "messages": [
            text_message("user", '<context name="df">\n...\n</context>'),
            text_message("assistant", "a"),
            {
                "role": "user",
                "content": [{"type": "text", "text": "b"}, {"type": "text", "text": "c"}],
            },
        ],
    }
    cache_breakpoints(payload)
    assert marks(payload) == MAX_CACHE_BREAKPOINTS
    assert "cache_control" in payload["messages"][-1]["content"][-1]  # the most useful one
    assert own == kept  # the caller's blocks were copied, not marked in place


def test_no_mark_lands_on_thinking_or_empty_blocks():
    payload = {
        "system": "s",
        "messages": [
            text_message("user", "q"),
            {
                "role": "assistant",
                "content": [{"type": "thinking", "thinking": "hm", "signature": "x"}],
            },
        ],
    }
    cache_breakpoints(payload)
    assert "cache_control" not in payload["messages"][-1]["content"][0]
    assert "cache_control" in payload["messages"][0]["content"][0]
    assert marks(payload) == 2


# ---------------------------------------- the notebook: stable prefixes, both wires


@pytest.fixture
def frame_shell(notebook_shell, fake_server, monkeypatch):
    def make(wire: str):
        if wire == "anthropic":
            monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
            monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_server.anthropic_base_url)
            model = "anthropic:claude-sonnet-4-0"
        else:
            model = f"openai-compatible:gpt-4o-mini@{fake_server.openai_base_url}"
        shell = notebook_shell(model, f"/work/cache-{wire}.ipynb")
        rng = np.random.default_rng(7)
        n = 20_000
        shell.user_ns["orders"] = pd.DataFrame(
            {
                "order_id": np.arange(n),
                "price": rng.gamma(2.0, 15.0, n).round(2),
                "region": pd.Categorical(rng.choice(["north", "south", "east", "west"], n)),
                "status": rng.choice(["shipped", "pending", "returned"], n),
                "placed_at": pd.Timestamp("2024-01-01")
                + pd.to_timedelta(rng.integers(0, 365, n), "D"),
            }
        )
        return shell

    return make


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
def test_notebook_requests_repeat_the_previous_one_byte_for_byte(frame_shell, fake_server, wire):
    shell = frame_shell(wire)
    for turn in range(6):
        if turn == 3:
            shell.user_ns[f"extra_{turn}"] = list(range(turn))  # the inventory changes
        fake_server.enqueue(f"Answer {turn}: the prices look right-skewed. " * 6)
        run(shell, f"%%chat\nQuestion {turn} about @orders: is price skewed in region {turn}?")
    bodies = [r.body for r in fake_server.requests]
    assert len(bodies) == 6
    for before, after in itertools.pairwise(bodies):
        old, new = unmarked(before["messages"]), unmarked(after["messages"])
        sent = json.dumps(old, ensure_ascii=False)[:-1]  # without the closing bracket
        assert json.dumps(new, ensure_ascii=False).startswith(sent)
        assert before.get("tools") == after.get("tools") or wire == "anthropic"
        assert before.get("system") == after.get("system")
    # the changed inventory rode on the new question, after everything already sent
    last_user = bodies[3]["messages"][-1]
    assert "extra_3" in json.dumps(last_user)
    from jupychat.notebook import get_chat

    turns = get_chat(shell).session().stats()["per_turn"]
    shares = [t["cached_tokens"] / t["input_tokens"] for t in turns[2:]]
    assert min(shares) >= 0.8, shares


def test_chat_stats_shows_cache_reads_writes_and_cost_per_turn(frame_shell, fake_server):
    shell = frame_shell("anthropic")
    for turn in range(3):
        fake_server.enqueue("Fine.")
        run(shell, f"%%chat\nQ{turn} about @orders?")
    with capture_output() as out:
        shell.run_line_magic("chat", "stats")
    from jupychat.notebook import get_chat

    stats = get_chat(shell).session().stats()
    assert stats["cached_tokens"] > 0 and stats["cache_write_tokens"] > 0
    assert (
        f"{stats['cached_tokens']:,} cached, {stats['cache_write_tokens']:,} written" in out.stdout
    )
    assert f"last turn ${stats['per_turn'][-1]['cost']:.4f}" in out.stdout


# ------------------------------------------ usage and cost: the documented examples


def test_anthropic_documented_usage_block_is_read_and_priced_right():
    # Anthropic's prompt-caching guide: a first call that writes a book to the cache
    body = {
        "type": "message",
        "content": [{"type": "text", "text": "..."}],
        "stop_reason": "end_turn",
        "usage": {
            "cache_creation_input_tokens": 188086,
            "cache_read_input_tokens": 0,
            "input_tokens": 21,
            "output_tokens": 393,
        },
    }
    parser = AnthropicStreamParser(
        Endpoint("anthropic", "claude-sonnet-4-0", "u"), "anthropic:claude-sonnet-4-0"
    )
    parser.feed_json(body)
    usage = next(e for e in parser.finish() if isinstance(e, Done)).usage
    assert usage == Usage(
        input_tokens=188107, output_tokens=393, cached_tokens=0, cache_write_tokens=188086
    )
    # Sonnet 4: $3 input, $3.75 cache write, $0.30 cache read, $15 output per million
    expected = (21 * 3.00 + 188086 * 3.75 + 393 * 15.00) / 1e6
    assert cost_of(usage, "anthropic:claude-sonnet-4-0") == pytest.approx(expected)
    read = Usage(input_tokens=188107, output_tokens=393, cached_tokens=188086)
    assert cost_of(read, "anthropic:claude-sonnet-4-0") == pytest.approx(
        (21 * 3.00 + 188086 * 0.30 + 393 * 15.00) / 1e6
    )


def test_openai_documented_usage_block_is_read_and_priced_right():
    # OpenAI's prompt-caching guide: cached_tokens are part of prompt_tokens
    chunk = {
        "choices": [],
        "usage": {
            "prompt_tokens": 2006,
            "completion_tokens": 300,
            "total_tokens": 2306,
            "prompt_tokens_details": {"cached_tokens": 1920},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }
    parser = OpenAIStreamParser(Endpoint("openai", "gpt-4o-mini", "u"), "openai:gpt-4o-mini")
    parser.feed_chunk(chunk)
    usage = next(e for e in parser.finish() if isinstance(e, Done)).usage
    assert usage == Usage(input_tokens=2006, output_tokens=300, cached_tokens=1920)
    expected = (86 * 0.15 + 1920 * 0.075 + 300 * 0.60) / 1e6
    assert cost_of(usage, "openai:gpt-4o-mini") == pytest.approx(expected)
