"""Export (JSON, Markdown, .ipynb), import validation, and credential scrubbing."""

from __future__ import annotations

import json

import nbformat
import pytest

from jupychat import config
from jupychat.errors import StoreError
from jupychat.store import SessionStore
from jupychat.store.export import split_fences
from jupychat.types import ContextBlock, Message, Text, ToolCall, ToolResult, Usage

REPLY = """Here is how:

```python
import pandas as pd
df = pd.DataFrame({"a": [1, 2]})
```

Then list the files:

```bash
ls -l
```

The output looks like:

```json
{"a": 1}
```

Done."""


@pytest.fixture
def store(tmp_path):
    with SessionStore(tmp_path / "sessions.db") as s:
        yield s


@pytest.fixture
def session(store):
    return store.create(
        title="Pandas help",
        model="fake:echo",
        system_prompt="You are terse.",
        notebook="/work/a.ipynb",
        metadata={"owner": "ana"},
        messages=[
            Message(
                "user", (ContextBlock("df", "DataFrame 2x1"), Text("Make a frame\nplease"))
            ).to_dict(),
            Message.of("assistant", REPLY, model="fake:echo", usage=Usage(5, 9)).to_dict(),
            Message.of("assistant", [ToolCall("c1", "peek", {"name": "df"})]).to_dict(),
            Message.of("tool", [ToolResult("c1", "peek", "a: 1, 2")]).to_dict(),
        ],
    )


def test_json_export_round_trips_through_import(store, session, tmp_path):
    path = store.export(session, tmp_path / "out" / "s.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schema"] == "jupychat.session" and data["version"] == 1
    assert all("id" not in m for m in data["messages"])
    original = store.load(session)
    store.delete(session)
    assert store.import_(path) == session
    assert store.load(session) == original
    with pytest.raises(StoreError, match="new_id=True"):
        store.import_(path)
    copy = store.import_(path, new_id=True)
    loaded = store.load(copy)
    assert copy != session and loaded["metadata"]["imported_from"] == session
    assert loaded["messages"] == original["messages"]


def test_markdown_export(store, session, tmp_path):
    text = store.export(session, tmp_path / "s.md").read_text(encoding="utf-8")
    assert text.startswith("# Pandas help\n")
    assert "## System prompt" in text and "You are terse." in text
    assert "## You" in text and "Make a frame\nplease" in text
    assert "## Assistant (fake:echo)" in text and "```python\nimport pandas as pd" in text
    assert "<summary>context: df</summary>" in text and "DataFrame 2x1" in text
    assert "**tool call** `peek`" in text and '"name": "df"' in text
    assert "**tool result** `peek`" in text and "a: 1, 2" in text
    # same file via an explicit format and an unknown suffix
    other = store.export(session, tmp_path / "s.txt", format="markdown")
    assert other.read_text(encoding="utf-8") == text
    with pytest.raises(StoreError, match="unknown export format 'pdf'"):
        store.export(session, tmp_path / "s.pdf", format="pdf")


def test_ipynb_export_splits_code_blocks_into_cells(store, session, tmp_path):
    path = store.export(session, tmp_path / "s.ipynb")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    kinds = [(c.cell_type, c.source.splitlines()[0] if c.source else "") for c in nb.cells]
    assert kinds[0] == ("markdown", "# Pandas help")
    assert ("markdown", "**You**") in kinds
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code == [
        'import pandas as pd\ndf = pd.DataFrame({"a": [1, 2]})',
        "%%bash\nls -l",
    ]
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert '```json\n{"a": 1}\n```' in markdown  # no cell magic for JSON: stays Markdown
    assert "Then list the files:" in markdown and "Done." in markdown
    assert nb.metadata["jupychat"]["session"] == session
    assert nb.metadata["kernelspec"]["name"] == "python3"
    # the prose before the code is its own cell, in order
    i = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    assert nb.cells[i - 1].source.endswith("Here is how:")


def test_split_fences_edge_cases():
    assert split_fences("no code") == [("markdown", "no code", "")]
    assert split_fences("~~~py\nx\n~~~\nafter") == [("code", "x", "py"), ("markdown", "after", "")]
    # a longer fence holds a shorter one; an unclosed fence runs to the end
    assert split_fences("````md\n```\ninner\n```\n````") == [("code", "```\ninner\n```", "md")]
    assert split_fences("a\n```python\nx = 1") == [
        ("markdown", "a", ""),
        ("code", "x = 1", "python"),
    ]


