"""Token estimates and hard caps."""

from __future__ import annotations

from jupychat.context import estimate_tokens, set_token_counter
from jupychat.context.budget import cap_text, chars_for_tokens
from jupychat.tokens import estimate_tokens as calibrated


def test_char_estimate_and_cap():
    set_token_counter(None)
    assert estimate_tokens("") == 0
    # the calibrated estimate (jupychat.tokens; measured in tests/test_tokens.py)
    assert estimate_tokens("x" * 35) == calibrated("x" * 35)
    assert chars_for_tokens(100) == 200
    text = "\n".join(f"line {i}" for i in range(1000))
    capped = cap_text(text, 50)
    assert len(capped) <= 100 and capped.endswith("(truncated to fit the context budget)")
    assert cap_text("short", 50) == "short"


def test_a_custom_counter_is_used_and_caps_still_hold():
    try:
        set_token_counter(lambda text: len(text.split()))
        assert estimate_tokens("a b c") == 3
        capped = cap_text("word " * 1000, 20)
        assert estimate_tokens(capped) <= 20 and len(capped) <= chars_for_tokens(20)
    finally:
        set_token_counter(None)
