"""Long sessions: compaction keeps every request inside the model's window, and loses
nothing stored.

The "capable" model is tests/fakeserver.py with a responder: asked to summarise (the
summariser's system prompt), it keeps the sentences the user asked it to remember; asked
a question, it answers from what the request holds (system prompt included), so a fact
survives only if the summary carried it. The server refuses requests over its window, as
real servers do, and reports its window in /v1/models.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from fakeserver import FakeServer
from jupychat import ChatSession
from jupychat._compaction import SUMMARY_KEY, is_summary, preview
from jupychat._window import forget
from jupychat.errors import ContextWindowError
from jupychat.providers.fake import get_fake
from jupychat.store import SessionStore
from jupychat.types import ToolCall

FACT = "Remember this: the project codename is HELIOTROPE."
FILLER = (
    "Please explain it in a few sentences, with an example from retail sales data, "
    "and say what could go wrong when the data has missing values or outliers."
)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))


def capable(api: str, body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    system = "\n".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
    last = _text(messages[-1].get("content")) if messages else ""
    if "You condense conversations" in system:
        kept = sorted(set(re.findall(r"Remember this: [^.\n]*\.", last)))
        topics = re.findall(r"Question (\d+)", last)
        return " ".join(kept) + (
            f" Topics up to question {topics[-1]} were discussed." if topics else ""
        )
    if "codename" in last and "?" in last:
        everything = system + "\n".join(_text(m.get("content")) for m in messages[:-1])
        found = re.search(r"codename is (\w+)", everything)
        return f"The codename is {found.group(1)}." if found else "I do not know the codename."
    number = re.search(r"Question (\d+)", last)
    return f"Answer {number.group(1) if number else '?'}: " + "It depends on the data. " * 8


@pytest.fixture
def server():
    forget()
    with FakeServer() as srv:
        srv.responder = capable
        srv.model_meta = {"context_length": 1500}
        srv.context_window = 2000  # len(body) / 4, as refused by the server
        yield srv
    forget()


def _session(server: FakeServer, **options: Any) -> ChatSession:
    return ChatSession(f"openai-compatible:fake-model@{server.openai_base_url}", **options)


def test_a_fact_from_turn_one_survives_compaction_and_the_store_keeps_everything(server, tmp_path):
    """Failed before: turn 9 or so was refused by the server (context window)."""
    store = SessionStore(tmp_path / "s.db")
    session = _session(server, store=store)
    session.send(FACT)
    for n in range(2, 30):
        session.send(f"Question {n}: what is a confidence interval for topic {n}? {FILLER}")
    answer = session.send("What is the project codename?")
    assert "HELIOTROPE" in answer.text
    conversation = [m for m in session.history if not is_summary(m)]
    assert len(conversation) == 60
    summaries = [m for m in session.history if is_summary(m)]
    assert summaries, "the history was never compacted"
    # the last request did not carry turn 1 verbatim: the summary did
    last = server.requests[-1].body
    sent = "\n".join(_text(m.get("content")) for m in last["messages"] if m["role"] != "system")
    assert FACT not in sent and "HELIOTROPE" in _text(last["messages"][0]["content"])
    assert len(server.requests[-1].raw) // 4 <= 2000
    # the window came from the server's /v1/models entry; the answers say how full it was
    window = session.history[-1].meta["window"]
    assert window["size"] == 1500 and window["source"] == "server"
    assert window["used"] <= 1500
    # the store holds the full transcript and the summaries, with the range each covers
    stored = ChatSession.resume(session.id, store=SessionStore(tmp_path / "s.db"))
    assert len([m for m in stored.history if not is_summary(m)]) == 60
    info = [m for m in stored.history if is_summary(m)][-1].meta[SUMMARY_KEY]
    assert info["first"] == 0 and info["last"] >= 2 and info["last_at"]
    assert stored.history[0].text == FACT


def test_pinned_turn_is_sent_verbatim_after_compaction(server):
    session = _session(server)
    session.send("Remember this: the budget is 12 thousand euros.")
    session.pin(1)
    for n in range(2, 20):
        session.send(f"Question {n}: tell me about topic {n}. {FILLER}")
    body = server.requests[-1].body
    sent = [_text(m.get("content")) for m in body["messages"] if m["role"] == "user"]
    assert sent[0] == "Remember this: the budget is 12 thousand euros."
    assert any(is_summary(m) for m in session.history)
    session.unpin(1)
    assert session.get_metadata("pinned") == []


def test_the_latest_context_block_is_kept_and_a_tool_exchange_never_cut():
    fake = get_fake("long")
    session = ChatSession("fake:long", context_window=700, context={"df": "rows 1 to 5 of df"})
    fake.enqueue("", tool_calls=[("lookup", {"q": "x"})])
    fake.enqueue("looked it up")

    def lookup(q: str) -> str:
        """Look something up."""
        return "found " + q

    session.add_tool(lookup)
    session.send("use the tool please")
    for n in range(25):
        session.send(f"question {n} about the frame, please explain at some length {FILLER}")
        request = fake.requests[-1]
        first = request.messages[0]
        assert first.role == "user"  # never starts inside a turn
        calls = {c.id for m in request.messages for c in m.tool_calls}
        results = {r.tool_call_id for m in request.messages for r in m.tool_results}
        assert results <= calls
        blocks = [b.text for m in request.messages for b in m.context_blocks]
        assert blocks.count("rows 1 to 5 of df") == 1
    assert any(is_summary(m) for m in session.history)
    assert all(isinstance(c, ToolCall) for m in session.history for c in m.tool_calls)


def test_a_turn_too_large_for_the_window_fails_in_one_line_and_keeps_history():
    session = ChatSession("fake:big", context_window=300)
    session.send("hello")
    before = list(session.history)
    with pytest.raises(ContextWindowError) as info:
        session.send("hi", context={"big_frame": "| 1 | 2 | 3 |\n" * 200})
    message = str(info.value)
    assert "\n" not in message and "big_frame" in message and "300" in message
    assert session.history == before


def test_compact_on_demand_and_preview(server):
    session = _session(server)
    session.send(FACT)
    for n in range(2, 6):
        session.send(f"Question {n}: about topic {n}. {FILLER}")
    figures = preview(session, "What next?")
    assert figures["window"] == 1500 and figures["history"] > 0 and not figures["summarised"]
    assert figures["total"] == sum(
        figures[k] for k in ("system", "history", "context", "tools", "images")
    )
    summary = session.compact()
    assert summary is not None and "HELIOTROPE" in summary.text
    assert len([m for m in session.history if not is_summary(m)]) == 10


def test_options_are_checked_and_saved():
    session = ChatSession("fake:o", context_window=2048, compact_at=0.5, compact_model="fake:s")
    data = session.to_dict()
    assert data["settings"]["context_window"] == 2048
    assert data["settings"]["compact_at"] == 0.5
    with pytest.raises(Exception, match="compact_at"):
        ChatSession("fake:o", compact_at="soon").send("x")


def test_continue_appends_to_the_cut_answer(tmp_path):
    """Failed before: there was no way to continue an answer cut at max_tokens."""
    fake = get_fake("cut")
    store = SessionStore(tmp_path / "c.db")
    session = ChatSession("fake:cut", store=store)
    with pytest.raises(Exception, match="nothing to continue"):
        session.continue_answer()
    fake.enqueue("The three steps are: first, load", finish_reason="length", usage=(10, 8))
    session.send("List the steps")
    fake.enqueue(" the data; second, clean it; third, plot it.", usage=(30, 12))
    response = session.continue_answer()
    assert (
        response.text
        == "The three steps are: first, load the data; second, clean it; third, plot it."
    )
    assert len(session.history) == 2  # the same answer, not a new turn
    answer = session.history[-1]
    assert answer.finish_reason == "stop" and answer.meta["continued"] == 1
    assert answer.usage.output_tokens == 20
    request = fake.requests[-1]
    assert request.messages[-2].text.startswith("The three steps")  # the cut answer was sent
    with pytest.raises(Exception, match="nothing to continue"):
        session.continue_answer()
    stored = ChatSession.resume(session.id, store=SessionStore(tmp_path / "c.db"))
    assert [m.text for m in stored.history] == [m.text for m in session.history]


def test_exports_and_the_sessions_page_show_summaries_and_the_full_transcript(server, tmp_path):
    """Failed before: a summary was not marked as one (it read as a plain system message)."""
    from jupychat.server.render import message_view

    store = SessionStore(tmp_path / "e.db")
    session = _session(server, store=store)
    session.send(FACT)
    for n in range(2, 5):
        session.send(f"Question {n}: about topic {n}. {FILLER}")
    session.compact()
    text = store.export(session.id, tmp_path / "out.md").read_text()
    assert "Summary of messages 1–6 (3 turns; sent instead of them)" in text
    assert FACT in text and "Question 4" in text
    summary = next(m for m in session.history if is_summary(m))
    view = message_view(summary.to_dict(), 0)
    assert view["label"].startswith("Summary of messages 1–6")


def test_a_cheaper_model_can_write_the_summaries():
    main, cheap = get_fake("main"), get_fake("cheap")
    session = ChatSession("fake:main", context_window=500, compact_model="fake:cheap")
    for n in range(12):
        cheap.enqueue("Short summary.", usage=(50, 5))
        session.send(f"question {n}: {FILLER}")
    summaries = [m for m in session.history if is_summary(m)]
    assert summaries and all(m.model == "fake:cheap" for m in summaries)
    assert all("You condense" in (r.system or "") for r in cheap.requests)
    assert not any("You condense" in (r.system or "") for r in main.requests)
    assert "Short summary." in (main.requests[-1].system or "")
    stats = session.stats()
    assert stats["window"]["size"] == 500
    assert stats["summaries"] == len(summaries) and stats["summary_tokens"] == 55 * len(summaries)


def test_async_turns_compact_too():
    import asyncio

    fake = get_fake("async")
    session = ChatSession("fake:async", context_window=500)

    async def talk() -> None:
        for n in range(15):
            await session.asend(f"question {n}: {FILLER}")

    asyncio.run(talk())
    assert any(is_summary(m) for m in session.history)
    assert len([m for m in session.history if not is_summary(m)]) == 30
    assert "Summary of the earlier conversation" in (fake.requests[-1].system or "")


def test_a_refusal_teaches_a_smaller_window_and_the_turn_is_retried(server):
    """A server that reports no window (so 8,192 is assumed) but refuses long requests:
    the refused turn compacts for a smaller window and is sent again, once."""
    server.model_meta = {}
    server.context_window = 1200
    session = _session(server)
    session.send(FACT)
    for n in range(2, 40):
        session.send(f"Question {n}: what is a confidence interval for topic {n}? {FILLER}")
    assert "HELIOTROPE" in session.send("What is the project codename?").text
    window = session.history[-1].meta["window"]
    assert window["source"] == "learned from a refusal" and window["size"] < 8192
    refused = [r for r in server.requests if len(r.raw) // 4 > 1200]
    assert 1 <= len(refused) <= 2  # learnt at once, not retried turn after turn
    assert len([m for m in session.history if not is_summary(m)]) == 80
