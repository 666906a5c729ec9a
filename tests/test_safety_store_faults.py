"""No turn is lost when the store cannot be written for a while (a full disk, a
read-only file, a held lock), when a value cannot be stored, or when the store file is
deleted or replaced while sessions are open: what was not saved is saved later, in
order and exactly once, and the user is told once, in one line.
"""

from __future__ import annotations

import os
import sqlite3
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest

from jupychat import ChatSession
from jupychat.providers.fake import get_fake
from jupychat.store import SessionStore
from store_kernels import NOTEBOOK, Kernel, active_turns, integrity, prompts_of, read_only, texts

# -- a store that cannot be written for a while -----------------------------------------

BIG = "lorem ipsum dolor sit amet " * 4000  # more than the free space in any page


@contextmanager
def fault(kind: str, store: SessionStore, path: Path):
    """Make ``store`` fail every write until the block ends."""
    if kind == "full":  # SQLITE_FULL: cap this connection's database size
        # fault injection: the cap is per connection, so it must be the store's own one,
        # which the store deliberately does not hand out
        conn = store._db.connection()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        try:
            yield
        finally:
            conn.execute("PRAGMA max_page_count = 1073741823")
    elif kind == "locked":  # another process holds the write lock
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    else:  # read-only file and folder (chattr +i: root ignores file modes)
        store.close()
        files = [path.parent, *(p for p in path.parent.iterdir() if p.name.startswith(path.name))]
        with read_only(*files):
            yield


@pytest.mark.parametrize("kind", ["full", "read-only", "locked"])
def test_turns_not_saved_during_a_fault_are_saved_later_in_order_exactly_once(tmp_path, kind):
    db = tmp_path / "sessions.db"
    store = SessionStore(db, timeout=0.05)
    fake = get_fake("faults")
    chat = ChatSession("fake:faults", store=store, notebook="/nb/faults.ipynb")
    chat.send("t0")
    with fault(kind, store, db), warnings.catch_warnings(record=True) as during:
        warnings.simplefilter("always")
        for n in (1, 2):
            fake.enqueue(f"a{n} {BIG}")
            chat.send(f"t{n}")
        chat.set_memory("seen", [1, 2])
        chat.send("t3 v1", meta={"cell_id": "c3"})  # a cell run while the store fails...
        chat.send("t3 v2", meta={"cell_id": "c3"}, replace=lambda m: m.meta.get("cell_id") == "c3")
    said = [str(w.message) for w in during]
    assert len(said) == 1 and "not saved" in said[0] and "\n" not in said[0], said
    with SessionStore(db) as other:  # nothing reached the store meanwhile
        assert texts(other.load(chat.id)["messages"]) == ["t0", "(fake model) You said: t0"]
    with warnings.catch_warnings(record=True) as after:
        warnings.simplefilter("always")
        chat.send("t4")
    assert [w for w in after if "not saved" in str(w.message)] == []
    assert any("saved again" in str(w.message) for w in after)
    expected = ["t0", "t1", "t2", "t3 v2", "t4"]
    with SessionStore(db) as other:
        stored = other.load(chat.id)
        assert [m for m in texts(stored["messages"]) if not m.startswith(("(fake", "a"))] == (
            expected
        )
        assert len(stored["messages"]) == 10 == other.summary(chat.id)["message_count"]
        assert stored["memory"] == {"seen": [1, 2]}
        # the first version of t3 was replaced before it could be saved: never written
        every = texts(other.load(chat.id, include_superseded=True)["messages"])
        assert "t3 v1" not in every and every.count("t1") == 1
        resumed = ChatSession.resume(chat.id, store=other)  # a kernel restart
        assert resumed.history == chat.history
    store.close()


# -- values JSON cannot hold never block later turns ---------------------------------------


