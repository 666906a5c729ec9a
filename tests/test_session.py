"""ChatSession against the shipped fake provider (unit tier).

The HTTP providers run the same behaviours against a real loopback server in
test_conformance.py; here the fake provider lets every edge be scripted exactly. Turns that
fail, are interrupted or stopped, and async turns: test_session_turns.py.
"""

from __future__ import annotations

import json
from typing import Literal

import pytest

from jupychat import ChatSession, Hooks, Tool
from jupychat.errors import ProviderUnavailable, StoreError
from jupychat.events import Done, TextDelta, ToolResultEvent
from jupychat.providers.fake import FakeProvider, get_fake
from jupychat.types import Usage


@pytest.fixture
def fake() -> FakeProvider:
    return get_fake("session-tests")


@pytest.fixture
def chat(fake) -> ChatSession:
    return ChatSession(fake, system_prompt="Be brief.")


def test_send_returns_response_and_records_history(chat, fake):
    fake.enqueue("Paris.", usage=(12, 2))
    response = chat.send("Capital of France?")
    assert response.text == "Paris."
    assert response.finish_reason == "stop"
    assert response.usage == Usage(12, 2)
    assert response.model == "fake:session-tests"
    roles = [m.role for m in chat.history]
    assert roles == ["user", "assistant"]
    assert chat.history[0].text == "Capital of France?"
    assert chat.history[1].model == "fake:session-tests"
    assert chat.history[1].usage == Usage(12, 2)
    assert chat.history[0].created_at <= chat.history[1].created_at
    assert chat.last_response is response
    # the system prompt travels separately, not in messages
    assert fake.requests[-1].system == "Be brief."
    assert all(m.role != "system" for m in fake.requests[-1].messages)


def test_follow_up_sends_whole_history(chat, fake):
    fake.enqueue("one").enqueue("two")
    chat.send("first")
    chat.send("second")
    sent = fake.requests[-1].messages
    assert [m.text for m in sent] == ["first", "one", "second"]


def test_stream_yields_deltas_then_response(chat, fake):
    fake.enqueue("streamed answer", chunk_size=3)
    stream = chat.stream("go")
    deltas = list(stream)
    assert len(deltas) > 1 and "".join(deltas) == "streamed answer"
    assert stream.response is not None and stream.response.text == "streamed answer"
    assert chat.last_response is stream.response


def test_stream_events_end_with_response(chat, fake):
    fake.enqueue("hi")
    items = list(chat.stream("go", events=True))
    assert isinstance(items[0], TextDelta)
    assert any(isinstance(i, Done) for i in items)
    assert items[-1].text == "hi"


@pytest.mark.parametrize("events", [False, True])
def test_a_stream_left_mid_answer_goes_on_where_it_was(chat, fake, events):
    # leaving the loop does not end the turn while the stream is held: iterating again
    # (or text()) reads the rest of the same answer
    fake.enqueue("one two three four", chunk_size=4)
    stream = chat.stream("go", events=events)
    first = next(iter(stream))  # a loop left after its first item
    rest = list(stream)
    text = [i if isinstance(i, str) else i.text for i in [first, *rest] if not isinstance(i, Done)]
    assert "".join(text[:-1] if events else text) == "one two three four"
    assert stream.response is not None and stream.response.text == "one two three four"
    assert not stream.response.interrupted and chat.last_response is stream.response


def test_append_message_and_clear_keep_system(chat):
    chat.append_message("user", "remember 7")
    chat.append_message("assistant", "ok", reasoning="noted")
    chat.append_message("system", "Answer in French.")
    assert chat.history[1].reasoning == "noted"
    chat.clear()
    assert [m.role for m in chat.history] == ["system"]
    assert chat.system_prompt == "Be brief."
    chat.clear(keep_system=False)
    assert chat.history == [] and chat.system_prompt is None


def test_history_system_messages_join_system_prompt(chat, fake):
    chat.append_message("system", "Answer in French.")
    chat.send("hello")
    assert fake.requests[-1].system == "Be brief.\n\nAnswer in French."


