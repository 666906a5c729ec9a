"""SessionStore: records round-trip, titles, listing, search, edits, copies, checkpoints."""

from __future__ import annotations

import sqlite3
import threading
import uuid

import pytest

from jupychat.errors import StoreError
from jupychat.store import SessionStore, default_store_path, resolve_store_path
from jupychat.store.migrations import MIGRATIONS
from jupychat.types import ContextBlock, Message, Text, ToolCall, ToolResult, Usage


def user(text: str, **kw) -> dict:
    return Message.of("user", text, **kw).to_dict()


def reply(text: str, tokens: tuple[int, int] = (0, 0), **kw) -> dict:
    return Message.of(
        "assistant", text, model="fake:echo", usage=Usage(*tokens), finish_reason="stop", **kw
    ).to_dict()


def record(**fields) -> dict:
    base = {
        "schema": "jupychat.session",
        "version": 1,
        "id": uuid.uuid4().hex,
        "title": None,
        "name": None,
        "notebook": None,
        "created_at": "2024-05-01T10:00:00.000000+00:00",
        "updated_at": "2024-05-01T10:05:00.000000+00:00",
        "model": "fake:echo",
        "system_prompt": "Be brief.",
        "messages": [],
        "memory": {},
        "metadata": {},
        "tools": [],
        "max_steps": 10,
        "settings": {"temperature": 0.2, "max_tokens": None},
    }
    base.update(fields)
    return base


def rich_messages() -> list[dict]:
    return [
        Message(
            "user",
            (ContextBlock("df", "DataFrame 3x2: a int, b str"), Text("Summarise df")),
            created_at="2024-05-01T10:00:01.000000+00:00",
            meta={"cell": "c1"},
        ).to_dict(),
        Message(
            "assistant",
            (ToolCall("call_1", "describe", {"name": "df", "rows": 3}),),
            created_at="2024-05-01T10:00:02.000000+00:00",
            model="fake:echo",
            usage=Usage(12, 4, 2, 1),
            finish_reason="tool_calls",
            reasoning="look first",
        ).to_dict(),
        Message(
            "tool",
            (ToolResult("call_1", "describe", "3 rows", is_error=False),),
            created_at="2024-05-01T10:00:03.000000+00:00",
        ).to_dict(),
        Message(
            "assistant",
            (Text("It has **3** rows. ünïcode ✓"),),
            created_at="2024-05-01T10:00:04.000000+00:00",
            model="fake:echo",
            usage=Usage(20, 8),
            finish_reason="stop",
            interrupted=True,
        ).to_dict(),
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """The same conformance tests run on both backends."""
    if request.param == "sqlite":
        where = tmp_path / "store" / "sessions.db"
    else:
        where = request.getfixturevalue("pg_url")
    with SessionStore(where) as s:
        s.test_url = where  # for raw_count()
        yield s
        if request.param == "postgresql":  # the sessions really are in PostgreSQL
            assert raw_count(s, "sessions") == len(s.sessions(limit=500))


def raw_count(store, table: str) -> int:
    """Rows in a store table, read behind the store's back (superseded ones included)."""
    if isinstance(store.test_url, str):
        import psycopg

        with psycopg.connect(store.test_url) as conn:
            return conn.execute(f"SELECT count(*) FROM jupychat.{table}").fetchone()[0]
    conn = sqlite3.connect(store.path)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


# -- paths and opening ---------------------------------------------------------------


def test_path_resolution_order(tmp_path, monkeypatch):
    assert resolve_store_path(tmp_path / "a.db") == tmp_path / "a.db"
    monkeypatch.setenv("JUPYCHAT_STORE", str(tmp_path / "env.db"))
    assert resolve_store_path() == tmp_path / "env.db"
    assert SessionStore().path == tmp_path / "env.db"
    monkeypatch.delenv("JUPYCHAT_STORE")
    (tmp_path / "config.toml").write_text(f'store = "{tmp_path / "file.db"}"\n')
    assert resolve_store_path() == tmp_path / "file.db"
    (tmp_path / "config.toml").write_text("")
    assert resolve_store_path() == default_store_path()
    assert default_store_path().name == "sessions.db"
    folder = tmp_path / "folder"
    folder.mkdir()
    assert resolve_store_path(folder) == folder / "sessions.db"


def test_open_is_lazy_and_creates_missing_folders(tmp_path):
    path = tmp_path / "deep" / "er" / "sessions.db"
    store = SessionStore(path)
    assert not path.parent.exists()
    assert store.sessions() == []
    assert path.exists()
    store.close()


def test_schema_is_migrated_once_and_recorded(tmp_path):
    store = SessionStore(tmp_path / "sessions.db")
    store.sessions()
    conn = sqlite3.connect(store.path)
    names = [r[0] for r in conn.execute("SELECT name FROM _jupychat_migrations ORDER BY rowid")]
    assert names == [name for name, _ in MIGRATIONS]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    # A second store on the same file finds everything applied and adds nothing.
    with SessionStore(store.path) as again:
        again.sessions()
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT count(*) FROM _jupychat_migrations").fetchone()[0] == len(
        MIGRATIONS
    )
    conn.close()


