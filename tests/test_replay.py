"""Replay mode in one IPython shell: every %%chat turn is a recording; a matching cell
shows the recorded answer with no request; a miss says which input changed.

The model is the loopback fake server (real HTTP), so "no request" is counted, not mocked.
"""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError  # noqa: F401  (documented failure type)
from IPython.utils.capture import capture_output

from fixtures_server import fake_server  # noqa: F401  (fixture)

CELL = "%%chat\nSummarise @sales in one line."


@pytest.fixture
def shell(notebook_shell, fake_server):  # noqa: F811
    sh = notebook_shell(f"openai-compatible:fake@{fake_server.openai_base_url}")
    sh.user_ns["sales"] = pd.DataFrame({"region": ["n", "s", "e"], "amount": [1.5, 2.0, 3.25]})
    sh.user_ns["costs"] = pd.DataFrame({"item": ["a", "b"], "eur": [10, 20]})
    return sh


def run(shell, cell, cell_id=None):
    with capture_output() as captured:
        result = shell.run_cell(cell, cell_id=cell_id)
    return result, captured


def answer_output(captured):
    """The last display of the answer (its final state: data and metadata)."""
    outs = [o for o in captured.outputs if "jc-answer" in o.data.get("text/html", "")]
    assert outs, [o.data for o in captured.outputs]
    return outs[-1]


def test_every_turn_is_recorded_in_the_store_and_the_output(shell, fake_server):  # noqa: F811
    from jupychat.store import SessionStore
    from jupychat.store.recordings import RecordingStore

    result, out = run(shell, CELL)
    assert result.success, result.error_in_exec
    block = answer_output(out).metadata["jupychat"]
    assert block["v"] == 1
    assert set(block["in"]["context"]) >= {"var:sales"}  # per variable name
    assert "var:costs" not in block["in"]["context"]
    assert block["in"]["model"].startswith("openai-compatible:fake@")
    stored = RecordingStore(SessionStore()).get(block["key"])
    assert stored is not None and stored.answer.startswith("You said:")
    assert stored.inputs.prompt_text == "Summarise @sales in one line."


def test_replay_hit_shows_recorded_answer_without_a_request(shell, fake_server):  # noqa: F811
    _, first = run(shell, CELL)
    assert len(fake_server.requests) == 1
    run(shell, "%chat replay on")
    result, second = run(shell, CELL)
    assert result.success, result.error_in_exec
    assert len(fake_server.requests) == 1  # no request at all
    a, b = answer_output(first), answer_output(second)
    assert a.data["text/plain"] == b.data["text/plain"]
    assert b.data["text/html"] == a.data["text/html"].replace(
        "</sub></div></div>", " · replayed</sub></div></div>"
    )
    assert a.metadata == b.metadata


def test_strict_miss_names_the_changed_variable_and_sends_nothing(shell, fake_server):  # noqa: F811
    run(shell, CELL)
    run(shell, "%%chat\nAnd @costs?")
    history = len(shell.magics_manager.registry["ChatMagics"].nbchat.session().history)
    run(shell, "%chat replay strict")
    shell.user_ns["sales"] = shell.user_ns["sales"].assign(amount=[9.0, 9.0, 9.0])
    result, _ = run(shell, CELL)
    assert not result.success
    message = str(result.error_in_exec)
    assert "sales" in message and "costs" not in message
    assert "\n" not in message
    result, _ = run(shell, "%%chat\nAnd @costs?")  # the cell that did not use sales: a hit
    assert result.success, result.error_in_exec
    assert len(fake_server.requests) == 2
    session = shell.magics_manager.registry["ChatMagics"].nbchat.session()
    assert len(session.history) == history + 2  # the failed cell added nothing


