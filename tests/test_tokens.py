"""Token counts: the calibrated estimate measured against a real BPE tokenizer.

The corpus in ``tests/data/tokens`` holds DataFrame descriptions written by jupychat's own
``describe`` (``tables.txt``), code (``code.txt``) and chat text (``chat.txt``); pieces are
separated by a record separator line (chat: by blank lines). The reference is SmolLM2's
BPE tokenizer, run by llama.cpp (the embedded model), so the llama tests need no network.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jupychat.context.budget import cap_text
from jupychat.context.budget import estimate_tokens as budget_estimate
from jupychat.providers.base import ToolSpec
from jupychat.tokens import (
    MESSAGE_OVERHEAD,
    REQUEST_OVERHEAD,
    TokenCounter,
    counter_for,
    estimate_tokens,
    kind_of,
    request_tokens,
)
from jupychat.types import ContextBlock, Message, Text
from llama_fixtures import needs_llama

CORPUS = Path(__file__).parent / "data" / "tokens"
KINDS = {"tables": "table", "code": "code", "chat": "prose"}


def corpus(kind: str) -> list[str]:
    text = (CORPUS / f"{kind}.txt").read_text()
    pieces = text.split("\n\x1e\n") if kind != "chat" else text.split("\n\n")
    return [p for p in pieces if p.strip()]


@pytest.fixture(scope="module")
def bpe():
    """Counts with SmolLM2's tokenizer (llama.cpp's /tokenize on the local model)."""
    from jupychat.providers import _llama
    from jupychat.providers.local import local_provider

    provider = local_provider("", n_ctx=512, n_threads=1)
    entry = provider._loaded()
    return provider, (lambda texts: _llama.count_tokens(entry, list(texts)))


@needs_llama
@pytest.mark.llama
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_budget_estimate_is_within_15_percent_of_a_bpe_tokenizer(bpe, kind):
    """Failed before: the budget counted 3.5 characters a token, 52 % low on tables."""
    _, count = bpe
    pieces = corpus(kind)
    real = count(pieces)
    estimated = [budget_estimate(p) for p in pieces]
    total_error = sum(estimated) / sum(real) - 1
    worst = max(abs(e / r - 1) for e, r in zip(estimated, real, strict=True))
    print(f"{kind}: {sum(real)} tokens, total error {total_error:+.1%}, worst piece {worst:.1%}")
    assert abs(total_error) <= 0.15
    assert worst <= 0.15


@needs_llama
@pytest.mark.llama
def test_local_counter_is_the_models_own_tokenizer(bpe):
    provider, count = bpe
    counter = counter_for(provider)
    assert counter.exact and counter.name == "llama.cpp tokenizer"
    pieces = corpus("chat")[:3]
    assert counter.counts(pieces) == count(pieces)
    assert counter.count("") == 0


def test_estimate_grows_with_digits_and_table_rules_more_than_with_prose():
    prose = "The quick brown fox jumps over the lazy dog near the river bank today."
    table = "| 2024-01-01 | 316 | 20.8 | 0.031 |\n|---|---|---|---|\n| 12 | 7.5 | 99 | 1 |"
    assert len(table) / estimate_tokens(table) < 2.5 < len(prose) / estimate_tokens(prose)
    assert estimate_tokens("") == 0
    assert estimate_tokens("é" * 100) >= 100  # text outside ASCII is not one token a word


def test_kind_of():
    assert {kind_of(p) for p in corpus("tables")} == {"table"}
    assert {kind_of(p) for p in corpus("code")} == {"code"}
    assert {kind_of(p) for p in corpus("chat")} == {"prose"}


def test_cap_text_fits_the_calibrated_estimate_on_tables():
    """Failed before: a 1,500-token cap on a description gave up to ~2,400 real tokens."""
    text = "\n".join(corpus("tables"))
    capped = cap_text(text, 1500)
    assert estimate_tokens(capped) <= 1500
    assert budget_estimate(capped) <= 1500


def test_counter_falls_back_to_the_estimate_and_caches():
    calls: list[list[str]] = []

    def broken(texts: list[str]) -> list[int]:
        calls.append(texts)
        raise OSError("tokenizer gone")

    counter = TokenCounter("broken", broken, exact=True)
    assert counter.count("hello there") == estimate_tokens("hello there")
    counted: list[list[str]] = []

    def good(texts: list[str]) -> list[int]:
        counted.append(texts)
        return [len(t) for t in texts]

    counter = TokenCounter("len", good)
    assert counter.counts(["ab", "abc", "ab"]) == [2, 3, 2]
    assert counter.counts(["abc", "abcd"]) == [3, 4]
    assert counted == [["ab", "abc", "ab"], ["abcd"]]  # cached texts are not counted again


def test_request_tokens_splits_history_context_and_tools():
    counter = TokenCounter("len", lambda texts: [len(t) for t in texts])
    messages = [
        Message.of("user", (ContextBlock("df", "abcd"), Text("hello"))),
        Message.of("assistant", "hi!"),
    ]
    spec = ToolSpec("add", "adds", {"type": "object"})
    got = request_tokens(messages, system="sys", tools=[spec], counter=counter)
    assert got.system == 3 + MESSAGE_OVERHEAD + REQUEST_OVERHEAD
    assert got.history == len("hello") + len("hi!") + 2 * MESSAGE_OVERHEAD
    assert got.context == len('<context name="df">\nabcd\n</context>')
    assert got.tools > 0
    assert got.total == got.system + got.history + got.context + got.tools
