"""The reproducible-notebook promise, end to end in real kernels (nbclient).

A notebook with several %%chat cells and DataFrames runs against the fake server and is
saved (as nbclient's caller saves it). Then, with that server stopped, no key and a fresh
empty store, the saved notebook runs again in strict replay mode: no request, and every
%%chat output is the recorded one (the footer marked "replayed"). Changing one DataFrame
makes exactly the cells that used it fail, each naming it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from fakeserver import FakeServer

pytestmark = pytest.mark.kernel

DATA = (
    "import pandas as pd\n"
    "sales = pd.DataFrame({'region': ['north', 'south', 'east'], 'amount': [12.5, 8.0, 3.25]})\n"
    "costs = pd.DataFrame({'item': ['rent', 'staff'], 'eur': [1200, 5400]})\n"
    "rate = 0.2"
)
CHAT_CELLS = [
    "%%chat\nWhat is in @sales?",
    "%%chat\nSummarise {costs} briefly.",
    "%%chat --context sales,costs\nCompare the two tables.",
    "%%chat\nWhat is 2 + 2? The tax rate is {rate}.",
    "%%chat --temperature 0.3\nWhich region of @sales sells most?",
]
USES_COSTS = {1, 2}


def notebook() -> nbformat.NotebookNode:
    cells = [nbformat.v4.new_code_cell("%load_ext jupychat"), nbformat.v4.new_code_cell(DATA)]
    cells += [nbformat.v4.new_code_cell(src) for src in CHAT_CELLS]
    return nbformat.v4.new_notebook(cells=cells)


def execute(path: Path, env: dict[str, str], monkeypatch, allow_errors: bool = False):
    for key in ("JUPYCHAT_REPLAY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    monkeypatch.setenv("IPYTHONDIR", str(path.parent / ".ipython"))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    nbformat.write(nb, path)  # the runner saves the executed notebook
    return nb


def chat_outputs(nb) -> list[list[dict]]:
    return [
        [dict(o) for o in cell.outputs]
        for cell in nb.cells
        if cell.cell_type == "code" and cell.source.startswith("%%chat")
    ]


def test_saved_notebook_replays_offline_identically(tmp_path, monkeypatch):
    path = tmp_path / "analysis.ipynb"
    nbformat.write(notebook(), path)
    server = FakeServer().start()
    model = f"openai-compatible:fake@{server.openai_base_url}"
    try:
        live = execute(
            path, {"JUPYCHAT_MODEL": model, "JUPYCHAT_STORE": str(tmp_path / "a.db")}, monkeypatch
        )
        assert len(server.requests) == len(CHAT_CELLS)
    finally:
        server.stop()
    recorded = chat_outputs(live)
    for outputs in recorded:
        assert len(outputs) == 1 and outputs[0]["output_type"] == "display_data", outputs
        assert outputs[0]["metadata"]["jupychat"]["v"] == 1

    # a colleague: the server is gone, no key, a fresh empty store, strict replay
    env = {
        "JUPYCHAT_MODEL": model,
        "JUPYCHAT_STORE": str(tmp_path / "fresh" / "b.db"),
        "JUPYCHAT_REPLAY": "strict",
    }
    replayed = execute(path, env, monkeypatch)
    assert len(server.requests) == len(CHAT_CELLS)  # zero new requests
    again = chat_outputs(replayed)
    for before, after in zip(recorded, again, strict=True):
        (b,), (a,) = before, after
        assert a["data"]["text/plain"] == b["data"]["text/plain"]
        foot = "</sub></div></div>"
        assert a["data"]["text/html"] == b["data"]["text/html"].replace(foot, " · replayed" + foot)
        assert a["metadata"] == b["metadata"]

    # replaying the replayed notebook is byte-identical, also for a reader whose default
    # model is another one (the notebook does not choose its model)
    reader = {k: v for k, v in env.items() if k != "JUPYCHAT_MODEL"}
    reader["JUPYCHAT_STORE"] = str(tmp_path / "fresh2" / "c.db")
    monkeypatch.delenv("JUPYCHAT_MODEL")
    third = execute(path, reader, monkeypatch)
    assert chat_outputs(third) == again

    # change one DataFrame: exactly the cells that used it miss, naming it
    changed = copy.deepcopy(third)
    changed.cells[1].source = DATA.replace("[1200, 5400]", "[1200, 5500]")
    nbformat.write(changed, path)
    env["JUPYCHAT_STORE"] = str(tmp_path / "fresh3" / "d.db")
    with pytest.raises(CellExecutionError) as failed:  # CI: the run stops at the first miss
        execute(path, env, monkeypatch)
    assert "context of `costs` changed" in str(failed.value)
    nbformat.write(changed, path)
    result = execute(path, env, monkeypatch, allow_errors=True)
    for index, outputs in enumerate(chat_outputs(result)):
        if index in USES_COSTS:
            (error,) = outputs  # one line on stderr, nothing else
            assert error["name"] == "stderr" and error["text"].count("\n") == 1, error
            assert "UsageError: replay (strict)" in error["text"]
            assert "costs" in error["text"] and "sales" not in error["text"], error
        else:
            assert outputs == again[index]
    assert len(server.requests) == len(CHAT_CELLS)
