"""A turn's work must not grow with the history before it, and must not change a request.

Each turn used to walk the whole conversation several times: grouping it by turn to
place the turn (``split_history``), looking for the cell's id among the earlier cell
turns, looking up every message's wire entries, and joining them into the body. In a
notebook of 200 ``%%chat`` cells a cell cost ~3-5 ms more than at the start. Each walk
now resumes from the last turn's (``PrefixMemo``). Here each is checked against the same
result computed afresh over changing histories (appended, forked, rewritten in the
middle, equal messages that are other objects), and the work a turn does is counted:
the messages looked at, not the time.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from fixtures_server import fake_server
from jupychat._compaction import conversation
from jupychat._sessionstats import group_turns
from jupychat._turnplace import after_turn, split_history
from jupychat.notebook import order
from jupychat.providers import chat_payload
from jupychat.providers._wirejson import Entry, dumps_utf8
from jupychat.providers.base import ChatRequest
from jupychat.types import Message, ToolCall, ToolResult

__all__ = ["fake_server"]


def _flat(groups: list[list[Any]]) -> list[Any]:
    return [m for g in groups for m in g]


def _split_afresh(history: list[Message], replace: Any, place: Any) -> tuple[Any, ...]:
    """What ``split_history`` gives, computed as it was before it remembered anything."""
    kept: list[list[Message]] = []
    old: int | None = None
    replaced = 0
    for group in group_turns(history):
        if replace is not None and group[0].role == "user" and replace(group[0]):
            replaced += 1
            old = len(kept) if old is None else old
        else:
            kept.append(group)
    index = len(kept)
    if place is not None:
        lead = 1 if kept and kept[0][0].role != "user" else 0
        index = max(lead, min(len(kept), place(kept, old)))
    return _flat(kept[:index]), _flat(kept[index:]), replaced


def _turn(i: int, tools: bool = False) -> list[Message]:
    user = Message.of("user", f"question {i} ü")
    if not tools:
        return [user, Message.of("assistant", f"answer {i}")]
    call = ToolCall(id=f"c{i}", name="peek", arguments={"n": i})
    return [
        user,
        Message.of("assistant", call),
        Message.of("tool", ToolResult(f"c{i}", "peek", f"result {i}")),
        Message.of("assistant", f"answer {i}"),
    ]


def _histories(seed: int, steps: int = 60) -> list[list[Message]]:
    """Histories as a session goes through them: turns appended, a system message put
    first, forks, a turn rewritten in the middle, the history rebuilt from its records
    (equal messages, other objects), cut short."""
    rng = random.Random(seed)
    history: list[Message] = []
    out = []
    for step in range(steps):
        action = rng.random()
        if action < 0.6 or len(history) < 4:
            history = history + _turn(step, tools=rng.random() < 0.3)
        elif action < 0.68 and not (history and history[0].role == "system"):
            history = [Message.of("system", "be brief"), *history]
        elif action < 0.78:
            users = [i for i, m in enumerate(history) if m.role == "user"]
            at = rng.choice(users)
            history = [*history[:at], *_turn(1000 + step), *history[at + 2 :]]
        elif action < 0.86:
            history = [Message.from_dict(m.to_dict()) for m in history]
        elif action < 0.93:
            history = history[: rng.randrange(1, len(history))]
        else:
            out.append(list(history))  # a fork: the next steps go on from an older list
            history = list(rng.choice(out))
        out.append(history)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_placing_a_turn_cuts_the_history_as_before(seed: int) -> None:
    rng = random.Random(seed)
    for history in _histories(seed):
        users = [m for m in history if m.role == "user"]
        replace = None
        if users and rng.random() < 0.4:
            target = rng.choice(users).text
            replace = lambda m, t=target: m.text == t  # noqa: E731
        fixed = rng.randrange(0, 40)
        place = rng.choice(
            [
                None,
                lambda turns, old: len(turns),
                lambda turns, old: len(turns) if old is None else old,
                lambda turns, old, k=fixed: k,
                after_turn(rng.choice(users)) if users else None,
            ]
        )
        got = split_history(history, replace, place)
        assert got == _split_afresh(history, replace, place)
        # the very messages of this history (not equal ones remembered from another)
        mine = {id(m) for m in history}
        assert all(id(m) in mine for m in [*got[0], *got[1]])


class _Counted:
    """A message stand-in that counts how often its role is read."""

    reads = 0

    def __init__(self, role: str) -> None:
        self._role = role

    @property
    def role(self) -> str:
        _Counted.reads += 1
        return self._role


def test_placing_a_turn_reads_only_the_messages_added_since_the_last() -> None:
    history: list[Any] = [_Counted("system")]
    reads = []
    for _ in range(120):
        history = [*history, _Counted("user"), _Counted("assistant")]
        _Counted.reads = 0
        above, below, replaced = split_history(history, None, lambda turns, old: len(turns))
        reads.append(_Counted.reads)
        assert above == history and below == [] and replaced == 0
    # a handful a turn, however long the history (before: every message, every turn)
    assert max(reads[10:]) <= 8, reads
    assert reads[-1] == reads[20], reads


def test_the_request_leaves_out_system_messages_wherever_they_come() -> None:
    for history in _histories(7, steps=80):
        extra = [Message.of("system", "late system note")] if len(history) % 5 == 0 else []
        history = [*history, *extra]
        assert conversation(history) == [m for m in history if m.role != "system"]
    # and reads only the messages added since the last request
    counted: list[Any] = []
    reads = []
    for _ in range(60):
        counted = [*counted, _Counted("user"), _Counted("assistant")]
        _Counted.reads = 0
        assert conversation(counted) == counted
        reads.append(_Counted.reads)
    assert reads[1:] == [2] * 59, reads


def _body(payload: dict[str, Any]) -> tuple[str, bytes | None]:
    text = json.dumps(payload, ensure_ascii=False)
    try:
        return text, text.encode("utf-8")
    except UnicodeEncodeError:
        return text, None


@pytest.mark.parametrize("seed", range(4))
def test_request_bodies_are_what_json_dumps_writes_as_the_history_changes(seed: int) -> None:
    rng = random.Random(seed)
    for history in _histories(seed):
        if rng.random() < 0.1:  # a lone surrogate (an old notebook's text) somewhere
            history = [*history, Message.of("user", "broken \ud800 text")]
        messages = [m for m in history if m.role != "system"]
        request = ChatRequest(messages=messages, system=rng.choice([None, "be brief ü"]))
        payload = chat_payload.build_payload("m", request, source="openai:test")
        afresh = [e for m in messages for e in chat_payload._entries(m, "openai:test")]
        system = [{"role": "system", "content": request.system}] if request.system else []
        assert payload["messages"] == system + afresh
        assert dumps_utf8(payload) == _body(payload)


def test_a_body_uses_each_entry_as_it_is_now_not_an_equal_one_remembered() -> None:
    first = Entry({"role": "user", "content": "a"})
    payload = {"messages": [{"role": "system", "content": "s"}, first]}
    assert dumps_utf8(payload) == _body(payload)
    # equal to the first (a dict compares equal whatever its keys' order), written otherwise
    same = Entry({"content": "a", "role": "user"})
    later = {"messages": [{"role": "system", "content": "s"}, same, Entry({"role": "user"})]}
    assert dumps_utf8(later) == _body(later)
    # the first list again, then it grown by one: resumed, byte for byte the same
    grown = {"messages": [{"role": "system", "content": "t"}, first, Entry({"content": "é"})]}
    assert dumps_utf8(payload) == _body(payload)
    assert dumps_utf8(grown) == _body(grown)
    # entries, then another item, then entries: each run joined on its own
    mixed = {"messages": [first, {"role": "x"}, same, Entry({"content": "\ud800"})], "n": 1}
    assert dumps_utf8(mixed) == _body(mixed)


def test_a_body_joins_only_its_new_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    joined = []
    real = Entry.json

    def counting(self: Entry) -> str:
        joined[-1] += 1
        return real(self)

    monkeypatch.setattr(Entry, "json", counting)
    entries: list[Any] = []
    for i in range(50):
        entries = [*entries, Entry({"role": "user", "content": f"q{i}"}), Entry({"a": i})]
        joined.append(0)
        payload = {"model": "m", "messages": [{"role": "system", "content": "s"}, *entries]}
        assert dumps_utf8(payload) == _body(payload)
    # the two new entries of each body, their text and bytes (before: every entry)
    assert joined[1:] == [joined[1]] * 49 and joined[1] <= 4, joined


def test_a_request_looks_up_only_its_new_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    lookups = []

    class Counting(type(chat_payload._wire_messages)):  # type: ignore[misc]
        def get(self, obj: Any, make: Any, extra: Any = None) -> Any:
            lookups[-1] += 1
            return super().get(obj, make, extra)

    monkeypatch.setattr(chat_payload, "_wire_messages", Counting(limit=2048))
    messages: list[Message] = []
    for i in range(60):
        messages = [*messages, *_turn(i)]
        lookups.append(0)
        request = ChatRequest(messages=messages, system="be brief")
        source = "".join(("openai:", "test"))  # a new string each turn: resumed all the same
        payload = chat_payload.build_payload("m", request, source=source)
        assert len(payload["messages"]) == len(messages) + 1
    # the two new messages of each turn (before: every message of the history)
    assert lookups[1:] == [2] * 59, lookups


@pytest.fixture
def cell_looks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Calls of ``order._is_cell`` (a message looked at as a cell turn's), counted into
    the list's last item: append a 0 before each step."""
    looked: list[int] = []
    real = order._is_cell

    def counting(message: Message) -> bool:
        looked[-1] += 1
        return real(message)

    monkeypatch.setattr(order, "_is_cell", counting)
    return looked


