"""A ``%%chat`` cell's turn and its recording are one write transaction (issue 22).

The turn's write waits (held, not queued) for the cell's recording to join it; the
recording runs in a savepoint, so its failure undoes only itself; the write starts once
the final display is shown, and is done before the cell returns. Counted on the real
SQLite store by tracing the statements of its connection.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

import pytest

from cell_run import run
from jupychat.notebook import get_chat
from jupychat.providers.fake import get_fake


@pytest.fixture
def shell(notebook_shell):
    return notebook_shell("fake:a", "/work/onetx.ipynb")


def traced(store) -> list[str]:
    """The statements the store's connection runs from now on (any thread)."""
    seen: list[str] = []
    lock = threading.Lock()

    def trace(sql: str) -> None:
        with lock:
            seen.append(sql.strip())

    store._db.connection().set_trace_callback(trace)
    return seen


def writes(seen: list[str]) -> int:
    """Write transactions, but the full-text catch-up the writer runs once the cell has
    returned (store.fts: it indexes the messages listed in messages_fts_pending)."""
    count, writing = 0, False
    for sql in seen:
        upper = sql.upper()
        if upper.startswith("BEGIN"):
            writing = upper.startswith("BEGIN IMMEDIATE")
            count += writing
        elif writing and upper.startswith("INSERT INTO MESSAGES_FTS (ROWID, TEXT) SELECT"):
            count, writing = count - 1, False
    return count


def recordings(store) -> list[str]:
    rows = store._db.read(lambda conn: conn.execute("SELECT body FROM recordings").fetchall())
    return [body for (body,) in rows]


def stored_texts(store, session_id: str) -> list[str]:
    return [str(m["content"]) for m in store.load(session_id)["messages"]]


def test_a_cell_writes_its_turn_and_its_recording_in_one_transaction(shell):
    chat = get_chat(shell)
    run(shell, "%%chat\nwarm up")  # the session exists in the store from here on
    store = chat.store
    seen = traced(store)
    get_fake("a").enqueue("the one answer")
    run(shell, "%%chat\none question")
    store._db.connection().set_trace_callback(None)
    assert writes(seen) == 1  # (two before: the turn's, then the recording's)
    # both in it, durable when the cell returned
    assert any("the one answer" in t for t in stored_texts(store, chat.session().id))
    assert sum("the one answer" in body for body in recordings(store)) == 1
    # and the turn counts as saved: the next write has nothing of it to send
    link = chat.session()._link
    assert link.flush(chat.session()) is None


def test_cells_in_a_row_each_write_once(shell):
    chat = get_chat(shell)
    run(shell, "%%chat\nwarm up")
    store = chat.store
    seen = traced(store)
    for n in range(3):
        get_fake("a").enqueue(f"answer {n}")
        run(shell, f"%%chat\nquestion {n}")
    store._db.connection().set_trace_callback(None)
    assert writes(seen) == 3
    assert all(sum(f"answer {n}" in b for b in recordings(store)) == 1 for n in range(3))


def test_a_failing_recording_insert_keeps_the_turn_stored(shell, caplog):
    chat = get_chat(shell)
    run(shell, "%%chat\nwarm up")
    store = chat.store

    def refuse(conn: sqlite3.Connection) -> None:  # a real failing INSERT, in SQL
        conn.execute(
            "CREATE TRIGGER no_recordings BEFORE INSERT ON recordings "
            "BEGIN SELECT RAISE(ABORT, 'recordings refused'); END"
        )

    store._db.write(refuse)
    seen = traced(store)
    get_fake("a").enqueue("kept all the same")
    with caplog.at_level(logging.WARNING):
        run(shell, "%%chat\nstore the turn")
    store._db.connection().set_trace_callback(None)
    assert writes(seen) == 1
    assert any("ROLLBACK TO SAVEPOINT" in sql.upper() for sql in seen)
    session = chat.session()
    assert any("kept all the same" in t for t in stored_texts(store, session.id))
    assert not any("kept all the same" in b for b in recordings(store))
    assert any(
        "recording not saved" in r.getMessage() and "recordings refused" in r.getMessage()
        for r in caplog.records
    )
    assert session._link.flush(session) is None  # the turn is saved, not kept for later


def test_a_failed_turn_write_still_writes_the_recording_alone(shell, monkeypatch):
    from jupychat.errors import StoreError

    chat = get_chat(shell)
    run(shell, "%%chat\nwarm up")
    store = chat.store
    commit = store.commit

    def failing(*args, **kwargs):
        raise StoreError("disk full")

    store.commit = failing
    try:
        get_fake("a").enqueue("recorded anyway")
        with pytest.warns(UserWarning, match="not saved for now"):
            run(shell, "%%chat\nfailing turn write")
    finally:
        store.commit = commit
    assert sum("recorded anyway" in b for b in recordings(store)) == 1
    session = chat.session()
    assert not any("recorded anyway" in t for t in stored_texts(store, session.id))
    assert session.history[-1].text == "recorded anyway"  # kept in memory for the next write


