"""Replay safety: recordings hold no secret, a notebook's recording blocks are untrusted
input (malformed ones are ignored, a hostile answer is rendered safely), and a turn that
failed leaves no recording behind.
"""

from __future__ import annotations

import copy

import nbformat
import pandas as pd
import pytest
from IPython.utils.capture import capture_output

from fixtures_server import fake_server  # noqa: F401  (fixture)

KEY = "sk-proj-REPLAYSECRET0123456789abcdefXYZ"


def run(shell, cell):
    with capture_output() as captured:
        result = shell.run_cell(cell)
    return result, captured


def answer(captured):
    return [o for o in captured.outputs if "jc-answer" in o.data.get("text/html", "")][-1]


def records(tmp_path):
    from jupychat.store import SessionStore

    store = SessionStore(tmp_path / "sessions.db")
    rows = store._db.read(lambda c: c.execute("SELECT body FROM recordings").fetchall())
    return [r[0] for r in rows]


def test_no_secret_in_the_recording_block_or_the_store(
    notebook_shell,
    fake_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    host = fake_server.openai_base_url.replace("http://", "http://alice:hunter2pass@")
    shell = notebook_shell(f"openai-compatible:fake@{host}")
    shell.user_ns["token"] = KEY
    result, out = run(shell, "%%chat\nIs {token} a valid key?")  # the echo repeats it
    assert result.success, result.error_in_exec
    block = answer(out).metadata["jupychat"]
    text = repr(block)
    assert KEY not in text and KEY[:16] not in text
    assert "hunter2pass" not in text and "alice" not in text
    assert "prompt_text" not in block["in"]  # digests only in the notebook
    fake_server.enqueue(text=f"Your key {KEY} works.")  # an answer that repeats the key
    result, out = run(shell, f"%%chat -m openai-compatible:fake@{host}\nand now?")  # per cell
    assert result.success, result.error_in_exec
    block = answer(out).metadata["jupychat"]
    assert block["in"]["model"].startswith("openai-compatible:fake@http://127.0.0.1:")
    assert KEY not in repr(block) and "hunter2pass" not in repr(block)
    bodies = records(tmp_path)
    assert len(bodies) == 2
    for body in bodies:
        assert KEY not in body and "hunter2pass" not in body and "alice" not in body


def test_a_failed_turn_leaves_no_recording(notebook_shell, fake_server, tmp_path):  # noqa: F811
    shell = notebook_shell(f"openai-compatible:fake@{fake_server.openai_base_url}")
    fake_server.enqueue(status=400)
    result, _ = run(shell, "%%chat\nhello")
    assert not result.success
    assert records(tmp_path) == []


def _saved(tmp_path, monkeypatch, notebook_shell, server):
    """Record one cell; return (the cell, its saved output) and a notebook path to use."""
    path = tmp_path / "nb.ipynb"
    shell = notebook_shell(f"openai-compatible:fake@{server.openai_base_url}", str(path))
    shell.user_ns["sales"] = pd.DataFrame({"a": [1, 2]})
    cell = "%%chat\nDescribe @sales."
    _, out = run(shell, cell)
    output = answer(out)
    saved = nbformat.v4.new_output(
        "display_data", data=dict(output.data), metadata=copy.deepcopy(dict(output.metadata))
    )
    return cell, saved, path


def _fresh(notebook_shell, server, path, tmp_path, monkeypatch, name):
    monkeypatch.setenv("JUPYCHAT_STORE", str(tmp_path / f"{name}.db"))
    monkeypatch.setenv("JUPYCHAT_REPLAY", "strict")
    shell = notebook_shell(f"openai-compatible:fake@{server.openai_base_url}", str(path))
    shell.user_ns["sales"] = pd.DataFrame({"a": [1, 2]})
    return shell


def _write(path, cell, output):
    code = nbformat.v4.new_code_cell(cell)
    code.outputs = [output]
    nbformat.write(nbformat.v4.new_notebook(cells=[code]), path)


def test_a_hostile_answer_in_the_notebook_is_rendered_safely(
    notebook_shell,
    fake_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    from jupychat._recording import digest

    cell, output, path = _saved(tmp_path, monkeypatch, notebook_shell, fake_server)
    evil = '<script>alert(1)</script><img src=x onerror="alert(2)"> [x](javascript:alert(3))'
    output["data"]["text/plain"] = evil
    output["metadata"]["jupychat"]["out"]["sha"] = digest(evil)
    _write(path, cell, output)
    shell = _fresh(notebook_shell, fake_server, path, tmp_path, monkeypatch, "fresh")
    requests = len(fake_server.requests)
    result, out = run(shell, cell)
    assert result.success, result.error_in_exec
    html = answer(out).data["text/html"]
    assert "<script" not in html and "<img" not in html and "javascript:" not in html
    assert answer(out).data["text/plain"] == evil  # the text, exactly, as plain text
    assert len(fake_server.requests) == requests


@pytest.mark.parametrize(
    "spoil",
    [
        lambda b: b.update(v=99),  # another version
        lambda b: b.update(key="0" * 16),  # a key that is not its inputs'
        lambda b: b["out"].update(sha="0" * 16),  # an answer that does not match
        lambda b: b["out"]["footer"].update(input_tokens="9" * 5000),  # wrong type
        lambda b: b["in"].update(context=["not", "a", "mapping"]),
        lambda b: b.clear(),
    ],
    ids=["version", "key", "sha", "footer", "context", "empty"],
)
def test_malformed_blocks_are_ignored(
    notebook_shell,
    fake_server,  # noqa: F811
    tmp_path,
    monkeypatch,
    spoil,
):
    cell, output, path = _saved(tmp_path, monkeypatch, notebook_shell, fake_server)
    spoil(output["metadata"]["jupychat"])
    _write(path, cell, output)
    shell = _fresh(notebook_shell, fake_server, path, tmp_path, monkeypatch, "fresh")
    requests = len(fake_server.requests)
    result, _ = run(shell, cell)
    assert not result.success  # strict: no usable recording, a one-line miss
    assert "replay (strict)" in str(result.error_in_exec)
    assert "\n" not in str(result.error_in_exec)
    assert len(fake_server.requests) == requests


def test_a_notebook_that_is_not_json_is_ignored(
    notebook_shell,
    fake_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    path = tmp_path / "nb.ipynb"
    path.write_text("{ not json", encoding="utf-8")
    shell = _fresh(notebook_shell, fake_server, path, tmp_path, monkeypatch, "fresh")
    result, _ = run(shell, "%%chat\nDescribe @sales.")
    assert not result.success and "no recording yet" in str(result.error_in_exec)


def test_an_interrupted_answer_is_not_recorded(notebook_shell, fake_server, tmp_path):  # noqa: F811
    shell = notebook_shell(f"openai-compatible:fake@{fake_server.openai_base_url}")
    fake_server.enqueue(text="a long answer that will be cut " * 20, drop_after=3)
    run(shell, "%%chat\nhello")
    assert records(tmp_path) == []