def test_a_value_json_cannot_hold_does_not_stop_later_turns_being_saved(tmp_path):
    db = tmp_path / "sessions.db"
    chat = ChatSession("fake:json", store=SessionStore(db))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chat.set_memory("frame", object())  # kept in memory only
        chat.set_memory("ok", 1)
        chat.send("odd meta", meta={"when": float("nan"), "obj": object()})
        chat.send("plain")
        chat.set_memory("frame", object())  # still not storable: not said again
    said = [str(w.message) for w in caught]
    assert len(said) == 2 and all("JSON cannot store" in s and "\n" not in s for s in said)
    with SessionStore(db) as store:
        record = store.load(chat.id)
    assert [m["content"][-1]["text"] for m in record["messages"] if m["role"] == "user"] == [
        "odd meta",
        "plain",
    ]
    assert record["memory"] == {"ok": 1}
    assert record["messages"][0]["meta"]["when"] == "nan"
    assert isinstance(chat.get_memory("frame"), object) and chat.get_memory("ok") == 1
    chat.set_memory("frame", [1, 2])  # storable now
    with SessionStore(db) as store:
        assert store.load(chat.id)["memory"] == {"ok": 1, "frame": [1, 2]}


# -- the store file deleted while sessions are open ---------------------------------------


@pytest.mark.parametrize("removed", [("",), ("", "-wal", "-shm")])
def test_deleting_the_store_file_loses_no_turn(tmp_path, removed):
    db = tmp_path / "sessions.db"
    store = SessionStore(db)
    chat = ChatSession("fake:gone", store=store, notebook="/nb/gone.ipynb")
    side = ChatSession("fake:gone", store=store, notebook="/nb/gone.ipynb", name="side")
    chat.send("a")
    chat.set_metadata("project", "q3")
    side.send("x")
    chat.send("b")
    for suffix in removed:  # `rm sessions.db` (or `rm sessions.db*`)
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chat.send("c")
        side.send("y")
        chat.send("d")
    said = [str(w.message) for w in caught]
    assert len(said) == 2, said  # one line for each open session, once
    assert all("deleted" in s and str(db) in s and "\n" not in s for s in said)
    assert db.exists()
    with SessionStore(db) as fresh:
        record = fresh.load(chat.id)
        assert [m for m in texts(record["messages"]) if not m.startswith("(fake")] == [
            "a",
            "b",
            "c",
            "d",
        ]
        assert record["metadata"] == {"project": "q3"} and record["title"] == "a"
        assert [m for m in texts(fresh.load(side.id)["messages"]) if len(m) == 1] == ["x", "y"]
        assert ChatSession.resume(chat.id, store=fresh).history == chat.history
    store.close()
    integrity(db)


def test_two_kernels_keep_every_turn_when_the_store_file_is_deleted(tmp_path):
    db = tmp_path / "sessions.db"
    with SessionStore(db) as store:
        sid = store.create(notebook=NOTEBOOK, model="fake:echo")
    k0, k1 = Kernel(db, "k0"), Kernel(db, "k1")
    try:
        k0.run("k0-c0", "one")
        k1.run("k1-c0", "two")
        k0.run("k0-c1", "three")
        db.unlink()  # both kernels still have the old file open
        after = [k1.run("k1-c1", "four"), k0.run("k0-c2", "five"), k1.run("k1-c0", "two again")]
    finally:
        errors = [k.close() for k in (k0, k1)]
    assert all("Traceback" not in e for e in errors), errors
    said = [w for reply in after for w in reply["warnings"]]
    assert len(said) == 2 and all("deleted" in w and "\n" not in w for w in said), said
    with SessionStore(db) as store:
        prompts = [p for p, _ in active_turns(store, sid)]
        assert prompts == ["one", "two again", "three", "four", "five"]  # in its place
    integrity(db)


def test_a_store_file_replaced_while_open_keeps_both_files_sessions(tmp_path):
    db = tmp_path / "sessions.db"
    chat = ChatSession("fake:moved", store=SessionStore(db))
    chat.send("one")
    with SessionStore(tmp_path / "other.db") as other:
        theirs = other.create(
            title="from the other file", messages=[{"role": "user", "content": "x"}]
        )
    os.replace(tmp_path / "other.db", db)  # e.g. a backup copied back over the live file
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chat.send("two")
    assert len(caught) == 1 and "replaced" in str(caught[0].message)
    with SessionStore(db) as store:
        assert prompts_of(store, theirs) == ["x"]  # the old -wal did not leak into it
        assert prompts_of(store, chat.id) == ["one", "two"]
    integrity(db)