def test_a_cells_turn_looks_at_the_new_messages_only(
    notebook_shell: Any,
    fake_server: Any,
    cell_looks: list[int],
) -> None:
    looked = cell_looks
    shell = notebook_shell(f"openai-compatible:fake@{fake_server.openai_base_url}")
    for i in range(30):
        looked.append(0)
        result = shell.run_cell(f"%%chat\nquestion {i}", cell_id=f"cell-{i}")
        assert result.success, result.error_in_exec
    nbchat = shell.magics_manager.registry["ChatMagics"].nbchat
    assert len(nbchat.session().history) == 60
    # a re-run of a cell with its id still replaces its turn, in its place
    looked.append(0)
    assert shell.run_cell("%%chat\nquestion 4 again", cell_id="cell-4").success
    history = nbchat.session().history
    assert len(history) == 60 and history[8].text.endswith("question 4 again")
    # the cell turns' index is resumed: each cell looks at the last turn's two messages
    # (before: every message, to find its cell id among the earlier turns)
    assert looked[5:30] == [looked[5]] * 25 and looked[5] <= 4, looked


def _placed_afresh(turns: list[list[Message]], mine: int, page: dict[str, int]) -> int:
    """Where a new cell at ``mine`` on the page goes, as the placer found it before."""
    for index, group in enumerate(turns):
        first = group[0]
        other = first.meta.get("cell_id") if order._is_cell(first) else None
        if other and page.get(other) is not None and page[other] > mine:
            return index
    return len(turns)


