"""Thirty turns of real questions with the embedded model at a small window (n_ctx=1024).

Before compaction the local model failed on its window by turn 4 or so ("clear or trim
the history"); now every turn is answered, older turns are summarised by the model itself,
and the store holds all 60 messages of the conversation (plus the summaries).
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
    "Why split data into training and test sets?",
    "What is a correlation coefficient?",
    "How do I sort a DataFrame by two columns?",
    "What is an outlier?",
    "What does the describe method show?",
    "What is a time series?",
    "How do I change the type of a column in pandas?",
    "What is a box plot?",
    "What is the central limit theorem?",
    "How do I save a DataFrame to a parquet file?",
    "What is cross-validation?",
    "What is a categorical variable?",
    "How do I pivot a table in pandas?",
    "What is normalisation of features?",
    "What does a scatter plot show?",
    "Give me one tip for writing clear analysis notebooks.",
]


@needs_llama
@pytest.mark.llama
@pytest.mark.timeout(1500)  # about 3 min on an idle 2-core machine; much more when busy
def test_thirty_turns_fit_a_1024_token_window(tmp_path):
    store = SessionStore(tmp_path / "long.db")
    session = ChatSession(
        "local", n_ctx=1024, n_threads=1, max_tokens=32, temperature=0.0, seed=1, store=store
    )
    for question in QUESTIONS:
        response = session.send(question)
        assert response.text.strip()
        window = response.message.meta["window"]
        assert window["size"] == 1024 and window["used"] <= 1024
    conversation = [m for m in session.history if not is_summary(m)]
    assert len(conversation) == 60
    assert any(is_summary(m) for m in session.history)
    stored = ChatSession.resume(session.id, store=SessionStore(tmp_path / "long.db"))
    assert [m.text for m in stored.history if not is_summary(m)] == [m.text for m in conversation]