def test_memory_store_works():
    with SessionStore(":memory:") as s:
        sid = s.create(messages=[user("hi")])
        assert s.load(sid)["messages"][0]["content"][0]["text"] == "hi"


# -- create / save / load --------------------------------------------------------------


def test_record_round_trips_field_for_field(store):
    rec = record(
        title="My title",
        name="analysis",
        notebook="/work/nb.ipynb",
        messages=rich_messages(),
        memory={"goal": "churn", "nested": {"k": [1, 2]}},
        metadata={"owner": "ana", "n": 3},
        tools=["describe", "peek"],
        future_field={"kept": True},
    )
    sid = store.create(rec)
    assert sid == rec["id"]
    loaded = store.load(sid)
    assert loaded == rec
    # Messages rebuild into equal Message values.
    assert [Message.from_dict(m) for m in loaded["messages"]] == [
        Message.from_dict(m) for m in rec["messages"]
    ]


def test_create_from_keywords_and_message_objects(store):
    sid = store.create(model="fake:echo", messages=[Message.of("user", "Hello")], name="n1")
    loaded = store.load(sid)
    assert len(sid) == 32 and loaded["name"] == "n1" and loaded["title"] == "Hello"
    assert loaded["created_at"] <= loaded["updated_at"]
    with pytest.raises(StoreError, match="already exists"):
        store.create(id=sid)


def test_timestamps_are_normalised_to_utc(store):
    sid = store.create(
        record(created_at="2024-05-01T12:00:00+02:00", updated_at="2024-05-01T10:00:00Z")
    )
    loaded = store.load(sid)
    assert loaded["created_at"] == "2024-05-01T10:00:00.000000+00:00"
    assert loaded["updated_at"] == "2024-05-01T10:00:00.000000+00:00"


def test_append_messages_commits_a_turn(store):
    sid = store.create(record())
    ids = store.append_messages(sid, [user("What is 2 + 2?"), reply("4", (10, 2))])
    ids += store.append_messages(
        sid, [user("and 3 + 3?"), reply("6", (14, 3))], {"memory": {"x": 1}, "model": "fake:two"}
    )
    assert len(ids) == len(set(ids)) == 4 and all(i.startswith("msg_") for i in ids)
    loaded = store.load(sid, with_ids=True)
    assert [m["id"] for m in loaded["messages"]] == ids
    assert [m["content"][0]["text"] for m in loaded["messages"]] == [
        "What is 2 + 2?",
        "4",
        "and 3 + 3?",
        "6",
    ]
    assert loaded["memory"] == {"x": 1} and loaded["model"] == "fake:two"
    summary = store.summary(sid)
    assert summary["message_count"] == 4
    assert (summary["input_tokens"], summary["output_tokens"]) == (24, 5)
    assert summary["updated_at"] > "2024-05-01T10:05:00.000000+00:00"


