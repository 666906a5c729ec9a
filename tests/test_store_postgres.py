"""The PostgreSQL store: selection by URL, migrations, ownership, sharing, outages, concurrency.

The backend-neutral behaviour is tested by test_store.py and test_session_store.py, which
run on both backends; this file holds what only the server database has.
"""

from __future__ import annotations

import threading
import time
import uuid
import warnings

import psycopg
import pytest

from jupychat import ChatSession
from jupychat.errors import StoreError
from jupychat.providers.fake import get_fake
from jupychat.store import SessionStore, pg_migrations
from jupychat.store import migrations as sqlite_migrations
from jupychat.store.postgres import PostgresStore, current_user


def user(text: str) -> dict:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


@pytest.fixture
def stores(pg_url):
    """``stores(name)``: a store on one shared database acting for user ``name``."""
    made: list[PostgresStore] = []

    def make(name: str) -> PostgresStore:
        store = PostgresStore(pg_url, user=name)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def test_migrations_mirror_the_sqlite_list_and_run_once(pg_url):
    assert [n for n, _ in pg_migrations.MIGRATIONS] == [
        n for n, _ in sqlite_migrations.MIGRATIONS
    ], "mirror every SQLite migration in pg_migrations.py under the same name"
    with PostgresStore(pg_url, user="alice") as store:
        store.sessions()
    with PostgresStore(pg_url, user="bob") as again:
        again.sessions()
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT name FROM jupychat._jupychat_migrations ORDER BY position")
        assert [r[0] for r in rows] == [n for n, _ in pg_migrations.MIGRATIONS]
        conn.execute("INSERT INTO jupychat._jupychat_migrations (name) VALUES ('m999_future')")
    with pytest.raises(StoreError, match="newer jupychat") as info:
        PostgresStore(pg_url, user="alice").sessions()
    assert "\n" not in str(info.value)


def test_a_postgresql_url_selects_the_backend(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "hubuser")
    assert current_user() == "hubuser"
    secret_url = pg_url.replace("jupychat@", "jupychat:s3cret-pw@")
    store = SessionStore(secret_url)
    assert isinstance(store, PostgresStore) and store.user == "hubuser"
    assert "s3cret" not in str(store.path) and "s3cret" not in repr(store)
    sid = store.create(messages=[user("hello from the hub")])
    assert store.summary(sid)["title"] == "hello from the hub"
    store.close()
    monkeypatch.setenv("JUPYCHAT_STORE", pg_url)
    with SessionStore() as by_env:
        assert isinstance(by_env, PostgresStore) and by_env.exists(sid)
    monkeypatch.delenv("JUPYCHAT_STORE")
    (tmp_path / "config.toml").write_text(f'store = "{pg_url}"\n')
    with SessionStore() as by_file:
        assert isinstance(by_file, PostgresStore) and by_file.exists(sid)
    (tmp_path / "config.toml").write_text("")
    with SessionStore() as default:
        assert not isinstance(default, PostgresStore)  # SQLite stays the default


def test_two_users_see_only_their_own_sessions(stores):
    alice, bob = stores("alice"), stores("bob")
    a = alice.create(id="alice-session", messages=[user("alice secret plan zebra")])
    b = bob.create(id="bob-session", messages=[user("bob notes zebra")])
    assert [s["id"] for s in alice.sessions()] == [a]
    assert [s["id"] for s in bob.sessions()] == [b]
    assert alice.sessions()[0]["owner"] == "alice"
    assert [s["id"] for s in bob.sessions(search="zebra")] == [b]
    assert bob.sessions(search="secret") == []
    assert not bob.exists(a) and bob.access(a) is None and alice.access(a) == "owner"
    assert bob.match_ids("alice") == []
    for attempt in (
        lambda: bob.load(a),
        lambda: bob.summary(a),
        lambda: bob.append_messages(a, [user("intrusion")]),
        lambda: bob.rename(a, "mine now"),
        lambda: bob.update_metadata(a, {"x": 1}),
        lambda: bob.delete(a),
        lambda: bob.checkpoint(a),
        lambda: bob.copy(a),
        lambda: bob.share(a, ["bob"]),
        lambda: bob.save({**alice.load(a), "messages": []}),
    ):
        with pytest.raises(StoreError) as info:
            attempt()
        assert "\n" not in str(info.value)
    record = alice.load(a)
    assert record["title"] == "alice secret plan zebra" and len(record["messages"]) == 1
    assert record["metadata"] == {}


