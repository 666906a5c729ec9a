# ruff: noqa: F811
"""What a long session's turns remember between turns must never change a request.

Past the compaction threshold every turn counts several lists of messages (the whole
conversation, what is always kept, what goes with the summary), looks for the latest
summary and for the context blocks of the turns it covers. These are resumed from the
last turn's (so a turn's own cost does not grow with history); each is checked here
against the same figure computed afresh, and a whole compacting conversation is run
twice, once with everything remembered cleared before each turn: the server must see
the same requests.
"""

from __future__ import annotations

import random
from typing import Any

from fakeserver import FakeServer
from jupychat import ChatSession, tokens
from jupychat import _compaction as compaction
from jupychat._compaction import SUMMARY_KEY, _carried, is_summary, latest_summary, system_texts
from jupychat._memo import PrefixMemo
from jupychat._sessionstats import group_turns
from jupychat.types import ContextBlock, Message, Text
from test_long_session import FILLER, server  # noqa: F401 (the compacting fake server)


def _clear_memos() -> None:
    tokens._SUMS.clear()
    tokens._REQUESTS.clear()
    compaction._CONVERSATIONS.clear()
    compaction._DROPPED.clear()
    compaction._SYSTEM_MESSAGES.clear()


def test_a_prefix_memo_with_slots_resumes_the_longest_list_remembered() -> None:
    memo: PrefixMemo[str] = PrefixMemo(slots=3)
    a, b, c, d = [1], [2], [3], [4]
    memo.keep([a], "a")
    memo.keep([a, b, c], "abc")
    memo.keep([d], "d")
    assert memo.resume([a, b, c, d]) == ("abc", 3)  # the longest, not the newest
    assert memo.resume([a, b]) == ("a", 1)
    assert memo.resume([d, a]) == ("d", 1)
    memo.keep([a, b, c], "abc again")  # an equal list: replaced, not a second slot
    memo.keep([b], "b")
    assert memo.resume([a, b, c]) == ("abc again", 3)
    assert memo.resume([d]) == ("d", 1)
    memo.keep([c], "c")  # four lists in three slots: the oldest ([d]) falls out
    assert memo.resume([d]) == (None, 0)
    assert memo.resume([a]) == (None, 0)  # [a] fell out first
    other = object()
    memo.keep([a, b, c, d], "with extra", other)  # ("abc again" falls out)
    assert memo.resume([a, b, c, d]) == (None, 0)  # remembered with another extra only
    assert memo.resume([a, b, c, d], other) == ("with extra", 4)
    assert memo.resume([c, a]) == ("c", 1)


def test_a_prefix_memo_keeps_lists_whose_items_cannot_be_compared() -> None:
    class Moody:
        def __eq__(self, other: object) -> bool:
            raise ValueError("ambiguous")

        __hash__ = object.__hash__

    memo: PrefixMemo[int] = PrefixMemo(slots=2)
    first, second = Moody(), Moody()
    memo.keep([first], 1)
    memo.keep([second], 2)  # compared with [first] to replace an equal one: not equal
    assert memo.resume([first]) == (1, 1)
    assert memo.resume([second, Moody()]) == (2, 1)


def _turn(i: int, key: str | None = None, text: str = "question") -> list[Message]:
    parts: tuple[Any, ...] = (Text(f"{text} {i}"),)
    if key is not None:
        parts = (ContextBlock(key, f"{key} as of turn {i}"), *parts)
        if i % 3 == 0:  # a second block in the same message
            parts = (ContextBlock(f"{key}:more", f"more as of turn {i}"), *parts)
    return [Message.of("user", parts), Message.of("assistant", f"answer {i} " * (i % 5 + 1))]


def _history(rng: random.Random, turns: int) -> list[Message]:
    history: list[Message] = []
    for i in range(turns):
        history += _turn(i, rng.choice([None, "var:df", "var:sales", "cells"]))
    return history