def test_append_accepts_the_session_summary_as_updates(store):
    rec = record()
    sid = store.create(rec)
    updates = {k: v for k, v in rec.items() if k != "messages"}
    updates.update(
        title="Chosen", metadata={"a": 1}, updated_at="2030-01-01T00:00:00+00:00", new_key=5
    )
    store.append_messages(sid, [user("first prompt")], updates)
    loaded = store.load(sid)
    assert loaded["title"] == "Chosen" and loaded["metadata"] == {"a": 1}
    assert loaded["updated_at"] == "2030-01-01T00:00:00.000000+00:00"
    assert loaded["new_key"] == 5
    with pytest.raises(StoreError, match="cannot hold messages"):
        store.append_messages(sid, [], {"messages": []})
    with pytest.raises(StoreError, match="not " + sid):
        store.append_messages(sid, [], {"id": "other"})


def test_save_meta_updates_fields_only(store):
    rec = record(messages=[user("hello")])
    sid = store.create(rec)
    store.save_meta({**rec, "title": "Renamed", "metadata": {"k": "v"}, "messages": []})
    loaded = store.load(sid)
    assert loaded["title"] == "Renamed" and loaded["metadata"] == {"k": "v"}
    assert len(loaded["messages"]) == 1


def test_automatic_title_from_first_prompt(store):
    long = (
        "  \n   Please   explain the difference between a list and a tuple in Python "
        "in detail\nmore"
    )
    sid = store.create(record())
    assert store.load(sid)["title"] is None
    store.append_messages(sid, [Message.of("tool", "x").to_dict(), user(long)])
    title = store.load(sid)["title"]
    assert title.startswith("Please explain the difference") and title.endswith("…")
    assert len(title) <= 60 and "\n" not in title
    store.append_messages(sid, [user("Second prompt")])
    assert store.load(sid)["title"] == title  # the first prompt keeps it
    assert store.rename(sid, "  My   own title ") == "My own title"
    assert store.load(sid)["title"] == "My own title"
    assert store.rename(sid, None) == title  # back to automatic
    short = store.create(messages=[user("Short one")])
    assert store.load(short)["title"] == "Short one"


def test_save_rewrites_history_and_keeps_the_common_prefix(store):
    rec = record(messages=[user("one"), reply("uno"), user("two"), reply("dos")])
    sid = store.create(rec)
    before = store.load(sid, with_ids=True)["messages"]
    rec2 = {**rec, "messages": [*rec["messages"][:2], user("three"), reply("tres")]}
    store.save(rec2)
    after = store.load(sid, with_ids=True)["messages"]
    assert [m["id"] for m in after[:2]] == [m["id"] for m in before[:2]]
    assert [m["content"][0]["text"] for m in after] == ["one", "uno", "three", "tres"]
    assert {r["id"] for r in store.sessions(search="dos")} == set()
    assert [r["id"] for r in store.sessions(search="tres")] == [sid]
    store.save({**rec, "messages": []})  # clear
    assert store.load(sid)["messages"] == [] and store.summary(sid)["message_count"] == 0
    # save() of an unknown id inserts it
    new = record(messages=[user("fresh")])
    assert store.save(new) == new["id"] and store.exists(new["id"])


def test_load_pages_messages(store):
    sid = store.create(messages=[user(f"m{i}") for i in range(10)])
    texts = lambda r: [m["content"][0]["text"] for m in r["messages"]]  # noqa: E731
    assert texts(store.load(sid, messages_offset=2, messages_limit=3)) == ["m2", "m3", "m4"]
    assert texts(store.load(sid, messages_offset=-2)) == ["m8", "m9"]
    assert texts(store.load(sid, messages_offset=20)) == []


