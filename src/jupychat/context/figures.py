"""Figures for every model: a text account of a live matplotlib Figure, chart specs, images.

Design note: a model without vision can still answer "why is this plot empty?" when it
is told what the figure holds, so :func:`describe_figure` reads the live ``Figure`` the
way a person would check it: size and titles, then per axes the labels, scales and view
limits, every artist by kind with the *finite* range of its data (NaNs and infinities
counted, never averaged in), legend entries, colorbars, and an explicit verdict when an
axes holds nothing that can be drawn: no artists, only NaN, data entirely outside the
view limits, non-positive values on a log axis, a line through a single point with no
marker. The first line is a one-line summary (used by the cell inventory). Data are read
from the artists (``get_xydata``, offsets, rectangles, image arrays) and never copied
beyond a strided sample of 200,000 points for very large artists (marked ≈); the text
is capped. Nothing here imports matplotlib at module import: a figure passed in means
matplotlib is already loaded. Vega-Lite and Plotly accounts live in ``_specs`` and the
image downscaler in ``images``; both are re-exported here.
"""

from __future__ import annotations

from typing import Any

from ._figure_artists import (
    Stats,
    View,
    count,
    describe_collections,
    describe_images,
    describe_lines,
    describe_patches,
    make_view,
)
from ._fmt import fmt_int, fmt_num, short
from ._specs import describe_plotly, describe_vegalite
from .images import downscale_png, media_type_of

__all__ = [
    "describe_figure",
    "describe_plotly",
    "describe_vegalite",
    "downscale_png",
    "is_matplotlib_figure",
    "media_type_of",
]


def is_matplotlib_figure(obj: Any) -> bool:
    """Whether ``obj`` is a matplotlib ``Figure`` (checked without importing matplotlib)."""
    cls = type(obj)
    return (
        (getattr(cls, "__module__", "") or "").startswith("matplotlib.figure")
        and hasattr(obj, "axes")
        and hasattr(obj, "get_size_inches")
    )


def _axis_text(ax: Any, view: View, which: str) -> str:
    axis = ax.xaxis if which == "x" else ax.yaxis
    label = axis.get_label().get_text()
    scale = ax.get_xscale() if which == "x" else ax.get_yscale()
    a, b = (view.x0, view.x1) if which == "x" else (view.y0, view.y1)
    f = view.fx if which == "x" else view.fy
    text = f'{which}: "{short(label, 50)}"' if label else f"{which}: no label"
    text += f", {scale}, limits {f(a)} – {f(b)}"
    if a > b:
        text += " (inverted)"
    mapping = getattr(getattr(axis, "units", None), "_mapping", None)
    if mapping:
        names = list(mapping)
        shown = ", ".join(short(str(n), 20) for n in names[:8])
        text += f", categories: {shown}" + (f" … ({len(names)} in all)" if len(names) > 8 else "")
    return text


def _axes_title(ax: Any) -> str:
    titles = [ax.get_title(loc) for loc in ("left", "center", "right")]
    titles = [t for t in titles if t]
    return "; ".join(f'"{short(t, 60)}"' for t in titles)


_NO_ARTISTS = (
    "has no plotted data (no lines, markers, bars, images or collections)",
    "have no plotted data (no lines, markers, bars, images or collections)",
)