def test_switch_model_keeps_history(chat, fake):
    other = get_fake("other-model")
    fake.enqueue("a")
    chat.send("q1")
    chat.switch_model(other)
    assert chat.model_id == "fake:other-model"
    other.enqueue("b")
    chat.send("q2")
    assert [m.text for m in other.requests[-1].messages] == ["q1", "a", "q2"]
    assert chat.history[-1].model == "fake:other-model"
    assert chat.history[1].model == "fake:session-tests"
    chat.switch_model("fake:session-tests")
    assert chat.provider is fake


class _PricedFake(FakeProvider):
    name = "openai"


def test_stats_tokens_turns_tools_latency_and_cost(fake):
    chat = ChatSession(_PricedFake("gpt-4o-mini"), tools=[_add])
    chat.provider.enqueue("", tool_calls=[("_add", {"a": 1, "b": 2})], usage=Usage(100, 10, 40))
    chat.provider.enqueue("3", usage=Usage(200, 5))
    chat.send("add")
    stats = chat.stats()
    assert stats["turns"] == 1
    assert stats["tool_calls"] == 1
    assert stats["input_tokens"] == 300 and stats["output_tokens"] == 15
    assert stats["cached_tokens"] == 40
    expected = (60 * 0.15 + 40 * 0.075 + 10 * 0.60 + 200 * 0.15 + 5 * 0.60) / 1e6
    assert stats["cost"] == pytest.approx(expected)
    assert stats["per_turn"][0]["latency"] >= 0 and stats["per_turn"][0]["ttft"] is not None


def test_unknown_model_cost_is_unknown_not_zero():
    unknown = _PricedFake("some-future-model")
    unknown.enqueue("x", usage=(10, 10))
    chat = ChatSession(unknown)
    chat.send("q")
    assert chat.stats()["cost"] is None
    assert chat.stats()["cost_known"] is False


def test_memory_and_metadata(chat):
    chat.set_memory("goal", "churn").set_memory("n", 3)
    assert chat.get_memory("goal") == "churn" and chat.get_memory("x", 1) == 1
    assert sorted(chat.list_memory()) == ["goal", "n"]
    chat.clear_memory(["n"])
    assert chat.list_memory() == ["goal"]
    chat.set_metadata("project", "q3").merge_metadata({"owner": "ana", "project": "q4"})
    assert chat.get_metadata("project") == "q4"
    assert sorted(chat.list_metadata()) == ["owner", "project"]
    restored = ChatSession.from_dict(chat.to_dict())
    assert restored.get_memory("goal") == "churn" and restored.get_metadata("owner") == "ana"
    chat.clear_memory()
    assert chat.list_memory() == []


def test_clone_is_independent(chat, fake):
    fake.enqueue("a")
    chat.send("q")
    chat.set_memory("k", {"nested": [1]})
    twin = chat.clone()
    assert twin.id != chat.id and twin.history == chat.history
    twin.get_memory("k")["nested"].append(2)
    fake.enqueue("b")
    twin.send("only in twin")
    assert len(chat.history) == 2 and len(twin.history) == 4
    assert chat.get_memory("k") == {"nested": [1]}
    assert twin.get_metadata("cloned_from") == chat.id


def test_fork_keeps_first_n_and_never_splits_tool_exchange(fake):
    chat = ChatSession(fake, tools=[_add])
    fake.enqueue("a")
    chat.send("q1")
    fake.enqueue("", tool_calls=[("_add", {"a": 1, "b": 1})]).enqueue("2")
    chat.send("q2")
    assert [m.role for m in chat.history] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    early = chat.fork(at=2)
    assert [m.text for m in early.history] == ["q1", "a"]
    assert early.get_metadata("forked_from") == chat.id
    cut_in_tools = chat.fork(at=5)  # would end on the tool result
    assert [m.role for m in cut_in_tools.history] == ["user", "assistant", "user"]
    assert len(chat.fork(at=-2).history) == 3


