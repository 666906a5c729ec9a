"""The record of executed cells in a real IPython shell (kernel tier, in-process) and in a
real ipykernel driven over the Jupyter protocol, and the context built from it."""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import weakref
from pathlib import Path

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupychat.context import cells as cells_ctx
from jupychat.context.celltools import cell_tools
from jupychat.context.settings import ContextSettings
from jupychat.notebook import cells as record_mod
from jupychat.notebook.cells import CellRecord, get_record

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class BadErrLike(Exception):
    def __str__(self):
        raise RuntimeError("no str")


@pytest.fixture
def shell():
    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance()
    sh.enable_gui = lambda gui=None: None  # %matplotlib inline in a shell without a GUI loop
    yield sh
    record = get_record(sh)
    if record is not None:
        record.uninstall()
    InteractiveShell.clear_instance()


@pytest.fixture
def record(shell):
    return CellRecord.install(shell)


@pytest.fixture
def inline(shell):
    mpl = pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from IPython.core.pylabtools import select_figure_formats

    previous = mpl.get_backend()
    shell.run_cell("%matplotlib inline", store_history=True)
    # matplotlib_inline sets the PNG formatter up once per process; this shell is new
    select_figure_formats(shell, {"png"})
    yield
    plt.close("all")
    plt.switch_backend(previous if "inline" not in previous else "Agg")


def run(shell, code, cell_id=None):
    return shell.run_cell(code, store_history=True, cell_id=cell_id)


# ----------------------------------------------------------------------------- recording


def test_code_count_cell_id_stdout_and_result(shell, record):
    run(shell, "x = 20", cell_id="cell-a")
    run(shell, "print('hello')\nprint('world')\nx * 2 + 2", cell_id="cell-b")
    first, second = record.cells()
    assert (first.code, first.execution_count, first.cell_id) == ("x = 20", 1, "cell-a")
    assert first.outputs == () and first.stdout == "" and first.error is None
    assert second.execution_count == 2 and second.cell_id == "cell-b"
    assert second.stdout == "hello\nworld\n"  # the shell's own "Out[2]:" is not counted
    assert second.result.summary == "42" and second.result.text == "42"
    assert second.duration > 0 and abs(second.started - time.time()) < 60
    assert record.by_count(2) is second and record.by_count(9) is None


def test_stderr_ansi_and_carriage_returns(shell, record):
    run(
        shell,
        "import sys\nfor i in range(5): print(f'\\r{i*20}%', end='', file=sys.stderr)\n"
        "print('\\x1b[31mred\\x1b[0m done')",
    )
    cell = record.cells()[-1]
    assert cell.stderr == "80%"  # what the terminal finally showed
    assert cell.stdout == "red done\n"


def test_errors_keep_a_plain_text_traceback(shell, record):
    run(shell, "def f(d):\n    return d['missing']\n\nf({})")
    run(shell, "for x in range(3) print(x)")
    error = record.cells()[0].error
    assert error.ename == "KeyError" and error.evalue == "'missing'"
    assert "\x1b" not in error.traceback
    assert "----> 4 f({})" in error.traceback and "return d['missing']" in error.traceback
    assert error.traceback.rstrip().endswith("KeyError: 'missing'")
    syntax = record.cells()[1].error
    assert syntax.ename == "SyntaxError" and "invalid syntax" in syntax.traceback
    assert record.last_error() is record.cells()[1]


def test_displays_html_markdown_images_and_specs(shell, record):
    shell.user_ns["PNG"] = PNG_1PX
    run(
        shell,
        """
from IPython.display import display, HTML, Markdown, Image, SVG
display(HTML("<h1>Totals</h1><table><tr><td>a</td><td>1</td></tr></table>"
             "<script>alert('x')</script><style>h1{}</style>"))
display(Markdown("**bold** text"))
display(Image(PNG))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg"><text x="1" y="2">Axis A</text></svg>'))
display({"application/vnd.vegalite.v5+json": {"mark": "point", "data": {"values": [{"a": 1}]},
         "encoding": {"x": {"field": "a", "type": "quantitative"}}},
         "text/plain": "<VegaLite 5 object>"}, raw=True)
display({"application/vnd.plotly.v1+json": {"data": [{"type": "bar", "x": [1, 2], "y": [3, 4]}],
         "layout": {}}, "text/plain": "Figure()"}, raw=True)
""",
    )
    html, md, image, svg, vega, plotly = record.cells()[-1].outputs
    assert html.text == "Totals\n\na | 1" and "alert" not in html.text
    assert html.type_name == "IPython.core.display.HTML"
    assert md.text == "**bold** text"
    assert image.image == PNG_1PX and image.image_type == "image/png" and image.is_figure
    assert "SVG text: Axis A" in svg.text and "SVG image" in svg.note
    assert (
        vega.figure.startswith("Vega-Lite chart")
        and "mark point; data: 1 inline rows" in vega.figure
    )
    assert plotly.figure.startswith("Plotly chart: 1 trace") and "2 points" in plotly.figure


