"""A turn can be placed inside the conversation (issue 21): the core and the store.

A notebook cell's turn keeps its place when the cell is re-run, and its request carries
only the turns above that place. Here the session's ``place`` option and the store's
ordering are checked with the fake provider and a real SQLite store; the notebook rules
(which place a cell gets) are in test_notebook_order.py.
"""

from __future__ import annotations

import sqlite3

import pytest

from jupychat import ChatError, ChatSession
from jupychat.providers.fake import FakeProvider, get_fake
from jupychat.store import SessionStore


@pytest.fixture
def fake() -> FakeProvider:
    provider = get_fake("order-tests")
    provider.reset()
    return provider


def _key(name: str):
    return lambda m: m.meta.get("cell") == name


def _keep_place(turns, old):
    """Back where the replaced turn was; a new turn at the end."""
    return len(turns) if old is None else old


def _ask(chat: ChatSession, name: str, text: str, place=_keep_place) -> None:
    chat.send(text, meta={"cell": name}, replace=_key(name), place=place)


def prompts(messages) -> list[str]:
    """The user messages' texts (Message objects, or stored dicts)."""
    out = []
    for m in messages:
        if isinstance(m, dict):
            if m["role"] == "user":
                out.append("".join(p.get("text", "") for p in m["content"]))
        elif m.role == "user":
            out.append(m.text)
    return out


def test_a_placed_rerun_keeps_its_place_and_sees_only_the_turns_above(fake):
    chat = ChatSession(fake)
    _ask(chat, "a", "A?")
    _ask(chat, "b", "B?")
    _ask(chat, "c", "C?")
    chat.send("panel question")
    _ask(chat, "a", "A again?")
    assert prompts(fake.requests[-1].messages) == ["A again?"]
    assert prompts(chat.history) == ["A again?", "B?", "C?", "panel question"]
    _ask(chat, "b", "B again?")
    assert prompts(fake.requests[-1].messages) == ["A again?", "B again?"]
    assert prompts(chat.history) == ["A again?", "B again?", "C?", "panel question"]
    assert len(chat.history) == 8


def test_a_new_turn_can_go_between_turns(fake):
    chat = ChatSession(fake)
    _ask(chat, "a", "A?")
    _ask(chat, "c", "C?")
    _ask(chat, "b", "B?", place=lambda turns, old: 1)
    assert prompts(fake.requests[-1].messages) == ["A?", "B?"]
    assert prompts(chat.history) == ["A?", "B?", "C?"]