@pytest.mark.parametrize(
    ("changed", "word"),
    [
        ("%%chat\nSummarise @sales in two lines.", "prompt"),
        ("%%chat -m fake:other\nSummarise @sales in one line.", "model"),
        ("%%chat --temperature 0.7\nSummarise @sales in one line.", "options"),
    ],
)
def test_a_miss_says_which_input_changed(shell, fake_server, changed, word):  # noqa: F811
    """The same cell (as JupyterLab sends its id), edited: the miss names what changed."""
    run(shell, CELL, cell_id="cell-1")
    run(shell, "%chat replay strict")
    result, _ = run(shell, changed, cell_id="cell-1")
    assert not result.success
    assert word in str(result.error_in_exec)
    assert len(fake_server.requests) == 1


def test_auto_miss_says_why_then_asks_the_model(shell, fake_server):  # noqa: F811
    run(shell, CELL)
    run(shell, "%chat replay auto")
    shell.user_ns["sales"] = shell.user_ns["sales"].head(2)
    result, out = run(shell, CELL)
    assert result.success, result.error_in_exec
    assert len(fake_server.requests) == 2
    assert "sales" in out.stdout and "replay" in out.stdout
    # and the new answer is now the recording: a third run is a hit
    result, out = run(shell, CELL)
    assert len(fake_server.requests) == 2
    assert "replayed" in answer_output(out).data["text/html"]


def test_refresh_re_asks_and_replaces_the_recording(shell, fake_server):  # noqa: F811
    fake_server.enqueue(text="first answer")
    run(shell, CELL)
    run(shell, "%chat replay strict")
    fake_server.enqueue(text="second answer")
    run(shell, "%chat replay refresh")
    result, out = run(shell, CELL)
    assert result.success, result.error_in_exec
    assert len(fake_server.requests) == 2
    assert answer_output(out).data["text/plain"] == "second answer"
    result, out = run(shell, CELL)  # replays the refreshed recording
    assert len(fake_server.requests) == 2
    assert answer_output(out).data["text/plain"] == "second answer"


def test_env_variable_and_config_trait_turn_replay_on(shell, fake_server, monkeypatch):  # noqa: F811
    run(shell, CELL)
    monkeypatch.setenv("JUPYCHAT_REPLAY", "strict")
    result, _ = run(shell, "%%chat\nnever asked before")
    assert not result.success and "replay" in str(result.error_in_exec)
    monkeypatch.setenv("JUPYCHAT_REPLAY", "1")
    run(shell, CELL)
    assert len(fake_server.requests) == 1
    monkeypatch.delenv("JUPYCHAT_REPLAY")
    run(shell, "%config ChatMagics.replay = 'strict'")
    result, _ = run(shell, "%%chat\nnever asked before either")
    assert not result.success
    run(shell, "%chat replay off")
    result, _ = run(shell, CELL)
    assert result.success and len(fake_server.requests) == 2


def test_replay_status_and_bad_mode(shell):
    result, out = run(shell, "%chat replay")
    assert result.success and "replay" in out.stdout
    result, _ = run(shell, "%chat replay sometimes")
    assert not result.success
    assert "on, off, auto, strict" in str(result.error_in_exec)


def test_diff_lists_the_cells_that_would_miss_and_why(notebook_shell, fake_server, tmp_path):  # noqa: F811
    import nbformat

    path = tmp_path / "nb.ipynb"
    shell = notebook_shell(f"openai-compatible:fake@{fake_server.openai_base_url}", str(path))
    shell.user_ns["sales"] = pd.DataFrame({"region": ["n", "s"], "amount": [1.0, 2.0]})
    shell.user_ns["costs"] = pd.DataFrame({"eur": [10, 20]})
    asked = [CELL, "%%chat\nAnd @costs?"]
    cells = [nbformat.v4.new_markdown_cell("# Sales"), nbformat.v4.new_code_cell("x = 1")]
    for source in asked:
        _, out = run(shell, source)
        cell = nbformat.v4.new_code_cell(source)
        final = answer_output(out)
        cell.outputs = [
            nbformat.v4.new_output("display_data", data=final.data, metadata=final.metadata)
        ]
        cells.append(cell)
    cells.append(nbformat.v4.new_code_cell("%%chat --context sales\nA new question."))
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    shell.user_ns["costs"] = pd.DataFrame({"eur": [10, 25]})
    nbchat = shell.magics_manager.registry["ChatMagics"].nbchat
    before = len(nbchat.session().history)
    requests = len(fake_server.requests)
    result, out = run(shell, "%chat replay diff")
    assert result.success, result.error_in_exec
    lines = out.stdout.strip().splitlines()
    assert lines == [
        "nb.ipynb: 1 of 3 %%chat cells would replay",
        "cell 3: replays",
        "cell 4: would miss: the context of `costs` changed",
        "cell 5: would miss: this cell has no recording yet",
    ]
    assert len(fake_server.requests) == requests  # nothing asked
    assert len(nbchat.session().history) == before  # nothing added