def test_invalid_input_is_a_one_line_error_and_changes_nothing(store):
    sid = store.create(record(messages=[user("keep me")]))
    before = store.load(sid)
    bad_calls = [
        lambda: store.append_messages(sid, [{"role": "robot", "content": []}]),
        lambda: store.append_messages(sid, [user("ok"), {"content": "no role"}]),
        lambda: store.append_messages(
            sid, [user("ok"), {"role": "user", "content": [{"type": "video"}]}]
        ),
        lambda: store.append_messages(sid, ["just a string"]),
        lambda: store.append_messages(sid, [user("ok")], {"memory": {"f": object()}}),
        lambda: store.append_messages(sid, [user("ok")], {"metadata": {"nan": float("nan")}}),
        lambda: store.append_messages(sid, [user("ok")], {"tools": "describe"}),
        lambda: store.append_messages(sid, [user("ok")], {"updated_at": "yesterday"}),
        lambda: store.create(record(id="has space")),
        lambda: store.create(record(max_steps="ten")),
        lambda: store.save({"messages": []}),
        lambda: store.fork(sid, at=5),
        lambda: store.fork(sid, at=-1),
        lambda: store.merge([sid, sid]),
        lambda: store.sessions(filter_metadata={'we"ird': 1}),
    ]
    for call in bad_calls:
        with pytest.raises(StoreError) as info:
            call()
        assert "\n" not in str(info.value)
    assert store.load(sid) == before
    assert len(store.sessions()) == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.load("nope"),
        lambda s: s.summary("nope"),
        lambda s: s.append_messages("nope", [user("x")]),
        lambda s: s.delete("nope"),
        lambda s: s.rename("nope", "t"),
        lambda s: s.update_metadata("nope", {"a": 1}),
        lambda s: s.get_metadata("nope"),
        lambda s: s.export("nope", "/tmp/never-written.json"),
        lambda s: s.copy("nope"),
        lambda s: s.fork("nope", at=0),
        lambda s: s.merge(["nope"]),
        lambda s: s.checkpoint("nope"),
        lambda s: s.restore_checkpoint("nope", 1),
        lambda s: s.list_checkpoints("nope"),
    ],
)
def test_unknown_session_id(store, call):
    with pytest.raises(StoreError, match=r"^no session nope; list them with %chat sessions$"):
        call(store)


# -- listing and search ---------------------------------------------------------------


def test_list_orders_by_updated_and_filters(store):
    a = store.create(
        record(
            notebook="/nb/a.ipynb",
            name="alpha",
            metadata={"cat": "support", "pri": 1, "ok": True},
            updated_at="2024-01-01T00:00:00Z",
        )
    )
    b = store.create(
        record(
            notebook="/nb/b.ipynb",
            metadata={"cat": "support", "pri": 2},
            updated_at="2024-01-02T00:00:00Z",
        )
    )
    c = store.create(
        record(
            notebook="/nb/a.ipynb",
            name="alpha",
            metadata={"cat": "sales", "tags": ["x"]},
            updated_at="2024-01-03T00:00:00Z",
        )
    )
    assert [s["id"] for s in store.sessions()] == [c, b, a]
    assert [s["id"] for s in store.sessions(limit=1, offset=1)] == [b]
    assert [s["id"] for s in store.sessions(filter_metadata={"cat": "support"})] == [b, a]
    assert [s["id"] for s in store.sessions(filter_metadata={"cat": "support", "pri": 2})] == [b]
    assert [s["id"] for s in store.sessions(filter_metadata={"pri": "2"})] == []
    assert [s["id"] for s in store.sessions(filter_metadata={"ok": True})] == [a]
    assert [s["id"] for s in store.sessions(filter_metadata={"tags": ["x"]})] == [c]
    assert [s["id"] for s in store.sessions(notebook="/nb/a.ipynb")] == [c, a]
    by_name = store.sessions(name="alpha", filter_metadata={"cat": "support"})
    assert [s["id"] for s in by_name] == [a]
    assert store.latest(notebook="/nb/a.ipynb")["id"] == c
    assert store.latest(name="alpha")["id"] == c
    assert store.latest(notebook="/nb/none.ipynb") is None
    store.append_messages(a, [user("bump")])
    assert store.latest()["id"] == a
    summary = store.sessions()[0]
    assert set(summary) - {"owner"} == {  # PostgreSQL also names the owner
        "id",
        "title",
        "name",
        "notebook",
        "model",
        "created_at",
        "updated_at",
        "message_count",
        "input_tokens",
        "output_tokens",
        "metadata",
    }