def test_a_failed_placed_turn_changes_nothing(fake):
    chat = ChatSession(fake)
    _ask(chat, "a", "A?")
    _ask(chat, "b", "B?")
    before = chat.history
    fake.enqueue(error=RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        _ask(chat, "a", "A again?")
    assert chat.history == before


def test_a_placed_turn_never_goes_above_a_leading_system_message(fake):
    chat = ChatSession(fake)
    chat.append_message("system", "Be brief.")
    _ask(chat, "a", "A?")
    _ask(chat, "z", "Z?", place=lambda turns, old: 0)
    assert [m.role for m in chat.history][:1] == ["system"]
    assert prompts(chat.history) == ["Z?", "A?"]


def test_the_store_keeps_the_order_across_resume_and_many_reruns(fake, tmp_path):
    store = SessionStore(tmp_path / "s.db")
    chat = ChatSession(fake, store=store)
    for name in "abcd":
        _ask(chat, name, f"{name.upper()}?")
    chat.send("panel question")
    for i in range(80):  # the same middle turn again and again: its place must hold
        _ask(chat, "b", f"B {i}?")
    _ask(chat, "x", "X?", place=lambda turns, old: 1)
    expected = ["A?", "X?", "B 79?", "C?", "D?", "panel question"]
    assert prompts(chat.history) == expected
    again = ChatSession.resume(chat.id, store=store, model=fake)
    assert prompts(again.history) == expected
    assert prompts(store.load(chat.id)["messages"]) == expected
    assert [m.text for m in again.history] == [m.text for m in chat.history]


def test_a_second_process_sees_the_placed_order(fake, tmp_path):
    path = tmp_path / "s.db"
    chat = ChatSession(fake, store=SessionStore(path))
    for name in "abc":
        _ask(chat, name, f"{name.upper()}?")
    other = ChatSession.resume(chat.id, store=SessionStore(path), model=fake)
    _ask(chat, "a", "A again?")
    other.send("from elsewhere")  # syncs first: takes in the re-run, in its place
    assert prompts(other.history) == ["A again?", "B?", "C?", "from elsewhere"]
    chat.send("and here")
    assert prompts(chat.history) == ["A again?", "B?", "C?", "from elsewhere", "and here"]


def test_checkpoints_and_search_follow_the_placed_order(fake, tmp_path):
    store = SessionStore(tmp_path / "s.db")
    chat = ChatSession(fake, store=store)
    for name in "abc":
        _ask(chat, name, f"{name.upper()}?")
    _ask(chat, "a", "A again?")
    mark = chat.checkpoint("after the re-run")
    _ask(chat, "b", "B again?")
    chat.restore_checkpoint(mark)
    assert prompts(chat.history) == ["A again?", "B?", "C?"]
    again = ChatSession.resume(chat.id, store=store, model=fake)
    assert prompts(again.history) == ["A again?", "B?", "C?"]
    _ask(chat, "b", "B again?")
    [hit] = store.sessions(search="B again")
    # the match's index is its place in the conversation: after A again, A's answer
    assert hit["match_index"] == 2


def test_the_store_schema_has_the_order_column(tmp_path):
    ChatSession("fake", store=SessionStore(tmp_path / "s.db")).send("hi")
    with sqlite3.connect(tmp_path / "s.db") as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
    assert "place" in columns


def test_many_new_turns_at_one_spot_keep_their_order(fake, tmp_path):
    """Floating point runs out after ~50 halvings of one gap: the store numbers again."""
    store = SessionStore(tmp_path / "s.db")
    chat = ChatSession(fake, store=store)
    _ask(chat, "a", "A?")
    _ask(chat, "z", "Z?")
    for i in range(70):  # each new turn right below A: the gap above Z keeps halving
        _ask(chat, f"n{i}", f"N {i}?", place=lambda turns, old: 1)
    expected = ["A?", *[f"N {i}?" for i in reversed(range(70))], "Z?"]
    assert prompts(chat.history) == expected
    again = ChatSession.resume(chat.id, store=store, model=fake)
    assert prompts(again.history) == expected


def test_the_sessions_page_pages_in_the_conversation_order(fake, tmp_path):
    """The sessions page reads pages of messages (offset/limit): same order as memory."""
    store = SessionStore(tmp_path / "s.db")
    chat = ChatSession(fake, store=store)
    for name in "abc":
        _ask(chat, name, f"{name.upper()}?")
    chat.send("panel question")
    _ask(chat, "a", "A again?")
    pages = [
        store.load(chat.id, messages_offset=i, messages_limit=2)["messages"] for i in (0, 2, 4, 6)
    ]
    assert [prompts(p) for p in pages] == [["A again?"], ["B?"], ["C?"], ["panel question"]]
    [summary] = store.sessions()
    assert summary["title"] == "A?"  # the title stays the first question's


def test_a_placed_structured_turn_is_repaired_in_its_place(fake):
    """The repair of a cell's structured answer follows the first attempt, in its place."""
    chat = ChatSession(fake)
    _ask(chat, "a", "A?")
    _ask(chat, "b", "B?")
    chat.send("panel question")
    fake.enqueue("not json").enqueue('{"n": 4}')
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    data = chat.extract(
        "A as data?", schema, meta={"cell": "a"}, replace=_key("a"), place=_keep_place
    )
    assert data == {"n": 4}
    assert prompts(chat.history)[1].startswith("That answer does not match")
    assert prompts(chat.history)[0].startswith("A as data?")
    assert prompts(chat.history)[2:] == ["B?", "panel question"]
    repair_request = prompts(fake.requests[-1].messages)
    assert len(repair_request) == 2 and repair_request[0].startswith("A as data?")


def test_a_bad_place_is_one_clear_error_and_changes_nothing(fake):
    chat = ChatSession(fake)
    _ask(chat, "a", "A?")
    before = chat.history
    with pytest.raises(ChatError, match="place= must be a function"):
        chat.send("B?", place=3)
    with pytest.raises(ChatError, match="must return the index of a turn"):
        chat.send("B?", place=lambda turns, old: "top")
    assert chat.history == before
    chat.send("C?")  # the session is free again


def test_a_store_from_before_places_is_migrated_and_keeps_its_order(fake, tmp_path):
    """A session written before the places migration (no ``place``): same order, and a re-run of one of
    its turns keeps that turn's place."""
    from jupychat.store.migrations import MIGRATIONS, TABLE
    from jupychat.store.records import message_row

    path = tmp_path / "old.db"
    names = [name for name, _ in MIGRATIONS]
    places = next(i for i, name in enumerate(names) if name.endswith("_message_places"))
    before = MIGRATIONS[:places]  # (the number may change at merge: found by name)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute(f"CREATE TABLE {TABLE} (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, fn in before:  # the schema as an older jupychat left it
        fn(conn)
        conn.execute(f"INSERT INTO {TABLE} VALUES (?, 'then')", (name,))
    conn.execute(f"PRAGMA user_version = {len(before)}")
    conn.execute(
        "INSERT INTO sessions (id, title, created_at, updated_at, message_count, model) "
        "VALUES ('old', 'Old one', '2024-01-01T00:00:00+00:00', "
        "'2024-01-01T00:00:00+00:00', 6, 'fake:order-tests')"
    )
    turns = [("A?", "a"), ("B?", "b"), ("C?", "c")]
    rows = [pair for q, a in turns for pair in (("user", q), ("assistant", a))]
    for seq, (role, text) in enumerate(rows):
        meta = {"cell": text[0].lower()} if role == "user" else {}
        row = message_row({"role": role, "content": text, "meta": meta, "created_at": "then"})
        conn.execute(
            f"INSERT INTO messages (session_pk, seq, {', '.join(row._fields)}) "
            f"VALUES (1, ?, {', '.join('?' * len(row))})",
            (seq, *row),
        )
    conn.execute("COMMIT")
    conn.close()
    chat = ChatSession.resume("old", store=SessionStore(path), model=fake)
    assert prompts(chat.history) == ["A?", "B?", "C?"]
    _ask(chat, "b", "B again?")
    assert prompts(fake.requests[-1].messages) == ["A?", "B again?"]
    again = ChatSession.resume("old", store=SessionStore(path), model=fake)
    assert prompts(again.history) == ["A?", "B again?", "C?"]
    with sqlite3.connect(path) as conn:
        applied = [r[0] for r in conn.execute(f"SELECT name FROM {TABLE}")]
    assert applied == names