def test_counts_of_several_lists_a_turn_walks_equal_fresh_ones() -> None:
    rng = random.Random(7)
    history = _history(rng, 4)
    for i in range(4, 40):
        history += _turn(i, rng.choice([None, "var:df"]))
        new = [Message.of("user", f"next {i}")]
        covered = rng.randrange(0, len(history))
        lists = [history + new, new, history[covered:] + new, history[:covered]]
        if i % 7 == 0:
            history[3] = Message.of("assistant", "edited in place of the old answer")
        for messages in rng.sample(lists, len(lists)):
            remembered = tokens.request_tokens(messages, system="be brief")
            tokens._SUMS.clear()
            saved = tokens._REQUESTS
            tokens._REQUESTS = PrefixMemo()
            try:
                fresh = tokens.request_tokens(messages, system="be brief")
            finally:
                tokens._REQUESTS = saved
            assert remembered == fresh


def _summary(last: Message, turns: int = 1) -> Message:
    info = {"first": 0, "last": 0, "turns": turns, "last_at": last.created_at}
    return Message(role="system", content=(Text("summary"),), meta={SUMMARY_KEY: info})


def _naive_latest_summary(history: list[Message]) -> tuple[Message | None, int]:
    conv = [m for m in history if m.role != "system"]
    stamps = {m.created_at: i for i, m in enumerate(conv)}
    for message in reversed(history):
        if message.role == "system" and isinstance(message.meta.get(SUMMARY_KEY), dict):
            last = stamps.get(str(message.meta[SUMMARY_KEY].get("last_at")))
            if last is not None:
                return message, last + 1
    return None, 0


def test_the_latest_summary_found_equals_a_full_search() -> None:
    rng = random.Random(11)
    for _ in range(60):
        history: list[Message] = [Message.of("system", "be brief")]
        for i in range(rng.randrange(0, 14)):
            turn = _turn(i)
            if rng.random() < 0.3:  # two messages with one stamp: the later one counts
                turn[1] = turn[1].replace(created_at=turn[0].created_at)
            history += turn
            conv = [m for m in history if m.role != "system"]
            if conv and rng.random() < 0.3:
                history.append(_summary(rng.choice(conv)))
        if rng.random() < 0.3:  # an edited history: a summary's last message is gone
            conv_at = [i for i, m in enumerate(history) if m.role != "system"]
            if conv_at:
                del history[rng.choice(conv_at)]
        if rng.random() < 0.2:
            gone = Message.of("user", "no longer there")
            history.append(_summary(gone))
        found = latest_summary(history)
        assert found == _naive_latest_summary(history)
        assert found[0] is _naive_latest_summary(history)[0]


def _naive_carried(
    dropped: list[Message], kept: list[Message], new: list[Message]
) -> tuple[ContextBlock, ...]:
    later = {b.key for m in [*kept, *new] for b in m.context_blocks}
    latest: dict[str, ContextBlock] = {}
    for message in dropped:
        for block in message.context_blocks:
            latest[block.key] = block
    return tuple(b for k, b in latest.items() if k not in later)


def test_blocks_carried_from_summarised_turns_equal_a_full_walk() -> None:
    rng = random.Random(3)
    keys = [f"var:v{k}" for k in range(12)]  # most are named in summarised turns only
    history: list[Message] = []
    for i in range(30):
        history += _turn(i, rng.choice([None, *keys]))
    covered = 20
    carried_some = 0
    for step in range(80):
        covered = min(len(history) - 2, covered + rng.choice([0, 0, 0, 2, 4]))
        if step % 9 == 0:  # an edited turn among the summarised ones
            at = rng.randrange(0, covered)
            history[at] = Message.of("user", (ContextBlock(rng.choice(keys), f"edit {step}"),))
        if step % 13 == 0:  # a summary of another extent
            covered = rng.randrange(0, len(history) - 2)
        history += _turn(100 + step, rng.choice([None, *keys]))
        dropped, kept = history[:covered], history[covered:]
        new = _turn(999, rng.choice([None, "cells", keys[0]]))[:1]
        expected = _naive_carried(dropped, kept, new)
        got = _carried(dropped, kept, new)
        assert got == expected
        assert [b.key for b in got] == [b.key for b in expected]
        carried_some += len(expected) > 1
    assert carried_some > 30  # the check compared something


