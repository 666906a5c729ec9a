"""Every notebook in notebooks/ runs top to bottom in a real kernel (nbclient).

Against the loopback fake server (OpenAI wire format) by default; the quickstart also runs
once against the embedded llama.cpp model, as a new user with no API key would run it.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from fixtures_server import fake_server  # noqa: F401  (fixture)

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
pytestmark = pytest.mark.kernel


def execute(path: Path, workdir: Path, env: dict[str, str], monkeypatch) -> nbformat.NotebookNode:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("JPY_SESSION_NAME", str(workdir / path.name))
    monkeypatch.setenv("IPYTHONDIR", str(workdir / ".ipython"))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=240, resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    return nb


def outputs_text(nb) -> str:
    chunks = []
    for cell in nb.cells:
        expected_error = "raises-exception" in cell.get("metadata", {}).get("tags", [])
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error" or expected_error, output
            chunks.append(output.get("text", ""))
            for value in output.get("data", {}).values():
                chunks.append(value if isinstance(value, str) else str(value))
    return "\n".join(chunks)


def test_all_notebooks_are_covered():
    assert {p.stem for p in NOTEBOOKS} >= {"quickstart", "dataframes", "sessions"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_against_fake_server(path, tmp_path, fake_server, monkeypatch):  # noqa: F811
    env = {
        "JUPYCHAT_MODEL": f"openai-compatible:fake@{fake_server.openai_base_url}",
        "JUPYCHAT_STORE": str(tmp_path / "sessions.db"),
        "JUPYCHAT_CONFIG": str(tmp_path / "config.toml"),
    }
    nb = execute(path, tmp_path, env, monkeypatch)
    text = outputs_text(nb)
    assert "You said:" in text  # the server's echo reached the cell output
    assert f"openai-compatible:fake@127.0.0.1:{fake_server.port}" in text  # footer: model + host
    assert len(fake_server.requests) >= 2
    if path.stem == "sessions":  # exports go to a temporary folder, never next to the notebook
        exported = re.findall(r"exported to (\S+)", text)
        assert [Path(p).name for p in exported] == ["chat-export.md", "chat-export.ipynb"]
        assert all(Path(p).parent != tmp_path and Path(p).exists() for p in exported)
        assert nbformat.read(exported[1], as_version=4).cells
        assert not list(tmp_path.glob("chat-export.*"))


def _user_message(body: dict) -> tuple[str, list[dict]]:
    """The last user message of a Chat Completions request: its text and its parts."""
    content = body["messages"][-1]["content"]
    parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
    return "\n".join(p.get("text", "") for p in parts), parts


def test_the_model_sees_the_notebook(tmp_path, fake_server, monkeypatch):  # noqa: F811
    """A real kernel: an empty plot, @fig for a model that takes images, @error, --cells."""
    path = next(p for p in NOTEBOOKS if p.stem == "notebook_context")
    env = {
        "JUPYCHAT_MODEL": f"openai-compatible:fake@{fake_server.openai_base_url}",
        "JUPYCHAT_STORE": str(tmp_path / "sessions.db"),
        "JUPYCHAT_CONFIG": str(tmp_path / "config.toml"),
        "JUPYCHAT_VISION": "true",  # this endpoint's model takes images
    }
    nb = execute(path, tmp_path, env, monkeypatch)
    preview = next(c for c in nb.cells if c.source == "%chat context @fig")
    assert "no plotted data" in outputs_text(nbformat.v4.new_notebook(cells=[preview]))
    asked = {}
    for request in fake_server.requests:
        text, parts = _user_message(request.body)
        for marker in ("@fig", "@error", "--cells"):
            if marker in text or (marker == "--cells" and "last three cells" in text):
                asked[marker] = (text, parts)
    text, parts = asked["@fig"]
    assert "no plotted data" in text and "Revenue by month" in text
    images = [p for p in parts if p.get("type") == "image_url"]
    assert len(images) == 1 and images[0]["image_url"]["url"].startswith("data:image/png;base64,")
    text, _ = asked["@error"]
    assert "KeyError" in text and 'sales["Revenue"].sum()' in text
    text, _ = asked["--cells"]  # the recorded cells that ran code (chat cells are not repeated)
    assert 'sales.plot(x="month"' in text and "KeyError" in text


@pytest.mark.llama
@pytest.mark.skipif(
    importlib.util.find_spec("xllamacpp") is None and not os.environ.get("CI"),
    reason="the embedded model runtime (jupychat[local]) is not installed",
)
def test_quickstart_with_embedded_model_and_no_key(tmp_path, monkeypatch):
    for var in ("JUPYCHAT_MODEL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    path = next(p for p in NOTEBOOKS if p.stem == "quickstart")
    env = {
        "JUPYCHAT_STORE": str(tmp_path / "sessions.db"),
        "JUPYCHAT_CONFIG": str(tmp_path / "config.toml"),
    }
    nb = execute(path, tmp_path, env, monkeypatch)
    text = outputs_text(nb)
    assert "model: local:SmolLM2-135M-Instruct.Q4_1 — the embedded offline model" in text
    answers = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("%%chat")]
    assert {c.source.split("\n", 1)[1] for c in answers} == set(QUICKSTART_ANSWERS)
    for cell in answers:
        assert len(cell.outputs) == 1, cell.outputs  # one output per answer
        answer = cell.outputs[0]["data"]["text/plain"]
        for word in QUICKSTART_ANSWERS[cell.source.split("\n", 1)[1]]:
            assert word in answer, (cell.source, answer)


# What each quickstart prompt must get from the embedded model (greedy decoding: the same
# answer on every run; the exact answers are quoted in notebooks/make_notebooks.py).
QUICKSTART_ANSWERS = {
    "What is the capital of France?": ["Paris"],
    "What language do people speak there?": ["French"],
    "Show Python code to sort a list called numbers.": ["```python", "sorted(numbers)"],
    "Name the three columns of @sales.": ["region", "units", "price"],
}