def test_sharing_is_read_only_and_revocable(stores):
    alice, bob, carol = stores("alice"), stores("bob"), stores("carol")
    a = alice.create(messages=[user("quarterly numbers walrus")])
    assert alice.share(a, ["bob"]) == ["bob"]
    assert bob.access(a) == "reader" and carol.access(a) is None
    assert [s["id"] for s in bob.sessions()] == [a]
    assert bob.sessions()[0]["owner"] == "alice"
    assert [s["id"] for s in bob.sessions(search="walrus")] == [a]
    assert bob.load(a)["messages"][0]["content"][0]["text"] == "quarterly numbers walrus"
    for attempt in (
        lambda: bob.append_messages(a, [user("edit")]),
        lambda: bob.rename(a, "x"),
        lambda: bob.delete(a),
        lambda: bob.share(a, ["carol"]),
        lambda: bob.unshare(a),
    ):
        with pytest.raises(StoreError):
            attempt()
    mine = bob.copy(a)  # a reader may continue it as their own copy
    assert bob.access(mine) == "owner" and alice.access(mine) is None
    assert alice.load(a)["messages"] == alice.load(a)["messages"][:1]
    assert alice.share(a, "*") == ["*", "bob"]
    assert carol.access(a) == "reader"
    assert alice.unshare(a, ["bob"]) == ["*"]
    assert bob.access(a) == "reader"  # still: everyone may read
    assert alice.unshare(a) == []
    assert bob.access(a) is None and carol.access(a) is None and bob.sessions(search="walrus")
    assert [s["id"] for s in bob.sessions(search="walrus")] == [mine]
    with pytest.raises(StoreError, match="user name"):
        alice.share(a, ["two words"])
    alice.share(a, ["bob"])
    alice.delete(a)  # deleting takes the shares with it
    assert bob.access(a) is None


def test_row_level_security_holds_for_an_ordinary_database_role(stores, pg_url):
    alice = stores("alice")
    a = alice.create(messages=[user("for alice only")])
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS jc_app")
        admin.execute("CREATE ROLE jc_app LOGIN")
        admin.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA jupychat TO jc_app"
        )
    app_url = pg_url.replace("jupychat@", "jc_app@")
    with psycopg.connect(app_url) as conn:  # straight at the tables, no views
        conn.execute("SELECT set_config('jupychat.user', 'bob', false)")
        assert conn.execute("SELECT count(*) FROM jupychat.sessions").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM jupychat.messages").fetchone()[0] == 0
        assert conn.execute("UPDATE jupychat.sessions SET title = 'x'").rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO jupychat.messages (session_pk, seq, role, created_at) "
                "SELECT pk, 99, 'user', 'now' FROM jupychat.sessions"
                " UNION ALL SELECT 1, 99, 'user', 'now'"
            )
    with PostgresStore(app_url, user="alice") as as_app:  # the store works under that role
        assert as_app.load(a)["title"] == "for alice only"
        as_app.append_messages(a, [user("more")])
    assert alice.summary(a)["message_count"] == 2


def test_an_unreachable_database_is_a_one_line_error(pg_server):
    url = f"postgresql://someone:pw-hidden@127.0.0.1:{_closed_port()}/nothing"
    store = PostgresStore(url, user="alice", timeout=1)
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        store.sessions()
    message = str(info.value)
    assert time.monotonic() - started < 10
    assert "\n" not in message and "pw-hidden" not in message
    assert "cannot reach the session store database" in message and "JUPYCHAT_STORE" in message
    store.close()


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_turns_made_while_the_database_is_down_are_written_when_it_is_back():
    from pg_server import fresh_database, pg_bin, postgres_server

    with postgres_server() as server:
        url = fresh_database(server, "outage")
        store = PostgresStore(url, user="alice", timeout=1)
        chat = ChatSession(get_fake("pg-outage"), store=store)
        chat.send("before the outage")
        data = server.folder / "data"
        _pg_ctl(pg_bin, data, "stop", "-m", "fast")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            chat.send("during the outage")
        assert [m.text for m in chat.history if m.role == "user"][-1] == "during the outage"
        assert any("cannot reach" in str(w.message) for w in caught)
        _pg_ctl(pg_bin, data, "start", "-l", str(server.folder / "log2"), "-o", _options(server))
        chat.send("after the outage")
        with PostgresStore(url, user="alice") as check:
            messages = check.load(chat.id)["messages"]
        texts = [m["content"][0]["text"] for m in messages if m["role"] == "user"]
        assert texts == [
            "before the outage",
            "during the outage",
            "after the outage",
        ]
        store.close()


def _options(server) -> str:
    return f"-k {server.folder} -h 127.0.0.1 -p {server.port} -c fsync=off"


def _pg_ctl(pg_bin, data, *args: str) -> None:
    import os
    import subprocess

    argv = [pg_bin("pg_ctl"), "-D", str(data), "-w", *args]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "nobody", "--", *argv]
    subprocess.run(argv, check=True, capture_output=True)


