"""The store under bad conditions: newer/foreign databases, read-only places, a full disk,
many writer processes at once, and writers killed with SIGKILL mid-transaction."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupychat.errors import StoreError
from jupychat.store import SessionStore
from jupychat.store.migrations import MIGRATIONS
from jupychat.types import Message, Usage
from store_kernels import read_only


def user(text: str) -> dict:
    return Message.of("user", text).to_dict()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(store: SessionStore) -> list[dict]:
    return [store.load(s["id"], with_ids=True) for s in store.sessions(limit=1000)]


def integrity(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.execute("INSERT INTO messages_fts(messages_fts) VALUES('integrity-check')")
        bad = conn.execute(
            "SELECT count(*) FROM sessions s WHERE message_count != "
            "(SELECT count(*) FROM messages m WHERE m.session_pk = s.pk "
            "AND m.superseded IS NULL)"
        ).fetchone()[0]
        assert bad == 0
    finally:
        conn.close()


@pytest.fixture
def filled(tmp_path):
    """A closed store file holding two sessions, and their records."""
    path = tmp_path / "sessions.db"
    with SessionStore(path) as store:
        for n in range(2):
            sid = store.create(title=f"s{n}", metadata={"n": n})
            store.append_messages(
                sid,
                [
                    user(f"question {n}"),
                    Message.of("assistant", f"answer {n}", usage=Usage(3, 4)).to_dict(),
                ],
            )
        records = snapshot(store)
    return path, records


# -- databases we must not touch -------------------------------------------------------


def test_newer_schema_is_refused_and_left_alone(filled, tmp_path):
    path, _ = filled
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO _jupychat_migrations VALUES ('m999_from_the_future', 'x')")
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    before = digest(path)
    store = SessionStore(path)
    for call in (store.sessions, lambda: store.create(title="x")):
        with pytest.raises(StoreError, match=r"newer jupychat.*upgrade jupychat") as info:
            call()
        assert "\n" not in str(info.value)
    store.close()
    assert digest(path) == before


def test_unknown_migration_name_is_refused(filled, tmp_path):
    path, _ = filled
    copy = tmp_path / "copy.db"  # a new file: not yet checked by this process
    shutil.copy(path, copy)
    conn = sqlite3.connect(copy)
    conn.execute(
        "UPDATE _jupychat_migrations SET name = 'm004_other_branch' WHERE name = 'm004_checkpoints'"
    )
    conn.commit()
    conn.close()
    before = digest(copy)
    with SessionStore(copy) as store, pytest.raises(StoreError, match="newer jupychat"):
        store.sessions()
    assert digest(copy) == before


def test_foreign_sqlite_and_non_sqlite_files(tmp_path):
    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    conn.commit()
    conn.close()
    before = digest(foreign)
    with SessionStore(foreign) as store, pytest.raises(StoreError, match="another program"):
        store.sessions()
    assert digest(foreign) == before
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    with SessionStore(junk) as store, pytest.raises(StoreError, match="not a SQLite database"):
        store.sessions()
    assert junk.read_bytes() == b"this is not a database at all" * 100
    folder = tmp_path / "folder.db"
    folder.mkdir()
    with SessionStore(folder / "x" / "..") as store, pytest.raises(StoreError, match="folder"):
        store.sessions()


# -- read-only places --------------------------------------------------------------------


def test_read_only_folder_for_a_new_store(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder):
        for path in (folder / "sessions.db", folder / "missing" / "sessions.db"):
            with (
                SessionStore(path) as store,
                pytest.raises(
                    StoreError, match=r"read-only|not permitted|permission denied"
                ) as info,
            ):
                store.create(title="x")
            assert "\n" not in str(info.value) and "JUPYCHAT_STORE" in str(info.value)
    assert list(folder.iterdir()) == []


def test_read_only_existing_store_keeps_its_data(filled):
    path, records = filled
    before = digest(path)
    with read_only(path, path.parent):
        with SessionStore(path) as store, pytest.raises(StoreError, match="read-only") as info:
            store.append_messages(records[0]["id"], [user("lost")])
        assert "\n" not in str(info.value)
    assert digest(path) == before
    with SessionStore(path) as store:
        assert snapshot(store) == records


# -- a full disk ---------------------------------------------------------------------------


def test_full_disk_loses_only_the_failed_call(filled):
    path, records = filled
    sid = records[0]["id"]
    store = SessionStore(path)
    # fault injection: cap the store's own connection's database size (SQLITE_FULL); the
    # cap is per connection and the store deliberately does not hand its connection out
    conn = store._db.connection()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big = "lorem ipsum " * 20_000
    calls = [
        lambda: store.append_messages(sid, [user("q"), user(big)]),
        lambda: store.create(title="new", messages=[user(big)]),
        lambda: store.save({**records[1], "messages": [user(big)]}),
        lambda: store.update_metadata(sid, {"blob": big}),
    ]
    for call in calls:
        with pytest.raises(StoreError, match="is full") as info:
            call()
        assert "\n" not in str(info.value)
    assert snapshot(store) == records
    conn.execute("PRAGMA max_page_count = 1073741823")
    store.append_messages(sid, [user("after the disk was freed")])
    assert store.summary(sid)["message_count"] == 3
    store.close()
    integrity(path)


# -- many processes ----------------------------------------------------------------------------

WRITER = r"""
import sys
from jupychat.errors import StoreError
from jupychat.store import SessionStore