def test_a_cell_on_the_saved_page_goes_before_the_first_cell_below_it() -> None:
    rng = random.Random(3)
    ids = [f"id{i}" for i in range(40)]
    history: list[Message] = []
    places = (-1, 0, 17, 29, 35)  # the asking cell's place (its id: "me")

    def saved() -> tuple[dict[str, int], dict[int, dict[str, int]]]:
        page = {cell: i for i, cell in enumerate(rng.sample(ids, 30))}  # 10 are not on it
        return page, {mine: {**page, "me": mine} for mine in places}  # kept while unsaved

    page, pages = saved()
    for step in range(120):
        if rng.random() < 0.1:  # the notebook saved with its cells moved: a new page
            page, pages = saved()
        if rng.random() < 0.15 and history:  # a rewrite in the middle: not a prefix any more
            history = history[: rng.randrange(len(history))]
        kind = "panel" if rng.random() < 0.2 else "cell"
        meta = {"source": kind, "cell_id": rng.choice(ids)} if kind == "cell" else {}
        history = [*history, Message.of("user", f"q{step}", meta=meta), _turn(step)[1]]
        turns = group_turns(history)
        for mine in places:
            place = order._placer("me", pages[mine])
            assert place(turns, None) == _placed_afresh(turns, mine, page)


def test_placing_a_cell_by_the_page_looks_at_the_new_turns_only(cell_looks: list[int]) -> None:
    looked = cell_looks
    page = {f"id{i}": i for i in range(100)}
    history: list[Message] = []
    for i in range(100):
        meta = {"source": "cell", "cell_id": f"id{i}"}
        history = [*history, Message.of("user", f"q{i}", meta=meta), _turn(i)[1]]
        looked.append(0)
        # the cell at the end of the page: after every turn (before: it looked at each)
        place = order._placer("id99", page)
        assert place(group_turns(history), None) == i + 1
    assert looked[1:] == [1] * 99, looked