def test_save_and_restore_round_trip(tmp_path, fake):
    chat = ChatSession(fake, system_prompt="sys", tools=[_add], temperature=0.2)
    fake.enqueue("", tool_calls=[("_add", {"a": 2, "b": 2})], usage=(5, 1)).enqueue("4")
    chat.send("2+2")
    chat.set_memory("m", 1)
    path = chat.save(tmp_path / "s.json")
    data = json.loads(path.read_text())
    assert data["schema"] == "jupychat.session" and data["version"] == 1
    assert data["tools"] == ["_add"]
    with pytest.warns(UserWarning, match="_add"):
        bare = ChatSession.restore(path)
    again = ChatSession.restore(path, tools=[_add])
    assert again.history == chat.history
    assert again.id == chat.id and again.system_prompt == "sys"
    assert again.options["temperature"] == 0.2
    assert [t.name for t in again.tools] == ["_add"] and bare.tools == []


def test_restore_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(StoreError, match="not a readable jupychat session"):
        ChatSession.restore(bad)
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(StoreError, match="not a jupychat session"):
        ChatSession.restore(bad)
    bad.write_text(json.dumps({"schema": "jupychat.session", "version": 99, "messages": []}))
    with pytest.raises(StoreError, match="newer"):
        ChatSession.restore(bad)
    with pytest.raises(StoreError, match="no session file"):
        ChatSession.restore(tmp_path / "missing.json")


def test_context_sent_once_and_again_only_when_changed(fake):
    state = {"text": "df: 3 rows"}
    chat = ChatSession(fake, context=lambda: {"var:df": state["text"]})
    chat.send("q1")
    chat.send("q2")
    first, second = fake.requests[0].messages[-1], fake.requests[1].messages[-1]
    assert [b.text for b in first.context_blocks] == ["df: 3 rows"]
    assert second.context_blocks == []
    assert first.text == "q1"  # context is not part of the prompt text
    state["text"] = "df: 4 rows"
    chat.send("q3")
    assert [b.text for b in fake.requests[2].messages[-1].context_blocks] == ["df: 4 rows"]
    chat.clear()
    chat.send("q4")
    assert [b.text for b in fake.requests[3].messages[-1].context_blocks] == ["df: 4 rows"]


def test_context_accepts_objects_with_text_rendering(fake):
    class Report:
        def _repr_markdown_(self):
            return "**report**"

    chat = ChatSession(fake, context=Report())
    chat.send("q", context={"extra": "per-turn note"})
    blocks = fake.requests[-1].messages[-1].context_blocks
    assert {(b.key, b.text) for b in blocks} == {
        ("context", "**report**"),
        ("extra", "per-turn note"),
    }
    assert chat.pending_context() == []


def test_failed_context_turn_resends_context(fake):
    chat = ChatSession(fake, context="ctx")
    fake.enqueue("", error=ProviderUnavailable("down"))
    with pytest.raises(ProviderUnavailable):
        chat.send("q")
    assert chat.history == []
    chat.send("q")
    assert [b.text for b in fake.requests[-1].messages[-1].context_blocks] == ["ctx"]


# -- tools -----------------------------------------------------------------------------


def _add(a: int, b: int) -> int:
    """Add two integers.

    Parameters
    ----------
    a : int
        The first number.
    b : int
        The second number.
    """
    return a + b


def test_tool_from_function_schema():
    def search(
        query: str,
        limit: int = 5,
        mode: Literal["fast", "exact"] = "fast",
        tags: list[str] | None = None,
    ) -> str:
        """Search the notes.

        Args:
            query: Words to look for.
            limit: How many hits at most.
        """
        return query

    tool = Tool.from_function(search)
    assert tool.description == "Search the notes."
    props = tool.parameters["properties"]
    assert props["query"] == {"type": "string", "description": "Words to look for."}
    assert props["limit"] == {
        "type": "integer",
        "description": "How many hits at most.",
        "default": 5,
    }
    assert props["mode"]["enum"] == ["fast", "exact"]
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert tool.parameters["required"] == ["query"]
    numpy_tool = Tool.from_function(_add)
    assert numpy_tool.parameters["properties"]["a"]["description"] == "The first number."
    assert numpy_tool.description == "Add two integers."


