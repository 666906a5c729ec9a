"""The assistant sees the notebook: --cells, @error, @fig, @In[N] from real cells.

Kernel tier, in a real IPython shell with the inline matplotlib backend: the requests the
scripted fake provider receives are checked, so what is asserted is what a model gets.
"""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from jupychat.notebook import get_chat, unload_ipython_extension
from jupychat.notebook.cells import get_record
from jupychat.providers.fake import get_fake
from jupychat.types import Image

pytest.importorskip("matplotlib")


@pytest.fixture
def shell(monkeypatch):
    import matplotlib as mpl
    import matplotlib.pyplot as plt
    from IPython.core.pylabtools import select_figure_formats

    monkeypatch.setenv("JUPYCHAT_MODEL", "fake:nb")
    monkeypatch.setenv("JPY_SESSION_NAME", "/work/plots.ipynb")
    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance()
    sh.enable_gui = lambda gui=None: None  # %matplotlib inline without a GUI loop
    previous = mpl.get_backend()
    sh.run_line_magic("load_ext", "jupychat")
    run(sh, "%matplotlib inline")
    select_figure_formats(sh, {"png"})
    yield sh
    unload_ipython_extension(sh)
    plt.close("all")
    plt.switch_backend(previous if "inline" not in previous else "Agg")
    InteractiveShell.clear_instance()


def run(shell, code):
    """Run a cell as a kernel does. Only %chat cells are captured: capture_output swaps the
    display publisher out (as %%capture does), so what it catches is never shown nor recorded."""
    if not code.lstrip().startswith("%"):
        return shell.run_cell(code, store_history=True), None
    with capture_output() as out:
        result = shell.run_cell(code, store_history=True)
    return result, out


def sent(model="nb"):
    """The last user message the fake model received."""
    return get_fake(model).requests[-1].messages[-1]


def block(message, prefix):
    return next(b.text for b in message.context_blocks if b.key.startswith(prefix))


EMPTY_PLOT = (
    "import pandas as pd\n"
    "df = pd.DataFrame({'x': [], 'y': []})\n"
    "ax = df.plot(x='x', y='y', title='sales')"
)


def test_why_is_this_plot_empty_for_a_text_only_model(shell):
    run(shell, EMPTY_PLOT)
    result, _ = run(shell, "%%chat\nwhy is this plot empty? @fig")
    assert result.success, result.error_in_exec
    message = sent()
    account = block(message, "figure")
    assert "no plotted data" in account  # answerable with no vision at all
    assert "sales" in account  # the title
    assert "df.plot" in account  # and the code that drew it
    assert not any(isinstance(p, Image) for p in message.content)  # fake:nb takes no images


def test_an_image_capable_model_gets_the_png_and_the_account(shell):
    run(shell, EMPTY_PLOT)
    result, _ = run(shell, "%%chat -m fake:vision\nwhy is this plot empty? @fig")
    assert result.success, result.error_in_exec
    message = sent("vision")
    images = [p for p in message.content if isinstance(p, Image)]
    assert len(images) == 1 and images[0].media_type == "image/png"
    import base64

    assert base64.b64decode(images[0].data).startswith(b"\x89PNG")
    assert "no plotted data" in block(message, "figure")
    # the one-off model took the image; the session still uses its own model
    assert get_chat(shell).session().model_id == "fake:nb"


def test_cells_attaches_the_last_cells_with_their_outputs(shell):
    run(shell, "a = 40\nprint('first output')")
    run(shell, "b = a + 2\nb")
    run(shell, "print('third output')")
    result, _ = run(shell, "%%chat --cells 3\nexplain the cells above")
    assert result.success, result.error_in_exec
    text = "\n".join(b.text for b in sent().context_blocks if b.key.startswith("cell:"))
    for expected in ("a = 40", "first output", "b = a + 2", "42", "third output"):
        assert expected in text
    assert "%matplotlib" not in text  # only three cells


