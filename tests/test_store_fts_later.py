"""Messages are indexed for full-text search after their write, and search is exactly as
complete as when they were indexed in it: before a search, on the store writer once a
cell has returned, and (read-only store, lock held) through a temporary index."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cell_run import run
from jupychat.notebook import get_chat
from jupychat.providers.fake import get_fake
from jupychat.store import SessionStore, migrations
from jupychat.types import Message
from store_kernels import integrity, read_only


def user(text: str) -> dict:
    return Message.of("user", text).to_dict()


def pending(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM messages_fts_pending ORDER BY id")]


def found(store: SessionStore, words: str) -> list[tuple[str, str]]:
    return [(s["id"], s["snippet"]) for s in store.sessions(search=words)]


# -- a notebook cell ----------------------------------------------------------------------


@pytest.fixture
def shell(notebook_shell):
    return notebook_shell("fake:fts", "/work/fts.ipynb")


def test_a_cells_turn_is_found_right_after_the_cell_and_indexed_by_the_writer(shell, tmp_path):
    path = tmp_path / "sessions.db"
    chat = get_chat(shell)
    run(shell, "%%chat\nwarm up")
    get_fake("fts").enqueue("an okapi answers")
    run(shell, "%%chat\nwhere do quokkas live?")
    sid = chat.session().id
    # the writer indexes once the cell has let it go, without any search
    deadline = time.monotonic() + 5
    while pending(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pending(path) == []
    get_fake("fts").enqueue("a narwhal answers")
    run(shell, "%%chat\nand the axolotl?")
    # right after the cell returned, whatever the writer did since
    assert [i for i, _ in found(chat.store, "axolotl")] == [sid]
    assert [i for i, _ in found(chat.store, "narwhal")] == [sid]
    assert [i for i, _ in found(chat.store, "quokkas")] == [sid]
    assert [i for i, _ in found(chat.store, "okapi")] == [sid]
    integrity(path)


def test_the_writer_waits_for_the_notebook_to_rest_before_its_upkeep(shell, tmp_path, monkeypatch):
    """Cells run one after another (Run All) do not pay for indexing beside them: the
    writer indexes once no new work came for UPKEEP_IDLE seconds, all cells' rows at once."""
    import jupychat._storewriter as storewriter

    monkeypatch.setattr(storewriter, "UPKEEP_IDLE", 1.5)
    path = tmp_path / "sessions.db"
    run(shell, "%%chat\nwarm up")
    run(shell, "%%chat\nfirst of a run")
    first = pending(path)
    run(shell, "%%chat\nsecond of a run")
    both = pending(path)
    assert first and len(both) > len(first)  # nothing indexed while the cells kept coming
    deadline = time.monotonic() + 10
    while pending(path) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pending(path) == []  # then all at once, without a search
    integrity(path)


def test_a_run_of_cells_longer_than_the_upkeep_wait_still_keeps_it_for_the_end(
    shell, tmp_path, monkeypatch
):
    """Each cell writes its turn itself (on its own thread, not through the writer's
    queue): that is new work all the same, so the wait for rest starts again."""
    import jupychat._storewriter as storewriter

    monkeypatch.setattr(storewriter, "UPKEEP_IDLE", 0.4)
    path = tmp_path / "sessions.db"
    run(shell, "%%chat\nwarm up")
    counts = []
    for n in range(5):  # 5 x 0.25 s: three times the upkeep's wait, no gap as long
        time.sleep(0.25)
        run(shell, f"%%chat\ncell {n} of a slow run")
        counts.append(len(pending(path)))
    assert counts == sorted(counts) and counts[0] < counts[-1]  # nothing indexed meanwhile
    deadline = time.monotonic() + 10
    while pending(path) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pending(path) == []
    integrity(path)


# -- plain writes, other processes ----------------------------------------------------------


def test_a_write_leaves_its_messages_pending_and_search_indexes_them(tmp_path):
    path = tmp_path / "s.db"
    with SessionStore(path) as store:
        sid = store.create(
            title="t", messages=[user("hello capybara"), Message.of("user", "").to_dict()]
        )
        assert len(pending(path)) == 1  # the empty message is never indexed
        assert found(store, "capybara") == [(sid, "hello **capybara**")]
        assert pending(path) == []
    integrity(path)


