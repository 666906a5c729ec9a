"""The store is the source of truth: several processes share one session and no turn
is lost, no edit made elsewhere is reverted, and replaced turns are superseded, not
deleted (checkpoints still see them).

The multi-process tests run real IPython shells in child processes (``store_kernels``)
against one store file, so the parent can interleave them, rename the session in
between and read the store as the sessions page would.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from jupychat import ChatSession, StoreError
from jupychat.store import SessionStore
from store_kernels import NOTEBOOK, Kernel, active_turns, integrity, prompts_of, texts


def schedule(tag: str, turns: int, seed: int) -> list[tuple[str, str]]:
    """``turns`` new cells, and after every third one a re-run of an earlier cell."""
    rng = random.Random(seed)
    versions: dict[int, int] = {}
    cells = []
    for n in range(turns):
        versions[n] = 1
        cells.append((f"{tag}-c{n}", f"{tag} c{n} v1"))
        if n % 3 == 2:
            k = rng.randrange(n + 1)
            versions[k] += 1
            cells.append((f"{tag}-c{k}", f"{tag} c{k} v{versions[k]}"))
    return cells


def newest(cells: list[tuple[str, str]]) -> dict[str, str]:
    latest: dict[str, str] = {}
    for cell_id, prompt in cells:
        latest[cell_id] = prompt
    return latest


def audit(prompts: list[str], expected: dict[str, str], written: set[str]) -> dict[str, int]:
    """How many expected turns are missing, duplicated, or stale (an older version)."""
    counts = Counter(prompts)
    wanted = set(expected.values())
    return {
        "turns": len(wanted),
        "lost": sum(1 for p in wanted if counts[p] == 0),
        "duplicated": sum(counts[p] - 1 for p in wanted if counts[p] > 1),
        "stale": sum(counts[p] for p in written - wanted),
    }


def test_two_kernels_interleaved_lose_no_turn_and_keep_a_rename(tmp_path):
    db = tmp_path / "sessions.db"
    with SessionStore(db) as store:
        sid = store.create(notebook=NOTEBOOK, model="fake:echo")
    plans = {tag: schedule(tag, 25, seed) for tag, seed in (("p0", 1), ("p1", 2))}
    kernels = {tag: Kernel(db, tag) for tag in plans}
    store = SessionStore(db)
    unseen: list[tuple[str, int]] = []
    reverted: list[tuple[str, int]] = []
    try:
        steps = max(len(p) for p in plans.values())
        renamed_at = steps // 2
        for step in range(steps):
            if step == renamed_at:
                store.rename(sid, "Renamed in the sessions page")
            for tag, plan in plans.items():
                if step >= len(plan):
                    continue
                reply = kernels[tag].run(*plan[step])
                assert reply["id"] == sid
                assert reply["warnings"] == []
                stored = [p for p, _ in active_turns(store, sid)]
                # each kernel saw the other's turns before its own was built; a cell's
                # request carries the turns above its place (issue 21)
                above = stored[: stored.index(plan[step][1]) + 1]
                if reply["sent"] != above or reply["history"] != stored:
                    unseen.append((tag, step))
                if step >= renamed_at and "Renamed in the sessions page" not in (
                    reply["title"],
                    store.summary(sid)["title"],
                ):
                    reverted.append((tag, step))
    finally:
        errors = {tag: k.close() for tag, k in kernels.items()}
    assert all("Traceback" not in e for e in errors.values()), errors
    expected = {**newest(plans["p0"]), **newest(plans["p1"])}
    written = {prompt for plan in plans.values() for _, prompt in plan}
    prompts = [p for p, _ in active_turns(store, sid)]
    figures = audit(prompts, expected, written)
    print("two interleaved kernels:", figures, "unseen:", len(unseen), "reverted:", len(reverted))
    assert figures == {"turns": 50, "lost": 0, "duplicated": 0, "stale": 0}
    assert unseen == [] and reverted == []
    assert len(prompts) == 50 == store.summary(sid)["message_count"] // 2
    assert store.summary(sid)["title"] == "Renamed in the sessions page"
    # every replaced version is still in the database, marked superseded
    everything = store.load(sid, include_superseded=True)["messages"]
    old = [m for m in everything if m.get("superseded")]
    assert len(everything) == len(old) + 100
    assert {m["content"][-1]["text"] for m in old if m["role"] == "user"} == written - set(
        expected.values()
    )
    store.close()


def test_two_kernels_running_at_once_lose_no_turn(tmp_path):
    db = tmp_path / "sessions.db"
    with SessionStore(db) as store:
        sid = store.create(notebook=NOTEBOOK, model="fake:echo")
    plans = {tag: schedule(tag, 25, seed) for tag, seed in (("q0", 3), ("q1", 4))}
    kernels = {tag: Kernel(db, tag, pause=0.02) for tag in plans}
    replies: dict[str, list[dict]] = {}

    def drive(tag: str) -> None:
        kernel = kernels[tag]
        for cell in plans[tag]:
            kernel.send(*cell)
        replies[tag] = [json.loads(kernel.readline()) for _ in plans[tag]]

    threads = [threading.Thread(target=drive, args=(tag,)) for tag in plans]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(240)
    finally:
        errors = {tag: k.close() for tag, k in kernels.items()}
    assert all("Traceback" not in e for e in errors.values()), errors
    for tag in plans:
        assert all(r["ok"] and r["id"] == sid and not r["warnings"] for r in replies[tag]), tag
    expected = {**newest(plans["q0"]), **newest(plans["q1"])}
    written = {prompt for plan in plans.values() for _, prompt in plan}
    with SessionStore(db) as store:
        prompts = [p for p, _ in active_turns(store, sid)]
        figures = audit(prompts, expected, written)
        print("two concurrent kernels:", figures)
        assert figures == {"turns": 50, "lost": 0, "duplicated": 0, "stale": 0}
        assert store.summary(sid)["message_count"] == 100


def test_a_rename_in_the_sessions_api_survives_the_kernels_next_turns(tmp_path):
    pytest.importorskip("jupyter_server")
    import httpx  # noqa: F401  (the helpers need it)

    sys.path.insert(0, str(Path(__file__).parent))
    from jupychat_server_helpers import run_jupyter

    db = tmp_path / "store" / "sessions.db"
    with run_jupyter(tmp_path / "jupyter", store_path=db) as server:
        kernel = Kernel(db, "k")
        try:
            first = kernel.run("k-c0", "what is in the data?")
            sid = first["id"]
            with server.client() as http:
                response = http.patch(
                    server.api(f"sessions/{sid}"), json={"title": "Data questions"}
                )
                assert response.status_code == 200, response.text
                kernel.run("k-c1", "and the nulls?")
                kernel.run("k-c0", "what is in the data, again?")  # a re-run
                after = http.get(server.api(f"sessions/{sid}")).json()
        finally:
            kernel.close()
    assert after["title"] == "Data questions"
    # the re-run keeps its place (issue 21)
    assert [m["content"][-1]["text"] for m in after["messages"] if m["role"] == "user"] == [
        "what is in the data, again?",
        "and the nulls?",
    ]


# -- what one process does never removes what another wrote ------------------------------


@pytest.fixture
def two(tmp_path):
    """One session open in two 'processes' (two store connections), and its id."""
    db = tmp_path / "sessions.db"
    first = ChatSession("fake:two", store=SessionStore(db), notebook="/nb/two.ipynb")
    first.send("mine", meta={"cell_id": "c1"})
    second = ChatSession.resume(first.id, store=SessionStore(db))
    return first, second, db


def test_clear_and_remove_turns_keep_turns_written_elsewhere(two):
    first, second, db = two
    second.send("theirs, unseen by the first")
    first.clear()  # first has not seen second's turn: only its own turns go
    with SessionStore(db) as store:
        assert prompts_of(store, first.id) == ["theirs, unseen by the first"]
    first.send("after clear", meta={"cell_id": "c2"})
    assert prompts_of(first) == ["theirs, unseen by the first", "after clear"]
    second.send("theirs again")
    assert first.remove_turns(lambda m: m.meta.get("cell_id") == "c2") == 1
    with SessionStore(db) as store:
        assert prompts_of(store, first.id) == ["theirs, unseen by the first", "theirs again"]
        # cleared and removed turns are superseded, not deleted
        every = store.load(first.id, include_superseded=True)["messages"]
        gone = [m["content"][-1]["text"] for m in every if m.get("superseded")]
        assert [t for t in gone if not t.startswith("(fake")] == ["mine", "after clear"]
        assert store.summary(first.id)["message_count"] == 4
        assert store.sessions(search="mine") == [] and store.sessions(search="again")
        exported = store.export(first.id, db.parent / "out.json")
        assert "after clear" not in exported.read_text()


def test_memory_metadata_and_title_changed_elsewhere_survive(two):
    first, second, db = two
    with SessionStore(db) as store:  # the sessions page / another program
        store.update_metadata(first.id, {"reviewed": True})
        store.rename(first.id, "Kept title")
    second.set_memory("from_second", 2)
    first.set_metadata("owner", "ana")  # sends only this key
    first.set_memory("from_first", 1)
    first.send("next")
    second.send("and next")
    with SessionStore(db) as store:
        record = store.load(first.id)
    assert record["title"] == "Kept title"
    assert record["metadata"] == {"reviewed": True, "owner": "ana"}
    assert record["memory"] == {"from_second": 2, "from_first": 1}
    assert second.title == "Kept title" and second.get_metadata("owner") == "ana"
    assert second.get_memory("from_first") == 1
    # a key removed here is removed there, and other keys stay
    second.clear_memory(["from_first"])
    first.send("third")
    assert first.list_memory() == ["from_second"]


def test_rerun_in_one_process_replaces_only_that_turn(two):
    first, second, db = two
    second.send("theirs")
    first.send("mine v2", meta={"cell_id": "c1"}, replace=lambda m: m.meta.get("cell_id") == "c1")
    second.send("theirs 2")
    with SessionStore(db) as store:
        assert prompts_of(store, first.id) == ["theirs", "mine v2", "theirs 2"]
    assert prompts_of(first) == ["theirs", "mine v2"]
    first.send("mine 3")
    assert prompts_of(first) == ["theirs", "mine v2", "theirs 2", "mine 3"]


def test_a_quiet_store_costs_one_lookup(two):
    first, second, _db = two
    store = first.store
    seen = store.changes(first.id).revision  # the revision the first one wrote last
    assert store.changes(first.id, since=seen) is None
    second.send("moved")
    snap = store.changes(first.id, since=seen, known={1, 2})
    assert snap is not None and snap.order[:2] == [1, 2] and set(snap.messages) == {3, 4}


# -- attaching an older copy of a stored session ----------------------------------------------


def test_attaching_an_older_copy_keeps_the_stored_turns(tmp_path):
    db = tmp_path / "sessions.db"
    store = SessionStore(db)
    live = ChatSession("fake:copy", store=store)
    live.send("a")
    exported = live.save(tmp_path / "copy.json")  # a JSON copy, taken now
    live.send("b")
    live.set_metadata("from_live", True)
    older = ChatSession.restore(exported)
    older.send("c, only in the copy")
    older.attach_store(SessionStore(db))
    assert prompts_of(older) == ["a", "b", "c, only in the copy"]
    with SessionStore(db) as other:
        assert prompts_of(other, live.id) == ["a", "b", "c, only in the copy"]
        assert other.load(live.id)["metadata"] == {"from_live": True}
    live.send("d")
    assert prompts_of(live) == ["a", "b", "c, only in the copy", "d"]


# -- paging and search count active messages only -------------------------------------------


def test_paging_and_search_positions_skip_superseded_messages(tmp_path):
    store = SessionStore(tmp_path / "sessions.db")
    chat = ChatSession("fake:pages", store=store)
    for n in range(4):
        chat.send(f"question {n}", meta={"cell_id": f"c{n}"})
    chat.send(
        "question zero again",
        meta={"cell_id": "c0"},
        replace=lambda m: m.meta.get("cell_id") == "c0",
    )
    stored = store.load(chat.id)["messages"]
    assert [m["content"][-1]["text"] for m in stored[::2]] == [
        "question 1",
        "question 2",
        "question 3",
        "question zero again",
    ]
    assert store.load(chat.id, messages_offset=-2)["messages"] == stored[-2:]
    assert store.load(chat.id, messages_offset=2, messages_limit=2)["messages"] == stored[2:4]
    (hit,) = store.sessions(search="again")
    assert hit["match_index"] == 6 and stored[6]["content"][-1]["text"] == "question zero again"
    (zero,) = store.sessions(search="zero")
    assert (zero["id"], zero["match_index"]) == (chat.id, 6)
    assert [h["id"] for h in store.sessions(search='"question 0"')] == []
    store.close()


# -- checkpoints see exactly what they saw --------------------------------------------------


def test_checkpoints_restore_exactly_what_they_saw_after_reruns_and_other_writers(two):
    first, second, db = two
    mark = first.checkpoint("one turn")
    saw = [m.to_dict() for m in first.history]
    second.send("theirs")
    first.send("mine v2", meta={"cell_id": "c1"}, replace=lambda m: m.meta.get("cell_id") == "c1")
    later = first.checkpoint("after the re-run")
    later_saw = first.store.load(first.id)["messages"]
    first.clear()
    first.restore_checkpoint(mark)
    assert [m.to_dict() for m in first.history] == saw
    with SessionStore(db) as store:
        assert store.load(first.id)["messages"] == saw
        store.restore_checkpoint(first.id, later)
        assert store.load(first.id)["messages"] == later_saw
        store.restore_checkpoint(first.id, mark)
        assert store.load(first.id)["messages"] == saw


def test_save_never_drops_turns_it_did_not_see(tmp_path):
    store = SessionStore(tmp_path / "sessions.db")
    sid = store.create(messages=[{"role": "user", "content": "one"}])
    snap = store.changes(sid)
    record = {**snap.record, "messages": [snap.messages[i] for i in snap.order]}
    store.append_messages(sid, [{"role": "user", "content": "written meanwhile"}])
    with pytest.raises(StoreError, match="changed in the store since") as info:
        store.save({**record, "messages": []}, expected_revision=snap.revision)
    assert "\n" not in str(info.value)
    assert prompts_of(store, sid) == ["one", "written meanwhile"]
    store.save({**record, "messages": []})  # a deliberate rewrite: superseded, not deleted
    assert prompts_of(store, sid) == []
    kept = store.load(sid, include_superseded=True)["messages"]
    assert [m["content"][0]["text"] for m in kept] == ["one", "written meanwhile"]
    store.close()


def test_a_store_from_before_revisions_is_migrated_and_its_checkpoints_still_restore(tmp_path):
    from jupychat.store.migrations import MIGRATIONS, TABLE
    from jupychat.store.records import message_row

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN")
    conn.execute(f"CREATE TABLE {TABLE} (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, fn in MIGRATIONS[:4]:  # the schema as jupychat wrote it before m005
        fn(conn)
        conn.execute(f"INSERT INTO {TABLE} VALUES (?, 'then')", (name,))
    conn.execute("PRAGMA user_version = 4")
    conn.execute(
        "INSERT INTO sessions (id, title, created_at, updated_at, message_count) "
        "VALUES ('old', 'Old one', '2024-01-01T00:00:00+00:00', '2024-01-01T00:00:00+00:00', 4)"
    )
    words = ["q1", "a1", "q2", "a2"]
    for seq, text in enumerate(words):
        role = "user" if seq % 2 == 0 else "assistant"
        row = message_row({"role": role, "content": text, "created_at": "2024-01-01T00:00:00Z"})
        conn.execute(
            f"INSERT INTO messages (session_pk, seq, {', '.join(row._fields)}) "
            f"VALUES (1, ?, {', '.join('?' * len(row))})",
            (seq, *row),
        )
    snapshot = json.dumps(
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "rewritten"}],
                "created_at": "2024-01-01T00:00:00.000000+00:00",
            }
        ]
    )
    conn.execute(
        "INSERT INTO checkpoints (session_pk, label, created_at, message_count, state, messages) "
        "VALUES (1, 'prefix', 'then', 2, '{}', NULL), (1, 'copied', 'then', 1, '{}', ?)",
        (snapshot,),
    )
    conn.execute("COMMIT")
    conn.close()
    with SessionStore(path) as store:
        assert prompts_of(store, "old") == ["q1", "q2"]
        store.append_messages("old", [{"role": "user", "content": "q3"}])
        prefix, copied = (c["id"] for c in store.list_checkpoints("old"))
        store.restore_checkpoint("old", prefix)
        assert texts(store.load("old")["messages"]) == ["q1", "a1"]
        store.restore_checkpoint("old", copied)
        assert texts(store.load("old")["messages"]) == ["rewritten"]
        store.restore_checkpoint("old", prefix)
        assert texts(store.load("old")["messages"]) == ["q1", "a1"]
        assert store.summary("old")["message_count"] == 2
    integrity(path)