def test_update_display_replaces_the_output_also_in_an_earlier_cell(shell, record):
    run(
        shell,
        "from IPython.display import display\nh = display('step 1', display_id=True)\n"
        "h.update('step 2')",
    )
    assert [o.text for o in record.cells()[-1].outputs] == ["'step 2'"]
    before = record.cells()[-1].fingerprint
    run(shell, "h.update('final')")
    assert [o.text for o in record.cells()[0].outputs] == ["'final'"]
    assert record.cells()[0].fingerprint != before
    assert record.cells()[1].outputs == ()


def test_nested_run_cell_belongs_to_the_outer_cell(shell, record):
    run(shell, "get_ipython().run_cell('print(\"inner\")')\nprint('outer')")
    assert len(record.cells()) == 1
    assert record.cells()[0].stdout == "inner\nouter\n"


def test_chat_cells_are_listed_only_on_request(shell, record):
    shell.register_magic_function(lambda line, cell=None: None, "cell", "chat")
    run(shell, "a = 1")
    run(shell, "%%chat\nwhat is a?")
    assert [c.code for c in record.cells()] == ["a = 1"]
    assert len(record.cells(include_chat=True)) == 2 and record.cells(1)[0].code == "a = 1"


# ----------------------------------------------------------------------------- bounds


def test_stream_cap_keeps_head_and_tail(shell):
    record = CellRecord.install(shell, stream_chars=1_000)
    run(shell, "for i in range(20_000): print(i)")
    cell = record.cells()[-1]
    expected = "".join(f"{i}\n" for i in range(20_000))
    assert cell.stdout_chars == len(expected)
    assert cell.stdout.startswith(expected[:500]) and cell.stdout.endswith(expected[-500:])
    assert f"({len(expected) - 1_000:,} characters omitted)" in cell.stdout
    assert len(cell.stdout) < 1_100


def test_ring_buffer_evicts_oldest_by_count_and_bytes(shell):
    record = CellRecord.install(shell, max_cells=5, max_bytes=20_000)
    for i in range(8):
        run(shell, f"v{i} = {i}")
    assert [c.code for c in record.cells()] == [f"v{i} = {i}" for i in range(3, 8)]
    assert record.evicted == 3
    run(shell, "print('x' * 19_000, end='')")
    assert record.nbytes <= 20_000 and record.cells()[-1].stdout == "x" * 19_000
    assert len(record) < 5 and record.evicted > 3


def test_per_cell_cap_drops_images_with_a_note(shell):
    record = CellRecord.install(shell, cell_bytes=3_000)
    shell.user_ns["BIG"] = PNG_1PX + b"\0" * 2_000
    run(
        shell,
        "from IPython.display import display, Image\n"
        "for _ in range(3): display({'image/png': BIG, 'text/plain': 'img'}, raw=True)",
    )
    outputs = record.cells()[-1].outputs
    assert [o.image is not None for o in outputs] == [False, False, False]
    assert all("not kept" in o.note for o in outputs)
    assert record.nbytes < 4_000


def test_memory_after_many_cells_is_bounded(shell, record):
    for i in range(300):
        run(shell, f"print({i})\n{i}")
    assert len(record) == 300 and record.nbytes < 300 * 1_500


def test_no_object_kept_alive_after_the_cell(shell, record, inline):
    class Big:
        def __repr__(self):
            return "Big()"

    shell.user_ns["Big"] = Big
    shell.displayhook.cache_size = 0  # IPython's own Out[] cache would hold results
    run(shell, "b = Big()\nfrom IPython.display import display\ndisplay(b)\nb")
    run(shell, "def f(x):\n    raise ValueError(x)\nf(b)")
    run(
        shell,
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2])\ndisplay(fig)",
    )
    refs = {
        "value": weakref.ref(shell.user_ns["b"]),
        "figure": weakref.ref(shell.user_ns["fig"]),
        "axes": weakref.ref(shell.user_ns["ax"]),
    }
    run(shell, "plt.close('all'); del b, fig, ax")
    run(shell, "pass")
    # IPython itself keeps the last exception and its frames; drop those, then look
    shell.InteractiveTB.tb = None
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            setattr(sys, name, None)
    gc.collect()
    assert {name: ref() is None for name, ref in refs.items()} == {
        "value": True,
        "figure": True,
        "axes": True,
    }
    assert record.last_error().error.ename == "ValueError"
    assert record.last_figure().figures[0].figure.startswith("Summary: the axes shows plotted")


