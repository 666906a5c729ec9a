"""ChatSession turns that fail, are interrupted or stopped, or run async (unit tier).

What a turn leaves behind when it does not end normally: the history as it was, or the
partial answer marked as such. Split from test_session.py (past ~600 lines), with the
same fake provider scripting every edge.
"""

# its tests take test_session's fixtures by name, which ruff reads as redefinitions
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from jupychat import ChatError, ChatSession, Message, Tool, TurnInterrupted
from jupychat.errors import ProviderUnavailable
from jupychat.types import ContextBlock, ToolCall, Usage
from test_session import _add, chat, fake  # noqa: F401  (a tool, and test_session's fixtures)

# -- atomic turns -------------------------------------------------------------------------


def test_failed_turn_leaves_history_unchanged_and_retry_does_not_duplicate(chat, fake):
    fake.enqueue("first")
    chat.send("q1")
    before = chat.history
    fake.enqueue("partial answer", error=ProviderUnavailable("connection dropped"), error_after=2)
    with pytest.raises(ProviderUnavailable):
        list(chat.stream("q2"))
    assert chat.history == before
    fake.enqueue("second")
    chat.send("q2")
    assert [m.text for m in chat.history] == ["q1", "first", "q2", "second"]
    assert [m.text for m in fake.requests[-1].messages] == ["q1", "first", "q2"]


def test_failure_inside_tool_loop_rolls_back_whole_turn(fake):
    chat = ChatSession(fake, tools=[_add])
    fake.enqueue("", tool_calls=[("_add", {"a": 1, "b": 1})])
    fake.enqueue("", error=ProviderUnavailable("down"))
    with pytest.raises(ProviderUnavailable):
        chat.send("x")
    assert chat.history == []


def test_keyboard_interrupt_keeps_partial_text_marked(chat, fake):
    fake.enqueue("abcdefghijkl", chunk_size=2, error=KeyboardInterrupt(), error_after=3)
    with pytest.raises(KeyboardInterrupt):
        list(chat.stream("long question"))
    assert [m.role for m in chat.history] == ["user", "assistant"]
    partial = chat.history[1]
    assert (
        partial.text == "abcdef" and partial.interrupted and partial.finish_reason == "interrupted"
    )
    assert chat.last_response.interrupted
    fake.enqueue("next works")
    assert chat.send("again").text == "next works"


def test_interrupt_before_any_text_leaves_history_unchanged(chat, fake):
    fake.enqueue("abc", error=KeyboardInterrupt(), error_after=0)
    with pytest.raises(KeyboardInterrupt):
        chat.send("q")
    assert chat.history == []


def test_closing_stream_early_keeps_partial(chat, fake):
    fake.enqueue("one two three four", chunk_size=4)
    stream = chat.stream("q")
    iterator = iter(stream)
    assert next(iterator) == "one "
    stream.close()
    assert chat.history[-1].interrupted and chat.history[-1].text == "one "


def test_stop_from_another_thread_returns_partial_response(chat, fake):
    fake.enqueue("x" * 400, chunk_size=1, delay=0.005)
    threading.Timer(0.1, chat.stop).start()
    t0 = time.monotonic()
    response = chat.send("long")
    assert time.monotonic() - t0 < 1.5
    assert response.interrupted and 0 < len(response.text) < 400
    assert chat.history[-1].text == response.text


def test_stop_before_text_raises_turn_interrupted(chat, fake):
    fake.enqueue("", tool_calls=[], usage=(1, 1))
    chat.stop()  # a stale stop request must not leak into the next turn
    fake.enqueue("fine")
    assert chat.send("q").text in {"", "fine"}


def test_session_refuses_concurrent_turns(chat, fake):
    fake.enqueue("slow", chunk_size=1, delay=0.05)
    stream = iter(chat.stream("a"))
    next(stream)
    with pytest.raises(ChatError, match="already answering"):
        chat.send("b")
    list(stream)
    assert chat.send("b").text.endswith("b")


def test_empty_prompt_is_refused(chat):
    with pytest.raises(ChatError, match="empty"):
        chat.send("   ")
    assert chat.history == []


def test_message_round_trip_keeps_every_field():
    message = Message(
        role="assistant",
        content=(ContextBlock("var:df", "df text"), ToolCall("c1", "f", {"x": [1]})),
        model="fake:x",
        usage=Usage(1, 2, 3, 4),
        finish_reason="tool_calls",
        reasoning="because",
        interrupted=True,
        meta={"cell": "abc"},
    )
    assert Message.from_dict(json.loads(json.dumps(message.to_dict()))) == message


# -- async ----------------------------------------------------------------------------


def test_asend_and_astream(fake):
    chat = ChatSession(fake, tools=[_add])

    async def main():
        fake.enqueue("", tool_calls=[("_add", {"a": 1, "b": 2})]).enqueue("three")
        response = await chat.asend("add")
        fake.enqueue("streaming async", chunk_size=5)
        deltas = [d async for d in chat.astream("more")]
        return response, deltas

    response, deltas = asyncio.run(main())
    assert response.text == "three"
    assert "".join(deltas) == "streaming async" and len(deltas) > 1
    assert [m.role for m in chat.history] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
    ]


def test_async_failure_is_atomic(fake):
    chat = ChatSession(fake)
    fake.enqueue("part", error=ProviderUnavailable("down"), error_after=1)

    async def main():
        with pytest.raises(ProviderUnavailable):
            await chat.asend("q")

    asyncio.run(main())
    assert chat.history == []


def test_turn_interrupted_is_a_chat_error():
    assert issubclass(TurnInterrupted, ChatError)


def test_replace_drops_earlier_turn_only_when_new_turn_succeeds(fake):
    chat = ChatSession(fake, context=lambda: {"var:df": "df: 3 rows"})
    fake.enqueue("old answer").enqueue("other answer")
    chat.send("old wording", meta={"cell": "A"})
    chat.send("other cell", meta={"cell": "B"})
    before = chat.history
    same_cell = lambda m: m.meta.get("cell") == "A"  # noqa: E731
    fake.enqueue("", error=ProviderUnavailable("down"))
    with pytest.raises(ProviderUnavailable):
        chat.send("new wording", meta={"cell": "A"}, replace=same_cell)
    assert chat.history == before  # the failed re-run lost nothing
    # the request left the old turn out, and re-sent the context it had carried
    request = fake.requests[-1]
    assert [m.text for m in request.messages] == ["other cell", "other answer", "new wording"]
    assert [b.text for b in request.messages[-1].context_blocks] == ["df: 3 rows"]
    fake.enqueue("new answer")
    chat.send("new wording", meta={"cell": "A"}, replace=same_cell)
    assert [m.text for m in chat.history] == [
        "other cell",
        "other answer",
        "new wording",
        "new answer",
    ]


def test_failing_approval_callback_refuses_instead_of_failing_the_turn(fake):
    def run_python(code: str) -> str:
        """Run code."""
        raise AssertionError("must not run")

    def approve(tool, call):
        raise RuntimeError("no stdin on this thread")

    chat = ChatSession(
        fake, tools=[Tool.from_function(run_python, requires_approval=True)], approve=approve
    )
    fake.enqueue("", tool_calls=[("run_python", {"code": "1"})]).enqueue("ok")
    assert chat.send("x").text == "ok"
    result = chat.history[2].tool_results[0]
    assert result.is_error and "asking for approval failed" in result.content
