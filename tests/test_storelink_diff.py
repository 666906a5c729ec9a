"""StoreLink finds a write's new messages by identity when history only grew at its end
(a long session's write does not walk its history); every other change to history is
diffed in full, with the same answer the full diff gives."""

from __future__ import annotations

from jupychat import ChatSession
from jupychat.store import SessionStore
from jupychat.types import Message, Text


def _msg(text: str) -> Message:
    return Message(role="user", content=(Text(text),))


def _stored_texts(store: SessionStore, sid: str) -> list[str]:
    return [m["content"][0]["text"] for m in store.load(sid)["messages"]]


def test_the_quick_diff_agrees_with_the_full_one(tmp_path, monkeypatch):
    store = SessionStore(tmp_path / "sessions.db")
    chat = ChatSession("fake:diff", store=store)
    link = chat._link
    assert link is not None
    for text in ("a", "b", "c"):
        chat.append_message("user", text)
    full = link._diff_all
    walked: list[int] = []
    monkeypatch.setattr(link, "_diff_all", lambda h: walked.append(len(h)) or full(h))
    a, b, c = chat._history
    x, y = _msg("x"), _msg("y")
    cases = {
        "grown at the end": [a, b, c, x, y],  # the quick way
        "unchanged": [a, b, c],  # the quick way
        "one removed": [a, c],
        "one inserted": [a, x, b, c],
        "an equal copy": [a, Message(role="user", content=b.content, created_at=b.created_at), c],
        "a stored one again": [a, b, c, b],
        "cut short": [a],
        "reordered": [b, a, c],
    }
    for name, history in cases.items():
        walked.clear()
        assert link._diff(history) == full(history), name
        assert bool(walked) is (name not in ("grown at the end", "unchanged")), name
    chat._history = [a, x, c, y]  # written, then diffed quickly from there
    chat._persist()
    assert _stored_texts(store, chat.id) == ["a", "x", "c", "y"]
    walked.clear()
    chat.append_message("user", "z")
    assert not walked and _stored_texts(store, chat.id) == ["a", "x", "c", "y", "z"]


def test_a_resumed_or_synced_session_writes_only_its_new_messages(tmp_path):
    db = tmp_path / "sessions.db"
    chat = ChatSession("fake:diff", store=SessionStore(db))
    chat.append_message("user", "one")
    again = ChatSession.resume(chat.id, store=SessionStore(db))
    again.append_message("user", "two")  # resumed: its history as stored
    chat._sync()  # (as a turn does first): takes in "two"
    chat.append_message("user", "three")
    assert _stored_texts(SessionStore(db), chat.id) == ["one", "two", "three"]
    assert [m.text for m in chat.history] == ["one", "two", "three"]
