"""A long session of real questions with the embedded model at a small window (n_ctx=512).

Before compaction the local model failed on its window after a few turns ("clear or trim
the history"); now every turn is answered, older turns are summarised by the model itself
(twice: at 512 tokens the first summary comes at about turn 7, the second, which
summarises the first summary plus the turns after it, at about turn 11), and the store
holds every message of the conversation (plus the summaries).

The window is small so that both compactions come within 14 turns: the same proof as
thirty turns at n_ctx=1024 (compactions at turns 16 and 25), in about a quarter of the
time (about 45 s instead of 3 min on an idle 2-core machine).
"""

from __future__ import annotations

import pytest

from jupychat import ChatSession
from jupychat._compaction import is_summary
from jupychat.store import SessionStore
from llama_fixtures import needs_llama

QUESTIONS = [
    "What is a p-value?",
    "How do I read a CSV file with pandas?",
    "What is the difference between mean and median?",
    "When should I use a log scale on a plot?",
    "What does groupby do in pandas?",
    "How can I find missing values in a DataFrame?",
    "What is overfitting?",
    "Explain a confidence interval in simple words.",
    "What is the difference between a list and a tuple in Python?",
    "How do I merge two DataFrames on a key column?",
    "What is a histogram good for?",
    "What does standard deviation measure?",
    "How do I remove duplicate rows in pandas?",
    "What is linear regression?",
]


@needs_llama
@pytest.mark.llama
@pytest.mark.timeout(600)  # about 45 s on an idle 2-core machine; much more when busy
def test_fourteen_turns_fit_a_512_token_window(tmp_path):
    store = SessionStore(tmp_path / "long.db")
    session = ChatSession(
        "local", n_ctx=512, n_threads=1, max_tokens=32, temperature=0.0, seed=1, store=store
    )
    for question in QUESTIONS:
        response = session.send(question)
        assert response.text.strip()
        window = response.message.meta["window"]
        assert window["size"] == 512 and window["used"] <= 512
    conversation = [m for m in session.history if not is_summary(m)]
    assert len(conversation) == 2 * len(QUESTIONS) == 28
    assert any(is_summary(m) for m in session.history)
    # compacted more than once: a summary of a summary works too
    assert sum(is_summary(m) for m in session.history) >= 2
    stored = ChatSession.resume(session.id, store=SessionStore(tmp_path / "long.db"))
    assert [m.text for m in stored.history if not is_summary(m)] == [m.text for m in conversation]