def test_recording_failure_never_breaks_a_cell(shell, record, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("recording bug")

    # fault injection: make the record's own (private) steps fail, one after another
    monkeypatch.setattr(record, "_make_output", boom)
    monkeypatch.setattr(record_mod.HeadTail, "write", boom)
    monkeypatch.setattr(record_mod, "describe_figure", boom)
    result = run(
        shell,
        "print('still printed')\nfrom IPython.display import display\ndisplay('shown'); 6 * 7",
    )
    assert result.success and result.result == 42
    monkeypatch.setattr(record, "_finish", boom)
    result = run(shell, "y = 1")
    assert result.success and shell.user_ns["y"] == 1
    monkeypatch.undo()
    run(shell, "z = 2")
    assert record.cells()[-1].code == "z = 2"  # recording goes on after a failure


def test_hostile_objects_do_not_break_the_cell(shell, record):
    shell.displayhook.cache_size = 0
    run(
        shell,
        """
class Sly:
    def __repr__(self):
        return "Sly()"
    def __str__(self):
        raise RuntimeError("no str")
class BadErr(Exception):
    def __str__(self):
        raise RuntimeError("no str either")
Sly()
""",
    )
    result = run(shell, "raise BadErr()")
    first, second = record.cells()
    assert first.result.summary == "<Sly>"  # its repr is never called
    # IPython reports the error raised while printing the exception; so does the record
    assert second.error.ename == type(result.error_in_exec).__name__ == "RuntimeError"
    # IPython never hands the record an exception whose str() fails (it reports the
    # RuntimeError instead, as above), so the record's fallback is checked directly
    assert record_mod._safe_str(BadErrLike()) == "<BadErrLike: str() failed>"


def test_install_is_idempotent_and_uninstall_restores_everything(shell):
    publish = shell.display_pub.publish
    record = CellRecord.install(shell)
    assert CellRecord.install(shell) is record and get_record(shell) is record
    assert shell.display_pub.publish is not publish
    run(shell, "a = 1")
    record.uninstall()
    assert shell.display_pub.publish == publish and "publish" not in vars(shell.display_pub)
    assert "format" not in vars(shell.display_formatter)
    assert "_showtraceback" not in vars(shell)
    assert (
        getattr(sys.stdout.write, "__name__", "") != "write"
        or not hasattr(sys.stdout.write, "__closure__")
        or sys.stdout.write.__closure__ is None
    )
    run(shell, "b = 2")
    assert [c.code for c in record.cells()] == ["a = 1"] and get_record(shell) is None


# ----------------------------------------------------------------------------- figures


def test_empty_dataframe_plot_says_the_axes_hold_no_data(shell, record, inline):
    pytest.importorskip("pandas")
    run(shell, "import pandas as pd\ndf = pd.DataFrame({'x': []})\ndf.plot()")
    cell = record.last_figure()
    assert cell is record.cells()[-1]
    figure = cell.figures[-1]
    assert figure.image is not None and figure.image_type == "image/png"
    assert "axes 1 has no plotted data" in figure.figure
    assert figure.text == ""  # the "<Figure size ...>" placeholder says nothing more


def test_inline_display_show_and_result_figures_are_all_described(shell, record, inline):
    run(
        shell,
        "import matplotlib.pyplot as plt\nfrom IPython.display import display\n"
        "fig, ax = plt.subplots()\nax.plot([1, 2, 3], label='a')\ndisplay(fig)",
    )
    run(shell, "plt.figure()\nplt.scatter([1], [2])\nplt.show()\nprint('after show')")
    run(shell, "fig")
    run(shell, "plt.figure(); plt.bar(['p', 'q'], [1, 2])")
    explicit, shown, result, auto = (record.cells()[i] for i in range(-4, 0))
    # display(fig) and the inline backend's end-of-cell display are the same figure twice
    assert [o.kind for o in explicit.figures] == ["display", "display"]
    assert "1 line:" in explicit.figures[0].figure
    assert "scatter: 1 point" in shown.figures[0].figure and shown.stdout == "after show\n"
    assert result.figures[0].kind == "result" and "1 line:" in result.figures[0].figure
    assert "2 bars (vertical)" in auto.figures[-1].figure


# ----------------------------------------------------------------------------- context


def _three_cells(shell):
    run(shell, "import math")
    run(shell, "values = [3, 1, 2]\nprint('sorted:', sorted(values))")
    run(shell, "total = sum(values)\ntotal")
    run(shell, "math.sqrt(-total)")


def test_cells_context_carries_the_last_three_cells(shell, record):
    _three_cells(shell)
    ctx = cells_ctx.cells_context(record.cells(3))
    assert list(ctx) == ["cell:2", "cell:3", "cell:4"] and ctx.images == []
    text = "\n".join(ctx.values())
    assert "import math" not in text
    assert "values = [3, 1, 2]" in text and "sorted: [1, 2, 3]" in text
    assert "total = sum(values)" in text and "Out: 6" in text
    assert "math.sqrt(-total)" in text and "ValueError: math domain error" in text
    assert text.index("values = [3") < text.index("total = sum") < text.index("math.sqrt")


def test_error_context_carries_the_traceback_and_its_cell(shell, record):
    _three_cells(shell)
    ctx = cells_ctx.error_context(record.last_error())
    assert list(ctx) == ["error:4"]
    text = ctx["error:4"]
    assert "The error raised by In [4]:" in text and "math.sqrt(-total)" in text
    assert "----> 1 math.sqrt(-total)" in text and "ValueError: math domain error" in text
    assert "No recorded cell" in cells_ctx.error_context(None)["error"]


def test_figure_context_attaches_the_image_for_vision_models_only(shell, record, inline):
    pytest.importorskip("pandas")
    run(shell, "import pandas as pd\npd.DataFrame({'x': []}).plot();")
    cell = record.last_figure()
    key = f"figure:{cell.execution_count}"
    text_only = cells_ctx.figure_context(cell, images=False)
    assert text_only.images == []
    assert "image not attached: the model does not take images" in text_only[key]
    assert "axes 1 has no plotted data" in text_only[key]
    vision = cells_ctx.figure_context(cell, images=True)
    (attachment,) = vision.images
    assert attachment.media_type == "image/png" and attachment.data == cell.figures[-1].image
    assert "attached as image 1" in vision[key]
    assert "axes 1 has no plotted data" in vision[key]
    part = attachment.part()
    assert part.media_type == "image/png" and part.data.startswith("iVBORw0KGgo")


def test_privacy_settings_remove_outputs_or_images(shell, record, inline):
    run(
        shell,
        "secret = 'sk-proj-' + 'abcdefghijklmnop0123456789'\n"
        "print('customer', 'ali' + 'ce@example.com')\nprint(secret)",
    )
    run(shell, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3]);")
    cells = record.cells(2)
    one, two = (f"cell:{c.execution_count}" for c in cells)
    full = cells_ctx.cells_context(cells, images=True)
    assert "alice@example.com" in full[one] and "sk-proj-abcdefghijklmnop" not in full[one]
    assert "‹secret›" in full[one] and len(full.images) == 1
    no_outputs = cells_ctx.cells_context(cells, ContextSettings(cell_outputs=False), images=True)
    assert "alice" not in no_outputs[one] and "print(secret)" in no_outputs[one]
    assert no_outputs.images == [] and "1 line" not in no_outputs[two]
    no_images = cells_ctx.cells_context(cells, ContextSettings(cell_images=False), images=True)
    assert no_images.images == [] and "images are turned off" in no_images[two]
    assert "1 line:" in no_images[two]  # the text account stays
    aggregates = cells_ctx.cells_context(cells, ContextSettings(values="aggregates"), images=True)
    assert "alice" not in aggregates[one] and aggregates.images == []
    assert "1 line:" in aggregates[two]
    schema = cells_ctx.cells_context(cells, ContextSettings(values="schema"))
    assert "1 line:" not in schema[two] and "withheld" in schema[two]
    inventory = cells_ctx.cells_inventory(record, settings=ContextSettings(cell_outputs=False))
    assert "alice" not in inventory


