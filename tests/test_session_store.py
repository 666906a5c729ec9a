"""ChatSession with the SQLite store: auto-save, resume across processes, checkpoints."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import pytest

from jupychat import ChatSession, StoreError
from jupychat.providers.fake import get_fake
from jupychat.store import SessionStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """The same tests on both backends."""
    where = tmp_path / "sessions.db"
    if request.param == "postgresql":
        where = request.getfixturevalue("pg_url")
    with SessionStore(where) as store:
        yield store


@pytest.fixture
def fake():
    return get_fake("store-tests")


def test_every_turn_is_saved_and_resumed_with_identical_history(store, fake):
    chat = ChatSession(fake, store=store, system_prompt="sys", notebook="/nb/a.ipynb")
    fake.enqueue("one", usage=(3, 1)).enqueue("two", usage=(5, 1))
    chat.send("first question")
    chat.send("second question")
    chat.set_memory("k", [1, 2]).set_metadata("project", "q3")
    back = ChatSession.resume(chat.id, store=store)
    assert back.history == chat.history
    assert back.to_dict() == chat.to_dict()
    assert back.title == "first question"
    assert back.get_memory("k") == [1, 2] and back.get_metadata("project") == "q3"
    latest = ChatSession.resume(store=store, notebook="/nb/a.ipynb")
    assert latest.id == chat.id


def test_resume_in_another_process_has_identical_history(tmp_path):
    db = tmp_path / "shared.db"
    script = textwrap.dedent(
        f"""
        import json
        from jupychat import ChatSession
        from jupychat.providers.fake import get_fake
        fake = get_fake("proc")
        fake.enqueue("alpha", usage=(4, 2)).enqueue("beta", usage=(9, 3))
        chat = ChatSession("fake:proc", store={str(db)!r}, notebook="/nb/x.ipynb")
        chat.send("q1")
        chat.send("q2")
        chat.set_memory("seen", True)
        print(json.dumps(chat.to_dict()))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    written = json.loads(out.stdout)
    resumed = ChatSession.resume(store=SessionStore(db), notebook="/nb/x.ipynb")
    assert resumed.id == written["id"]
    assert resumed.to_dict() == written
    assert [m.text for m in resumed.history] == ["q1", "alpha", "q2", "beta"]
    assert resumed.stats()["input_tokens"] == 13


def test_failed_turn_is_not_stored(store, fake):
    from jupychat.errors import ProviderUnavailable

    chat = ChatSession(fake, store=store)
    fake.enqueue("ok")
    chat.send("fine")
    fake.enqueue("half", error=ProviderUnavailable("down"), error_after=1)
    with pytest.raises(ProviderUnavailable):
        chat.send("fails")
    assert len(store.load(chat.id)["messages"]) == 2


def test_interrupted_turn_is_stored_marked(store, fake):
    chat = ChatSession(fake, store=store)
    fake.enqueue("partial answer", chunk_size=3, error=KeyboardInterrupt(), error_after=2)
    with pytest.raises(KeyboardInterrupt):
        chat.send("q")
    stored = store.load(chat.id)["messages"]
    assert stored[-1]["interrupted"] is True and stored[-1]["content"][0]["text"] == "partia"


def test_clear_and_removed_turns_reach_the_store(store, fake):
    chat = ChatSession(fake, store=store)
    chat.send("a", meta={"cell_id": "c1"})
    chat.send("b", meta={"cell_id": "c2"})
    chat.remove_turns(lambda m: m.meta.get("cell_id") == "c1")
    assert store.load(chat.id)["messages"][0]["content"][0]["text"] == "b"
    chat.clear()
    assert store.load(chat.id)["messages"] == []


def test_fork_and_clone_are_stored_separately(store, fake):
    chat = ChatSession(fake, store=store)
    chat.send("a")
    chat.send("b")
    branch = chat.fork(at=2)
    twin = chat.clone()
    assert store.exists(branch.id) and store.exists(twin.id)
    assert len(store.load(branch.id)["messages"]) == 2
    assert len(store.load(twin.id)["messages"]) == 4
    branch.send("only in the branch")
    assert len(store.load(chat.id)["messages"]) == 4


def test_checkpoints_with_and_without_store(store, fake):
    for target in (store, None):
        chat = ChatSession(fake, store=target)
        chat.send("keep me")
        chat.set_memory("m", 1)
        mark = chat.checkpoint("before experiment")
        chat.send("throw me away")
        chat.set_memory("m", 2)
        chat.restore_checkpoint(mark)
        assert [m.text for m in chat.history if m.role == "user"] == ["keep me"]
        assert chat.get_memory("m") == 1
        assert chat.list_checkpoints()[0]["label"] == "before experiment"
        if target is not None:
            assert len(store.load(chat.id)["messages"]) == 2


def test_store_failure_keeps_the_turn_in_memory(tmp_path, fake):
    store = SessionStore(tmp_path / "s.db")
    chat = ChatSession(fake, store=store)
    chat.send("saved")
    store.close()
    (tmp_path / "s.db").unlink()
    (tmp_path / "s.db").mkdir()  # the store can no longer be written
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chat.send("not saved")
    assert [m.text for m in chat.history if m.role == "user"] == ["saved", "not saved"]
    assert any("not saved" in str(w.message) for w in caught)


def test_resume_unknown_id_is_one_line(store):
    with pytest.raises(StoreError) as info:
        ChatSession.resume("does-not-exist", store=store)
    assert "\n" not in str(info.value)
    with pytest.raises(StoreError, match="no stored session"):
        ChatSession.resume(store=store, notebook="/nowhere.ipynb")