def test_tool_loop_records_calls_and_results(fake):
    seen = []
    chat = ChatSession(fake, tools=[_add], hooks=Hooks(on_tool_result=lambda c, r: seen.append(r)))
    fake.enqueue("", tool_calls=[("_add", {"a": 20, "b": 22})])
    fake.enqueue("The sum is 42.")
    items = list(chat.stream("add 20 and 22", events=True))
    assert any(isinstance(i, ToolResultEvent) and i.result.content == "42" for i in items)
    assert chat.last_response.text == "The sum is 42."
    roles = [m.role for m in chat.history]
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert chat.history[1].tool_calls[0].arguments == {"a": 20, "b": 22}
    assert chat.history[2].tool_results[0].content == "42"
    assert seen[0].content == "42"
    # the second request carried the tools, the call and its result
    second = fake.requests[1]
    assert [t.name for t in second.tools] == ["_add"]
    assert second.messages[-1].tool_results[0].tool_call_id == chat.history[1].tool_calls[0].id


def test_tool_that_raises_returns_error_text(fake):
    def explode(x: int) -> int:
        """Always fails."""
        raise ValueError(f"bad x={x}")

    chat = ChatSession(fake, tools=[explode])
    fake.enqueue("", tool_calls=[("explode", {"x": 1})]).enqueue("recovered")
    assert chat.send("try").text == "recovered"
    result = chat.history[2].tool_results[0]
    assert result.is_error and "ValueError: bad x=1" in result.content


def test_bad_arguments_and_unknown_tool_go_back_to_model(fake):
    chat = ChatSession(fake, tools=[_add])
    fake.enqueue("", tool_calls=[("_add", {"a": 1}), ("nope", {})]).enqueue("done")
    chat.send("x")
    bad_args, unknown = chat.history[2].tool_results
    assert bad_args.is_error and "bad arguments" in bad_args.content
    assert unknown.is_error and "unknown tool 'nope'" in unknown.content


def test_max_steps_stops_with_clear_message(fake):
    chat = ChatSession(fake, tools=[_add], max_steps=2)
    for _ in range(3):
        fake.enqueue("", tool_calls=[("_add", {"a": 1, "b": 1})])
    response = chat.send("loop forever")
    assert response.finish_reason == "max_steps"
    assert "max_steps=2" in response.text
    assert len(fake.requests) == 2 and fake.pending == 1
    # history stays valid: every call has a result
    calls = [c.id for m in chat.history for c in m.tool_calls]
    results = [r.tool_call_id for m in chat.history for r in m.tool_results]
    assert calls == results
    fake.reset()
    fake.enqueue("fine")
    assert chat.send("next").text == "fine"


def test_tool_call_hook_can_veto(fake):
    chat = ChatSession(fake, tools=[_add], hooks={"tool_call": lambda call: "not today"})
    fake.enqueue("", tool_calls=[("_add", {"a": 1, "b": 1})]).enqueue("ok")
    chat.send("x")
    result = chat.history[2].tool_results[0]
    assert result.is_error and "not today" in result.content


def test_tools_requiring_approval(fake):
    ran = []

    def run_python(code: str) -> str:
        """Run code."""
        ran.append(code)
        return "ran"

    tool = Tool.from_function(run_python, requires_approval=True)
    chat = ChatSession(fake, tools=[tool])
    fake.enqueue("", tool_calls=[("run_python", {"code": "1+1"})]).enqueue("ok")
    chat.send("x")
    assert ran == [] and "no approval callback" in chat.history[2].tool_results[0].content
    asked = []
    chat.approve = lambda t, call: asked.append(call.arguments["code"]) or True
    fake.enqueue("", tool_calls=[("run_python", {"code": "2+2"})]).enqueue("ok")
    chat.send("y")
    assert asked == ["2+2"] and ran == ["2+2"]


def test_hooks_request_response_error(fake):
    log = []

    def on_request(request):
        log.append(("request", len(request.messages)))

    hooks = Hooks(
        on_request=on_request,
        on_response=lambda r: log.append(("response", r.text)),
        on_error=lambda e: log.append(("error", type(e).__name__)),
    )
    chat = ChatSession(fake, hooks=hooks)
    fake.enqueue("hi")
    chat.send("a")
    fake.enqueue("", error=ProviderUnavailable("down"))
    with pytest.raises(ProviderUnavailable):
        chat.send("b")
    assert log == [
        ("request", 1),
        ("response", "hi"),
        ("request", 3),
        ("error", "ProviderUnavailable"),
    ]
