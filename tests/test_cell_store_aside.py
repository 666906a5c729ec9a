"""A ``%%chat`` cell writes its turn to the store once the answer is shown, durably.

The write runs on the cell's thread right after the final display, before the cell
returns; the store's upkeep waits for a writer thread; a failing write warns on the
cell's thread and loses nothing.
"""

from __future__ import annotations

import threading
import warnings

import pytest

from cell_run import run
from jupychat.errors import StoreError
from jupychat.notebook import get_chat
from jupychat.providers.fake import get_fake


@pytest.fixture
def shell(notebook_shell):
    return notebook_shell("fake:a", "/work/aside.ipynb")


def test_the_store_write_runs_once_the_answer_is_shown_and_ends_before_the_cell(shell, monkeypatch):
    from jupychat.notebook.render import StreamRenderer

    chat = get_chat(shell)
    run(shell, "%%chat\nwarm up")  # the session exists in the store from here on
    store = chat.store
    shown = threading.Event()
    seen: dict[str, object] = {}
    finish = StreamRenderer.finish

    def watched_finish(self, *args, **kwargs):  # the final display of the answer
        finish(self, *args, **kwargs)
        if "the answer" in self.text:
            shown.set()

    commit = store.commit

    def watched_commit(*args, **kwargs):
        seen["thread"] = threading.current_thread()
        seen["shown_before"] = shown.is_set()  # (first written, then shown: old code)
        return commit(*args, **kwargs)

    monkeypatch.setattr(StreamRenderer, "finish", watched_finish)
    store.commit = watched_commit
    try:
        get_fake("a").enqueue("the answer")
        out = run(shell, "%%chat\na question")
    finally:
        store.commit = commit
    assert any("the answer" in o.data.get("text/plain", "") for o in out.outputs)
    # on the cell's own thread: nothing runs beside it, a hand-over only costs wake-ups
    assert seen["thread"] is threading.main_thread()
    assert seen["shown_before"] is True
    # durable when the cell returned: a fresh read of the file has the turn
    stored = [m["content"] for m in store.load(chat.session().id)["messages"]]
    assert any("the answer" in str(c) for c in stored)
    recordings = store._db.read(lambda conn: conn.execute("SELECT body FROM recordings").fetchall())
    assert sum("the answer" in body for (body,) in recordings) == 1


def test_a_failing_write_warns_on_the_cells_thread_and_keeps_the_turn(shell):
    chat = get_chat(shell)
    run(shell, "%%chat\nwarm up")
    store = chat.store
    commit = store.commit

    def failing(*args, **kwargs):
        raise StoreError("disk full")

    store.commit = failing
    try:
        get_fake("a").enqueue("kept in memory")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run(shell, "%%chat\nsave me")
    finally:
        store.commit = commit
    messages = [str(w.message) for w in caught]
    assert any("not saved for now" in m and "disk full" in m for m in messages)
    session = chat.session()
    assert session.history[-1].text == "kept in memory"
    # the next turn's write stores the kept one too, in order
    get_fake("a").enqueue("later")
    run(shell, "%%chat\nnext")
    texts = [str(m["content"]) for m in store.load(session.id)["messages"]]
    assert [t for t in texts if "kept in memory" in t or "later" in t][-2:] == [
        next(t for t in texts if "kept in memory" in t),
        next(t for t in texts if "later" in t),
    ]


def test_the_upkeep_runs_on_one_writer_thread_reused_by_cells_and_an_idle_one_ends(
    shell, monkeypatch
):
    """Turn writes run on the cell's thread; indexing their messages for search waits for
    a writer thread, once the notebook rests (not beside the next cell)."""
    import time

    from jupychat import _storewriter
    from jupychat.store.fts import PENDING

    chat = get_chat(shell)
    seen: list[threading.Thread] = []
    commit = type(chat.store).commit

    def watched(self, *args, **kwargs):
        seen.append(threading.current_thread())
        return commit(self, *args, **kwargs)

    def pending() -> int:
        sql = f"SELECT count(*) FROM {PENDING}"
        return int(chat.store._db.read(lambda conn: conn.execute(sql).fetchone()[0]))

    monkeypatch.setattr(type(chat.store), "commit", watched)
    writers = []
    for n in range(3):
        run(shell, f"%%chat\nquestion {n}")
        writers.append(chat.session()._link._writer.thread)
    assert seen and all(t is threading.main_thread() for t in seen)
    assert len(chat.session().history) == 6  # every turn stored and kept
    assert writers[0] is not None and len(set(writers)) == 1  # no thread started per cell
    deadline = time.monotonic() + 5
    while pending() and time.monotonic() < deadline:  # after UPKEEP_IDLE
        time.sleep(0.02)
    assert pending() == 0
    # an idle writer ends after WORKER_IDLE seconds; the next cell starts another
    link = chat.session()._link
    monkeypatch.setattr(_storewriter, "WORKER_IDLE", 0.05)
    link.aside(lambda: None)
    link.settle()
    while link._writer.thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert link._writer.thread is None and not writers[0].is_alive()
    run(shell, "%%chat\none more")
    assert link._writer.thread is not None and link._writer.thread is not writers[0]


def test_a_field_changed_while_a_write_aside_runs_is_written_by_the_next_write(shell, monkeypatch):
    chat = get_chat(shell)
    run(shell, "%%chat\nwarm up")
    session = chat.session()
    store = chat.store
    commit = type(store).commit

    def slow_commit(self, *args, **kwargs):
        done = commit(self, *args, **kwargs)
        session.title = "renamed during the write"  # e.g. from another thread meanwhile
        return done

    monkeypatch.setattr(type(store), "commit", slow_commit)
    run(shell, "%%chat\nsecond")
    monkeypatch.setattr(type(store), "commit", commit)
    session._persist()  # the next write
    stored = store.load(session.id)
    assert stored["title"] == "renamed during the write"


def test_writes_aside_see_the_config_file_as_their_turn_does(tmp_path, monkeypatch):
    # the turn looked at the config file once (config.settled); its store writes on the
    # worker use that look instead of their own stat per scrubbed text
    from jupychat import config, secrets
    from jupychat._storelink import StoreLink
    from jupychat.store import SessionStore

    monkeypatch.setenv("JUPYCHAT_CONFIG", str(tmp_path / "config.toml"))
    looks: list[threading.Thread] = []
    stat_mtime = config._stat_mtime

    def counted() -> float | None:
        looks.append(threading.current_thread())
        return stat_mtime()

    monkeypatch.setattr(config, "_stat_mtime", counted)
    link = StoreLink(SessionStore(tmp_path / "sessions.db"))
    key = "zq-mid-turn-9f8e7d6c5b4a"
    seen: list[tuple[threading.Thread, str]] = []

    def work() -> None:
        seen.append((threading.current_thread(), secrets.scrub_text(f"key {key}")))

    here = threading.current_thread()
    with config.settled():
        config.load_file()  # the turn's one look
        monkeypatch.setenv("ZQ_API_KEY", key)  # exported mid-turn: still caught
        link.aside(work)
        link.settle()
    assert looks == [here]
    assert seen[0][0] is not here and seen[0][1] == "key [redacted]"
    link.aside(work)  # outside a turn the worker looks for itself
    link.settle()
    assert len(looks) == 2 and looks[1] is seen[1][0]