def test_exports_never_contain_keys(store, tmp_path, monkeypatch):
    env_key = "sk-proj-EnvKey0123456789abcdefXYZ"
    anthropic_key = "sk-ant-api03-InProcessKey_0123456789abcdef"
    file_key = "proxy-secret-not-shaped-like-a-key-42"
    header_token = "hdrtoken0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", env_key)
    monkeypatch.setenv("MY_SERVICE_TOKEN", "plain-token-value-xyz")
    (tmp_path / "config.toml").write_text(
        "[providers.myproxy]\n"
        'type = "openai-compatible"\n'
        'base_url = "http://127.0.0.1:9/v1"\n'
        f'api_key = "{file_key}"\n'
        f'headers = {{ Authorization = "Bearer {header_token}" }}\n',
        encoding="utf-8",
    )
    config.set_api_key("anthropic", anthropic_key)
    sid = store.create(
        title=f"debug {env_key}",
        metadata={
            "api_key": "whatever-value",
            "headers": {"Authorization": "Bearer abc"},
            "note": f"proxy uses {file_key}",
            "max_tokens": 100,
        },
        memory={"token": "t0k3n-value"},
        messages=[
            Message.of("user", f"my key is {env_key} and {anthropic_key}").to_dict(),
            Message.of(
                "assistant", f"header was Bearer {header_token}; also plain-token-value-xyz"
            ).to_dict(),
            Message.of(
                "user", "an unknown sk-live-AbCdEf0123456789xyz key and AKIAABCDEFGHIJKLMNOP"
            ).to_dict(),
        ],
    )
    secrets = [
        env_key,
        anthropic_key,
        file_key,
        header_token,
        "whatever-value",
        "t0k3n-value",
        "plain-token-value-xyz",
        "sk-live-AbCdEf0123456789xyz",
        "AKIAABCDEFGHIJKLMNOP",
    ]
    for suffix in ("json", "md", "ipynb"):
        text = store.export(sid, tmp_path / f"out.{suffix}").read_text(encoding="utf-8")
        leaked = [s for s in secrets if s in text]
        assert leaked == [], suffix
        assert "[redacted]" in text
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert data["metadata"]["max_tokens"] == 100  # token *counts* are not secrets
    assert data["metadata"]["api_key"] == "[redacted]"
    # the store itself keeps what the user wrote; only exports are scrubbed
    assert env_key in store.load(sid)["messages"][0]["content"][0]["text"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"schema": "jupychat.session", "version": 1, "id": "x", "mess', "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not a UTF-8"),
        (b"[1, 2, 3]", "not a jupychat session export"),
        (json.dumps({"id": "abc", "title": "Oblix", "messages": []}).encode(), "not a jupychat"),
        (
            json.dumps({"schema": "jupychat.session", "version": 2, "id": "a"}).encode(),
            "newer jupychat",
        ),
        (json.dumps({"schema": "jupychat.session", "version": "1", "id": "a"}).encode(), "version"),
        (json.dumps({"schema": "jupychat.session", "version": 1}).encode(), "no session id"),
        (
            json.dumps(
                {
                    "schema": "jupychat.session",
                    "version": 1,
                    "id": "a",
                    "messages": [{"role": "robot", "content": []}],
                }
            ).encode(),
            "message 0",
        ),
        (
            json.dumps(
                {
                    "schema": "jupychat.session",
                    "version": 1,
                    "id": "a",
                    "messages": {"not": "a list"},
                }
            ).encode(),
            "list",
        ),
        (
            json.dumps(
                {
                    "schema": "jupychat.session",
                    "version": 1,
                    "id": "a",
                    "created_at": "last tuesday",
                }
            ).encode(),
            "ISO 8601",
        ),
        (
            json.dumps(
                {"schema": "jupychat.session", "version": 1, "id": "a", "metadata": ["x"]}
            ).encode(),
            "metadata must be a dict",
        ),
    ],
)
def test_bad_imports_are_one_line_errors_and_change_nothing(
    store, session, tmp_path, content, message
):
    before = [store.load(s["id"]) for s in store.sessions()]
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=message) as info:
        store.import_(path)
    assert "\n" not in str(info.value)
    assert [store.load(s["id"]) for s in store.sessions()] == before


def test_import_missing_file(store, tmp_path):
    with pytest.raises(StoreError, match="cannot read"):
        store.import_(tmp_path / "nope.json")


def test_export_to_unwritable_place_is_clean(store, session, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot write"):
        store.export(session, blocker / "sub" / "s.json")
    assert blocker.read_text() == "x"
