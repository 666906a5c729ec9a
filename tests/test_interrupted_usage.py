"""Token figures of a turn stopped before the provider reported its usage.

A stopped stream never reaches the provider's usage report, so such a turn used to count
0 in / 0 out in ``stats()``, the footer and ``%chat stats``. It now records an estimate
(the request's text in, the text received out), marked ``meta["usage"] == "estimated"``,
and that survives the store. Turns that finished keep exactly what the provider reported.
"""

from __future__ import annotations

import pytest

from jupychat import ChatSession
from jupychat.context.budget import estimate_tokens
from jupychat.notebook.engine import Footer
from jupychat.providers.fake import get_fake
from jupychat.store import SessionStore


@pytest.fixture
def fake():
    return get_fake("interrupted-usage")


def test_a_stopped_turn_records_estimated_tokens(fake):
    chat = ChatSession(fake, system_prompt="Be brief. " * 20)
    question = "Explain tokens at length, please. " * 10
    fake.enqueue("word " * 50, chunk_size=5, error=KeyboardInterrupt(), error_after=6)
    with pytest.raises(KeyboardInterrupt):
        list(chat.stream(question))
    answer = chat.history[-1]
    assert answer.interrupted and answer.meta["usage"] == "estimated"
    assert answer.usage.output_tokens == estimate_tokens(answer.text) > 0
    # at least the system prompt and the question went in
    assert answer.usage.input_tokens >= estimate_tokens(question) + estimate_tokens(
        "Be brief. " * 20
    )
    stats = chat.stats()
    assert stats["input_tokens"] == answer.usage.input_tokens
    assert stats["output_tokens"] == answer.usage.output_tokens
    assert stats["estimated_turns"] == 1 and stats["per_turn"][0]["estimated"]
    footer = Footer.of([answer]).text()
    assert f"~{answer.usage.input_tokens:,} in" in footer and "interrupted" in footer


def test_a_finished_turn_keeps_the_reported_usage(fake):
    chat = ChatSession(fake)
    fake.enqueue("Paris.", usage=(12, 2))
    chat.send("Capital of France?")
    stats = chat.stats()
    assert (stats["input_tokens"], stats["output_tokens"], stats["estimated_turns"]) == (12, 2, 0)
    assert "usage" not in chat.history[-1].meta
    assert "~" not in Footer.of(chat.history).text()


def test_the_estimate_survives_the_store(fake, tmp_path):
    store = SessionStore(tmp_path / "s.db")
    chat = ChatSession(fake).attach_store(store)
    fake.enqueue("abcdefghij" * 10, chunk_size=4, error=KeyboardInterrupt(), error_after=5)
    with pytest.raises(KeyboardInterrupt):
        list(chat.stream("a question"))
    before = chat.stats()
    again = ChatSession.resume(chat.id, store=store, model=fake)
    after = again.stats()
    assert after["estimated_turns"] == 1
    assert (after["input_tokens"], after["output_tokens"]) == (
        before["input_tokens"],
        before["output_tokens"],
    )
    store.close()
