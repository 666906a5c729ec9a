"""One behaviour suite, every provider.

Each test runs a real :class:`ChatSession` against each provider: the shipped fake
provider, the OpenAI-compatible provider and the Anthropic provider (both talking to the
loopback fake server over real sockets). A ``Backend`` adapter scripts the replies and
reads back what was sent, in each provider's own terms; the assertions are the same for
all of them: a text turn, streamed deltas, history sent on the next turn, a tool loop,
usage summed over steps, and for every fault: the error type, history left exactly as
it was, and a retry that does not duplicate the user message.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fixtures_server import fake_server
from jupychat import ChatSession, Tool
from jupychat.errors import (
    AuthenticationError,
    ModelNotFoundError,
    ProtocolError,
    ProviderUnavailable,
    RateLimitError,
)
from jupychat.providers.anthropic import anthropic_provider
from jupychat.providers.base import Provider
from jupychat.providers.fake import get_fake
from jupychat.providers.openai import compatible_provider
from jupychat.types import ToolCall, Usage

__all__ = ["fake_server"]  # the loopback server fixture, imported so pytest finds it here

KEY = "sk-conformance-SECRET-0123456789"
RETRY = {"backoff": 0.002, "max_backoff": 0.01, "max_retries": 1}

# fault name -> (exception, fake-server script)
FAULTS: dict[str, tuple[type[Exception], dict[str, Any]]] = {
    "401": (AuthenticationError, {"status": 401}),
    "404": (ModelNotFoundError, {"status": 404}),
    "429": (RateLimitError, {"status": 429, "retry_after": "0"}),
    "500": (ProviderUnavailable, {"status": 500}),
    "529": (ProviderUnavailable, {"status": 529}),
    "drop": (
        ProviderUnavailable,
        {"text": "partial answer that is cut", "chunk_size": 3, "drop_after": 5},
    ),
    "malformed": (ProtocolError, {"text": "x", "malformed": True}),
    "slow": (ProviderUnavailable, {"text": "slow", "chunk_delay": 0.6}),
}
RETRIED = {"429", "500", "529", "slow"}  # each of these is tried 1 + max_retries times


class Backend:
    """Scripts one provider and reads back, as (role, text) pairs, what it was sent."""

    name = ""

    def provider(self, **options: Any) -> Provider:
        raise NotImplementedError

    def reply(
        self,
        text: str = "",
        *,
        tool_calls: list[dict] | None = None,
        usage: tuple[int, int] | None = None,
        chunk_size: int = 4,
    ) -> None:
        raise NotImplementedError

    def fault(self, name: str) -> None:
        raise NotImplementedError

    def sent(self, index: int = -1) -> list[tuple[str, str]]:
        raise NotImplementedError

    def calls(self) -> int:
        raise NotImplementedError


class FakeBackend(Backend):
    name = "fake"

    def __init__(self) -> None:
        self.fake = get_fake("conformance")
        self.fake.reset()

    def provider(self, **options: Any) -> Provider:
        return self.fake

    def reply(self, text="", *, tool_calls=None, usage=None, chunk_size=4):
        self.fake.enqueue(text, tool_calls=tool_calls or (), usage=usage, chunk_size=chunk_size)

    def fault(self, name):
        error, script = FAULTS[name]
        after = 1 if name == "drop" else 0  # a drop happens after some text was streamed
        self.fake.enqueue(
            script.get("text", "partial"), error=error(f"scripted {name}"), error_after=after
        )

    def sent(self, index=-1):
        out = []
        for message in self.fake.requests[index].messages:
            for result in message.tool_results:
                out.append(("tool", result.content))
            if message.text:
                out.append((message.role, message.text))
        return out

    def calls(self):
        return len(self.fake.requests)


class OpenAIBackend(Backend):
    name = "openai-compatible"

    def __init__(self, server) -> None:
        self.server = server

    def provider(self, **options: Any) -> Provider:
        return compatible_provider(
            f"fake-model@{self.server.openai_base_url}", api_key=KEY, **{**RETRY, **options}
        )

    def reply(self, text="", *, tool_calls=None, usage=None, chunk_size=4):
        self.server.enqueue(text, tool_calls=tool_calls or [], usage=usage, chunk_size=chunk_size)

    def fault(self, name):
        for _ in range(2 if name in RETRIED else 1):
            self.server.enqueue(**FAULTS[name][1])

    def sent(self, index=-1):
        out = []
        for message in self.server.requests[index].body["messages"]:
            if message["role"] == "system":
                continue
            if message["role"] == "tool":
                out.append(("tool", message["content"]))
            elif message.get("content"):
                out.append((message["role"], message["content"]))
        return out

    def calls(self):
        return len(self.server.requests)


class AnthropicBackend(OpenAIBackend):
    name = "anthropic"

    def provider(self, **options: Any) -> Provider:
        return anthropic_provider(
            "claude-fake",
            base_url=self.server.anthropic_base_url,
            api_key=KEY,
            **{**RETRY, **options},
        )

    def sent(self, index=-1):
        out = []
        for message in self.server.requests[index].body["messages"]:
            for block in message["content"]:
                if block["type"] == "tool_result":
                    out.append(("tool", block["content"]))
                elif block["type"] == "text":
                    out.append((message["role"], block["text"]))
        return out


@pytest.fixture(params=["fake", "openai-compatible", "anthropic"])
def backend(request, fake_server) -> Backend:
    if request.param == "fake":
        return FakeBackend()
    if request.param == "openai-compatible":
        return OpenAIBackend(fake_server)
    return AnthropicBackend(fake_server)


@pytest.fixture(params=["sync", "async"])
def mode(request) -> str:
    return request.param


def send(session: ChatSession, prompt: str, mode: str):
    if mode == "sync":
        return session.send(prompt)
    return asyncio.run(session.asend(prompt))


def add(a: int, b: int) -> int:
    """Add two integers.

    Parameters
    ----------
    a : int
        The first number.
    b : int
        The second number.
    """
    return a + b


# ------------------------------------------------------------------------ behaviours


def test_single_text_turn(backend, mode):
    backend.reply("Paris is the capital.", usage=(12, 5))
    session = ChatSession(backend.provider(), system_prompt="Answer in one sentence.")
    response = send(session, "Capital of France?", mode)
    assert response.text == "Paris is the capital."
    assert response.finish_reason == "stop"
    assert response.usage == Usage(12, 5)
    assert response.model == session.model_id
    assert [(m.role, m.text) for m in session.history] == [
        ("user", "Capital of France?"),
        ("assistant", "Paris is the capital."),
    ]
    assert backend.sent() == [("user", "Capital of France?")]


def test_streaming_yields_deltas_in_order(backend):
    text = "one two three four five six"
    backend.reply(text, chunk_size=3)
    session = ChatSession(backend.provider())
    deltas = list(session.stream("count"))
    assert len(deltas) >= 5
    assert "".join(deltas) == text
    assert session.last_response.text == text
    assert session.history[-1].text == text


def test_async_streaming_yields_deltas(backend):
    backend.reply("alpha beta gamma", chunk_size=4)
    session = ChatSession(backend.provider())

    async def run() -> list[str]:
        return [d async for d in session.astream("go")]

    deltas = asyncio.run(run())
    assert len(deltas) >= 3 and "".join(deltas) == "alpha beta gamma"
    assert session.history[-1].text == "alpha beta gamma"


def test_multi_turn_history_is_sent(backend, mode):
    backend.reply("first answer")
    backend.reply("second answer")
    session = ChatSession(backend.provider(), system_prompt="sys")
    send(session, "first question", mode)
    send(session, "second question", mode)
    assert backend.sent() == [
        ("user", "first question"),
        ("assistant", "first answer"),
        ("user", "second question"),
    ]
    assert len(session.history) == 4


def test_tool_loop_runs_the_tool_and_sends_its_result(backend, mode):
    backend.reply(
        tool_calls=[{"id": "call_add_1", "name": "add", "arguments": {"a": 2, "b": 3}}],
        usage=(10, 2),
    )
    backend.reply("The sum is 5.", usage=(20, 3))
    session = ChatSession(backend.provider(), tools=[Tool.from_function(add)])
    response = send(session, "What is 2 + 3?", mode)
    assert response.text == "The sum is 5."
    assert response.usage == Usage(30, 5)  # summed over both model calls
    roles = [m.role for m in session.history]
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert session.history[1].tool_calls == [ToolCall("call_add_1", "add", {"a": 2, "b": 3})]
    assert session.history[2].tool_results[0].content == "5"
    assert backend.calls() == 2
    second = backend.sent()
    assert second[0] == ("user", "What is 2 + 3?")
    assert ("tool", "5") in second


def test_usage_accumulates_across_turns(backend):
    backend.reply("a", usage=(5, 1))
    backend.reply("b", usage=(9, 2))
    session = ChatSession(backend.provider())
    first = session.send("x")
    second = session.send("y")
    assert (first.usage, second.usage) == (Usage(5, 1), Usage(9, 2))
    total = sum((m.usage for m in session.history if m.usage), Usage())
    assert total == Usage(14, 3)


# ----------------------------------------------------------------------------- faults


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_leaves_history_unchanged_and_retry_is_clean(backend, fault):
    error = FAULTS[fault][0]
    backend.reply("Hello there.")
    session = ChatSession(backend.provider(timeout=0.3), system_prompt="sys")
    session.send("hi")
    before = list(session.history)
    calls_before = backend.calls()

    backend.fault(fault)
    with pytest.raises(error):
        session.send("the question")
    assert session.history == before  # atomic: a failed turn adds nothing
    expected_calls = 2 if (fault in RETRIED and backend.name != "fake") else 1
    assert backend.calls() - calls_before == expected_calls

    backend.reply("The answer.")
    response = session.send("the question")
    assert response.text == "The answer."
    texts = [(m.role, m.text) for m in session.history]
    assert texts == [
        ("user", "hi"),
        ("assistant", "Hello there."),
        ("user", "the question"),
        ("assistant", "The answer."),
    ]
    sent = backend.sent()
    assert sent.count(("user", "the question")) == 1
    assert sent == [("user", "hi"), ("assistant", "Hello there."), ("user", "the question")]


def test_fault_in_async_turn_is_atomic_too(backend):
    backend.reply("kept")
    session = ChatSession(backend.provider())
    asyncio.run(session.asend("one"))
    before = list(session.history)
    backend.fault("drop")
    with pytest.raises(ProviderUnavailable):
        asyncio.run(session.asend("two"))
    assert session.history == before
