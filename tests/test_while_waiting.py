"""Work done while the model thinks.

A turn's ``while_waiting`` runs once its first request has gone out and before any of the
answer is read (the loopback fake server over real HTTP; its first event is held back), at
most once however many attempts the request takes, and its failure costs the turn
nothing. A ``%%chat`` cell works out its recording's inputs there when replay is off,
with the prompt's ``{values}`` as they were sent.
"""

from __future__ import annotations

import inspect
import threading
import time

import pytest
from IPython.utils.capture import capture_output

from fixtures_server import fake_server  # noqa: F401  (fixture)
from jupychat import ChatSession
from jupychat.errors import ChatError

HELD = 0.6  # seconds the server holds back the answer's first event


def _session(server):
    return ChatSession(f"openai-compatible:m@{server.openai_base_url}")


def test_it_runs_once_the_request_is_out_and_before_the_answer(fake_server):  # noqa: F811
    fake_server.enqueue("one two three", chunk_delay=HELD)
    session = _session(fake_server)
    seen: list[tuple[float, int, bool]] = []
    got: list[float] = []

    def waiting() -> None:  # where it runs: inside the HTTP client, the request sent
        inside = any("httpcore" in frame.filename for frame in inspect.stack())
        seen.append((time.monotonic(), len(got), inside))

    began = time.monotonic()
    stream = session.stream("hello", while_waiting=waiting)
    for _piece in stream:
        got.append(time.monotonic())
    assert stream.response is not None and stream.response.text == "one two three"
    assert len(seen) == 1
    when, pieces_before, inside = seen[0]
    assert inside and pieces_before == 0
    assert when - began < HELD - 0.1 < got[0] - began  # before the held-back answer
    assert len(fake_server.requests) == 1


def test_it_runs_once_when_the_request_is_sent_again(fake_server):  # noqa: F811
    fake_server.enqueue(status=503, retry_after=0)
    fake_server.enqueue("fine")
    calls: list[int] = []
    response = _session(fake_server).send("hello", while_waiting=lambda: calls.append(1))
    assert response.text == "fine"
    assert len(fake_server.requests) == 2  # the 503, then the answer
    assert calls == [1]


def test_it_runs_for_the_first_step_only(fake_server):  # noqa: F811
    def double(x: int) -> int:
        """Double a number."""
        return 2 * x

    fake_server.enqueue(tool_calls=[{"id": "c1", "name": "double", "arguments": {"x": 4}}])
    fake_server.enqueue("8")
    session = _session(fake_server)
    session.add_tool(double)
    calls: list[int] = []
    response = session.send("double 4", while_waiting=lambda: calls.append(1))
    assert response.text == "8" and len(fake_server.requests) == 2
    assert calls == [1]


def test_its_failure_costs_the_turn_nothing(fake_server):  # noqa: F811
    fake_server.enqueue("still here")
    session = _session(fake_server)

    def broken() -> None:
        raise RuntimeError("boom")

    assert session.send("hello", while_waiting=broken).text == "still here"
    assert [m.role for m in session.history] == ["user", "assistant"]


def test_it_must_be_a_function(fake_server):  # noqa: F811
    session = _session(fake_server)
    with pytest.raises(ChatError, match="while_waiting= must be a function"):
        session.send("hello", while_waiting="later")
    assert session.history == [] and fake_server.requests == []


# -- a %%chat cell --------------------------------------------------------------------------


def _run(shell, cell):
    with capture_output() as captured:
        result = shell.run_cell(cell)
    assert result.success, result.error_in_exec
    return captured


def _block(captured):
    outs = [o for o in captured.outputs if "jc-answer" in o.data.get("text/html", "")]
    return outs[-1].metadata.get("jupychat")


def test_a_cell_works_out_its_inputs_while_the_model_thinks(
    notebook_shell,
    fake_server,  # noqa: F811
    monkeypatch,
):
    from jupychat.notebook import replay

    shell = notebook_shell(f"openai-compatible:m@{fake_server.openai_base_url}")
    shell.user_ns["rate"] = 0.2
    where: list[bool] = []
    real = replay.inputs_of

    def watched(*args, **kwargs):  # calls through: only says where it ran
        where.append(any("httpcore" in frame.filename for frame in inspect.stack()))
        return real(*args, **kwargs)

    monkeypatch.setattr(replay, "inputs_of", watched)
    fake_server.enqueue("fine", chunk_delay=0.2)
    block = _block(_run(shell, "%%chat\nApply a rate of {rate}."))
    assert where == [True]  # once, inside the request
    assert "value:rate" in block["in"]["context"]
    # replay on: the inputs decide whether to ask at all, so they come first
    _run(shell, "%chat replay on")
    fake_server.enqueue("again")
    _run(shell, "%%chat\nApply a rate of {rate} twice.")
    assert where == [True, False]