def test_cell_settings_resolve_through_config(monkeypatch):
    from jupychat import config

    monkeypatch.setenv("JUPYCHAT_CELL_IMAGES", "false")
    config.set_override("cell_stream_chars", 123)
    settings = cells_ctx.cell_settings(ContextSettings(values="aggregates"))
    assert settings.cell_images is False and settings.cell_stream_chars == 123
    assert settings.values == "aggregates" and settings.cell_outputs is True
    assert cells_ctx.cell_settings(cell_images=True).cell_images is True


def test_inventory_and_tools(shell, record):
    _three_cells(shell)
    inventory = cells_ctx.cells_inventory(record, k=3)
    assert inventory.splitlines()[1:] == [
        "In [2] `values = [3, 1, 2]` (2 lines) → printed 18 chars",
        "In [3] `total = sum(values)` (2 lines) → 6",
        "In [4] `math.sqrt(-total)` → ValueError: math domain error",
    ]
    tools = {t.name: t for t in cell_tools(lambda: record)}
    assert set(tools) == {"list_cells", "get_cell", "get_figure"}
    assert "In [4]" in tools["list_cells"].run({"limit": 2})
    got = tools["get_cell"].run({"execution_count": 3})
    assert "total = sum(values)" in got and "Out: 6" in got
    short = tools["get_cell"].run({"execution_count": 3, "include_outputs": False})
    assert "Outputs not included" in short and "Out: 6" not in short
    assert "no recorded cell In [99]" in tools["get_cell"].run({"execution_count": 99})
    assert "showed no figure" in tools["get_figure"].run({"execution_count": 3})
    assert "not being recorded" in cell_tools(lambda: None)[0].run({})


