"""Executed cells as context text (unit tier, on recorded-cell values): budgets, the
degradation order, determinism, figure and error blocks, and the text helpers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupychat.context.budget import estimate_tokens
from jupychat.context.celldata import (
    Cell,
    CellError,
    HeadTail,
    Output,
    collapse_cr,
    head_tail,
    html_to_text,
    image_size,
    strip_ansi,
)
from jupychat.context.cells import (
    cell_text,
    cells_context,
    cells_inventory,
    error_context,
    figure_context,
)
from jupychat.context.settings import ContextSettings
from jupychat.errors import ConfigError

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
ACCOUNT = (
    "Summary: nothing is visible in this figure: axes 1 has no plotted data.\n"
    "Figure 1: 6.4×4.8 in at 100 dpi (640×480 px), 1 axes\nAxes 1: no title\n"
    "  → Axes 1 has no plotted data."
)


def figure_output(**changes):
    values = {
        "kind": "display",
        "mime": ("text/plain", "image/png"),
        "figure": ACCOUNT,
        "image": PNG_1PX,
        "image_type": "image/png",
        "type_name": "matplotlib.figure.Figure",
        "summary": "matplotlib.figure.Figure",
    }
    values.update(changes)
    return Output(**values)


def make_cell(n, *, stdout="", outputs=(), error=None, code=None):
    return Cell(
        seq=n,
        execution_count=n,
        code=code or f"step_{n} = compute({n})\nstep_{n}",
        outputs=tuple(outputs),
        stdout=stdout,
        stdout_chars=len(stdout),
        error=error,
    )


def notebook():
    return [
        make_cell(1, stdout="\n".join(f"row {i}" for i in range(400)) + "\n"),
        make_cell(
            2,
            outputs=[
                Output(
                    kind="result",
                    mime=("text/plain",),
                    summary="<DataFrame 50×3>",
                    text="\n".join(f"{i}  {i * 2}  {i * 3}" for i in range(50)),
                )
            ],
        ),
        make_cell(3, outputs=[figure_output()]),
        make_cell(
            4,
            error=CellError(
                "ValueError",
                "bad value",
                "Traceback (most recent call last)\n" + "  frame\n" * 200 + "ValueError: bad value",
            ),
        ),
    ]


def level_of(ctx, key: str) -> int:
    """Which degradation step a block is at (0 full … 5 left out), read from its text."""
    if key not in ctx:
        return 5
    text = ctx[key]
    if "Outputs not included (ask with get_cell)." in text:
        return 4
    if "Outputs not included (ask with get_cell):" in text:
        return 3
    if "characters omitted" in text:
        return 2
    if "image not attached: context budget" in text:
        return 1
    assert "attached as image" in text
    return 0


def test_everything_fits_a_large_budget_with_images():
    cells = notebook()
    ctx = cells_context(
        cells, ContextSettings(cell_stream_chars=100_000), budget=100_000, images=True
    )
    assert list(ctx) == ["cell:1", "cell:2", "cell:3", "cell:4"]
    assert len(ctx.images) == 1 and ctx.images[0].key == "cell:3"
    assert "attached as image 1" in ctx["cell:3"] and "row 399" in ctx["cell:1"]
    assert "  frame\n" * 200 in ctx["cell:4"]


def test_degradation_order_images_then_short_then_summary_then_code_then_left_out():
    long = "".join(f"line {i:04d} of the output\n" for i in range(120))
    cells = [make_cell(n, stdout=long, outputs=[figure_output()]) for n in range(1, 5)]
    settings = ContextSettings(cell_stream_chars=4_000)
    keys = [f"cell:{n}" for n in range(1, 5)]
    seen = {}
    for budget in range(6_000, 40, -40):
        ctx = cells_context(cells, settings, budget=budget, images=True)
        levels = [level_of(ctx, k) for k in keys]
        seen[budget] = levels
        # older cells are always degraded at least as far as newer ones
        assert levels == sorted(levels, reverse=True), (budget, levels)
        assert levels[-1] < 5  # the newest cell always stays, at least as code
        text_tokens = sum(estimate_tokens(t) for t in ctx.values())
        if levels[-1] < 4:
            assert text_tokens + 85 * len(ctx.images) <= budget, (budget, levels)
        assert ("cells:more" in ctx) == (5 in levels)
    # each step is taken for every cell before the next step starts on any cell
    for levels in seen.values():
        assert max(levels) - min(levels) <= 1 or levels[-1] == 4, levels
    # every step shows up as the budget shrinks, in order
    firsts = {step: max(b for b, lv in seen.items() if step in lv) for step in range(6)}
    assert firsts[0] > firsts[1] > firsts[2] > firsts[3] > firsts[4] > firsts[5]
    last = cells_context(cells, settings, budget=60, images=True)
    assert (
        "3 more cells not included" in last["cells:more"]
        and "(ask with get_cell)" in last["cells:more"]
    )


def test_texts_are_deterministic_and_fingerprints_track_content():
    a, b = notebook(), notebook()
    assert cells_context(a) == cells_context(b)
    assert [c.fingerprint for c in a] == [c.fingerprint for c in b]
    changed = make_cell(
        2, outputs=[Output(kind="result", mime=("text/plain",), text="7", summary="7")]
    )
    assert changed.fingerprint != a[1].fingerprint
    slower = Cell(
        **{
            **{
                f: getattr(a[0], f)
                for f in ("seq", "execution_count", "code", "stdout", "stdout_chars")
            },
            "duration": 99.0,
        }
    )
    assert slower.fingerprint == a[0].fingerprint  # timing is not content


def test_cell_text_levels():
    cell = notebook()[0]
    full = cell_text(cell, ContextSettings(cell_stream_chars=100_000))
    assert "row 0" in full and "row 399" in full
    short = cell_text(cell, ContextSettings(cell_stream_chars=400), level=2)
    assert "row 0" in short and "row 399" in short and "characters omitted" in short
    summary = cell_text(cell, level=3)
    assert "row 0" not in summary and f"stdout {cell.stdout_chars:,} chars" in summary
    code = cell_text(cell, level=4)
    assert code.startswith("### In [1]") and "step_1 = compute(1)" in code


def test_error_context_fits_its_budget_keeping_head_and_tail():
    cell = notebook()[3]
    ctx = error_context(cell, budget=300)
    text = ctx["error:4"]
    assert estimate_tokens(text) <= 300
    assert "Traceback (most recent call last)" in text and text.rstrip("`\n").endswith(
        "ValueError: bad value"
    )
    assert "did not raise" in error_context(notebook()[0])["error:1"]


def test_figure_context_variants():
    cells = notebook()
    assert figure_context(cells[0])["figure:1"] == "In [1] showed no figure."
    assert "there is no figure 5" in figure_context(cells[2], index=5)["figure:3"]
    image_only = figure_context(figure_output(figure=None), images=False)
    assert "no text account: shown as an image only" in image_only["figure"]
    assert "No recorded cell has shown a figure." in figure_context(None)["figure"]
    two = make_cell(9, outputs=[figure_output(), figure_output(figure="Vega-Lite chart: x")])
    first = figure_context(two, index=0)
    assert list(first) == ["figure:9.1"] and "figure 1 of 2" in first["figure:9.1"]
    assert "Chart 2" in figure_context(two)["figure:9.2"]


def test_inventory_lines_and_cap():
    inventory = cells_inventory(notebook(), k=4)
    assert inventory.splitlines()[1:] == [
        "In [1] `step_1 = compute(1)` (2 lines) → printed 3,090 chars",
        "In [2] `step_2 = compute(2)` (2 lines) → <DataFrame 50×3>",
        "In [3] `step_3 = compute(3)` (2 lines) → figure: nothing is visible in this figure: "
        "axes 1 has no plotted data.",
        "In [4] `step_4 = compute(4)` (2 lines) → ValueError: bad value",
    ]
    many = [make_cell(i) for i in range(1, 200)]
    capped = cells_inventory(many, k=200, settings=ContextSettings(inventory_budget=100))
    assert estimate_tokens(capped) <= 100 and cells_inventory([], 5) == ""


def test_settings_validation():
    with pytest.raises(ConfigError, match="cell_outputs must be True or False"):
        ContextSettings(cell_outputs="yes")
    with pytest.raises(ConfigError, match="cells_budget must be a positive integer"):
        ContextSettings(cells_budget=0)
    assert ContextSettings().with_(cell_stream_chars=0).cell_stream_chars == 0


# ------------------------------------------------------------------------------ helpers


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.text(max_size=40), max_size=40), st.integers(0, 50), st.integers(0, 50))
def test_head_tail_sink_keeps_exactly_the_head_and_the_tail(chunks, head, tail):
    sink = HeadTail(head, tail)
    for chunk in chunks:
        sink.write(chunk)
    full = "".join(chunks)
    assert sink.total == len(full)
    text = sink.text()
    if len(full) <= head + tail:
        assert text == full
    else:
        omitted = len(full) - head - tail
        assert text == full[:head] + f"\n… ({omitted:,} characters omitted) …\n" + (
            full[-tail:] if tail else ""
        )


def test_text_helpers():
    assert strip_ansi("\x1b[31mred\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x07") == "red link"
    assert collapse_cr("10%\r50%\r100%\nnext\r\n") == "100%\nnext\n"
    assert head_tail("abcdefghij", 6) == "abcd\n… (4 characters omitted) …\nij"
    assert (
        html_to_text("<p>a &amp; b</p><ul><li>one</li><li>two</li></ul>")
        == "a & b\n\n- one\n\n- two"
    )
    assert image_size(PNG_1PX) == (1, 1) and image_size(b"nope") is None


def test_bundle_outputs():
    from jupychat.context.bundles import bundle_output

    html = bundle_output(
        "display",
        {
            "text/plain": "<IPython.core.display.HTML object>",
            "text/html": "<b>x</b><script>y()</script>",
        },
    )
    assert html.text == "x" and html.summary == "text/html"
    frame = bundle_output(
        "result", {"text/plain": "   a\n0  1", "text/html": "<table/>"}, summary="<DataFrame 1×1>"
    )
    assert frame.text == "   a\n0  1"  # a real text/plain wins over the HTML
    big = bundle_output("display", {"image/png": PNG_1PX + b"\0" * 500}, image_cap=100)
    assert big.image is None and "not kept" in big.note
    broken = bundle_output("display", {"image/png": "!!not base64!!", "text/plain": "img"})
    assert broken.image is None and "could not be decoded" in broken.note
    widget = bundle_output(
        "display", {"application/vnd.jupyter.widget-view+json": {}, "text/plain": "HBox()"}
    )
    assert widget.summary == "widget" and widget.text == "HBox()"
    latex = bundle_output("display", {"text/latex": "$x^2$"})
    assert latex.text == "$x^2$"
    long = bundle_output("display", {"text/plain": "\x1b[1m" + "z" * 50_000}, text_chars=1_000)
    assert len(long.text) < 1_100 and "\x1b" not in long.text