def test_full_text_search_ranks_and_snippets(store):
    one = store.create(
        messages=[user("How do I plot a histogram with matplotlib?"), reply("Use plt.hist(data).")]
    )
    two = store.create(
        messages=[user("histogram histogram histogram bins"), reply("Pick the bins.")]
    )
    three = store.create(messages=[user("Unrelated question about SQL joins")])
    store.create(
        messages=[Message.of("user", [ContextBlock("df", "histogram in context only")]).to_dict()]
    )
    hits = store.sessions(search="histogram")
    assert [h["id"] for h in hits] == [
        two,
        one,
    ]  # more matches rank higher; context blocks are not indexed
    assert "**histogram**" in hits[1]["snippet"] and hits[1]["match_index"] == 0
    assert [h["id"] for h in store.sessions(search="plt")] == [one]
    assert [h["id"] for h in store.sessions(search="histogram matplotlib")] == [one]
    assert [h["id"] for h in store.sessions(search='"sql joins"')] == [three]
    assert [h["id"] for h in store.sessions(search="hist*", limit=5)] == [two, one]
    assert [h["id"] for h in store.sessions(search="HISTOGRAM", notebook="/x")] == []
    # FTS syntax in user text is treated as words, never an error
    for weird in ['"unbalanced', "AND OR NOT", "col:val", "(x", "*", "-", "NEAR(a b)"]:
        assert isinstance(store.sessions(search=weird), list)
    assert len(store.sessions(search="   ")) == 4  # blank: no search, the plain listing
    store.delete(two)
    assert [h["id"] for h in store.sessions(search="histogram")] == [one]
    if not isinstance(store.test_url, str):
        conn = sqlite3.connect(store.path)
        conn.execute("INSERT INTO messages_fts(messages_fts) VALUES('integrity-check')")
        conn.close()


# -- metadata, rename, delete ------------------------------------------------------------


def test_update_metadata_merges_and_deletes(store):
    sid = store.create(metadata={"a": 1, "b": 2})
    assert store.update_metadata(sid, {"b": None, "c": {"d": 3}}) == {"a": 1, "c": {"d": 3}}
    assert store.get_metadata(sid) == {"a": 1, "c": {"d": 3}}
    with pytest.raises(StoreError):
        store.update_metadata(sid, {"x": {1, 2}})
    assert store.get_metadata(sid) == {"a": 1, "c": {"d": 3}}


def test_delete_removes_everything(store):
    sid = store.create(messages=[user("gone soon")])
    store.checkpoint(sid)
    keep = store.create(messages=[user("stays")])
    store.delete(sid)
    assert not store.exists(sid) and store.exists(keep)
    assert raw_count(store, "messages") == 1
    assert raw_count(store, "checkpoints") == 0
    assert store.sessions(search="gone") == []


# -- copy / fork / merge -------------------------------------------------------------------


def test_copy_and_fork(store):
    sid = store.create(
        record(messages=rich_messages(), memory={"m": 1}, metadata={"o": 1}, title="Orig")
    )
    cid = store.copy(sid)
    copy = store.load(cid)
    orig = store.load(sid)
    assert cid != sid and copy["messages"] == orig["messages"] and copy["memory"] == {"m": 1}
    assert copy["title"] == "Orig" and copy["metadata"] == {"o": 1, "copied_from": sid}
    assert store.load(store.copy(sid, title="New"))["title"] == "New"
    fid = store.fork(sid, at=2)
    fork = store.load(fid)
    assert fork["messages"] == orig["messages"][:2]
    assert fork["metadata"]["forked_from"] == {"id": sid, "at": 2}
    assert store.load(store.fork(sid, at=0))["messages"] == []
    assert store.load(sid) == orig  # the source is untouched


