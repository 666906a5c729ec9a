"""The chat panel shows the conversation in the notebook's order (issue 21): when a
re-run cell's turn keeps its place, the panel redraws in that order instead of adding
the answer at the bottom (and keeping the replaced one)."""

from __future__ import annotations

import re

from jupychat.notebook.engine import Ask
from test_panel import chat, panel, shell, wait_for  # noqa: F401  (fixtures)


def users(panel):  # noqa: F811
    return [
        re.sub(r"<[^>]+>", "", m["html"]).strip()
        for m in panel.view.messages
        if m["role"] == "user"
    ]


def test_a_rerun_cell_is_redrawn_in_its_place(chat, panel):  # noqa: F811
    for cell, text in (("a", "A?"), ("b", "B?")):
        chat.ask(Ask(text, source="cell", cell_id=cell))
    panel.send("panel question")
    assert panel.wait(10) and wait_for(lambda: len(users(panel)) == 3)
    chat.ask(Ask("A again?", source="cell", cell_id="a"))
    assert users(panel) == ["A again?", "B?", "panel question"]
    assert [m.text for m in chat.session().history if m.role == "user"] == users(panel)
    chat.ask(Ask("C?", source="cell", cell_id="c"))  # a new cell: added at the end
    assert users(panel) == ["A again?", "B?", "panel question", "C?"]