def test_a_message_written_by_another_process_is_found_here(tmp_path):
    path = tmp_path / "s.db"
    store = SessionStore(path)
    sid = store.create(title="here", messages=[user("first words")])
    assert found(store, "first") == [(sid, "**first** words")]  # this connection is open
    code = textwrap.dedent(
        f"""
        from jupychat.store import SessionStore
        from jupychat.types import Message
        with SessionStore({str(path)!r}) as store:
            store.append_messages({sid!r}, [Message.of("user", "a wombat from elsewhere").to_dict()])
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert pending(path) != []
    assert found(store, "wombat") == [(sid, "a **wombat** from elsewhere")]
    assert pending(path) == []
    store.close()
    integrity(path)


def test_plain_writes_index_with_their_periodic_checkpoint(tmp_path, monkeypatch):
    from jupychat.store import connection

    monkeypatch.setattr(connection, "CHECKPOINT_EVERY", 5)
    path = tmp_path / "s.db"
    with SessionStore(path) as store:
        sid = store.create(title="t")
        for n in range(3):
            store.append_messages(sid, [user(f"note {n}")])
        assert len(pending(path)) == 3
        store.append_messages(sid, [user("the fifth write")])  # the 5th write: catch up
        assert pending(path) == []
    integrity(path)


# -- deletes and edits of pending and indexed rows --------------------------------------


def test_deleting_and_superseding_pending_and_indexed_messages_keeps_the_index_sound(tmp_path):
    path = tmp_path / "s.db"
    with SessionStore(path) as store:
        old = store.create(title="old", messages=[user("indexed ibex"), user("indexed yak")])
        both = store.create(title="both", messages=[user("early emu")])
        assert found(store, "ibex")  # indexed from here on
        new = store.create(title="new", messages=[user("pending ibex"), user("pending yak")])
        store.append_messages(both, [user("late emu")])
        assert len(pending(path)) == 3
        # supersede one indexed and one pending message (edits write a new row)
        for sid in (old, new):
            record = store.load(sid)
            record["messages"] = [*record["messages"][:1], user("replaced gnu")]
            store.save(record)
        integrity(path)
        assert sorted(i for i, _ in found(store, "gnu")) == sorted([old, new])
        assert found(store, "yak") == []
        store.delete(both)  # one indexed row and one pending row
        store.delete(new)
        integrity(path)
        assert found(store, "emu") == []
        assert [i for i, _ in found(store, "ibex")] == [old]
    assert pending(path) == []
    integrity(path)


def test_triggers_on_pending_and_indexed_rows_including_a_reused_id(tmp_path):
    """Raw SQL (the store never rewrites a message's text): an update or delete of a row
    FTS5 never saw issues no FTS5 'delete'; a deleted last row's id, given again, is
    pending, not taken for indexed."""
    path = tmp_path / "s.db"
    with SessionStore(path) as store:
        sid = store.create(title="t", messages=[user("alpha one"), user("beta two")])
        found(store, "alpha")  # both indexed
    conn = sqlite3.connect(path, isolation_level=None)
    spk = conn.execute("SELECT pk FROM sessions").fetchone()[0]

    def add(seq: int, text: str) -> int:
        return conn.execute(
            "INSERT INTO messages (session_pk, seq, role, text, created_at) "
            "VALUES (?, ?, 'user', ?, 'now')",
            (spk, seq, text),
        ).lastrowid

    a, b = 1, 2
    c = add(10, "gamma three")  # pending
    conn.execute("UPDATE messages SET text = 'alpha changed' WHERE id = ?", (a,))  # indexed
    conn.execute("UPDATE messages SET text = 'gamma changed' WHERE id = ?", (c,))  # pending
    conn.execute("UPDATE messages SET text = '' WHERE id = ?", (b,))  # indexed -> empty
    integrity(path)
    conn.execute("DELETE FROM messages WHERE id = ?", (c,))  # the last row, pending
    assert add(11, "delta four") == c  # its id again: pending
    conn.execute("DELETE FROM messages WHERE id = ?", (c,))
    integrity(path)
    d = add(12, "epsilon five")
    with SessionStore(path) as store:
        assert [i for i, _ in found(store, "epsilon")] == [sid]  # indexed now
    conn.execute("DELETE FROM messages WHERE id = ?", (d,))  # the last row, indexed
    assert add(13, "zeta six") == d  # its id again
    conn.execute("UPDATE messages SET text = 'zeta seven' WHERE id = ?", (d,))
    integrity(path)
    with SessionStore(path) as store:
        assert found(store, "alpha") == [(sid, "**alpha** changed")]
        assert found(store, "zeta seven") == [(sid, "**zeta** **seven**")]
        for gone in ("beta", "gamma", "delta", "epsilon", "six"):
            assert found(store, gone) == [], gone
    conn.close()
    integrity(path)


# -- a store from before this migration --------------------------------------------------


def fts_rows(path: Path, words: list[str]) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        return {
            w: conn.execute(
                "SELECT rowid, rank, snippet(messages_fts, 0, '[', ']', '…', 12) "
                "FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid",
                (w,),
            ).fetchall()
            for w in words
        }
    finally:
        conn.close()


def test_a_store_indexed_in_its_writes_is_migrated_and_searches_the_same(tmp_path, monkeypatch):
    names = [name for name, _ in migrations.MIGRATIONS]
    later = names.index("m008_messages_fts_later")
    path = tmp_path / "old.db"
    words = ["ibex", "yak", "ibex yak", '"indexed yak"', "replaced", "gnu*", "gone"]
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:later])
    with SessionStore(path) as store:  # as an older jupychat wrote it (indexed in writes)
        a = store.create(title="a", messages=[user("indexed ibex"), user("indexed yak")])
        b = store.create(title="b", messages=[user("yak yak ibex"), user("gnus")])
        record = store.load(a)
        record["messages"] = [*record["messages"][:1], user("replaced gnu")]
        store.save(record)
        store.delete(store.create(title="c", messages=[user("ibex gone")]))
    before = fts_rows(path, words)  # what the old search matched and ranked
    assert before["ibex"] and before["gnu*"] and not before["gone"]
    monkeypatch.undo()
    with SessionStore(path) as store:
        assert sorted(i for i, _ in found(store, "ibex")) == sorted([a, b])
        assert [i for i, _ in found(store, "yak")] == [b]  # a's yak is superseded
        assert pending(path) == []
        assert fts_rows(path, words) == before
        with sqlite3.connect(path) as conn:
            applied = [r[0] for r in conn.execute("SELECT name FROM _jupychat_migrations")]
        assert applied == names
        store.delete(a)  # its rows were indexed by the old triggers
        assert [i for i, _ in found(store, "ibex")] == [b]
    integrity(path)


# -- a search that cannot write ----------------------------------------------------------


@pytest.fixture
def unindexed(tmp_path):
    """A closed store with one indexed and one pending message."""
    path = tmp_path / "s.db"
    with SessionStore(path) as store:
        sid = store.create(title="t", messages=[user("an indexed llama")])
        found(store, "llama")
        store.append_messages(sid, [user("a pending llama and an alpaca")])
    assert len(pending(path)) == 1
    return path, sid


def test_a_read_only_store_still_finds_its_pending_messages(unindexed):
    path, sid = unindexed
    with read_only(path, path.parent):
        with SessionStore(path) as store:
            assert found(store, "alpaca") == [(sid, "a pending llama and an **alpaca**")]
            hits = store.sessions(search="llama")
            assert [h["id"] for h in hits] == [sid] and hits[0]["match_index"] == 1
            assert found(store, "indexed") == [(sid, "an **indexed** llama")]
    assert len(pending(path)) == 1  # nothing written
    integrity(path)


def test_a_search_does_not_wait_for_another_writer_and_finds_pending_messages(unindexed):
    path, sid = unindexed
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's long write
    try:
        with SessionStore(path, timeout=5.0) as store:
            start = time.monotonic()
            assert found(store, "alpaca") == [(sid, "a pending llama and an **alpaca**")]
            assert time.monotonic() - start < 2
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert len(pending(path)) == 1
    with SessionStore(path) as store:
        assert found(store, "alpaca") == [(sid, "a pending llama and an **alpaca**")]
    assert pending(path) == []
    integrity(path)
