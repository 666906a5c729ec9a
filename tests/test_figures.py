"""Figure accounts graded against ground truth: every fact checked against the data used.

Each case builds a matplotlib figure from known data and lists facts the account must
state, computed from that data (numpy on the same arrays), not copied from the output.
Vega-Lite and Plotly specs are graded the same way, and the image downscaler is checked
on real PNGs rendered by matplotlib.
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg", force=True)
import matplotlib.pyplot as plt  # noqa: E402

# the expected ranges are written with the number formatter every context block shares,
# so these tests pin the account's layout, not its rounding rules
from jupychat.context._fmt import fmt_num  # noqa: E402
from jupychat.context.celldata import image_size  # noqa: E402
from jupychat.context.figures import (  # noqa: E402
    describe_figure,
    describe_plotly,
    describe_vegalite,
    downscale_png,
    is_matplotlib_figure,
    media_type_of,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def span(lo, hi):
    return f"{fmt_num(lo)} – {fmt_num(hi)}"


def axes_block(account: str, n: int) -> str:
    """The lines of the account that belong to axes ``n``."""
    match = re.search(rf"^Axes {n}\b.*?(?=^Axes \d|\Z)", account, re.S | re.M)
    assert match, f"no block for axes {n} in:\n{account}"
    return match.group(0)


# ------------------------------------------------------------------------ ground truth


def test_lines_with_nan_labels_and_legend():
    rng = np.random.default_rng(1)
    x = np.arange(50, dtype=float)
    a = rng.normal(10, 3, 50)
    b = rng.normal(-5, 1, 50)
    b[[3, 17, 40]] = np.nan
    fig, ax = plt.subplots(figsize=(8, 3), dpi=50)
    ax.plot(x, a, label="north")
    ax.plot(x, b, label="south")
    ax.set_title("Revenue")
    ax.set_xlabel("week")
    ax.set_ylabel("k€")
    ax.legend()
    account = describe_figure(fig)
    assert account.startswith("Summary: the axes shows plotted data.")
    assert "8×3 in at 50 dpi (400×150 px), 1 axes" in account
    block = axes_block(account, 1)
    assert 'title "Revenue"' in block and 'x: "week"' in block and 'y: "k€"' in block
    assert "2 lines:" in block
    assert f'"north": 50 points, x {span(0, 49)}, y {span(a.min(), a.max())}' in block
    assert (
        f'"south": 50 points, 3 NaN/inf, x {span(0, 49)}, y {span(np.nanmin(b), np.nanmax(b))}'
    ) in block
    assert "legend: north, south" in block
    lo, hi = ax.get_ylim()
    assert f"limits {span(lo, hi)}" in block
    assert f"data range: x {span(0, 49)}, y {span(np.nanmin(b), a.max())}" in block


def test_scatter_points_ranges_and_colour_values():
    rng = np.random.default_rng(2)
    x, y, c = rng.uniform(0, 100, 300), rng.uniform(-1, 1, 300), rng.integers(0, 9, 300)
    fig, ax = plt.subplots()
    ax.scatter(x, y, c=c, cmap="plasma", label="obs")
    block = axes_block(describe_figure(fig), 1)
    assert (
        f'scatter "obs": 300 points, x {span(x.min(), x.max())}, y {span(y.min(), y.max())}'
    ) in block
    assert f"colour values {span(c.min(), c.max())}" in block and "cmap plasma" in block


def test_bars_with_categories_and_heights():
    names = ["apples", "pears", "plums", "figs"]
    heights = [12, 3, 7.5, 0.5]
    fig, ax = plt.subplots()
    ax.bar(names, heights, label="stock")
    block = axes_block(describe_figure(fig), 1)
    assert f'bars "stock": 4 bars (vertical), heights {span(min(heights), max(heights))}' in block
    assert "categories: apples, pears, plums, figs" in block


def test_horizontal_bars_report_widths():
    fig, ax = plt.subplots()
    ax.barh([1, 2, 3], [5, 9, 2])
    block = axes_block(describe_figure(fig), 1)
    assert "3 bars (horizontal), widths 2 – 9" in block


def test_histogram_bars_match_numpy_counts():
    data = np.random.default_rng(3).normal(size=1_000)
    counts, edges = np.histogram(data, bins=12)
    fig, ax = plt.subplots()
    ax.hist(data, bins=12)
    block = axes_block(describe_figure(fig), 1)
    assert f"12 bars (vertical), heights {span(counts.min(), counts.max())}" in block
    assert f"x {span(edges[0], edges[-1])}" in block


def test_imshow_values_nans_cmap_and_colorbar():
    grid = np.arange(48, dtype=float).reshape(6, 8)
    grid[0, :3] = np.nan
    fig, ax = plt.subplots()
    im = ax.imshow(grid, cmap="magma", vmin=0, vmax=60)
    fig.colorbar(im, label="temperature")
    account = describe_figure(fig)
    block = axes_block(account, 1)
    assert "image 6×8" in block
    assert f"values {span(np.nanmin(grid), np.nanmax(grid))}" in block
    assert "3 NaN/masked" in block and "cmap magma" in block and "colour limits 0 – 60" in block
    assert "1 axes and 1 colorbar" in account
    assert (
        'Axes 2 is a colorbar for axes 1, label "temperature", range 0 – 60, cmap magma.' in account
    )


def test_twin_axes_each_with_their_own_range():
    t = np.linspace(0, 10, 40)
    fig, ax = plt.subplots()
    ax.plot(t, np.sin(t), label="sin")
    twin = ax.twinx()
    twin.plot(t, 100 * t, color="r", label="ramp")
    account = describe_figure(fig)
    assert "all 2 axes show plotted data" in account
    assert "(twin of axes 1, shares x)" in axes_block(account, 2)
    assert f"y {span(0, 1000)}" in axes_block(account, 2)
    assert f"y {span(np.sin(t).min(), np.sin(t).max())}" in axes_block(account, 1)


def test_log_scale_and_values_that_cannot_be_shown():
    y = np.array([0.01, 1, 100, 10_000, -5, 0])
    fig, ax = plt.subplots()
    ax.plot(np.arange(6), y)
    ax.set_yscale("log")
    block = axes_block(describe_figure(fig), 1)
    assert "y: no label, log, limits" in block
    assert "2 y values ≤ 0 cannot be shown on the log y axis" in block


def test_all_non_positive_on_log_axis_shows_nothing():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [-1, -2, 0])
    with pytest.warns(UserWarning, match="no positive values"):  # matplotlib's own warning
        ax.set_yscale("log")
    account = describe_figure(fig)
    assert "axes 1 shows nothing: its values are ≤ 0 on a log axis" in account


@pytest.mark.parametrize("make", ["subplots", "figure_add_subplot"])
def test_empty_axes_say_they_hold_no_data(make):
    if make == "subplots":
        fig, _ = plt.subplots()
    else:
        fig = plt.figure()
        fig.add_subplot()
    account = describe_figure(fig)
    assert account.startswith(
        "Summary: nothing is visible in this figure: axes 1 has no plotted data"
    )
    assert "→ Axes 1 has no plotted data" in account


def test_empty_dataframe_plot_has_no_data():
    pd = pytest.importorskip("pandas")
    ax = pd.DataFrame({"x": []}).plot()
    account = describe_figure(ax.figure)
    assert "axes 1 has no plotted data" in account
    assert '"x": 0 points' in account


def test_nan_only_data():
    fig, ax = plt.subplots()
    ax.plot(np.full(25, np.nan), label="all missing")
    account = describe_figure(fig)
    assert '"all missing": 25 points, all NaN/inf (nothing drawn)' in account
    assert "axes 1 has no plotted data that can be drawn: all its values are NaN/inf" in account


def test_limits_set_outside_the_data():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [10, 20, 30])
    ax.set_xlim(100, 200)
    account = describe_figure(fig)
    assert "limits 100 – 200" in account
    assert "none of it lies inside the view limits" in account
    assert "axes 1 shows nothing: all its data lie outside the view limits" in account


def test_plot_drawn_on_another_figure():
    first = plt.figure()
    first.add_subplot()  # the axes the user meant to draw on
    second, ax = plt.subplots()  # pyplot's current figure is now this one
    plt.plot([1, 2, 3], [3, 1, 2])
    assert "axes 1 has no plotted data" in describe_figure(first)
    assert "the axes shows plotted data" in describe_figure(second)
    assert ax.lines


def test_single_point_line_without_marker_draws_nothing():
    fig, ax = plt.subplots()
    ax.plot([5], [7])
    account = describe_figure(fig)
    assert "a line through one point draws nothing; add a marker" in account
    assert "axes 1 draws nothing visible" in account


def test_grid_of_axes_with_suptitle_positions_and_grouped_summary():
    fig, axs = plt.subplots(2, 3)
    fig.suptitle("Overview")
    axs[0, 0].plot([1, 2])
    axs[1, 2].scatter([1], [1])
    account = describe_figure(fig)
    assert 'suptitle "Overview"' in account
    assert "Summary: 2 of 6 axes show data; axes 2, 3, 4 and 5 have no plotted data" in account
    assert "(row 2, col 3 of 2×3)" in axes_block(account, 6)


def test_dates_and_text_annotations():
    pd = pytest.importorskip("pandas")
    days = pd.date_range("2024-03-01", periods=10, freq="D")
    fig, ax = plt.subplots()
    ax.plot(days, np.arange(10))
    ax.annotate("peak", (days[9], 9))
    block = axes_block(describe_figure(fig), 1)
    assert "x 2024-03-01 – 2024-03-10" in block
    assert '1 text: "peak"' in block


def test_pandas_time_series_plot_prints_periods():
    pd = pytest.importorskip("pandas")
    s = pd.Series(np.arange(12.0), index=pd.date_range("2023-01-01", periods=12, freq="MS"))
    ax = s.plot()
    block = axes_block(describe_figure(ax.figure), 1)
    assert "x 2023-01 – 2023-12" in block


def test_reference_lines_and_fill_between():
    fig, ax = plt.subplots()
    ax.fill_between([0, 1, 2], [0, 1, 0], [2, 3, 2])
    ax.axhline(1.5)
    ax.axvline(0.5)
    block = axes_block(describe_figure(fig), 1)
    assert "filled areas:" in block and "y 0 – 3" in block
    assert "horizontal line at y=1.5" in block and "vertical line at x=0.5" in block


def test_figure_without_axes_and_non_figures():
    assert describe_figure(plt.figure()).startswith("Summary: the figure has no axes")
    assert is_matplotlib_figure(plt.figure())
    assert not is_matplotlib_figure(object())
    assert describe_figure(object()).startswith("matplotlib figure (could not be described")


def test_account_is_bounded():
    fig, axs = plt.subplots(6, 6)
    for ax in axs.flat:
        for k in range(10):
            ax.plot(np.arange(5) + k, label=f"series number {k}")
        ax.legend()
    account = describe_figure(fig, max_chars=3_000)
    assert len(account) <= 3_000
    assert account.startswith("Summary: all 12 axes show plotted data")  # first 12 described
    assert account.rstrip().endswith("(figure account truncated)")


def test_large_data_is_sampled_and_marked():
    x = np.arange(1_000_000, dtype=float)
    fig, ax = plt.subplots()
    ax.plot(x, x * 2)
    block = axes_block(describe_figure(fig), 1)
    assert "1,000,000 points" in block and "x ≈0 – " in block


# ------------------------------------------------------------------------------ specs


def test_vegalite_account_from_inline_data():
    rows = [
        {"city": c, "sales": s, "day": d}
        for c, s, d in [
            ("Oslo", 12, "2024-01-01"),
            ("Rome", 40, "2024-01-02"),
            ("Lima", 7, "2024-01-03"),
        ]
    ]
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.17.0.json",
        "title": "Sales by city",
        "data": {"values": rows},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "city", "type": "nominal"},
            "y": {"field": "Sales", "type": "quantitative", "aggregate": "sum"},
            "color": {"field": "sales", "type": "quantitative"},
        },
    }
    account = describe_vegalite(spec)
    assert account.startswith('Vega-Lite chart (v5.17.0): "Sales by city"')
    assert "mark bar; data: 3 inline rows" in account
    assert 'x: field "city", type nominal; values categories Oslo, Rome, Lima' in account
    assert (
        'y: field "Sales", type quantitative, aggregate sum — not a column of the data' in account
    )
    assert 'color: field "sales", type quantitative; values 7 – 40' in account


def test_vegalite_named_dataset_layers_and_url():
    spec = {
        "datasets": {"d1": [{"a": i, "b": i * i} for i in range(30)]},
        "data": {"name": "d1"},
        "layer": [
            {"mark": "line", "encoding": {"x": {"field": "a"}, "y": {"field": "b"}}},
            {
                "mark": "point",
                "data": {"url": "data/cars.json"},
                "encoding": {"x": {"field": "hp"}},
            },
        ],
    }
    account = describe_vegalite(spec)
    assert "layer of 2 views" in account
    assert "view 1: mark line; data: 30 rows (dataset d1)" in account
    assert 'y: field "b"; values 0 – 841' in account
    assert "view 2: mark point; data: loaded from a URL (data/cars.json; not read here)" in account
    assert describe_vegalite([1, 2]).startswith("Vega-Lite chart (the spec is not")


def test_plotly_account_with_typed_arrays_and_empty_trace():
    ys = np.array([3.5, np.nan, 9.25, -1.0])
    fig_json = {
        "data": [
            {
                "type": "scatter",
                "name": "temp",
                "mode": "lines",
                "x": [1, 2, 3, 4],
                "y": {"dtype": "f8", "bdata": base64.b64encode(ys.tobytes()).decode()},
            },
            {"type": "bar", "name": "none", "x": [], "y": []},
        ],
        "layout": {
            "title": {"text": "Weather"},
            "xaxis": {"title": {"text": "day"}, "type": "linear", "range": [0, 5]},
        },
    }
    account = describe_plotly(fig_json)
    assert account.startswith('Plotly chart: 2 traces, title "Weather"')
    assert 'xaxis: "day", linear, range 0 – 5' in account
    assert (
        'trace 1: scatter "temp", mode lines, 4 points; x 1 – 4; y -1 – 9.25, 1 missing/NaN'
        in account
    )
    assert 'trace 2: bar "none", 0 points' in account
    assert "no trace has any data" not in account
    empty = describe_plotly({"data": [{"type": "scatter", "x": [], "y": []}], "layout": {}})
    assert "no trace has any data points: the chart is empty" in empty
    assert "no traces: the chart is empty" in describe_plotly({"data": []})


# ------------------------------------------------------------------------------ images


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_downscale_keeps_small_images_and_shrinks_large_ones():
    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.plot([1, 2, 3])
    small = _png(fig)
    assert downscale_png(small, max_side=1024, max_bytes=10_000_000) == small
    fig, ax = plt.subplots(figsize=(20, 10), dpi=100)
    ax.imshow(np.random.default_rng(0).random((200, 400)))
    big = _png(fig)
    assert image_size(big) == (2000, 1000)
    out = downscale_png(big, max_side=800, max_bytes=400_000)
    assert out is not None and len(out) <= 400_000
    assert max(image_size(out)) <= 800
    assert media_type_of(out) in ("image/png", "image/jpeg")


def test_downscale_falls_back_to_jpeg_or_none():
    noise = (np.random.default_rng(1).random((600, 600, 3)) * 255).astype("uint8")
    fig = plt.figure(figsize=(6, 6), dpi=100)
    fig.figimage(noise)
    png = _png(fig)
    out = downscale_png(png, max_side=600, max_bytes=60_000)
    assert out is not None and len(out) <= 60_000
    assert downscale_png(png, max_side=600, max_bytes=10) is None
    assert downscale_png(b"not an image") is None
    assert downscale_png(b"\x89PNG\r\n\x1a\n" + b"\0" * 30, max_side=1) is None