def test_merge_interleaves_by_time(store):
    a = store.create(
        record(
            title="A",
            messages=[
                user("a1", created_at="2024-01-01T10:00:00+00:00"),
                user("a2", created_at="2024-01-01T10:02:00+00:00"),
            ],
            memory={"x": 1},
            metadata={"from": "a"},
            tools=["t1"],
        )
    )
    b = store.create(
        record(
            title="B",
            messages=[
                user("b1", created_at="2024-01-01T10:01:00+00:00"),
                user("b2", created_at="2024-01-01T11:03:00+01:00"),  # 10:03 UTC
            ],
            memory={"y": 2},
            tools=["t2"],
        )
    )
    mid = store.merge([a, b])
    merged = store.load(mid)
    assert [m["content"][0]["text"] for m in merged["messages"]] == ["a1", "b1", "a2", "b2"]
    assert merged["metadata"]["merged_from"] == [a, b]
    assert merged["memory"] == {"x": 1, "y": 2} and merged["tools"] == ["t1", "t2"]
    assert merged["title"] == "Merged: A + B"
    assert store.load(store.merge([b, a], title="T"))["title"] == "T"


# -- checkpoints -----------------------------------------------------------------------------


def texts(rec: dict) -> list[str]:
    return [p.get("text", "") for m in rec["messages"] for p in m["content"][:1]]


def test_checkpoint_and_restore(store):
    sid = store.create(record(messages=[user("one"), reply("uno")], memory={"v": 1}))
    cp = store.checkpoint(sid, label="before two")
    at_cp = store.load(sid)
    store.append_messages(
        sid, [user("two"), reply("dos", (5, 5))], {"memory": {"v": 2}, "model": "fake:other"}
    )
    store.update_metadata(sid, {"later": True})
    store.restore_checkpoint(sid, cp)
    now = store.load(sid)
    assert now["messages"] == at_cp["messages"]
    assert (
        now["memory"] == {"v": 1} and now["model"] == "fake:echo" and "later" not in now["metadata"]
    )
    assert store.summary(sid)["output_tokens"] == 0
    assert [c["label"] for c in store.list_checkpoints(sid)] == ["before two"]
    assert store.list_checkpoints(sid)[0]["message_count"] == 2
    with pytest.raises(StoreError, match="no checkpoint 999"):
        store.restore_checkpoint(sid, 999)
    other = store.create()
    with pytest.raises(StoreError, match="no checkpoint"):
        store.restore_checkpoint(other, cp)


def test_checkpoints_survive_history_rewrites(store):
    rec = record(messages=[user("one"), reply("uno")])
    sid = store.create(rec)
    first = store.checkpoint(sid, "first")
    store.append_messages(sid, [user("two"), reply("dos")])
    second = store.checkpoint(sid, "second")
    # Rewrite history (clear + new conversation): both checkpoints keep what they saw.
    store.save({**store.load(sid), "messages": [user("other"), reply("otro")]})
    store.restore_checkpoint(sid, second)
    assert texts(store.load(sid)) == ["one", "uno", "two", "dos"]
    store.restore_checkpoint(sid, first)  # truncates: "second" must still be whole
    assert texts(store.load(sid)) == ["one", "uno"]
    store.restore_checkpoint(sid, second)
    assert texts(store.load(sid)) == ["one", "uno", "two", "dos"]
    assert store.summary(sid)["message_count"] == 4


# -- threads -----------------------------------------------------------------------------------


def test_threads_share_one_store(store):
    sid = store.create()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(40):
                store.append_messages(sid, [user(f"t{n} q{i}"), reply(f"t{n} a{i}", (1, 1))])
                store.sessions(limit=5)
                store.load(sid, messages_offset=-2)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    loaded = store.load(sid)
    assert len(loaded["messages"]) == 6 * 40 * 2
    got = texts(loaded)
    for n in range(6):  # each thread's turns are whole and in order
        mine = [t for t in got if t.startswith(f"t{n} ")]
        assert mine == [x for i in range(40) for x in (f"t{n} q{i}", f"t{n} a{i}")]
    assert store.summary(sid)["input_tokens"] == 240


def test_importing_the_store_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, jupychat.store\n"
        "heavy = [m for m in ('IPython', 'ipywidgets', 'pandas', 'nbformat', 'platformdirs')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_save_meta_needs_a_stored_session(store):
    with pytest.raises(StoreError, match="no session gone"):
        store.save_meta({"id": "gone", "title": "x"})
    with pytest.raises(StoreError, match="needs a record"):
        store.save_meta({"title": "x"})


