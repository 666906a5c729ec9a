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


# -- the counts behind the estimate are the patterns' counts, exactly ---------------------


def _pattern_counts(text: str) -> tuple[int, ...]:
    """What the estimator's patterns find in ``text`` (their definition, regex by regex)."""
    from jupychat import tokens

    words = tokens._WORD.findall(text)
    return (
        len(words),
        sum(len(w) - 6 for w in words if len(w) > 6),
        len(tokens._DIGIT.findall(text)),
        len(tokens._PUNCT.findall(text)),
        len(tokens._BREAK.findall(text)),
        len(tokens._GAP.findall(text)),
        len(tokens._JOINED.findall(text)),
        len(tokens._WIDE.findall(text)),
    )


def test_counts_match_the_patterns_on_every_code_point():
    from jupychat import tokens
    from jupychat.tokens import _counts

    every = "".join(chr(code) for code in range(0x110000))
    # outside ASCII, punctuation is told by str methods: the same characters as [^\w\s]
    wide = every[128:]
    assert set(tokens._PUNCT.findall(wide)) == {c for c in wide if not (c.isalnum() or c.isspace())}
    assert _counts(every) == _pattern_counts(every)
    # each ASCII character (counted on bytes) alone, between letters, before an
    # underscore, after a letter and before two spaces: classes and look-arounds
    for code in range(128):
        c = chr(code)
        for text in (c, f"a{c}_b", f"x{c}  y\t", f"{c}_{c}"):
            assert _counts(text) == _pattern_counts(text), repr(text)


@pytest.mark.parametrize("seed", range(4))
def test_counts_match_the_patterns_on_random_texts(seed):
    import random

    from jupychat.tokens import _counts

    rnd = random.Random(seed)
    # the characters the fast paths treat differently, and runs of underscores (over 32
    # in one text take the regex path)
    alphabet = [*"aZz09_ \t\n\r\x0b\x0c\x1c|-→×é漢\U0001f600\ud800\xa0\u2003\x85"]
    alphabet += ["_a", "a_", "  ", "1_2"]
    many = 0
    for _ in range(2000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 200)))
        many += text.count("_") > 32
        assert _counts(text) == _pattern_counts(text), repr(text)
    assert many > 20  # both ways of counting joins were taken


def test_counts_match_the_patterns_on_the_calibration_corpus():
    from jupychat.tokens import _counts

    for kind in KINDS:
        pieces = corpus(kind)
        assert pieces
        for text in [*pieces, "\n".join(pieces)]:
            assert _counts(text) == _pattern_counts(text)
