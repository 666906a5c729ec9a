"""The work a turn does before its request, done once: each shortcut gives what the long
way gives (cleaned text, cached descriptions, remembered inventories)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jupychat import secrets
from jupychat._sanitize import clean_text
from jupychat.providers._unicode import clean

_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0, max_codepoint=0x7F),
        st.characters(min_codepoint=0x80, max_codepoint=0xFFFF),  # surrogates included
        st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF),
    ),
    max_size=40,
)


@given(_TEXT)
def test_clean_text_is_clean_then_scrub(text: str) -> None:
    assert clean_text(text) == secrets.scrub_text(clean(text))


def test_clean_text_mends_surrogates_in_ascii_and_wide_text() -> None:
    assert clean_text("plain") == "plain"
    assert clean_text("é → ok") == "é → ok"
    assert clean_text("a\ud83d") == "a\ufffd"  # a lone half, in otherwise ASCII text
    assert clean_text("→ \ud83d\ude00") == "→ \U0001f600"  # a split pair made whole
    assert clean_text("\ude00 é") == "\ufffd é"


def _naive_digests(history) -> dict[str, str]:
    return {b.key: b.digest for m in history for b in m.context_blocks}


def test_sent_digests_follow_each_message_as_it_is_now() -> None:
    from jupychat._sessioncontext import sent_digests
    from jupychat.types import ContextBlock, Message, Text

    def asked(text: str, **blocks: str) -> Message:
        parts = (*(ContextBlock(k, v) for k, v in blocks.items()), Text(text))
        return Message.of("user", parts)

    history = [asked("one", inventory="x = 1"), Message.of("assistant", "ok")]
    assert sent_digests(history) == _naive_digests(history)
    history.append(asked("two", inventory="x = 2", cells="In [1]"))
    assert sent_digests(history) == _naive_digests(history)
    assert sent_digests(history)["inventory"] == ContextBlock("inventory", "x = 2").digest
    history[2] = asked("two", inventory="x = 3")  # a re-run turn replaced in place
    assert sent_digests(history) == _naive_digests(history)
    assert "cells" not in sent_digests(history)
    del history[2]
    assert sent_digests(history)["inventory"] == ContextBlock("inventory", "x = 1").digest


def test_a_config_file_named_by_a_new_environment_value_is_read_for_secrets(
    tmp_path, monkeypatch
) -> None:
    from jupychat import config

    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text('[providers.openai]\napi_key = "first-file-key-0123456789"\n')
    second.write_text('[providers.openai]\napi_key = "second-file-key-9876543210"\n')
    both = "first-file-key-0123456789 second-file-key-9876543210"
    monkeypatch.setenv("JUPYCHAT_CONFIG", str(first))
    with config.settled():  # a turn: the file looked at once
        assert secrets.scrub_text(both) == "[redacted] second-file-key-9876543210"
    monkeypatch.setenv("JUPYCHAT_CONFIG", str(second))
    assert secrets.scrub_text(both) == "first-file-key-0123456789 [redacted]"
    monkeypatch.delenv("JUPYCHAT_CONFIG")
    assert "second-file-key-9876543210" in secrets.scrub_text(both)


def test_sent_digests_of_histories_that_share_a_beginning_or_not() -> None:
    from jupychat._sessioncontext import sent_digests
    from jupychat.types import ContextBlock, Message, Text

    def asked(text: str, **blocks: str) -> Message:
        return Message.of("user", (*(ContextBlock(k, v) for k, v in blocks.items()), Text(text)))

    one = [asked("1", inventory="a", cells="x"), Message.of("assistant", "ok")]
    two = [*one, asked("2", inventory="b"), Message.of("assistant", "ok")]
    other = [asked("1", inventory="c")]
    equal_copy = [asked("1", inventory="a", cells="x"), Message.of("assistant", "ok")]
    for history in (one, two, one, other, two, two[:3], equal_copy, [], two, (m for m in two)):
        history = list(history)
        assert sent_digests(history) == _naive_digests(history)
        assert list(sent_digests(history)) == list(_naive_digests(history))  # same key order
    got = sent_digests(two)
    got["inventory"] = "changed by the caller"
    assert sent_digests(two) == _naive_digests(two)


def _fresh_request_tokens(messages, **kw):
    from jupychat import tokens

    tokens._SUMS.clear()
    tokens._REQUESTS.clear()
    return tokens.request_tokens(messages, **kw)


def test_remembered_message_counts_equal_fresh_ones_per_counter() -> None:
    from jupychat import tokens
    from jupychat.providers.base import ToolSpec
    from jupychat.tokens import TokenCounter
    from jupychat.types import ContextBlock, Image, Message, Text

    by_len = TokenCounter("len", lambda texts: [len(t) for t in texts])
    by_words = TokenCounter("words", lambda texts: [len(t.split()) for t in texts])
    a = Message.of("user", (ContextBlock("var:df", "a small table"), Text("what is in it?")))
    b = Message.of("assistant", "a table of three rows")
    c = Message.of("user", (Text("and this"), Image("aGVsbG8=", "image/png")))
    spec = ToolSpec("add", "adds", {"type": "object"})
    histories = [[a], [a, b], [a, b, c], [c, a], [], [b, b]]
    for counter in (by_len, None, by_words, by_len):
        for history in histories:
            for system in (None, "be brief"):
                kw = {"system": system, "tools": [spec], "counter": counter}
                remembered = tokens.request_tokens(history, **kw)
                assert remembered == _fresh_request_tokens(history, **kw)
                assert tokens.request_tokens(history, **kw) == remembered
    wrapped = '<context name="var:df">\na small table\n</context>'
    assert tokens.request_tokens([a], counter=by_len).context == len(wrapped)
    assert tokens.request_tokens([a], counter=by_words).context == len(wrapped.split())


def test_a_tool_spec_is_made_once_and_follows_a_replaced_tool() -> None:
    import dataclasses

    from jupychat.tools import Tool

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    tool = Tool.from_function(add)
    assert tool.spec is tool.spec
    assert (tool.spec.name, tool.spec.description) == ("add", "Add two numbers.")
    assert tool.spec.parameters is tool.parameters
    renamed = dataclasses.replace(tool, name="plus", description="Plus.")
    assert (renamed.spec.name, renamed.spec.description) == ("plus", "Plus.")
    assert renamed == dataclasses.replace(tool, name="plus", description="Plus.")


def test_a_remembered_context_block_is_cleaned_again_once_a_new_secret_is_known() -> None:
    from jupychat import config
    from jupychat._sessioncontext import clean_block
    from jupychat.types import ContextBlock

    key = "zq9" + "x7" * 20  # no credential shape: known by value only
    text = f"### `df`: note {key} and a lone half \ud83d"
    first = clean_block("var:df", text)
    assert first == ContextBlock(clean_text("var:df"), clean_text(text))
    assert clean_block("var:df", text) is first  # the same text again: remembered
    assert clean_block("var:other", text).key == "var:other"
    assert key in first.text and "\ud83d" not in first.text
    config.set_api_key("groq", key)
    try:
        again = clean_block("var:df", text)
        assert key not in again.text and again.digest != first.digest
        assert again == ContextBlock(clean_text("var:df"), clean_text(text))
    finally:
        config.set_api_key("groq", None)
    assert clean_block("var:df", text).text == first.text


def test_a_prefix_memo_resumes_only_a_list_that_starts_with_the_remembered_one() -> None:
    from jupychat._memo import PrefixMemo

    memo: PrefixMemo[int] = PrefixMemo()
    a, b, c = [1], [2], [3]
    assert memo.resume([a, b]) == (None, 0)
    items = [a, b]
    memo.keep(items, 3)
    items.append(c)  # the caller's list changed afterwards: a copy was kept
    assert memo.resume(items) == (3, 2)
    assert memo.resume([a, b]) == (3, 2)
    assert memo.resume([[1], [2], c]) == (3, 2)  # equal items: an equal value
    assert memo.resume([a]) == (None, 0)  # shorter
    assert memo.resume([b, a, c]) == (None, 0)  # another order
    assert memo.resume([a, [9]]) == (None, 0)  # an item replaced
    counter = object()
    memo.keep([a], 1, counter)
    assert memo.resume([a, b], counter) == (1, 1)
    assert memo.resume([a, b], object()) == (None, 0)  # another extra
    assert memo.resume([a, b]) == (None, 0)


def test_request_tokens_after_a_turn_replaced_in_the_middle_equal_fresh_ones() -> None:
    from jupychat import tokens
    from jupychat.types import ContextBlock, Message, Text

    def turn(i: int, text: str = "question") -> list[Message]:
        asked = Message.of("user", (ContextBlock("cells", f"In [{i}]"), Text(f"{text} {i}")))
        return [asked, Message.of("assistant", f"answer {i} " * i)]

    history: list[Message] = []
    for i in range(6):
        history += turn(i)
        assert tokens.request_tokens(history) == _fresh_request_tokens(history)
    history[4:6] = turn(2, "asked again, longer this time")  # a re-run cell's turn
    assert tokens.request_tokens(history) == _fresh_request_tokens(history)
    assert tokens.request_tokens(history[:3]) == _fresh_request_tokens(history[:3])
    assert tokens.request_tokens(history) == _fresh_request_tokens(history)


def test_the_planned_conversation_follows_every_history() -> None:
    from jupychat._compaction import conversation
    from jupychat.types import Message

    system = Message.of("system", "be brief")
    turns = [
        Message.of("user", f"q{i}") if i % 2 == 0 else Message.of("assistant", "a")
        for i in range(8)
    ]
    histories = [turns[:2], [system, *turns[:4]], [system, *turns], turns[:4], [system, *turns]]
    histories += [[*turns[:2], system, *turns[2:]], [], turns]
    for history in histories:
        got = conversation(history)
        assert got == [m for m in history if m.role != "system"]
        got.append(system)  # the caller's list: the remembered one is untouched
        assert conversation(history) == [m for m in history if m.role != "system"]


def test_the_cell_turns_by_source_follow_every_history() -> None:
    from jupychat.notebook.order import _cell_turns
    from jupychat.types import Message

    def cell(source: object, run: str = "r1", kind: str = "cell") -> Message:
        meta = {"source": kind, "cell_source": source, "cell_run": run, "cell_id": f"{source}"}
        return Message.of("user", "q", meta=meta)

    def naive(history: list[Message], digest: str) -> list[Message]:
        return [
            m
            for m in history
            if m.role == "user"
            and (m.meta or {}).get("source") == "cell"
            and m.meta.get("cell_source") == digest
        ]

    answer = Message.of("assistant", "a")
    a, b, a2 = cell("aaa"), cell("bbb"), cell("aaa", "r2")
    odd, panel = cell(["aaa"]), cell("aaa", kind="panel")
    histories = [[a, answer], [a, answer, b, answer], [a, answer, b, answer, a2, answer]]
    histories += [[b, answer, a2], [a, odd, panel, a2], [], [a2, a, a2]]
    for history in histories:
        found = _cell_turns(history)
        for digest in ("aaa", "bbb", "ccc"):
            assert list(found.sources.get(digest, ())) == naive(history, digest)
            # the cell ids asked from (here each cell's id is its source's text)
            assert (digest in found.ids) == bool(naive(history, digest))


def test_the_code_cells_follow_every_record() -> None:
    from jupychat.context.celldata import Cell
    from jupychat.notebook.namespace import _code_cells

    cells = [Cell(i, i, "%%chat\nq" if i % 3 == 0 else f"x = {i}") for i in range(1, 10)]
    updated = Cell(2, 2, "%%chat\nnow a chat cell")
    records = [cells[:3], cells[:6], cells, cells[2:], [cells[0], updated, *cells[2:]], [], cells]
    for record in records:
        assert _code_cells(list(record)) == [c for c in record if not c.is_chat]


def test_a_prefix_memo_takes_items_that_cannot_be_compared_for_different_ones() -> None:
    from jupychat._memo import PrefixMemo

    class Moody:
        def __eq__(self, other: object) -> bool:
            raise ValueError("ambiguous")

        __hash__ = object.__hash__

    memo: PrefixMemo[int] = PrefixMemo()
    first = Moody()
    memo.keep([first], 1)
    assert memo.resume([first, Moody()]) == (1, 1)  # the same object: not compared
    assert memo.resume([Moody()]) == (None, 0)