def test_diff_without_a_saved_notebook_says_what_to_do(shell):
    result, _ = run(shell, "%chat replay diff")
    assert not result.success
    assert "save the notebook" in str(result.error_in_exec)


def test_structured_answers_replay_as_data(shell, fake_server):  # noqa: F811
    shell.user_ns["Count"] = {
        "type": "object",
        "properties": {"rows": {"type": "integer"}, "top": {"type": "string"}},
        "required": ["rows", "top"],
    }
    fake_server.enqueue(text='{"rows": 3, "top": "e"}')
    cell = "%%chat --schema Count --out answer\nHow many rows has @sales, which region tops?"
    result, _ = run(shell, cell)
    assert result.success, result.error_in_exec
    first = shell.user_ns.pop("answer")
    run(shell, "%chat replay strict")
    result, _ = run(shell, cell)
    assert result.success, result.error_in_exec
    assert shell.user_ns["answer"] == first == {"rows": 3, "top": "e"}
    assert len(fake_server.requests) == 1
    shell.user_ns["Count"] = {**shell.user_ns["Count"], "required": ["rows"]}
    result, _ = run(shell, cell)  # another shape: another turn
    assert not result.success and "schema" in str(result.error_in_exec)


def test_replayed_turns_join_the_conversation(shell, fake_server):  # noqa: F811
    """A replayed turn is in history, with the context it carried, so a live follow-up
    after it is asked with the whole conversation."""
    run(shell, CELL)
    nbchat = shell.magics_manager.registry["ChatMagics"].nbchat
    nbchat.new_session()
    run(shell, "%chat replay auto")
    run(shell, CELL)  # replayed into the new session
    assert len(fake_server.requests) == 1
    history = nbchat.session().history
    assert [m.role for m in history] == ["user", "assistant"]
    assert history[0].meta.get("replayed") and history[1].meta.get("replayed")
    assert any(b.key == "var:sales" for b in history[0].context_blocks)
    run(shell, "%%chat\nAnd a follow-up?")
    body = fake_server.requests[-1].body
    sent = " ".join(str(m.get("content")) for m in body["messages"])
    assert "Summarise @sales in one line." in sent and "You said:" in sent


def test_a_changed_inline_value_is_named(shell, fake_server):  # noqa: F811
    """``{rate}`` writes the value into the prompt: a new value names the variable."""
    shell.user_ns["rate"] = 0.2
    cell = "%%chat\nApply a tax rate of {rate} to @sales."
    run(shell, cell, cell_id="c-rate")
    run(shell, "%chat replay strict")
    shell.user_ns["rate"] = 0.25
    result, _ = run(shell, cell, cell_id="c-rate")
    message = str(result.error_in_exec)
    assert "the value of `rate` changed" in message
    assert "the prompt changed" not in message and "sales" not in message
    shell.user_ns["rate"] = 0.2
    result, _ = run(shell, "%%chat\nApply a tax rate of {rate} to @sales!", cell_id="c-rate")
    assert "the prompt changed" in str(result.error_in_exec)
    assert len(fake_server.requests) == 1


def _saved_notebook(shell, path, cells):
    """Run ``cells`` and save them, with their answer outputs, as the notebook ``path``."""
    import nbformat

    saved = []
    for source in cells:
        _, out = run(shell, source)
        cell = nbformat.v4.new_code_cell(source)
        final = answer_output(out)
        cell.outputs = [
            nbformat.v4.new_output("display_data", data=final.data, metadata=final.metadata)
        ]
        saved.append(cell)
    nbformat.write(nbformat.v4.new_notebook(cells=saved), path)
    return saved


