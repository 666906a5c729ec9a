"""Per-artist readers for the figure account: lines, collections, bars and patches, images.

Design note: each reader walks one kind of artist of one axes, appends its lines to the
account, adds the artist's finite data extent to the axes total (:class:`Stats`) and
returns how many of its artists draw something. Values are printed in the axis' own
units (dates, categories, pandas periods) by :func:`make_view`. Data are read from the
artists without copying more than a strided sample of ``MAX_POINTS`` points.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from ._fmt import fmt_int, fmt_num, short

__all__ = [
    "MAX_POINTS",
    "Stats",
    "View",
    "count",
    "describe_collections",
    "describe_images",
    "describe_lines",
    "describe_patches",
    "make_view",
    "span",
]

MAX_POINTS = 200_000
_NO_STYLE = ("None", "none", " ", "")


@dataclass
class Stats:
    """Finite x/y extent of some data, with counts of what cannot be drawn."""

    n: int = 0
    finite: int = 0
    xmin: float = float("inf")
    xmax: float = float("-inf")
    ymin: float = float("inf")
    ymax: float = float("-inf")
    inside: int = 0
    nonpos_x: int = 0
    nonpos_y: int = 0
    loggable: int = 0
    approx: bool = False

    def add(self, other: Stats) -> None:
        self.n += other.n
        self.finite += other.finite
        self.inside += other.inside
        self.loggable += other.loggable
        self.nonpos_x += other.nonpos_x
        self.nonpos_y += other.nonpos_y
        self.approx = self.approx or other.approx
        if other.finite:
            self.xmin = min(self.xmin, other.xmin)
            self.xmax = max(self.xmax, other.xmax)
            self.ymin = min(self.ymin, other.ymin)
            self.ymax = max(self.ymax, other.ymax)


@dataclass
class View:
    """One axes' view limits and scales, and how to print its values."""

    x0: float
    x1: float
    y0: float
    y1: float
    xlog: bool
    ylog: bool
    fx: Any
    fy: Any
    notes: list[str] = field(default_factory=list)

    def stats(self, xy: Any) -> Stats:
        import numpy as np

        try:
            arr = np.asarray(xy, dtype=float)
        except (TypeError, ValueError):
            return Stats()
        if arr.ndim != 2 or arr.shape[1] < 2:
            return Stats()
        s = Stats(n=len(arr))
        if len(arr) > MAX_POINTS:
            arr = arr[:: -(-len(arr) // MAX_POINTS)]
            s.approx = True
        ok = np.isfinite(arr[:, 0]) & np.isfinite(arr[:, 1])
        scale = s.n / len(arr) if len(arr) else 1.0
        fin = arr[ok]
        s.finite = round(int(ok.sum()) * scale)
        if len(fin):
            s.xmin, s.ymin = float(fin[:, 0].min()), float(fin[:, 1].min())
            s.xmax, s.ymax = float(fin[:, 0].max()), float(fin[:, 1].max())
            lo_x, hi_x = sorted((self.x0, self.x1))
            lo_y, hi_y = sorted((self.y0, self.y1))
            inside = (
                (fin[:, 0] >= lo_x)
                & (fin[:, 0] <= hi_x)
                & (fin[:, 1] >= lo_y)
                & (fin[:, 1] <= hi_y)
            )
            s.inside = round(int(inside.sum()) * scale)
            positive = np.ones(len(fin), dtype=bool)
            if self.xlog:
                s.nonpos_x = round(int((fin[:, 0] <= 0).sum()) * scale)
                positive &= fin[:, 0] > 0
            if self.ylog:
                s.nonpos_y = round(int((fin[:, 1] <= 0).sum()) * scale)
                positive &= fin[:, 1] > 0
            s.loggable = round(int(positive.sum()) * scale)
        return s

    def crosses(self, s: Stats) -> bool:
        """Whether the data's bounding box meets the view (a segment may cross it)."""
        lo_x, hi_x = sorted((self.x0, self.x1))
        lo_y, hi_y = sorted((self.y0, self.y1))
        return (
            s.finite > 0
            and s.xmax >= lo_x
            and s.xmin <= hi_x
            and s.ymax >= lo_y
            and (s.ymin <= hi_y)
        )

    def xr(self, s: Stats) -> str:
        return span(self.fx, s.xmin, s.xmax, s.approx)

    def yr(self, s: Stats) -> str:
        return span(self.fy, s.ymin, s.ymax, s.approx)


def span(f: Any, lo: float, hi: float, approx: bool = False) -> str:
    mark = "≈" if approx else ""
    width = abs(hi - lo)
    if width and abs(lo) < width * 1e-9:  # float noise such as -1.8e-15 next to 99
        lo = 0.0
    if width and abs(hi) < width * 1e-9:
        hi = 0.0
    if lo == hi:
        return f"{mark}{f(lo)}"
    return f"{mark}{f(lo)} – {f(hi)}"


def _value_formatter(ax: Any, axis: Any, name: str) -> Any:
    """A function that prints a value of this axis in its own units (dates, categories)."""
    try:
        conv = axis.get_converter() if hasattr(axis, "get_converter") else axis.converter
    except Exception:
        conv = None
    module = (type(conv).__module__ or "") if conv is not None else ""
    units = getattr(axis, "units", None)
    mapping = getattr(units, "_mapping", None)
    if module.startswith("matplotlib.dates"):
        from matplotlib import dates

        def as_date(v: float) -> str:
            try:
                d = dates.num2date(v)
            except Exception:
                return fmt_num(v)
            if d.hour == d.minute == d.second == 0:
                return d.date().isoformat()
            return d.strftime("%Y-%m-%d %H:%M")

        return as_date
    if mapping:
        names = {int(v): str(k) for k, v in mapping.items()}

        def as_category(v: float) -> str:
            if abs(v - round(v)) >= 1e-9:
                return fmt_num(v)
            return names.get(round(v), fmt_num(v))

        return as_category
    if module.startswith("pandas") and "Period" in type(conv).__name__:
        pandas = sys.modules.get("pandas")
        freq = getattr(ax, "freq", None)
        if pandas is not None and freq is not None:

            def as_period(v: float) -> str:
                try:
                    return str(pandas.Period(ordinal=round(v), freq=freq))
                except Exception:
                    return fmt_num(v)

            return as_period
    return fmt_num


def make_view(ax: Any) -> View:
    """The view limits, scales and value printers of one axes."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    return View(
        float(x0),
        float(x1),
        float(y0),
        float(y1),
        ax.get_xscale() == "log",
        ax.get_yscale() == "log",
        _value_formatter(ax, ax.xaxis, "x"),
        _value_formatter(ax, ax.yaxis, "y"),
    )


def _label(artist: Any) -> str:
    try:
        label = artist.get_label()
    except Exception:
        return ""
    if not isinstance(label, str) or not label or label.startswith("_"):
        return ""
    return f'"{short(label, 40)}"'


_PLURALS = {"vertex": "vertices", "axes": "axes", "grid point": "grid points"}


def count(n: int, one: str, many: str | None = None) -> str:
    return f"{fmt_int(n)} {one if n == 1 else (many or _PLURALS.get(one, one + 's'))}"


def _points_text(view: View, s: Stats, what: str = "point") -> str:
    parts = [count(s.n, what)]
    bad = s.n - s.finite
    if s.n and bad == s.n:
        parts.append("all NaN/inf (nothing drawn)")
        return ", ".join(parts)
    if bad:
        parts.append(f"{fmt_int(bad)} NaN/inf")
    if s.finite:
        parts.append(f"x {view.xr(s)}, y {view.yr(s)}")
    return ", ".join(parts)


def _line_notes(line: Any, s: Stats) -> tuple[list[str], bool]:
    """Notes on why a line may not show, and whether it draws nothing at all."""
    notes = []
    invisible = False
    try:
        no_line = line.get_linestyle() in _NO_STYLE or line.get_linewidth() == 0
        no_marker = line.get_marker() in (*_NO_STYLE, None)
        if not line.get_visible():
            notes.append("hidden (set_visible(False))")
            invisible = True
        elif no_line and no_marker:
            notes.append("no line style and no marker: draws nothing")
            invisible = True
        elif s.finite == 1 and no_marker:
            notes.append("a line through one point draws nothing; add a marker")
            invisible = True
        if line.get_alpha() == 0:
            notes.append("alpha 0: invisible")
            invisible = True
    except Exception:
        pass
    return notes, invisible


def describe_lines(ax: Any, view: View, total: Stats, out: list[str]) -> int:
    data_lines, refs = [], []
    for line in ax.lines:
        tr = line.get_transform()
        if tr is ax.transData or tr == ax.transData:
            data_lines.append(line)
            continue
        xy = line.get_xydata()
        if tr is ax.get_yaxis_transform(which="grid") and len(xy):
            refs.append(f"horizontal line at y={view.fy(float(xy[0][1]))}")
        elif tr is ax.get_xaxis_transform(which="grid") and len(xy):
            refs.append(f"vertical line at x={view.fx(float(xy[0][0]))}")
        else:
            refs.append("a line in axes coordinates")
    drawn = 0
    if data_lines:
        out.append(f"  {count(len(data_lines), 'line')}:")
        for line in data_lines[:6]:
            s = view.stats(line.get_xydata())
            total.add(s)
            notes, invisible = _line_notes(line, s)
            if s.finite and not invisible:
                drawn += 1
            label = _label(line)
            head = f"{label}: " if label else ""
            out.append(
                "    - "
                + head
                + _points_text(view, s)
                + (f" ({'; '.join(notes)})" if notes else "")
            )
        for line in data_lines[6:]:
            s = view.stats(line.get_xydata())
            total.add(s)
            drawn += bool(s.finite) and not _line_notes(line, s)[1]
        if len(data_lines) > 6:
            out.append(f"    - … {len(data_lines) - 6} more lines")
    if refs:
        out.append(
            f"  reference lines: {'; '.join(refs[:5])}"
            + (f" (+{len(refs) - 5})" if len(refs) > 5 else "")
        )
    return drawn


def _collection_xy(coll: Any, ax: Any) -> Any:
    import numpy as np

    name = type(coll).__name__
    if name == "PathCollection":
        if coll.get_offset_transform() is not ax.transData:
            return None
        offsets = coll.get_offsets()
        return np.ma.filled(np.ma.asarray(offsets, dtype=float), np.nan).reshape(-1, 2)
    if name == "QuadMesh":
        coords = coll.get_coordinates()
        return np.asarray(coords, dtype=float).reshape(-1, 2)
    if coll.get_transform() is not ax.transData and coll.get_transform() != ax.transData:
        return None
    paths = coll.get_paths()
    if len(paths) > 20_000:
        paths = paths[:: -(-len(paths) // 20_000)]
    verts = [p.vertices for p in paths if len(p.vertices)]
    return np.concatenate(verts) if verts else np.empty((0, 2))


_COLLECTION_KINDS = {
    "PathCollection": ("scatter", "point"),
    "LineCollection": ("line segments", "vertex"),
    "EventCollection": ("event lines", "vertex"),
    "PolyCollection": ("filled areas", "vertex"),
    "FillBetweenPolyCollection": ("filled areas", "vertex"),
    "QuadMesh": ("colour mesh", "grid point"),
    "PolyQuadMesh": ("colour mesh", "vertex"),
    "TriMesh": ("triangle mesh", "vertex"),
    "QuadContourSet": ("contours", "vertex"),
    "TriContourSet": ("contours", "vertex"),
    "ContourSet": ("contours", "vertex"),
}


def _array_range(values: Any) -> str:
    import numpy as np

    try:
        arr: Any = np.ma.filled(np.ma.asarray(values, dtype=float), np.nan).ravel()
    except (TypeError, ValueError):
        return ""
    if arr.size > MAX_POINTS:
        arr = arr[:: -(-arr.size // MAX_POINTS)]
    ok = np.isfinite(arr)
    if not ok.any():
        return "colour values all NaN"
    return f"colour values {fmt_num(arr[ok].min())} – {fmt_num(arr[ok].max())}"


def describe_collections(ax: Any, view: View, total: Stats, out: list[str]) -> int:
    drawn = 0
    shown = 0
    for coll in ax.collections:
        name = type(coll).__name__
        kind, unit = _COLLECTION_KINDS.get(name, (f"{name} collection", "vertex"))
        try:
            xy = _collection_xy(coll, ax)
        except Exception:
            xy = None
        s = view.stats(xy) if xy is not None else Stats()
        total.add(s)
        notes = []
        if not coll.get_visible():
            notes.append("hidden")
        sizes = coll.get_sizes() if name == "PathCollection" else None
        if sizes is not None and len(sizes) and not any(sizes):
            notes.append("marker size 0: invisible")
        arr = coll.get_array() if hasattr(coll, "get_array") else None
        if arr is not None and int(getattr(arr, "size", 0) or 0):
            rng = _array_range(arr)
            if rng:
                notes.append(rng)
            cmap = getattr(coll.get_cmap(), "name", "") if hasattr(coll, "get_cmap") else ""
            if cmap:
                notes.append(f"cmap {cmap}")
        if (
            s.finite
            and coll.get_visible()
            and not (sizes is not None and len(sizes) and not any(sizes))
        ):
            drawn += 1
        if shown < 6:
            label = _label(coll)
            text = f"  {kind}{' ' + label if label else ''}: "
            text += _points_text(view, s, unit) if xy is not None else "not in data coordinates"
            out.append(text + (f" ({'; '.join(notes)})" if notes else ""))
        shown += 1
    if shown > 6:
        out.append(f"  … {shown - 6} more collections")
    return drawn


def _rect_xy(patch: Any) -> list[tuple[float, float]]:
    try:
        x, y = float(patch.get_x()), float(patch.get_y())
        w, h = float(patch.get_width()), float(patch.get_height())
    except Exception:
        return []
    return [(x, y), (x + w, y + h)]


def describe_patches(ax: Any, view: View, total: Stats, out: list[str]) -> int:
    import numpy as np

    drawn = 0
    in_bars: set[int] = set()
    for cont in ax.containers:
        if type(cont).__name__ != "BarContainer":
            continue
        patches = list(cont.patches)
        in_bars.update(id(p) for p in patches)
        values = getattr(cont, "datavalues", None)
        vals = np.asarray(
            values if values is not None else [p.get_height() for p in patches], dtype=float
        )
        corners = [c for p in patches for c in _rect_xy(p)]
        s = view.stats(np.asarray(corners, dtype=float).reshape(-1, 2))
        # a bar's baseline at 0 is clipped, not lost, on a log axis
        s.nonpos_x = s.nonpos_y = 0
        s.loggable = s.finite
        total.add(s)
        orient = getattr(cont, "orientation", "vertical") or "vertical"
        label = _label(cont)
        ok = np.isfinite(vals)
        text = f"  bars{' ' + label if label else ''}: {count(len(patches), 'bar')} ({orient})"
        if ok.any():
            size = "widths" if orient == "horizontal" else "heights"
            lo, hi = float(vals[ok].min()), float(vals[ok].max())
            text += f", {size} {span(fmt_num, lo, hi) if lo != hi else 'all ' + fmt_num(lo)}"
            if not np.any(vals[ok] != 0):
                text += " (all zero: nothing visible)"
            elif s.finite:
                drawn += 1
        if (~ok).any():
            text += f", {int((~ok).sum())} NaN"
        if len(patches) and s.finite:
            pos = "y" if orient == "horizontal" else "x"
            text += f", {pos} {view.yr(s) if pos == 'y' else view.xr(s)}"
        out.append(text)
    others: dict[str, int] = {}
    extent = Stats()
    for patch in ax.patches:
        if id(patch) in in_bars:
            continue
        name = type(patch).__name__
        others[name] = others.get(name, 0) + 1
        try:
            if patch.get_data_transform() is not ax.transData:
                continue
            path = patch.get_path()
            verts = patch.get_patch_transform().transform(path.vertices)
        except Exception:
            continue
        s = view.stats(verts)
        total.add(s)
        extent.add(s)
        if s.finite and patch.get_visible():
            drawn += 1
    if others:
        kinds = ", ".join(f"{count(n, k)}" for k, n in sorted(others.items()))
        where = f", x {view.xr(extent)}, y {view.yr(extent)}" if extent.finite else ""
        out.append(f"  patches: {kinds}{where}")
    return drawn


def describe_images(ax: Any, view: View, total: Stats, out: list[str]) -> int:
    import numpy as np

    drawn = 0
    for im in ax.images[:4]:
        arr = im.get_array()
        if arr is None:
            out.append("  image: no data")
            continue
        shape = "×".join(str(d) for d in np.shape(arr))
        text = f"  image {shape}"
        corners = Stats()
        try:
            x0, x1, y0, y1 = (float(v) for v in im.get_extent())
            corners = view.stats(np.array([[x0, y0], [x1, y1]]))
            text += f", extent x {span(view.fx, x0, x1)}, y {span(view.fy, y0, y1)}"
        except Exception:
            pass
        # an image counts as one data item, inside the view when its extent meets it
        item = Stats(
            n=1, xmin=corners.xmin, xmax=corners.xmax, ymin=corners.ymin, ymax=corners.ymax
        )
        has_values = True
        if np.ndim(arr) == 2:
            flat: Any = np.ma.filled(np.ma.asarray(arr, dtype=float), np.nan).ravel()
            if flat.size > MAX_POINTS:
                flat = flat[:: -(-flat.size // MAX_POINTS)]
            ok = np.isfinite(flat)
            if not ok.any():
                text += ", all values NaN/masked (nothing drawn)"
                has_values = False
            else:
                lo, hi = float(flat[ok].min()), float(flat[ok].max())
                text += f", values {fmt_num(lo)} – {fmt_num(hi)}"
                if (~ok).any():
                    text += f", {fmt_int(int((~ok).sum()))} NaN/masked"
                cmap = getattr(im.get_cmap(), "name", "")
                vmin, vmax = im.get_clim()
                text += f", cmap {cmap}" if cmap else ""
                if vmin is not None and vmax is not None:
                    text += f", colour limits {fmt_num(vmin)} – {fmt_num(vmax)}"
                    if hi < vmin or lo > vmax:
                        text += " (every value is outside the colour limits)"
                drawn += 1
        else:
            text += " (RGB/RGBA)"
            drawn += 1
        if has_values and corners.finite:
            item.finite = item.loggable = 1
            item.inside = int(view.crosses(corners))
        total.add(item)
        out.append(text)
    if len(ax.images) > 4:
        out.append(f"  … {len(ax.images) - 4} more images")
    return drawn
