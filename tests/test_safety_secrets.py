"""Secrets by value: known keys never leave in a request, a result, an error or the store.

The keys here have no telltale shape (no ``sk-`` prefix), so only redaction *by value*
can catch them. One key each comes from the environment, the config file,
``config.set_api_key`` (``%chat key``) and an ``api_key=`` argument; each is then planted
in the prompt, a tool result (the model runs code that prints them), an error body the
server sends back, a DataFrame cell, a string variable and the variable inventory. None
may appear in any request body the loopback server received, the SQLite file (WAL
included), an export, a log record or an error message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time

import pytest

from fixtures_server import fake_server
from jupychat import ChatSession, config, secrets
from jupychat.context import data_tools, describe, inventory, turn_context
from jupychat.errors import ConfigError, ProviderError
from jupychat.providers.fake import get_fake
from jupychat.store import SessionStore
from jupychat.store.scrub import scrub
from jupychat.types import Message

__all__ = ["fake_server"]  # the loopback server fixture, imported so pytest finds it here

ENV_KEY = "envval-7f3a9c2e1b4d8f60a5c3d2e1"
FILE_KEY = "fileval-Q9w8E7r6T5y4U3i2O1p0"
SET_KEY = "setval-Zx81Cv72Bn63Mm54Lk45"
ARG_KEY = "argval-Ab12Cd34Ef56Gh78Ij90"
HEADER_KEY = "hdrval-Pq19Rs28Tu37Vw46Xy55"
KEYS = (ENV_KEY, FILE_KEY, SET_KEY, ARG_KEY)


@pytest.fixture
def keys(tmp_path, monkeypatch):
    """The four keys, each from its own source (the argument one is passed by the test)."""
    monkeypatch.setenv("MYSERVICE_API_KEY", ENV_KEY)
    (tmp_path / "config.toml").write_text(f'[providers.anthropic]\napi_key = "{FILE_KEY}"\n')
    config.set_api_key("groq", SET_KEY)
    monkeypatch.setenv("JUPYCHAT_MAX_RETRIES", "0")
    return KEYS


def _haystacks(fake_server, tmp_path, store, chat, caplog, errors):
    exports = []
    for fmt, ext in (("json", "json"), ("markdown", "md"), ("ipynb", "ipynb")):
        exports.append(store.export(chat.id, tmp_path / f"out.{ext}", format=fmt))
    chat.save(tmp_path / "saved.json")
    return {
        "requests": "\n".join(  # the bodies, and every header but the one that authenticates
            r.raw + json.dumps({k: v for k, v in r.headers.items() if k != "authorization"})
            for r in fake_server.requests
        ),
        "store": b"".join(p.read_bytes() for p in tmp_path.glob("s.db*")).decode("latin-1"),
        "exports": "\n".join(p.read_text(encoding="utf-8") for p in exports),
        "saved": (tmp_path / "saved.json").read_text(encoding="utf-8"),
        "memory": json.dumps(chat.to_dict(), ensure_ascii=False),
        "logs": caplog.text + "\n".join(r.getMessage() for r in caplog.records),
        "errors": "\n".join(errors),
    }


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_known_keys_are_removed_by_value_everywhere(fake_server, tmp_path, keys, caplog, mode):
    pd = pytest.importorskip("pandas")
    caplog.set_level(logging.DEBUG)
    namespace = {
        "orders": pd.DataFrame(
            {"comment": ["fine", f"pasted {FILE_KEY}", SET_KEY], "amount": [1, 2, 3]}
        ),
        "note": ENV_KEY,  # a plain str variable holding a key
        "memo": f"token is {ARG_KEY}",
    }
    store = SessionStore(tmp_path / "s.db")
    chat = ChatSession(
        f"openai-compatible:m@{fake_server.openai_base_url}",
        api_key=ARG_KEY,
        store=store,
        tools=data_tools(lambda: namespace, approve=lambda code: True),
    )

    def run(prompt, **options):
        if mode == "sync":
            return chat.send(prompt, **options)
        return asyncio.run(chat.asend(prompt, **options))

    # 1. the prompt, with context for a DataFrame and the inventory (str variables)
    context = turn_context(namespace, ["orders", "note"])
    fake_server.enqueue("noted")
    run(f"my keys: {ENV_KEY} {FILE_KEY} {SET_KEY} {ARG_KEY}", context=context)
    # 2. a tool result: the model runs code that prints every key
    code = (
        "print(note, memo, orders.comment.tolist(), __import__('os').environ['MYSERVICE_API_KEY'])"
    )
    fake_server.enqueue(tool_calls=[{"name": "run_python", "arguments": {"code": code}}])
    fake_server.enqueue(tool_calls=[{"name": "get_rows", "arguments": {"var": "orders"}}])
    fake_server.enqueue("ran it")
    run("print them")
    results = [r.content for m in chat.history for r in m.tool_results]
    assert len(results) == 2 and all("[redacted]" in r for r in results), results
    # 3. an error whose body quotes the keys
    errors = []
    fake_server.enqueue(
        status=400, error_message=f"bad key {ARG_KEY}; also {ENV_KEY} {SET_KEY} {FILE_KEY}"
    )
    with pytest.raises(ProviderError) as info:
        run("again")
    errors += [str(info.value), repr(info.value)]
    # the argument key really authenticated the requests...
    assert all(r.headers["authorization"] == f"Bearer {ARG_KEY}" for r in fake_server.requests)
    # ...and no key is anywhere else
    found = {
        where: [k for k in KEYS if k in text]
        for where, text in _haystacks(fake_server, tmp_path, store, chat, caplog, errors).items()
    }
    assert found == {where: [] for where in found}
    assert "[redacted]" in fake_server.requests[0].raw  # the search covered real traffic


def test_context_text_never_shows_a_known_key(keys):
    pd = pytest.importorskip("pandas")
    long_key = "zq" + ENV_KEY * 3  # longer than a table cell: shown cut short
    secrets.register(long_key)
    frame = pd.DataFrame({"notes": [long_key, FILE_KEY, "x"], FILE_KEY: [1, 2, 3]})
    namespace = {"frame": frame, "plain": SET_KEY, "items": [ENV_KEY]}
    texts = [
        describe(frame, "frame"),
        describe(SET_KEY, "plain"),
        describe([ENV_KEY], "items"),
        inventory(namespace),
        *turn_context(namespace, ["frame", "plain", "items"]).values(),
    ]
    for text in texts:
        assert not [k for k in (*KEYS, long_key, long_key[:12]) if k in text], text


def test_the_registry_follows_new_keys_and_ignores_short_values(tmp_path, monkeypatch):
    assert secrets.scrub_text("a shortval b") == "a shortval b"
    config.set_api_key("openai", "shortv")  # under 8 characters: would redact words
    assert secrets.scrub_text("shortv") == "shortv"
    config.set_api_key("openai", "keyset-AAAABBBBCCCC")
    assert secrets.scrub_text("x keyset-AAAABBBBCCCC y") == "x [redacted] y"
    # a key cut short by a display limit does not leak its first dozen characters
    assert secrets.scrub_text("cell: keyset-AAAABBB…", partial=True) == "cell: [redacted]…"
    config.set_api_key("openai", None)
    monkeypatch.setenv("LATER_TOKEN", "later-token-value-123")
    assert secrets.scrub_text("later-token-value-123") == "[redacted]"
    path = tmp_path / "config.toml"
    path.write_text('[providers.openai]\nheaders = {Authorization = "Bearer file-bearer-987654"}\n')
    os.utime(path, (time.time() + 5, time.time() + 5))  # a new mtime even on coarse clocks
    assert secrets.scrub_text("Bearer file-bearer-987654") == "[redacted]"
    assert secrets.scrub_text("auth file-bearer-987654") == "auth [redacted]"
    assert scrub({"note": "later-token-value-123"}) == {"note": "[redacted]"}


def test_api_key_argument_is_used_and_never_stored(fake_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_server.openai_base_url)
    store = SessionStore(tmp_path / "s.db")
    chat = ChatSession(
        "openai:m",
        api_key=ARG_KEY,
        headers={"X-Org": "acme", "Authorization": f"Bearer {HEADER_KEY}"},
        store=store,
        temperature=0.1,
    )
    fake_server.enqueue("hello")
    chat.send("hi")
    sent = fake_server.last.headers
    assert sent["authorization"] == f"Bearer {ARG_KEY}" and sent["x-org"] == "acme"
    assert chat.options == {"temperature": 0.1}
    assert chat.to_dict()["settings"] == {"temperature": 0.1}
    store.export(chat.id, tmp_path / "x.json")
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*")).decode("latin-1")
    blob += (tmp_path / "x.json").read_text()
    assert ARG_KEY not in blob and HEADER_KEY not in blob
    # the key stays with the session: a restored copy and a model switch still use it
    chat.switch_model("openai:m2")
    fake_server.enqueue("again")
    chat.send("hi again")
    assert fake_server.last.headers["authorization"] == f"Bearer {ARG_KEY}"
    again = ChatSession.resume(chat.id, store=store, api_key=ARG_KEY)
    assert again.options == {"temperature": 0.1}


@pytest.mark.parametrize(
    ("model", "options", "match"),
    [
        ("openai:m", {"n_ctxx": 5}, "unknown option.*n_ctxx"),
        ("fake", {"api_key": "abcdefgh12345"}, "takes no options"),
        ("anthropic:m", {"temprature": 0.2}, "unknown option.*temprature"),
    ],
)
def test_options_a_provider_does_not_know_are_refused_in_one_line(model, options, match):
    with pytest.raises(ConfigError, match=match) as info:
        ChatSession(model, **options)
    assert "\n" not in str(info.value)
    for value in options.values():
        assert str(value) not in str(info.value)


def test_provider_options_on_a_ready_made_provider_and_unknown_turn_options_are_refused():
    with pytest.raises(ConfigError, match="ready-made"):
        ChatSession(get_fake(), api_key="abcdefgh12345")
    chat = ChatSession("fake")
    with pytest.raises(ConfigError, match=r"unknown option.*api_key"):
        chat.send("hi", api_key="abcdefgh12345")
    assert chat.history == []


def test_stored_settings_never_bring_back_a_credential(tmp_path):
    store = SessionStore(tmp_path / "s.db")
    record = ChatSession("fake", temperature=0.3).to_dict()
    record["settings"] = {"temperature": 0.3, "api_key": "legacy-secret-123456", "junk": 1}
    store.save(record)
    again = ChatSession.resume(record["id"], store=store)
    assert again.options == {"temperature": 0.3}
    assert "legacy-secret-123456" not in json.dumps(again.to_dict())


def test_nothing_a_person_hands_the_session_brings_a_key_into_the_store(tmp_path, keys):
    store = SessionStore(tmp_path / "s.db")
    chat = ChatSession(
        "fake",
        system_prompt=f"the key is {SET_KEY}",
        history=[Message.of("user", f"old {ENV_KEY}"), Message.of("assistant", "ok")],
        store=store,
    )
    chat.set_memory("creds", {"k": FILE_KEY})
    chat.set_metadata("note", [ENV_KEY])
    chat.append_message("user", f"pasted {FILE_KEY} and half an emoji \ud83d")
    chat.send(f"hello {SET_KEY}")
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*")).decode("latin-1")
    assert [k for k in KEYS if k in blob] == []
    assert store.load(chat.id)["messages"] == [m.to_dict() for m in chat.history]
    assert "half an emoji \ufffd" in chat.history[2].text


def test_word_like_values_and_file_paths_are_not_taken_for_keys(tmp_path, monkeypatch):
    key_file = tmp_path / "service-account.json"
    key_file.write_text("{}")
    monkeypatch.setenv("POSTGRES_PASSWORD", "postgres")
    monkeypatch.setenv("SERVICE_PIN_TOKEN", "12345678")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    monkeypatch.setenv("REAL_API_KEY", "Real-Key-9f8e7d6c5b4a")
    text = f"SELECT * FROM postgres WHERE id = 12345678 -- {key_file} Real-Key-9f8e7d6c5b4a"
    assert secrets.scrub_text(text, partial=True) == text.replace(
        "Real-Key-9f8e7d6c5b4a", "[redacted]"
    )
    config.set_api_key("openai", "password")  # handed over as a key: always removed
    assert secrets.scrub_text("my password") == "my [redacted]"


def test_a_password_in_the_base_url_is_used_but_never_saved(fake_server, tmp_path):
    password = "urlpass-5e6f7a8b9c0d"
    base = fake_server.openai_base_url.replace("http://", f"http://me:{password}@")
    store = SessionStore(tmp_path / "s.db")
    chat = ChatSession(f"openai-compatible:m@{base}", store=store)
    fake_server.enqueue("hi")
    chat.send("hello")
    assert fake_server.last.headers["authorization"].startswith("Basic ")  # it was used
    assert password not in chat.model_id and chat.model_id.endswith(fake_server.openai_base_url)
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*")).decode("latin-1")
    assert password not in blob


def test_request_options_are_honoured_and_a_turn_may_use_another_model():
    fake, other = get_fake("options-main"), get_fake("options-other")
    chat = ChatSession(fake, top_p=0.5, temperature=0.2)
    chat.send("hi")
    assert fake.requests[-1].extra == {"top_p": 0.5}
    assert fake.requests[-1].temperature == 0.2
    response = chat.send("once elsewhere", model="fake:options-other")
    assert response.model == "fake:options-other" and other.requests
    assert chat.model_id == "fake:options-main"  # the session keeps its own model