def test_a_cell_records_the_values_it_sent_when_they_change_during_the_turn(
    notebook_shell, monkeypatch
):
    """The in-process fake model cannot say when its request is out: the inputs are
    worked out when the answer is kept, after a thread has changed ``rate``."""
    from jupychat._recording import digest
    from jupychat.notebook.namespace import _inline
    from jupychat.providers.fake import get_fake

    shell = notebook_shell("fake:waiting")
    fake = get_fake("waiting")
    fake.reset()
    fake.enqueue("a b c d", chunk_size=2, delay=0.3)
    shell.user_ns["rate"] = 0.2
    sent = digest(str(_inline(0.2)))  # how a {value} is written into the prompt
    threading.Timer(0.15, lambda: shell.user_ns.__setitem__("rate", 0.9)).start()
    block = _block(_run(shell, "%%chat\nApply a rate of {rate}."))
    assert shell.user_ns["rate"] == 0.9  # changed before the answer was kept
    assert "0.2" in fake.requests[-1].messages[-1].text
    assert block["in"]["context"]["value:rate"] == sent


def test_a_cell_whose_inputs_cannot_be_worked_out_still_shows_its_answer(
    notebook_shell,
    fake_server,  # noqa: F811
    monkeypatch,
    caplog,
):
    from jupychat import config
    from jupychat.notebook import replay

    shell = notebook_shell(f"openai-compatible:m@{fake_server.openai_base_url}")
    secret = "sk-test-0123456789abcdefghijklmnop"
    monkeypatch.setattr(config, "_keys", {**config._keys})  # the key goes with this copy
    config.set_api_key("openai", secret)

    def broken(*args, **kwargs):
        raise ValueError(f"an input that cannot be digested ({secret})")

    monkeypatch.setattr(replay, "inputs_of", broken)
    fake_server.enqueue("the answer")
    try:
        captured = _run(shell, "%%chat\nHello")
    finally:
        config.set_api_key("openai", None)  # (and no longer a known secret)
    outs = [o for o in captured.outputs if "jc-answer" in o.data.get("text/html", "")]
    assert "the answer" in outs[-1].data["text/plain"]
    assert "jupychat" not in outs[-1].metadata  # not kept for replay
    assert "not kept for replay" in caplog.text and secret not in caplog.text
    session = shell.magics_manager.registry["ChatMagics"].nbchat.session()
    assert [m.role for m in session.history] == ["user", "assistant"]


def test_the_user_messages_store_row_is_built_while_the_model_thinks(fake_server, monkeypatch):  # noqa: F811
    from jupychat.store import SessionStore, records

    built: list[bool] = []
    real = records.row_ahead

    def watched(message):  # calls through: only says where it ran
        built.append(any("httpcore" in frame.filename for frame in inspect.stack()))
        return real(message)

    monkeypatch.setattr(records, "row_ahead", watched)
    monkeypatch.setattr(records, "_AHEAD", {})  # (rows of other tests' failed turns)
    fake_server.enqueue("stored", chunk_delay=0.2)
    store = SessionStore()
    session = ChatSession(f"openai-compatible:m@{fake_server.openai_base_url}", store=store)
    session.send("hello there", context={"notes": "a block the row carries"})
    assert built == [True]
    assert records._AHEAD == {}  # taken by the turn's write
    stored = store.load(session.id)["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[0] == session.history[0].to_dict()  # the row built ahead is the row


def test_a_row_built_ahead_is_taken_once_and_rebuilt_when_its_meta_changed():
    from jupychat.store import records
    from jupychat.types import Message

    message = Message.of("user", "hi", meta={"source": "cell"})
    records.row_ahead(message)
    row = records.message_row(message)
    assert row is not None and records.message_row(message) is not row  # once
    assert records.message_row(message) == row
    records.row_ahead(message)
    message.meta["cell_id"] = "c1"  # changed after it was built
    again = records.message_row(message)
    assert again.meta is not None and '"cell_id":"c1"' in again.meta
    assert again == records.message_row(message)  # as built now


def test_an_async_turn_runs_it_too(fake_server):  # noqa: F811
    import asyncio

    fake_server.enqueue("async words", chunk_delay=0.2)
    session = _session(fake_server)
    seen: list[bool] = []

    async def main() -> str:
        text = []
        async for piece in session.astream(
            "hello",
            while_waiting=lambda: seen.append(
                any("httpcore" in frame.filename for frame in inspect.stack())
            ),
        ):
            text.append(str(piece))
        return "".join(text)

    assert asyncio.run(main()) == "async words"
    assert seen == [True]
