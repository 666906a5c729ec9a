"""The store checkpoints its WAL itself, every few writes, and never inside a cell's wait.

SQLite's automatic checkpoint runs inside whichever ``COMMIT`` finds the WAL over 1,000
pages, so a ``%%chat`` cell waiting for its turn's write waited for it too (two
``fsync``\\ s, ~3-15 ms every ~50 turns). The store now checkpoints every
``CHECKPOINT_EVERY`` writes: at the end of the write that makes it due, or, for a
cell's writes aside, on the writer thread once the cell has been let go.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from IPython.utils.capture import capture_output

from jupychat.notebook import get_chat
from jupychat.notebook.replay import ReplayState
from jupychat.providers.fake import get_fake
from jupychat.store import SessionStore, connection, fts
from jupychat.types import Message


def wal_frames(path) -> int:
    """The frames in the WAL of the database at ``path`` (checkpointing them)."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        conn.close()


def twelve_turns(path) -> int:
    store = SessionStore(path)
    sid = store.create(model="fake:echo")
    for n in range(12):
        store.append_messages(
            sid, [Message.of("user", f"question {n}"), Message.of("assistant", f"answer {n}")]
        )
    frames = wal_frames(path)
    assert len(store.load(sid)["messages"]) == 24  # (nothing lost on the way)
    store.close()
    return frames


def test_the_store_checkpoints_its_wal_every_few_writes(tmp_path, monkeypatch):
    # (failed before: only SQLite's automatic checkpoint, at 1,000 WAL pages, ran)
    monkeypatch.setattr(connection, "CHECKPOINT_EVERY", 1000, raising=False)
    unchecked = twelve_turns(tmp_path / "a.db")
    monkeypatch.setattr(connection, "CHECKPOINT_EVERY", 5, raising=False)
    checked = twelve_turns(tmp_path / "b.db")
    # the last checkpoint came after write 10 of 13: the WAL holds the last three
    assert 0 < checked < unchecked / 3


def test_a_cell_does_not_wait_for_the_checkpoint_its_write_made_due(notebook_shell, monkeypatch):
    # (failed before: the checkpoint ran inside the turn's COMMIT, while the cell waited)
    shell = notebook_shell("fake:a", "/work/checkpoint.ipynb")
    with capture_output():
        assert shell.run_cell("%%chat\nwarm up").success
    chat = get_chat(shell)
    link = chat.session()._link
    # the writer indexes the warm-up's messages once it is let go (store.fts): let that
    # end before a checkpoint becomes due after every write
    deadline = time.monotonic() + 5
    while chat.store._db.read(fts.has_pending) and time.monotonic() < deadline:
        time.sleep(0.01)
    with chat.store._db._lock:  # (held by the writer until its idle work is done)
        pass
    monkeypatch.setattr(connection, "CHECKPOINT_EVERY", 1, raising=False)
    entered, release = threading.Event(), threading.Event()
    seen: dict[str, object] = {}
    real = getattr(connection.Database, "_checkpoint", None)

    def slow_checkpoint(self):
        seen["thread"] = threading.current_thread()
        seen["cell waiting"] = link._writer.pending
        seen["in the cell"] = chat.session()._aside is not None
        entered.set()
        release.wait(10)
        if real is not None:
            real(self)

    monkeypatch.setattr(connection.Database, "_checkpoint", slow_checkpoint, raising=False)
    # the turn's write is done well before the cell gives the writer its recording
    keep = ReplayState.keep

    def late_keep(self, *args, **kwargs):
        time.sleep(0.3)
        return keep(self, *args, **kwargs)

    monkeypatch.setattr(ReplayState, "keep", late_keep)
    get_fake("a").enqueue("the answer")
    started = time.monotonic()
    try:
        with capture_output():
            result = shell.run_cell("%%chat\na question")
        took = time.monotonic() - started
        assert result.success
        assert entered.wait(5), "no checkpoint ran after the turn's write"
    finally:
        release.set()
    assert took < 5  # the cell returned while the checkpoint was held
    assert seen["thread"] is not threading.main_thread()
    assert seen["cell waiting"] == 0  # settle() had let the cell go
    assert seen["in the cell"] is False  # not between the turn and its recording
    link.settle()
    stored = chat.store.load(chat.session().id)["messages"]
    assert any("the answer" in str(m["content"]) for m in stored)


@pytest.mark.parametrize("every", [1, 3])
def test_checkpoints_lose_nothing_and_change_no_content(tmp_path, monkeypatch, every):
    monkeypatch.setattr(connection, "CHECKPOINT_EVERY", every, raising=False)
    store = SessionStore(tmp_path / "s.db")
    sid = store.create(model="fake:echo", title="kept")
    for n in range(7):
        store.append_messages(sid, [Message.of("user", f"zebra {n}")])
    store.close()
    again = SessionStore(tmp_path / "s.db")
    assert [m["content"][0]["text"] for m in again.load(sid)["messages"]] == [
        f"zebra {n}" for n in range(7)
    ]
    assert [s["id"] for s in again.sessions(search="zebra")] == [sid]
    again.close()
