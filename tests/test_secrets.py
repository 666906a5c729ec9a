"""API keys never reach the store, an export, an error message or a log line.

Each provider talks to the loopback fake server with a key set both in the environment
and in the config file; every log record (DEBUG and up, httpx's included), every error
message, the SQLite file and every export format are then searched for the key.
"""

from __future__ import annotations

import logging

import pytest

from fixtures_server import fake_server  # noqa: F401  (fixture)
from jupychat import ChatSession, ProviderError
from jupychat.store import SessionStore

ENV_KEY = "sk-envsecret-0123456789abcdefABCDEF"
FILE_KEY = "sk-ant-filesecret-0123456789abcdef"


@pytest.mark.parametrize(
    ("model", "env_var", "section"),
    [
        ("openai-compatible:m@{openai}", "OPENAI_COMPATIBLE_API_KEY", "openai-compatible"),
        ("anthropic:claude-test", "ANTHROPIC_API_KEY", "anthropic"),
    ],
)
def test_keys_stay_out_of_logs_errors_store_and_exports(
    model,
    env_var,
    section,
    tmp_path,
    monkeypatch,
    caplog,
    fake_server,  # noqa: F811
):
    monkeypatch.setenv(env_var, ENV_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_server.anthropic_base_url)
    monkeypatch.setenv("JUPYCHAT_MAX_RETRIES", "1")
    monkeypatch.setenv("JUPYCHAT_BACKOFF", "0.01")
    (tmp_path / "config.toml").write_text(f'[providers.{section}]\napi_key = "{FILE_KEY}"\n')
    caplog.set_level(logging.DEBUG)
    store = SessionStore(tmp_path / "s.db")
    chat = ChatSession(model.format(openai=fake_server.openai_base_url), store=store)
    fake_server.enqueue("fine")
    chat.send("hello")
    messages = []
    for status in (401, 429, 500):
        fake_server.enqueue(status=status, retry_after=0)
        fake_server.enqueue(status=status, retry_after=0)
        with pytest.raises(ProviderError) as info:
            chat.send("again")
        messages.append(str(info.value))
        messages.append(repr(info.value.__cause__))
    sent = [r.headers for r in fake_server.requests]
    assert any(ENV_KEY in str(h) for h in sent)  # the key was really used...
    exports = [tmp_path / f"x.{ext}" for ext in ("json", "markdown", "ipynb")]
    for path in exports:
        store.export(chat.id, path, format=path.suffix[1:])
    chat.save(tmp_path / "session.json")
    haystacks = {
        "log": "\n".join(r.getMessage() for r in caplog.records),
        "errors": "\n".join(messages),
        "store": "".join(p.read_bytes().decode("latin-1") for p in tmp_path.glob("s.db*")),
        "exports": "\n".join(p.read_text() for p in exports),
        "saved": (tmp_path / "session.json").read_text(),
        "dict": str(chat.to_dict()),
    }
    for where, text in haystacks.items():  # ...and is nowhere else
        assert ENV_KEY not in text, where
        assert FILE_KEY not in text, where
    assert caplog.records  # the search covered real log output
