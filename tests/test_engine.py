"""The one notebook turn path: a cell and a panel message flow through the same engine."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cell_run import run
from jupychat import ChatSession
from jupychat.notebook import get_chat
from jupychat.notebook.engine import Footer
from jupychat.notebook.panel import get_panel
from jupychat.providers.fake import get_fake

NOTEBOOK_LAYER = Path(__file__).resolve().parents[1] / "src" / "jupychat" / "notebook"


@pytest.fixture
def shell(notebook_shell):
    return notebook_shell("fake:a", "/work/engine.ipynb")


def test_a_one_off_model_never_becomes_the_sessions_model(shell):
    get_fake("b").enqueue("from b")
    run(shell, "%%chat -m fake:b\nwho answers?")
    chat = get_chat(shell)
    session = chat.session()
    assert session.model_id == "fake:a"
    assert session.history[-1].model == "fake:b"  # the answer records who gave it
    stored = chat.store.load(session.id)
    assert stored["model"] == "fake:a"
    resumed = ChatSession.resume(session.id, store=chat.store)
    assert resumed.model_id == "fake:a"
    # and the next cell, with no -m, asks the session's model
    get_fake("a").enqueue("from a")
    run(shell, "%%chat\nand now?")
    assert session.history[-1].model == "fake:a"


def test_columns_the_prompt_names_get_full_statistics_from_a_cell(shell):
    rng = np.random.default_rng(0)
    shell.user_ns["wide"] = pd.DataFrame(
        {f"sensor_{i:03d}": rng.normal(40, 2, 2_000) for i in range(120)}
    )
    fake = get_fake("a")
    run(shell, "%%chat\nIs sensor_042 in @wide drifting?")
    context = fake.requests[-1].messages[-1].context_blocks
    text = next(b.text for b in context if b.key == "var:wide")
    named = next(line for line in text.splitlines() if line.startswith("| sensor_042 |"))
    # the rest stays compact: its own row, or a run row of its name pattern
    other = next(
        line for line in text.splitlines() if line.startswith(("| sensor_007 |", "| sensor_000…"))
    )
    assert "p50" in named and "max" in named  # full statistics for the named column
    assert "p50" not in other  # the rest stays compact


def test_a_cell_and_a_panel_message_report_the_same_footer(shell):
    chat = get_chat(shell)
    panel = get_panel(chat)
    get_fake("a").enqueue("same answer", usage=(1200, 30))
    run(shell, "%%chat\nfirst")
    cell_message = chat.session().history[-1]
    get_fake("a").enqueue("same answer", usage=(1200, 30))
    panel.send("second")
    assert panel.wait(5)
    panel_message = chat.session().history[-1]
    assert Footer.of([cell_message]).model == Footer.of([panel_message]).model == "fake:a"
    shown = [m.get("footer") for m in panel.view.messages if m.get("role") == "assistant"]
    assert shown[0].split(" · ")[:3] == shown[1].split(" · ")[:3]
    assert shown[0].startswith("fake:a · 1,200 in / 30 out · $0")


def test_unpriced_models_have_an_unknown_cost_everywhere(shell):
    session = get_chat(shell).session()
    get_fake("a").enqueue("x", usage=(10, 2))
    run(shell, "%%chat -m fake:a\nq")
    message = session.history[-1]
    unpriced = message.__class__(**{**message.__dict__, "model": "openai:brand-new-model"})
    assert Footer.of([unpriced]).cost is None
    assert "$" not in Footer.of([unpriced]).text()


def _calls(tree: ast.AST, names: set[str]) -> list[str]:
    """Calls ``<something session-like>.<name>(...)`` (widgets' own ``send`` is not a turn)."""
    return [
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in names
        and "session" in ast.unparse(node.func.value).lower()
    ]


def test_only_the_engine_runs_turns_in_the_notebook_layer():
    """Views parse input and render events; the turn itself runs in binding.ask/aask."""
    turn_calls = {"stream", "astream", "send", "asend", "switch_model"}
    owners = {}
    for path in NOTEBOOK_LAYER.glob("*.py"):
        found = _calls(ast.parse(path.read_text(encoding="utf-8")), turn_calls)
        if found:
            owners[path.name] = sorted(set(found))
    # the engine streams; "%chat model", the panel's model picker and a resumed session whose
    # model the default resolution chose (binding._rechoose) switch models on purpose
    assert owners.pop("binding.py") in (
        ["astream", "stream"],
        ["astream", "stream", "switch_model"],
    )
    assert {k: v for k, v in owners.items() if v != ["switch_model"]} == {}


def test_a_cell_streams_the_same_answer_with_and_without_a_listener(shell):
    """A cell hands streamed text straight to its view when nobody listens; a listener
    (the panel) that subscribes gets every piece as a Delta event, and the cell shows
    the same answer either way."""
    chat = get_chat(shell)
    get_fake("a").enqueue("one two three four", chunk_size=3)
    quiet = run(shell, "%%chat\nfirst")
    seen = []
    unsubscribe = chat.subscribe(lambda event: seen.append(event))
    try:
        get_fake("a").enqueue("one two three four", chunk_size=3)
        heard = run(shell, "%%chat\nsecond")
    finally:
        unsubscribe()
    pieces = [e.text for e in seen if type(e).__name__ == "Delta"]
    assert "".join(pieces) == "one two three four" and len(pieces) == 6
    assert [e.source for e in seen if type(e).__name__ == "Delta"] == ["cell"] * 6
    texts = [o.data["text/plain"] for o in (*quiet.outputs, *heard.outputs)]
    assert texts == ["one two three four"] * 2
