"""The magics in a real ipykernel, driven over the Jupyter protocol as JupyterLab does.

- The stop button: the kernel is interrupted while `%%chat` streams slowly from the loopback
  fake server; the stream stops at once, the partial answer is shown and stored marked
  interrupted, and the next `%%chat` works.
- Re-running a cell: execute requests carry the cell id in their metadata (``cellId``), and
  a re-run replaces that cell's turn instead of adding another.
- The embedded model's first cell: "loading the local model…" shows before the answer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel

from fixtures_server import fake_server  # noqa: F401  (fixture)
from llama_fixtures import needs_llama

pytestmark = pytest.mark.kernel


@contextmanager
def kernel(tmp_path: Path, notebook: str, model: str | None = None) -> Iterator[tuple[Any, Any]]:
    """A real python3 kernel for notebook ``tmp_path/notebook`` (``JPY_SESSION_NAME``) with
    a temporary store, config and IPython folder, and ``model`` as ``JUPYCHAT_MODEL``;
    yields ``(manager, client)`` and shuts the kernel down afterwards."""
    env = {
        **os.environ,
        **({"JUPYCHAT_MODEL": model} if model else {}),
        "JUPYCHAT_STORE": str(tmp_path / "sessions.db"),
        "JUPYCHAT_CONFIG": str(tmp_path / "config.toml"),
        "JPY_SESSION_NAME": str(tmp_path / notebook),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _run(client, code: str, timeout: float = 60) -> tuple[dict, list[dict]]:
    msg_id = client.execute(code)
    outputs: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        msg = client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
        outputs.append(msg)
    reply = client.get_shell_msg(timeout=10)
    return reply["content"], outputs


def _texts(outputs: list[dict]) -> str:
    chunks = []
    for msg in outputs:
        content = msg["content"]
        chunks.append(content.get("text", ""))
        chunks.extend(str(v) for v in content.get("data", {}).values())
        chunks.extend(content.get("traceback", []))
    return "\n".join(chunks)


def test_stop_button_interrupts_stream_and_keeps_partial(tmp_path, fake_server, monkeypatch):  # noqa: F811
    with kernel(
        tmp_path, "interrupt.ipynb", model=f"openai-compatible:fake@{fake_server.openai_base_url}"
    ) as (manager, client):
        reply, _ = _run(client, "%load_ext jupychat")
        assert reply["status"] == "ok"
        fake_server.enqueue("word " * 400, chunk_size=5, chunk_delay=0.05)  # ~20 s if not stopped
        msg_id = client.execute("%%chat\nTell me a very long story.")
        time.sleep(2.0)
        sent = time.monotonic()
        manager.interrupt_kernel()
        outputs = []
        while True:
            msg = client.get_iopub_msg(timeout=10)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            outputs.append(msg)
        stopped_after = time.monotonic() - sent
        reply = client.get_shell_msg(timeout=10)["content"]
        assert stopped_after < 1.0, f"the stream took {stopped_after:.2f}s to stop"
        assert reply["status"] == "ok", reply  # no traceback: the stop is shown, not raised
        shown = _texts(outputs)
        assert "word word" in shown and "stopped" in shown
        assert "Traceback" not in shown

        reply, outputs = _run(
            client,
            "from jupychat.notebook import get_chat\n"
            "last = get_chat().session().history[-1]\n"
            "print(last.interrupted, 0 < len(last.text) < len('word ' * 400))",
        )
        assert "True True" in _texts(outputs), _texts(outputs)

        reply, outputs = _run(client, "%%chat\nAre you still there?")
        assert reply["status"] == "ok"
        assert "You said: Are you still there?" in _texts(outputs)


def send_cell(client, code: str, cell_id: str) -> str:
    """Send an execute_request carrying the cell id, as JupyterLab does (metadata.cellId);
    returns its message id."""
    content = {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
    }
    msg = client.session.msg("execute_request", content, metadata={"cellId": cell_id})
    client.shell_channel.send(msg)
    return str(msg["header"]["msg_id"])


def _run_cell_with_id(client, code: str, cell_id: str) -> list[dict]:
    """Run a cell with its cell id (:func:`send_cell`); returns its outputs."""
    msg_id = send_cell(client, code, cell_id)
    outputs = []
    while True:
        reply = client.get_iopub_msg(timeout=60)
        if reply["parent_header"].get("msg_id") != msg_id:
            continue
        if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
            break
        outputs.append(reply)
    client.get_shell_msg(timeout=10)
    return outputs


def test_rerunning_a_cell_in_a_real_kernel_replaces_its_turn(tmp_path, fake_server):  # noqa: F811
    with kernel(
        tmp_path, "rerun.ipynb", model=f"openai-compatible:fake@{fake_server.openai_base_url}"
    ) as (_manager, client):
        _run(client, "%load_ext jupychat")
        _run_cell_with_id(client, "%%chat\nfirst wording", "cell-A")
        _run_cell_with_id(client, "%%chat\nanother cell", "cell-B")
        _run_cell_with_id(client, "%%chat\nsecond wording", "cell-A")
        _, outputs = _run(
            client,
            "from jupychat.notebook import get_chat\n"
            "print([m.text for m in get_chat().session().history if m.role == 'user'])",
        )
        # the re-run keeps its place above the later cell (issue 21)
        assert "['second wording', 'another cell']" in _texts(outputs)


@needs_llama
@pytest.mark.llama
def test_a_local_cell_shows_the_loading_status_before_the_answer(tmp_path):
    """A fresh kernel: the embedded model loads on the first ``%%chat -m local`` cell, and
    the cell shows that it is loading before the answer streams in (the status line is
    cleared when the answer starts)."""
    with kernel(tmp_path, "local.ipynb") as (_manager, client):
        reply, _ = _run(client, "%load_ext jupychat")
        assert reply["status"] == "ok"
        reply, outputs = _run(
            client, "%%chat -m local --max-tokens 8 --temperature 0\nSay hi.", timeout=180
        )
        assert reply["status"] == "ok", _texts(outputs)
        seen = []
        for msg in outputs:
            data = msg["content"].get("data", {})
            plain, markup = data.get("text/plain", ""), data.get("text/html", "")
            if "jc-status" in markup and plain.startswith("loading the local model"):
                seen.append("loading")
            elif "jc-status" in markup and " loaded in " in plain:
                seen.append("loaded")
            elif "jc-answer" in markup and plain.strip():
                seen.append("answer")
        assert seen[:2] == ["loading", "loaded"] and "answer" in seen, seen
        assert seen.index("answer") > seen.index("loaded")
        # the model stays loaded in the kernel: the next local cell shows no loading line
        reply, outputs = _run(client, "%%chat -m local --max-tokens 4\nAgain.", timeout=120)
        assert reply["status"] == "ok" and "loading the local model" not in _texts(outputs)
