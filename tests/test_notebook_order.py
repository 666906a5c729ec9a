"""A notebook's conversation follows its cells, not the clock (issue 21; issue 18's
re-runs without cell ids), in real kernels against the loopback fake server.

The scenario of the issue: run a notebook with %%chat cells, ask a question in the panel,
restart the kernel and Run All. Run All must send exactly the requests the first run sent
(the request bodies the fake server received are compared), replace each cell's turn in
its place (4 turns stay 4 turns), and leave the panel question after the cells it
followed. Once with nbclient (no cell ids, like papermill and CI), once with the cell ids
JupyterLab sends (``cellId`` in the execute_request metadata) and the saved .ipynb
giving the page order.
"""

from __future__ import annotations

import json
import queue
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient

from fixtures_server import fake_server  # noqa: F401  (fixture)
from jupychat.store import SessionStore
from test_kernel import send_cell

pytestmark = pytest.mark.kernel

QUESTIONS = ["What is 2 + 2?", "And times 3?", "Name a prime."]
PANEL = "What did I ask first?"
PANEL_CODE = (
    "from jupychat.notebook.engine import Ask\n"
    "_nbchat = get_ipython().magics_manager.registry['ChatMagics'].nbchat\n"
    f"_nbchat.ask(Ask({PANEL!r}, source='panel'))\n"
)


def notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext jupychat"),
        nbformat.v4.new_code_cell(f"%%chat\n{QUESTIONS[0]}"),
        nbformat.v4.new_code_cell("x = 21"),
        nbformat.v4.new_code_cell(f"%%chat\n{QUESTIONS[1]}"),
        nbformat.v4.new_code_cell(f"%%chat\n{QUESTIONS[2]}"),
    ]
    return nb


@pytest.fixture
def env(tmp_path, fake_server, monkeypatch):  # noqa: F811
    path = tmp_path / "order.ipynb"
    nbformat.write(notebook(), path)
    monkeypatch.setenv("JUPYCHAT_MODEL", f"openai-compatible:fake@{fake_server.openai_base_url}")
    monkeypatch.setenv("JUPYCHAT_STORE", str(tmp_path / "sessions.db"))
    monkeypatch.setenv("JUPYCHAT_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / ".ipython"))
    return path


def run_nbclient(path: Path, extra: str | None = None) -> nbformat.NotebookNode:
    """Run the notebook in a new kernel (no cell ids), plus ``extra`` code at the end."""
    nb = nbformat.read(path, as_version=4)
    if extra:
        nb.cells.append(nbformat.v4.new_code_cell(extra))
    NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return nb


def run_with_ids(path: Path, cells: list[str] | None = None, extra: str | None = None) -> str:
    """Run the notebook's cells (or those with ids in ``cells``) in a new kernel, sending
    each cell's id the way JupyterLab does; returns the printed text."""
    nb = nbformat.read(path, as_version=4)
    todo = [(c.source, c.id) for c in nb.cells if cells is None or c.id in cells]
    if extra:
        todo.append((extra, "extra-cell"))
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(path.parent))
    printed: list[str] = []
    try:
        for code, cell_id in todo:
            msg_id = send_cell(kc, code, cell_id)
            while True:
                reply = kc.get_shell_msg(timeout=120)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            assert reply["content"]["status"] == "ok", reply["content"]
            while True:  # outputs of this cell, up to its idle status
                try:
                    out = kc.get_iopub_msg(timeout=30)
                except queue.Empty:
                    break
                if out["parent_header"].get("msg_id") != msg_id:
                    continue
                if out["msg_type"] == "status" and out["content"]["execution_state"] == "idle":
                    break
                data = out["content"].get("data") or {}
                printed.append(
                    out["content"].get("text")
                    or data.get("text/markdown")
                    or data.get("text/plain", "")
                )
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return "\n".join(printed)


def bodies(server, start: int = 0) -> list[str]:
    return [json.dumps(r.body, sort_keys=True) for r in server.requests[start:]]


def the_session(path: Path) -> dict:
    store = SessionStore(path.parent / "sessions.db")
    [summary] = store.sessions(notebook=str(path))
    return store.load(summary["id"])


def user_texts(record: dict) -> list[str]:
    out = []
    for m in record["messages"]:
        if m["role"] == "user":
            out.append("".join(p.get("text", "") for p in m["content"] if p.get("type") == "text"))
    return out


def first_cell_input_tokens(record: dict) -> int:
    messages = record["messages"]
    first = next(i for i, m in enumerate(messages) if m["role"] == "user")
    answer = next(m for m in messages[first:] if m["role"] == "assistant")
    return int(answer["usage"]["input_tokens"])


def test_run_all_after_restart_sends_the_first_runs_requests_nbclient(env, fake_server):  # noqa: F811
    run_nbclient(env, extra=PANEL_CODE)  # first run, then a panel question
    first = bodies(fake_server)
    assert len(first) == 4
    tokens_first = first_cell_input_tokens(the_session(env))
    run_nbclient(env)  # kernel restart + Run All (no cell ids: nbclient, papermill, CI)
    again = bodies(fake_server, 4)
    assert again == first[:3]
    record = the_session(env)
    assert user_texts(record) == [*QUESTIONS, PANEL]  # replaced in place: 4 turns stay 4
    assert len(record["messages"]) == 8
    assert first_cell_input_tokens(record) == tokens_first
    print(f"first %%chat cell after panel + restart + Run All: {tokens_first} input tokens")


def test_run_all_after_restart_sends_the_first_runs_requests_with_cell_ids(env, fake_server):  # noqa: F811
    run_with_ids(env, extra=PANEL_CODE)
    first = bodies(fake_server)
    assert len(first) == 4
    run_with_ids(env)
    assert bodies(fake_server, 4) == first[:3]
    record = the_session(env)
    assert user_texts(record) == [*QUESTIONS, PANEL]
    assert len(record["messages"]) == 8
    history = run_with_ids(env, cells=[], extra="%load_ext jupychat\n%chat history")
    where = [history.find(q) for q in [*QUESTIONS, PANEL]]
    assert -1 not in where and where == sorted(where), history  # %chat history: same order


def test_a_new_cell_sees_the_cells_above_it_on_the_page(env, fake_server):  # noqa: F811
    run_with_ids(env)
    nb = nbformat.read(env, as_version=4)
    new = nbformat.v4.new_code_cell("%%chat\nIs it even?")
    nb.cells.insert(2, new)  # between the first and the second %%chat cell, saved
    nbformat.write(nb, env)
    start = len(fake_server.requests)
    run_with_ids(env, cells=[nb.cells[0].id, new.id])
    [request] = fake_server.requests[start:]
    sent = [m["content"] for m in request.body["messages"] if m["role"] == "user"]
    assert [s if isinstance(s, str) else s[-1]["text"] for s in sent] == [
        QUESTIONS[0],
        "Is it even?",
    ]
    assert user_texts(the_session(env)) == [QUESTIONS[0], "Is it even?", *QUESTIONS[1:]]


def test_a_rerun_without_cell_ids_replaces_its_turn(env, fake_server):  # noqa: F811
    """Issue 18: nbclient twice gives the same turns, not twice as many; an edited cell
    is a new one."""
    run_nbclient(env)
    run_nbclient(env)
    assert len(the_session(env)["messages"]) == 6
    nb = nbformat.read(env, as_version=4)
    nb.cells[3].source = "%%chat\nAnd times 5?"
    nbformat.write(nb, env)
    run_nbclient(env)
    assert user_texts(the_session(env)) == [
        QUESTIONS[0],
        QUESTIONS[1],
        QUESTIONS[2],
        "And times 5?",
    ]