def _describe_axes(
    ax: Any, number: int, fig_axes: list[Any]
) -> tuple[list[str], tuple[str, str] | None]:
    """Lines for one axes, and its verdict (singular, plural) when it shows nothing."""
    view = make_view(ax)
    out: list[str] = []
    title = _axes_title(ax)
    where = ""
    try:
        spec = ax.get_subplotspec()
        if spec is not None:
            spec = spec.get_topmost_subplotspec()
            rows, cols = spec.get_geometry()[:2]
            if rows * cols > 1:
                where = (
                    f" (row {spec.rowspan.start + 1}, col {spec.colspan.start + 1} of "
                    f"{rows}×{cols})"
                )
    except Exception:
        pass
    for other_n, other in enumerate(fig_axes, 1):
        if other is ax or other_n >= number:
            continue
        try:
            same_box = other.get_position().bounds == ax.get_position().bounds
        except Exception:
            same_box = False
        if same_box and ax.get_shared_x_axes().joined(ax, other):
            where += f" (twin of axes {other_n}, shares x)"
            break
        if same_box and ax.get_shared_y_axes().joined(ax, other):
            where += f" (twin of axes {other_n}, shares y)"
            break
    kind = "" if ax.name == "rectilinear" else f" [{ax.name}]"
    out.append(f"Axes {number}{kind}{where}: " + (f"title {title}" if title else "no title"))
    if not ax.get_visible():
        out.append("  (this axes is hidden)")
    out.append("  " + _axis_text(ax, view, "x") + "; " + _axis_text(ax, view, "y"))
    if not ax.axison:
        out[-1] += " (axis lines and ticks turned off)"
    total = Stats()
    drawn = describe_lines(ax, view, total, out)
    drawn += describe_collections(ax, view, total, out)
    drawn += describe_patches(ax, view, total, out)
    drawn += describe_images(ax, view, total, out)
    if ax.texts:
        texts = [f'"{short(t.get_text(), 30)}"' for t in ax.texts[:4] if t.get_text()]
        out.append(f"  {count(len(ax.texts), 'text')}" + (f": {', '.join(texts)}" if texts else ""))
    legend = ax.get_legend()
    if legend is not None:
        entries = [short(t.get_text(), 30) for t in legend.get_texts()]
        out.append(
            "  legend: "
            + (", ".join(entries[:10]) if entries else "(empty)")
            + (f" … ({len(entries)})" if len(entries) > 10 else "")
        )
    has_artists = bool(ax.lines or ax.collections or ax.patches or ax.images)
    if total.finite:
        line = f"  data range: x {view.xr(total)}, y {view.yr(total)}"
        if total.inside == 0 and not view.crosses(total):
            line += " — none of it lies inside the view limits"
        out.append(line)
    log_notes = []
    if total.nonpos_x:
        log_notes.append(
            f"{fmt_int(total.nonpos_x)} x values ≤ 0 cannot be shown on the log x axis"
        )
    if total.nonpos_y:
        log_notes.append(
            f"{fmt_int(total.nonpos_y)} y values ≤ 0 cannot be shown on the log y axis"
        )
    if log_notes:
        out.append("  " + "; ".join(log_notes))
    verdict: tuple[str, str] | None = None
    if not has_artists:
        verdict = _NO_ARTISTS
    elif (view.xlog or view.ylog) and total.finite and not total.loggable:
        verdict = (
            "shows nothing: its values are ≤ 0 on a log axis",
            "show nothing: their values are ≤ 0 on a log axis",
        )
    elif total.n and not total.finite:
        verdict = (
            "has no plotted data that can be drawn: all its values are NaN/inf",
            "have no plotted data that can be drawn: all their values are NaN/inf",
        )
    elif not total.finite and not drawn:
        verdict = (
            "has no plotted data: its artists hold no points",
            "have no plotted data: their artists hold no points",
        )
    elif total.inside == 0 and not view.crosses(total):
        verdict = (
            "shows nothing: all its data lie outside the view limits",
            "show nothing: all their data lie outside the view limits",
        )
    elif not drawn:
        verdict = (
            "draws nothing visible (see the notes above)",
            "draw nothing visible (see the notes above)",
        )
    if verdict:
        out.append(f"  → Axes {number} {verdict[0]}.")
    return out, verdict


def _colorbar_text(ax: Any, number: int, fig_axes: list[Any]) -> str:
    cb = getattr(ax, "_colorbar", None)
    label = ax.get_ylabel() or ax.get_xlabel()
    text = f"Axes {number} is a colorbar"
    mappable = getattr(cb, "mappable", None)
    owner = getattr(mappable, "axes", None)
    if owner is not None and owner in fig_axes:
        text += f" for axes {fig_axes.index(owner) + 1}"
    if label:
        text += f', label "{short(label, 40)}"'
    try:
        norm = mappable.norm if mappable is not None else None
        if norm is not None and norm.vmin is not None:
            text += f", range {fmt_num(norm.vmin)} – {fmt_num(norm.vmax)}"
        cmap = getattr(mappable.get_cmap(), "name", "") if mappable is not None else ""
        if cmap:
            text += f", cmap {cmap}"
    except Exception:
        pass
    return text + "."