# ----------------------------------------------------------------------- saved notebook


def test_saved_notebook_view_adds_markdown_and_order(tmp_path, monkeypatch, shell, record):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Sales\nWhy is the plot empty?"),
        nbformat.v4.new_code_cell("df = load()", execution_count=1),
        nbformat.v4.new_markdown_cell("## Plot"),
        nbformat.v4.new_code_cell("df.plot()", execution_count=2),
    ]
    nb.cells[3].id = "plot-cell"
    path = tmp_path / "sales.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    saved = record.saved_notebook()
    assert [c.cell_type for c in saved.cells] == ["markdown", "code", "markdown", "code"]
    outline = saved.outline()
    assert "last saved" in outline and "unsaved edits" in outline
    assert "[1] markdown: # Sales" in outline and "[4] code In [2]: df.plot()" in outline
    cell = saved.find(cell_id="plot-cell")
    assert cell.index == 3 and saved.markdown_before(cell) == "## Plot"
    assert saved.find(execution_count=1, code="df = load()").index == 1
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "missing.ipynb"))
    assert record.saved_notebook() is None


# --------------------------------------------------------------------------- real kernel


@pytest.mark.kernel
def test_record_in_a_real_kernel(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    from jupyter_client.manager import start_new_kernel

    from test_kernel import _run, _run_cell_with_id

    src = str(Path(__file__).resolve().parents[1] / "src")  # this checkout, whatever the cwd
    path = os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "JUPYCHAT_CONFIG": str(tmp_path / "c.toml"),
        "JUPYCHAT_STORE": str(tmp_path / "s.db"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        reply, _ = _run(
            client,
            "from jupychat.notebook.cells import CellRecord\n"
            "rec = CellRecord.install(get_ipython())",
        )
        assert reply["status"] == "ok"
        _run_cell_with_id(
            client,
            "import pandas as pd\nprint('loading')\ndf = pd.DataFrame({'x': []})\ndf.plot()",
            "cell-plot",
        )
        seen = _run_cell_with_id(client, "df['y']", "cell-error")
        _, outputs = _run(
            client,
            "import json\nfrom jupychat.context.cells import "
            "cells_context, error_context\n"
            "c = rec.cells()\n"
            "print(json.dumps({'ids': [x.cell_id for x in c], "
            "'stdout': c[0].stdout, 'fig': c[0].figures[-1].figure, "
            "'png': len(c[0].figures[-1].image or b''), "
            "'error': c[1].error.line, "
            "'ctx': cells_context(c), "
            "'err': error_context(rec.last_error())}))",
        )
        text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
        data = json.loads(text.strip().splitlines()[-1])
        assert data["ids"] == ["cell-plot", "cell-error"]
        assert data["stdout"] == "loading\n"
        assert "axes 1 has no plotted data" in data["fig"] and data["png"] > 1_000
        assert data["error"] == "KeyError: 'y'"
        assert "df.plot()" in data["ctx"]["cell:2"] and "loading" in data["ctx"]["cell:2"]
        assert "KeyError" in data["err"]["error:3"] and "----> 1 df['y']" in data["err"]["error:3"]
        # the front end still got everything: the error message was sent as usual
        assert any(m["msg_type"] == "error" and m["content"]["ename"] == "KeyError" for m in seen)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