def test_search_walks_matches_in_windows(store, monkeypatch):
    from jupychat.store import pg_search
    from jupychat.store import search as store_sqlite

    # Tiny windows, so a handful of sessions exercises the windowed walk.
    for module in (store_sqlite, pg_search):
        monkeypatch.setattr(module, "SEARCH_WINDOW", 2)
        monkeypatch.setattr(module, "SEARCH_SCAN", 3)
    monkeypatch.setattr(pg_search, "FEW", 0)  # walk, as for a caller who reads many sessions
    old = [store.create(notebook="/old.ipynb", messages=[user(f"alpha old {i}")]) for i in range(3)]
    new = [
        store.create(notebook="/new.ipynb", messages=[user(f"alpha new {i}"), reply("alpha")])
        for i in range(4)
    ]
    # the filter only matches the oldest sessions: the walk must go past the newest windows
    found = [h["id"] for h in store.sessions(search="alpha", notebook="/old.ipynb")]
    assert sorted(found) == sorted(old)
    hits = store.sessions(search="alpha", notebook="/old.ipynb", limit=1, offset=2)
    page = [h["id"] for h in hits]
    assert len(page) == 1 and page[0] in old and page[0] not in found[:2]
    everything = [h["id"] for h in store.sessions(search="alpha", limit=100)]
    assert sorted(everything) == sorted(old + new)
    assert all(h["snippet"].count("**alpha**") >= 1 for h in store.sessions(search="alpha"))


def test_match_ids_by_prefix(store):
    ids = [store.create(id=i) for i in ("abc123", "abc456", "abd000", "zzz")]
    assert store.match_ids("abc") == ["abc123", "abc456"]
    assert store.match_ids("ab", limit=2) == ["abc123", "abc456"]
    assert store.match_ids("abc123") == ["abc123"]
    assert store.match_ids("q") == [] and store.match_ids("") == []
    assert len(ids) == 4


def test_a_message_and_its_dict_make_the_same_row():
    # StoreLink.flush hands the store Message objects; a dict is validated by rebuilding
    # its Message: both must give the same row (usage counts as Usage.from_dict makes them)
    from jupychat.store.records import message_row

    message = Message(
        role="assistant",
        content=(Text("hi"), ContextBlock("df", "a frame"), ToolCall("c1", "f", {"x": 1})),
        model="fake:x",
        usage=Usage(3.0, 2, 0, 1),  # type: ignore[arg-type]
        finish_reason="stop",
        meta={"latency": 0.5},
    )
    row = message_row(message)
    assert row == message_row(message.to_dict())
    assert type(row.input_tokens) is int and row.input_tokens == 3
    plain = Message(role="user", content=(Text("just text"),))
    assert message_row(plain) == message_row(plain.to_dict())
    assert message_row(plain).content is None


def test_a_recording_put_again_replaces_the_row_of_its_inputs(tmp_path):
    # (SQLite replaces in one statement; PostgreSQL deletes, then inserts)
    from jupychat._recording import Inputs, Recording
    from jupychat.store.recordings import RecordingStore

    recordings = RecordingStore(SessionStore(tmp_path / "sessions.db"))
    asked = Inputs(prompt="What is in df?", context={"var:df": "abc"}, model="m", options={})
    other = Inputs(prompt="And now?", context={}, model="m", options={})
    recordings.put(Recording(inputs=asked, answer="old", source="s1", cell_id="c1"), "nb")
    recordings.put(Recording(inputs=other, answer="other", source="s2"), "nb")
    recordings.put(Recording(inputs=asked, answer="new", source="s1", cell_id="c1"), "nb")
    assert recordings.count() == 2
    got = recordings.get(asked.key)
    assert got is not None and got.answer == "new"
    latest = recordings.latest_for("nb", "s1", "c1")
    assert latest is not None and latest.answer == "new"
    assert recordings.get_loose(asked.loose_key).answer == "new"  # type: ignore[union-attr]
