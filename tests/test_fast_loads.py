"""The stream chunk parser's short way to JSON (``fast_loads``) returns and raises exactly
what ``json.loads`` does, for any text (issue 22: a chunk is parsed ~200 times a turn)."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from jupychat.providers._errors import fast_loads

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def outcome(fn, text):
    try:
        return "ok", json.dumps(fn(text), sort_keys=True)
    except (ValueError, RecursionError) as exc:
        return "error", type(exc).__name__, str(exc)


@settings(max_examples=300, deadline=None)
@given(values, st.sampled_from(["", " ", "\n", "\ufeff", "x", " 1", "}", "\t\r\n"]), st.booleans())
def test_fast_loads_matches_json_loads(value, affix, before):
    body = json.dumps(value)
    text = affix + body if before else body + affix
    assert outcome(fast_loads, text) == outcome(json.loads, text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_fast_loads_matches_json_loads_on_any_text(text):
    assert outcome(fast_loads, text) == outcome(json.loads, text)


def test_the_edges():
    for text in ['{"a": NaN}', "[Infinity]", "[" * 100_000, '{"a":1}{"b":2}', '"\\ud800"', ""]:
        assert outcome(fast_loads, text) == outcome(json.loads, text)
    assert math.isnan(fast_loads("NaN"))
