"""Which earlier turn a %%chat cell re-runs, and where its turn goes (notebook/order.py),
in an in-process IPython shell with the fake provider and a real store.

A "restart" is a new shell with jupychat loaded again: it resumes the notebook's session
from the store, as a restarted kernel does.
"""

from __future__ import annotations

import nbformat
import pytest
from IPython.utils.capture import capture_output

from jupychat.notebook import get_chat
from jupychat.providers.fake import get_fake


@pytest.fixture
def fake():
    provider = get_fake("cellorder")
    provider.reset()
    return provider


def run(shell, question: str, cell_id: str | None = None) -> None:
    with capture_output():
        result = shell.run_cell(f"%%chat\n{question}", cell_id=cell_id)
    assert result.success, result.error_in_exec


def history(shell) -> list[str]:
    return [m.text for m in get_chat(shell).session().history if m.role == "user"]


def sent(fake) -> list[list[str]]:
    return [[m.text for m in r.messages if m.role == "user"] for r in fake.requests]


def test_new_cell_ids_after_reopening_still_replace_in_place(notebook_shell, fake):
    """A notebook saved without cell ids gets new ids each time it is opened."""
    shell = notebook_shell("fake:cellorder", "/work/old-format.ipynb")
    for question, cell in (("A?", "a1"), ("B?", "b1"), ("C?", "c1")):
        run(shell, question, cell)
    first = sent(fake)
    shell = notebook_shell("fake:cellorder", "/work/old-format.ipynb")  # restart, reopen
    for question, cell in (("A?", "a2"), ("B?", "b2"), ("C?", "c2")):
        run(shell, question, cell)
    assert sent(fake)[3:] == first
    assert history(shell) == ["A?", "B?", "C?"]


def test_a_cell_with_a_live_id_is_never_taken_over(notebook_shell, fake):
    """Two cells ask the same question: each keeps its own turn."""
    shell = notebook_shell("fake:cellorder", "/work/twins.ipynb")
    run(shell, "Summarize.", "x")
    run(shell, "Summarize.", "y")
    run(shell, "Summarize.", "x")
    assert len(get_chat(shell).session().history) == 4


def test_twin_cells_without_ids_keep_their_own_turns(notebook_shell, fake):
    shell = notebook_shell("fake:cellorder", "/work/twins.ipynb")
    for question in ("Summarize.", "What next?", "Summarize."):
        run(shell, question)
    fake.enqueue("first").enqueue("middle").enqueue("second")
    shell = notebook_shell("fake:cellorder", "/work/twins.ipynb")  # nbclient again
    for question in ("Summarize.", "What next?", "Summarize."):
        run(shell, question)
    answers = [m.text for m in get_chat(shell).session().history if m.role == "assistant"]
    assert answers == ["first", "middle", "second"]


def test_a_cell_moved_on_the_page_sees_the_cells_now_above_it(notebook_shell, fake, tmp_path):
    path = tmp_path / "moved.ipynb"
    nb = nbformat.v4.new_notebook()
    a, b = nbformat.v4.new_code_cell("%%chat\nA?"), nbformat.v4.new_code_cell("%%chat\nB?")
    nb.cells = [a, b]
    nbformat.write(nb, path)
    shell = notebook_shell("fake:cellorder", str(path))
    run(shell, "A?", a.id)
    run(shell, "B?", b.id)
    nb.cells = [b, a]  # B dragged above A, and saved
    nbformat.write(nb, path)
    run(shell, "B?", b.id)
    assert sent(fake)[-1] == ["B?"]
    assert history(shell) == ["B?", "A?"]
    run(shell, "A?", a.id)
    assert sent(fake)[-1] == ["B?", "A?"]


def test_an_edited_cell_without_ids_is_a_new_turn(notebook_shell, fake):
    shell = notebook_shell("fake:cellorder", "/work/edited.ipynb")
    run(shell, "A?")
    shell = notebook_shell("fake:cellorder", "/work/edited.ipynb")
    run(shell, "A, reworded?")
    assert history(shell) == ["A?", "A, reworded?"]
