"""What a ``%%chat`` cell leaves in the saved notebook (issue 14): one display output per
answer, whose ``text/plain`` is the answer text, so nbconvert, GitHub's and VS Code's
plain views read it. Run in a real kernel (nbclient), with the embedded model (it shows a
"loading the model" line first) and with a server-backed model.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from fixtures_server import fake_server  # noqa: F401  (fixture)
from llama_fixtures import needs_llama

pytestmark = pytest.mark.kernel


def execute(cells: list[str], tmp_path: Path, monkeypatch, model: str) -> nbformat.NotebookNode:
    monkeypatch.setenv("JUPYCHAT_MODEL", model)
    monkeypatch.setenv("JUPYCHAT_STORE", str(tmp_path / "s.db"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / ".ipython"))
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    NotebookClient(nb, kernel_name="python3", timeout=240).execute()
    return nb


def answers(nb, kernel_answers: list[str]) -> None:
    chat_cells = [c for c in nb.cells if c.source.startswith("%%chat")]
    assert len(chat_cells) == len(kernel_answers)
    for cell, answer in zip(chat_cells, kernel_answers, strict=True):
        assert [o.output_type for o in cell.outputs] == ["display_data"], cell.outputs
        data = cell.outputs[0].data
        assert set(data) == {"text/plain", "text/html"}  # never text/markdown
        assert data["text/plain"] == answer
        assert answer.strip() and "IPython.core.display" not in data["text/plain"]


RECORD = (
    "from jupychat.notebook import get_chat\n"
    "print('\\x1e'.join(m.text for m in get_chat().session().history if m.role == 'assistant'))"
)


def _stored(nb) -> list[str]:
    return nb.cells[-1].outputs[0].text.rstrip("\n").split("\x1e")


@needs_llama
@pytest.mark.llama
def test_embedded_model_answers_leave_one_output_each(tmp_path, monkeypatch):
    cells = ["%load_ext jupychat", "%%chat --max-tokens 16\nWhat is 2 + 2?"]
    cells += ["%%chat --no-stream --max-tokens 16\nWhat is 3 + 3?", RECORD]
    nb = execute(cells, tmp_path, monkeypatch, "local")
    answers(nb, _stored(nb))


def test_server_model_answers_leave_one_output_each(tmp_path, monkeypatch, fake_server):  # noqa: F811
    fake_server.enqueue("**Four.**").enqueue("Six, as `3 + 3`.")
    cells = ["%load_ext jupychat", "%%chat\nWhat is 2 + 2?", "%%chat --no-stream\n3 + 3?", RECORD]
    nb = execute(cells, tmp_path, monkeypatch, f"openai-compatible:m@{fake_server.openai_base_url}")
    answers(nb, ["**Four.**", "Six, as `3 + 3`."])
    assert _stored(nb) == ["**Four.**", "Six, as `3 + 3`."]