def test_error_attaches_the_traceback_and_its_cell(shell):
    run(shell, "def f(v):\n    return 1 / v\nf(0)")
    result, _ = run(shell, "%%chat\nfix this error @error")
    assert result.success, result.error_in_exec
    text = block(sent(), "error")
    assert "ZeroDivisionError" in text and "return 1 / v" in text and "f(0)" in text


def test_a_cell_by_its_number(shell):
    result, _ = run(shell, "x = 'seventeen'\nx.upper()")
    number = shell.execution_count - 1
    run(shell, "y = 1")
    result, _ = run(shell, f"%%chat\nwhat does @In[{number}] show?")
    assert result.success, result.error_in_exec
    assert "SEVENTEEN" in block(sent(), "cell:")
    bad, _ = run(shell, "%%chat\nand @In[999]?")
    assert not bad.success and "In[999]" in str(bad.error_in_exec)


def test_privacy_settings_remove_outputs_and_images(shell):
    run(shell, "print('secret-ish output')")
    run(shell, EMPTY_PLOT)
    run(shell, "%config ChatMagics.cell_outputs = False")
    run(shell, "%config ChatMagics.cell_images = False")
    result, _ = run(shell, "%%chat -m fake:vision\n@fig and --cells please")
    assert result.success, result.error_in_exec
    message = sent("vision")
    assert not any(isinstance(p, Image) for p in message.content)
    result, _ = run(shell, "%%chat --cells 4\nwhat ran?")
    assert result.success, result.error_in_exec
    text = "\n".join(b.text for b in sent().context_blocks)
    assert "print('secret-ish output')" in text  # the code is still there
    assert "secret-ish output\n" not in text.replace("print('secret-ish output')", "")


def test_chat_context_shows_exactly_what_the_next_turn_sends(shell):
    run(shell, "value = 3\nprint('shown', value)")
    result, out = run(shell, "%chat context --cells 1")
    assert result.success, result.error_in_exec
    preview = out.stdout
    run(shell, "%%chat --cells 1\nwhat does it print?")
    for b in sent().context_blocks:
        if b.key.startswith("cell:"):
            assert b.text in preview


def test_the_inventory_lists_recent_cells_and_the_model_can_ask_for_one(shell):
    run(shell, "total = sum(range(10))\ntotal")
    result, _ = run(shell, "%%chat\nwhat have I run?")
    assert result.success, result.error_in_exec
    inventory = block(sent(), "cells")
    assert "total = sum(range(10))" in inventory
    session = get_chat(shell).session()
    tools = {t.name for t in session.tools}
    assert {"list_cells", "get_cell", "get_figure"} <= tools
    number = next(c.execution_count for c in get_record(shell).cells() if "total" in c.code)
    get_cell = next(t for t in session.tools if t.name == "get_cell")
    assert "45" in get_cell.fn(execution_count=number)


def test_a_changed_cell_is_sent_again_an_unchanged_one_is_not(shell):
    run(shell, "print('once')")
    run(shell, "%%chat --cells 1\nfirst")
    first = [b.key for b in sent().context_blocks if b.key.startswith("cell")]
    assert first
    run(shell, "%%chat\nsecond, no new cells")
    assert not [b for b in sent().context_blocks if b.key.startswith("cell:")]


def test_fix_in_a_terminal_like_shell_puts_the_code_in_a_new_cell(shell):
    """No page to edit (a plain shell): the fixed code becomes the next input."""
    run(shell, "values = [1, 2, 3]\nprint(values[3])")
    get_fake("nb").enqueue(
        "```python\nvalues = [1, 2, 3]\nprint(values[2])\n```\nIndex 3 is past the end."
    )
    nexts = []
    shell.set_next_input = lambda text, replace=False: nexts.append((text, replace))
    result, _ = run(shell, "%chat fix")
    assert result.success, result.error_in_exec
    assert nexts == [("values = [1, 2, 3]\nprint(values[2])", False)]
    message = sent()
    assert "IndexError" in block(message, "error") and "print(values[3])" in block(message, "error")


def test_fix_with_nothing_to_fix_is_one_line(shell):
    result, _ = run(shell, "%chat fix")
    assert not result.success and "no recorded error" in str(result.error_in_exec)