def test_concurrent_writers_on_one_session_lose_nothing(stores):
    sid = stores("alice").create()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        store = stores("alice")
        try:
            for i in range(15):
                store.append_messages(sid, [user(f"w{n} t{i}")])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    record = stores("alice").load(sid)
    texts = [m["content"][0]["text"] for m in record["messages"]]
    assert sorted(texts) == sorted(f"w{n} t{i}" for n in range(6) for i in range(15))
    for n in range(6):  # each writer's turns stay in its order
        mine = [t for t in texts if t.startswith(f"w{n} ")]
        assert mine == [f"w{n} t{i}" for i in range(15)]
    assert stores("alice").summary(sid)["message_count"] == 90


def test_with_per_user_roles_the_database_role_is_the_caller(pg_url):
    suffix = uuid.uuid4().hex[:6]
    ann, ben = f"ann_{suffix}", f"ben_{suffix}"
    with PostgresStore(pg_url, user="setup") as setup:
        setup.sessions()  # the schema
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for role in (ann, ben):
            admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute("UPDATE jupychat.config SET identity = 'role'")
    as_ann, as_ben = (pg_url.replace("jupychat@", f"{r}@") for r in (ann, ben))
    with PostgresStore(as_ann, user=ben) as store:  # says it is ben: the role decides
        sid = store.create(messages=[user("ann's private notes")])
        assert store.user == ann and store.summary(sid)["owner"] == ann
        assert store.access(sid) == "owner"
    with PostgresStore(as_ben, user=ann) as store:  # pretends to be ann
        assert store.sessions() == [] and store.access(sid) is None
        with pytest.raises(StoreError):
            store.append_messages(sid, [user("forged")])
    with psycopg.connect(as_ben) as conn:  # by hand, with the setting forged too
        conn.execute(f"SELECT set_config('jupychat.user', '{ann}', false)")
        assert conn.execute("SELECT count(*) FROM jupychat_read.sessions").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM jupychat.sessions")  # no grant on the tables
    with PostgresStore(as_ann, user=ann) as store:
        store.share(sid, [ben])
    with PostgresStore(as_ben, user=ben) as store:
        assert store.access(sid) == "reader"
        assert store.load(sid)["messages"][0]["content"][0]["text"] == "ann's private notes"


def test_nul_characters_never_cost_a_turn(stores):
    store = stores("alice")
    sid = store.create(messages=[user("before")], metadata={"k": "a\x00b", "n": 1})
    store.append_messages(sid, [user("binary \x00 output")])  # PostgreSQL text has no NUL
    texts = [m["content"][0]["text"] for m in store.load(sid)["messages"]]
    assert texts == ["before", "binary \ufffd output"]
    assert [s["id"] for s in store.sessions(search="binary \x00")] == [sid]
    assert [s["id"] for s in store.sessions(filter_metadata={"n": 1})] == [sid]
    assert [s["id"] for s in store.sessions(filter_metadata={"k": "a\x00b"})] == [sid]
    assert store.sessions(filter_metadata={"k": {"x": "\x00"}}) == []


def test_recordings_are_kept_per_user_and_replaced_by_key(stores):
    """Replay's recordings (m006) on PostgreSQL: put replaces the same inputs, latest_for
    finds a cell's newest, and one user never reads another's recorded answers."""
    from jupychat._recording import Inputs, Recording
    from jupychat.store.recordings import RecordingStore

    alice, bob = RecordingStore(stores("alice")), RecordingStore(stores("bob"))
    asked = Inputs(prompt="What is in df?", context={"var:df": "abc"}, model="m", options={})
    first = Recording(inputs=asked, answer="old answer", source="s1", cell_id="c1")
    alice.put(first, notebook="nb.ipynb")
    alice.put(Recording(inputs=asked, answer="new answer", source="s1", cell_id="c1"), "nb.ipynb")
    assert alice.count() == 1
    got = alice.get(asked.key)
    assert got is not None and got.answer == "new answer"
    latest = alice.latest_for("nb.ipynb", "s1", "c1")
    assert latest is not None and latest.answer == "new answer"
    assert alice.latest_for(None, "s1") is None
    assert bob.get(asked.key) is None and bob.count() == 0
    bob.put(Recording(inputs=asked, answer="bob's", source="s1", cell_id="c1"), None)
    assert alice.get(asked.key).answer == "new answer"  # same key, other owner
    assert bob.latest_for(None, "s1").answer == "bob's"


def test_a_placed_turn_keeps_its_place_on_postgresql(stores):
    """Conversation order (m007 places): a re-run turn replaces the old one in place."""
    store = stores("alice")
    session = ChatSession("fake", store=store)
    for q in ("first", "second", "third"):
        get_fake().enqueue(f"answer {q}")
        session.send(q)
    get_fake().enqueue("answer first again")
    session.send(
        "first",
        replace=lambda m: m.text == "first",
        place=lambda turns, old: len(turns) if old is None else old,
    )
    stored = [m["content"][0]["text"] for m in store.load(session.id)["messages"]]
    assert stored == [
        "first",
        "answer first again",
        "second",
        "answer second",
        "third",
        "answer third",
    ]