def _suptitle(fig: Any) -> str:
    try:
        if hasattr(fig, "get_suptitle"):
            return str(fig.get_suptitle() or "")
        sup = getattr(fig, "_suptitle", None)
        return sup.get_text() if sup is not None else ""
    except Exception:
        return ""


def describe_figure(fig: Any, *, max_chars: int = 4_000, max_axes: int = 12) -> str:
    """A text account of a live matplotlib ``Figure``, enough to reason about it unseen.

    Parameters
    ----------
    fig:
        A ``matplotlib.figure.Figure``.
    max_chars:
        Hard cap on the length of the text.
    max_axes:
        Axes described in detail; the rest are counted.

    Returns
    -------
    str
        The first line summarises (how many axes show data, and which do not); then
        the figure size and suptitle, one block per axes (title, labels, scales, limits,
        artists with their finite data ranges and NaN counts, legend, verdict), colorbars.
    """
    try:
        text = _describe(fig, max_axes)
    except Exception as exc:  # a broken or exotic figure must not break the caller
        return (
            f"matplotlib figure (could not be described: {type(exc).__name__}: "
            f"{short(str(exc), 80)})"
        )
    if len(text) <= max_chars:
        return text
    cut = text[: max(0, max_chars - 40)]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return cut + "\n… (figure account truncated)"


def _describe(fig: Any, max_axes: int) -> str:
    w, h = (float(v) for v in fig.get_size_inches())
    dpi = float(fig.dpi)
    axes = list(fig.axes)
    cbars = [ax for ax in axes if getattr(ax, "_colorbar", None) is not None]
    plots = [ax for ax in axes if ax not in cbars]
    number = getattr(fig, "number", None)
    name = f"Figure {number}" if isinstance(number, int) else "Figure"
    head = (
        f"{name}: {fmt_num(w)}×{fmt_num(h)} in at {fmt_num(dpi)} dpi "
        f"({round(w * dpi)}×{round(h * dpi)} px), {count(len(plots), 'axes', 'axes')}"
    )
    if cbars:
        head += f" and {count(len(cbars), 'colorbar')}"
    sup = _suptitle(fig)
    if sup:
        head += f'; suptitle "{short(sup, 80)}"'
    body: list[str] = []
    verdicts: dict[tuple[str, str], list[int]] = {}
    for n, ax in enumerate(axes, 1):
        if ax in cbars:
            body.append(_colorbar_text(ax, n, axes))
            continue
        if n > max_axes:
            continue
        lines, verdict = _describe_axes(ax, n, axes)
        body.extend(lines)
        if verdict:
            verdicts.setdefault(verdict, []).append(n)
    if len(axes) > max_axes:
        body.append(f"… {len(axes) - max_axes} more axes not described")
    for legend in getattr(fig, "legends", [])[:2]:
        entries = [short(t.get_text(), 30) for t in legend.get_texts()]
        body.append("Figure legend: " + (", ".join(entries[:10]) or "(empty)"))
    described = len([ax for ax in plots if axes.index(ax) < max_axes])
    empty = sum(len(v) for v in verdicts.values())
    reasons = []
    for (one, many), numbers in verdicts.items():
        if len(numbers) == 1:
            reasons.append(f"axes {numbers[0]} {one}")
        else:
            listed = ", ".join(str(k) for k in numbers[:-1]) + f" and {numbers[-1]}"
            reasons.append(f"axes {listed} {many}")
    if not plots:
        summary = "Summary: the figure has no axes: nothing was drawn on it."
    elif not verdicts:
        summary = (
            "Summary: "
            + ("the axes shows" if described == 1 else f"all {described} axes show")
            + " plotted data."
        )
    elif empty == described:
        summary = "Summary: nothing is visible in this figure: " + "; ".join(reasons) + "."
    else:
        summary = (
            f"Summary: {described - empty} of {described} axes show data; "
            + "; ".join(reasons)
            + "."
        )
    return "\n".join([summary, head, *body])