@pytest.mark.parametrize("replay", ["auto", "off"])
def test_the_turn_write_starts_once_the_final_display_is_shown(shell, monkeypatch, replay):
    """Not beside the display (it waits on ipykernel's IOPub thread, which a write
    holding the GIL slows down), and done before the cell returns."""
    from jupychat.notebook.render import StreamRenderer

    monkeypatch.setenv("JUPYCHAT_REPLAY", replay)
    chat = get_chat(shell)
    run(shell, "%%chat\nwarm up")
    link = chat.session()._link
    seen = traced(chat.store)
    at_display: list[tuple[object, object, int]] = []
    finish = StreamRenderer.finish

    def watched(self, *args, **kwargs):
        out = finish(self, *args, **kwargs)
        at_display.append((link._hold, link._joined, writes(list(seen))))
        return out

    monkeypatch.setattr(StreamRenderer, "finish", watched)
    get_fake("a").enqueue("shown")
    run(shell, "%%chat\nshow it")
    chat.store._db.connection().set_trace_callback(None)
    [(hold, joined, written)] = at_display
    assert hold is chat.session() and joined is not None  # held, with its recording
    assert written == 0  # nothing written yet when the answer was on screen
    assert writes(seen) == 1  # then the turn and its recording, in one transaction
    assert link._hold is None and link._joined is None
    assert "shown" in stored_texts(chat.store, chat.session().id)[-1]
    assert sum("shown" in body for body in recordings(chat.store)) == 1


def test_on_postgresql_a_cell_stores_its_turn_and_its_recording(
    notebook_shell, pg_url, monkeypatch
):
    # (PostgreSQL keeps the recording's own transaction: both are written, in order)
    monkeypatch.setenv("JUPYCHAT_STORE", pg_url)
    shell = notebook_shell("fake:a", "/work/onetx-pg.ipynb")
    chat = get_chat(shell)
    run(shell, "%%chat\nwarm up")
    get_fake("a").enqueue("on the server")
    run(shell, "%%chat\nask the server")
    store = chat.store
    assert type(store).__name__ == "PostgresStore"
    assert any("on the server" in t for t in stored_texts(store, chat.session().id))
    assert chat.session()._link.flush(chat.session()) is None
    assert sum("on the server" in body for body in recordings(store)) == 1


def test_before_its_turn_a_cell_checks_for_other_writers_with_one_statement(shell):
    from jupychat.store.sqlite import SessionStore
    from jupychat.types import Message

    chat = get_chat(shell)
    run(shell, "%%chat\nwarm up")
    store = chat.store
    seen = traced(store)
    get_fake("a").enqueue("nothing new elsewhere")
    run(shell, "%%chat\nfirst question")
    store._db.connection().set_trace_callback(None)
    assert not [sql for sql in seen if sql.upper() == "BEGIN"]  # no read transaction
    assert any(sql.startswith("SELECT revision FROM sessions") for sql in seen)
    # another process's write is still taken in before the next turn is sent
    session = chat.session()
    with SessionStore(store._db.path) as other:
        other.append_messages(
            session.id,
            [Message.of("user", "written elsewhere"), Message.of("assistant", "seen here")],
        )
    get_fake("a").enqueue("after the other write")
    run(shell, "%%chat\nsecond question")
    texts = [m.text for m in session.history]
    assert texts.index("seen here") < texts.index("second question")
    sent = get_fake("a").requests[-1]
    assert "written elsewhere" in str(sent)


def test_the_turn_write_runs_on_the_cells_thread_and_holds_a_ctrl_c_until_it_is_done(shell):
    """Nothing runs beside it, so no hand-over to the writer thread; a Ctrl-C that comes
    during it (here: sent from inside the store's commit) is raised once the write and
    what the session notes of it are done: stored once, never again."""
    import os
    import signal
    import time

    chat = get_chat(shell)
    run(shell, "%%chat\nwarm up")
    store = chat.store
    commit = store.commit
    threads: list[str] = []

    def interrupted(*args, **kwargs):
        threads.append(threading.current_thread().name)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the signal is in: the write goes on all the same
        return commit(*args, **kwargs)

    store.commit = interrupted
    try:
        get_fake("a").enqueue("kept through the interrupt")
        result = shell.run_cell("%%chat\ninterrupt the write")
    finally:
        store.commit = commit
    assert threads == [threading.main_thread().name]
    assert isinstance(result.error_in_exec, KeyboardInterrupt)  # raised, after the write
    session = chat.session()
    texts = stored_texts(store, session.id)
    assert sum("kept through the interrupt" in t for t in texts) == 1
    assert sum("kept through the interrupt" in b for b in recordings(store)) == 1
    assert session._link.flush(session) is None  # noted as saved: not written again
    get_fake("a").enqueue("next")
    run(shell, "%%chat\nnext")
    texts = stored_texts(store, chat.session().id)
    assert sum("kept through the interrupt" in t for t in texts) == 1