def test_a_reader_with_another_default_model_gets_the_recorded_answers(
    notebook_shell,
    fake_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    """The notebook does not choose its model: the recordings are its answers, whatever
    model the reader has by default; a cell that chooses one (-m) must match it."""
    path = tmp_path / "nb.ipynb"
    shell = notebook_shell(f"openai-compatible:fake@{fake_server.openai_base_url}", str(path))
    frame = pd.DataFrame({"region": ["n", "s"], "amount": [1.0, 2.0]})
    shell.user_ns["sales"] = frame
    saved = _saved_notebook(shell, path, [CELL, "%%chat -m fake:chosen\nHi @sales"])
    monkeypatch.setenv("JUPYCHAT_STORE", str(tmp_path / "reader.db"))
    monkeypatch.setenv("JUPYCHAT_REPLAY", "strict")
    reader = notebook_shell("fake:reader-default", str(path))
    reader.user_ns["sales"] = frame
    result, out = run(reader, CELL)
    assert result.success, result.error_in_exec
    shown = answer_output(out)
    assert shown.data["text/plain"] == saved[0].outputs[0]["data"]["text/plain"]
    assert "openai-compatible:fake@127.0.0.1" in shown.data["text/html"]  # who answered
    result, out = run(reader, "%%chat -m fake:chosen\nHi @sales")  # same chosen model
    assert result.success, result.error_in_exec
    result, _ = run(reader, "%%chat -m fake:another\nHi @sales", cell_id=saved[1].id)
    assert not result.success and "the model changed" in str(result.error_in_exec)
    run(reader, "%chat model fake:pinned")  # the notebook chooses: the model must match
    result, _ = run(reader, CELL)
    assert not result.success and "the model changed" in str(result.error_in_exec)


def test_a_reader_with_no_model_at_all_still_replays(
    notebook_shell,
    fake_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    """No key, no embedded model, no model named: replay needs none."""
    from jupychat.providers import registry

    path = tmp_path / "nb.ipynb"
    shell = notebook_shell(f"openai-compatible:fake@{fake_server.openai_base_url}", str(path))
    frame = pd.DataFrame({"region": ["n", "s"], "amount": [1.0, 2.0]})
    shell.user_ns["sales"] = frame
    saved = _saved_notebook(shell, path, [CELL])
    requests = len(fake_server.requests)
    monkeypatch.setattr(registry, "_local_installed", lambda: False)  # this reader's machine
    monkeypatch.setenv("JUPYCHAT_STORE", str(tmp_path / "reader.db"))
    monkeypatch.setenv("JUPYCHAT_REPLAY", "strict")
    reader = notebook_shell("", str(path))
    monkeypatch.delenv("JUPYCHAT_MODEL")
    reader.user_ns["sales"] = frame
    result, out = run(reader, CELL)
    assert result.success, result.error_in_exec
    assert answer_output(out).data["text/plain"] == saved[0].outputs[0]["data"]["text/plain"]
    assert len(fake_server.requests) == requests


def test_an_unchosen_model_is_not_given_as_the_reason(
    notebook_shell,
    fake_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    path = tmp_path / "nb.ipynb"
    shell = notebook_shell(f"openai-compatible:fake@{fake_server.openai_base_url}", str(path))
    shell.user_ns["sales"] = pd.DataFrame({"amount": [1.0, 2.0]})
    _saved_notebook(shell, path, [CELL])
    monkeypatch.setenv("JUPYCHAT_STORE", str(tmp_path / "reader.db"))
    monkeypatch.setenv("JUPYCHAT_REPLAY", "strict")
    reader = notebook_shell("fake:reader-default", str(path))
    reader.user_ns["sales"] = pd.DataFrame({"amount": [1.0, 3.0]})
    result, _ = run(reader, CELL)
    message = str(result.error_in_exec)
    assert "the context of `sales` changed" in message and "model" not in message