def test_the_system_texts_a_turn_joins_follow_every_history() -> None:
    rng = random.Random(9)
    history: list[Message] = []
    for step in range(120):
        roll = rng.random()
        if roll < 0.15:
            history.append(Message.of("system", f"note {step}"))
        elif roll < 0.25 and history:
            history.append(_summary(rng.choice(history)))
        elif roll < 0.3 and history:  # an edit: a message replaced in place
            history[rng.randrange(len(history))] = Message.of("system", f"edited {step}")
        elif roll < 0.33:
            history = history[: rng.randrange(len(history) + 1)]  # a cleared tail
        else:
            history += _turn(step)
        expected = tuple(m.text for m in history if m.role == "system" and not is_summary(m))
        assert system_texts(history) == list(expected)


def test_pinned_messages_are_the_pinned_turns_whatever_the_pins() -> None:
    history = _history(random.Random(5), 12)
    plan = object.__new__(compaction._Planner)
    for pins in (set(), {history[0].created_at}, {history[5].created_at, history[8].created_at}):
        plan.pins = pins
        expected = [
            m for g in group_turns(history) if any(m.created_at in pins for m in g) for m in g
        ]
        assert plan.pinned_messages(history) == expected


def _conversation(server: FakeServer, clear: bool) -> list[Any]:
    server.requests.clear()
    session = ChatSession(
        f"openai-compatible:fake-model@{server.openai_base_url}",
        context={"df": "rows 1 to 5 of df"},
    )
    session.send("Remember this: the budget is 12 thousand euros.")
    session.pin(1)
    for n in range(2, 28):
        if clear:
            _clear_memos()
        context = {"sales": f"sales table, version {n // 6}"} if n % 3 else None
        session.send(f"Question {n}: about topic {n}. {FILLER}", context=context)
    return [(r.body["messages"], r.body.get("max_tokens")) for r in server.requests]


def test_a_compacting_conversation_sends_the_same_requests_with_nothing_remembered(server):
    _clear_memos()
    remembered = _conversation(server, clear=False)
    fresh = _conversation(server, clear=True)
    assert any("Summary of the earlier conversation" in str(body) for body, _ in remembered)
    assert len(remembered) == len(fresh)
    for a, b in zip(remembered, fresh, strict=True):
        assert a == b


class _CountingSums:
    """``tokens._SUMS`` that counts the messages looked up (work, not time)."""

    def __init__(self, memo: Any) -> None:
        self.memo, self.looked = memo, 0

    def find(self, message: Any, extra: Any = None) -> Any:
        self.looked += 1
        return self.memo.find(message, extra)

    def put(self, message: Any, value: Any, extra: Any = None) -> None:
        self.memo.put(message, value, extra)

    def clear(self) -> None:
        self.memo.clear()


def test_a_compacted_turn_looks_at_as_many_messages_late_as_early(server, monkeypatch):
    """Failed before: with one remembered list, the counts a compacted turn makes pushed
    each other out, and every turn looked up every message of the history again (turn 60
    ~3x turn 20); then the sizes of single turns that compaction measures pushed out the
    whole conversation's count, and the turn after each compaction did so (44 -> 124)."""
    _clear_memos()
    counting = _CountingSums(tokens._SUMS)
    monkeypatch.setattr(tokens, "_SUMS", counting)
    session = ChatSession(f"openai-compatible:fake-model@{server.openai_base_url}")
    looked: list[int] = []
    for n in range(64):
        before = counting.looked
        session.send(f"Question {n}: about topic {n}. {FILLER}")
        looked.append(counting.looked - before)
    assert sum(is_summary(m) for m in session.history) >= 3  # compacted several times
    early, late = looked[16:28], looked[52:64]  # each span holds 2-3 compacting turns
    assert max(late) <= max(early) * 1.25 + 4, (early, late)
    assert sorted(late)[6] <= sorted(early)[6] * 1.25 + 4, (early, late)