path, shared, worker, turns = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
store = SessionStore(path)
try:
    store.create(id=shared, title="shared")
except StoreError as exc:
    assert "already exists" in str(exc), exc
own = store.create(title=f"worker {worker}")
for t in range(turns):
    for sid in (shared, own):
        store.append_messages(sid, [
            {"role": "user", "content": [{"type": "text", "text": f"w{worker} t{t} question"}]},
            {"role": "assistant", "content": [{"type": "text", "text": f"w{worker} t{t} answer"}],
             "usage": {"input_tokens": 3, "output_tokens": 5}},
        ], {"metadata": {"last": f"w{worker} t{t}"}})
store.close()
print(own)
"""


def test_eight_processes_append_to_one_store(tmp_path):
    path = tmp_path / "fresh" / "sessions.db"  # fresh: the migrations race too
    workers, turns = 8, 100
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), "shared", str(w), str(turns)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert err == ""
    own_ids = [out.strip() for out, _ in outputs]
    with SessionStore(path) as store:
        shared = store.load("shared")
        texts = [m["content"][0]["text"] for m in shared["messages"]]
        assert len(texts) == workers * turns * 2
        for w in range(workers):
            mine = [t for t in texts if t.startswith(f"w{w} ")]
            assert mine == [
                f"w{w} t{t} {kind}" for t in range(turns) for kind in ("question", "answer")
            ]
        for i in range(0, len(texts), 2):  # a turn is never split by another writer's turn
            assert texts[i].replace("question", "answer") == texts[i + 1]
        summary = store.summary("shared")
        assert (summary["input_tokens"], summary["output_tokens"]) == (
            workers * turns * 3,
            workers * turns * 5,
        )
        for w, sid in enumerate(own_ids):
            own = store.load(sid)
            assert len(own["messages"]) == turns * 2
            assert own["metadata"] == {"last": f"w{w} t{turns - 1}"}
        assert len(store.sessions(limit=100)) == workers + 1
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM _jupychat_migrations")]
    conn.close()
    assert len(names) == len(set(names)) == len(MIGRATIONS)
    integrity(path)


KILLED = r"""
import sys
from jupychat.store import SessionStore

path, sid, tag, per_turn = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = SessionStore(path)
filler = "lorem ipsum dolor sit amet " * 80
n = 0
while True:
    print(f"begin {n}", flush=True)
    store.append_messages(sid, [
        {"role": "user", "content": [{"type": "text", "text": f"{tag} turn {n} part {k} {filler}"}]}
        for k in range(per_turn)
    ])
    print(f"done {n}", flush=True)
    n += 1
"""


def test_sigkill_mid_transaction_keeps_every_completed_turn(tmp_path):
    path = tmp_path / "sessions.db"
    with SessionStore(path) as store:
        sid = store.create(title="crash test")
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    per_turn = 20
    completed: dict[str, int] = {}
    for round_ in range(4):
        tag = f"r{round_}"
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED, str(path), sid, tag, str(per_turn)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # started (imports done, store opening)
        assert first.startswith("begin"), proc.stderr.read() if proc.stderr else ""
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        # read through the same buffered file object as readline() above: communicate()
        # reads the raw pipe and would miss lines readline() had already buffered
        out = proc.stdout.read()
        lines = (first + out).splitlines()
        done = [int(x.split()[1]) for x in lines if x.startswith("done")]
        completed[tag] = len(done)

        integrity(path)
        with SessionStore(path) as store:
            texts = [m["content"][0]["text"].split(" part")[0] for m in store.load(sid)["messages"]]
        for t, count in completed.items():
            turns = [x for x in texts if x.startswith(f"{t} turn ")]
            assert len(turns) % per_turn == 0, f"a torn turn (seed {seed})"
            stored = len(turns) // per_turn
            # every reported turn is there; at most the one in flight was also committed
            assert count <= stored <= count + 1, f"seed {seed}"
            assert turns == [f"{t} turn {n}" for n in range(stored) for _ in range(per_turn)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_connection(tmp_path):
    import multiprocessing

    store = SessionStore(tmp_path / "sessions.db")
    sid = store.create(messages=[user("from the parent")])  # the parent's connection is open
    parent = store._db._conn

    def child() -> None:
        from jupychat.store.connection import current_pid

        assert current_pid() == os.getpid()  # the fork hook keeps the cached id true
        store.append_messages(sid, [user("from the child")])
        assert store._db._conn is not parent  # its own connection, not the parent's
        store.close()

    proc = multiprocessing.get_context("fork").Process(target=child)
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    store.append_messages(sid, [user("parent again")])  # the parent's connection still works
    texts = [m["content"][0]["text"] for m in store.load(sid)["messages"]]
    assert texts == ["from the parent", "from the child", "parent again"]
    store.close()
    integrity(tmp_path / "sessions.db")
