"""Text accounts of chart specs: Vega-Lite (Altair) and Plotly figure JSON.

Design note: these charts arrive in the notebook as JSON in their MIME bundle, so we read
the spec, not a live object. The account names what a person would check when a chart
comes out empty or wrong: the mark or trace type, encoded fields with their types, how
many data rows or points there are, the range of each encoded field in inline data,
axis titles and ranges, and fields the encoding names but the data does not have. Only
the first 5,000 rows of inline data and 100,000 values of a trace are read; nothing
named by URL is fetched (the URL is only mentioned). Plotly's typed arrays (``{"dtype",
"bdata"}``, base64) are decoded with numpy when it is installed. Every text is capped.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._fmt import fmt_int, fmt_num, short

__all__ = ["describe_plotly", "describe_vegalite"]

MAX_ROWS = 5_000
MAX_VALUES = 100_000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _cap(lines: list[str], max_chars: int) -> str:
    text = "\n".join(lines)
    if len(text) <= max_chars:
        return text
    cut = text[: max(0, max_chars - 30)]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return cut + "\n… (chart account truncated)"


def _title(value: Any) -> str:
    if isinstance(value, Mapping):
        value = value.get("text")
    if isinstance(value, Sequence) and not isinstance(value, str):
        value = " ".join(str(v) for v in value)
    return short(value, 80) if isinstance(value, str) and value else ""


def _values_summary(values: Sequence[Any]) -> str:
    """Range or categories of a column of JSON values (bounded)."""
    nums: list[float] = []
    strs: list[str] = []
    missing = 0
    for v in values[:MAX_VALUES]:
        if v is None:
            missing += 1
        elif isinstance(v, bool):
            strs.append(str(v))
        elif isinstance(v, (int, float)):
            if math.isfinite(v):
                nums.append(float(v))
            else:
                missing += 1
        elif isinstance(v, str):
            strs.append(v)
    parts = []
    if nums:
        parts.append(f"{fmt_num(min(nums))} – {fmt_num(max(nums))}")
    if strs:
        if all(_DATE.match(s) for s in strs[:50]):
            parts.append(f"{short(min(strs), 25)} – {short(max(strs), 25)}")
        else:
            distinct = list(dict.fromkeys(strs))
            shown = ", ".join(short(s, 20) for s in distinct[:6])
            more = f" … ({fmt_int(len(distinct))} distinct)" if len(distinct) > 6 else ""
            parts.append(f"categories {shown}{more}")
    if missing:
        parts.append(f"{fmt_int(missing)} missing/NaN")
    if not parts:
        return "no values"
    return ", ".join(parts)


# ---------------------------------------------------------------------------- Vega-Lite


def _vl_rows(data: Any, datasets: Mapping[str, Any]) -> tuple[str, list[Any] | None]:
    if not isinstance(data, Mapping):
        return "no data", None
    if isinstance(data.get("values"), list):
        rows = data["values"]
        return f"{fmt_int(len(rows))} inline rows", rows
    name = data.get("name")
    if isinstance(name, str):
        rows = datasets.get(name)
        if isinstance(rows, list):
            return f"{fmt_int(len(rows))} rows (dataset {short(name, 30)})", rows
        return f"named dataset {short(name, 30)} (not in the spec)", None
    if isinstance(data.get("url"), str):
        return f"loaded from a URL ({short(data['url'], 60)}; not read here)", None
    if "sequence" in data:
        return "a generated sequence", None
    return "no data", None


def _vl_transform_fields(transforms: Any) -> set[str]:
    made: set[str] = set()
    if not isinstance(transforms, list):
        return made
    for t in transforms:
        if not isinstance(t, Mapping):
            continue
        target = t.get("as")
        if isinstance(target, str):
            made.add(target)
        elif isinstance(target, list):
            made.update(str(a) for a in target)
        for key in ("aggregate", "window", "joinaggregate"):
            for item in t.get(key) or []:
                if isinstance(item, Mapping) and isinstance(item.get("as"), str):
                    made.add(item["as"])
        if "fold" in t and not t.get("as"):
            made.update({"key", "value"})
    return made


def _vl_view(
    spec: Mapping[str, Any],
    depth: int,
    data: Any,
    datasets: Mapping[str, Any],
    out: list[str],
    label: str,
) -> None:
    indent = "  " * depth
    data = spec.get("data", data)
    for key in ("layer", "concat", "hconcat", "vconcat"):
        children = spec.get(key)
        if isinstance(children, list):
            title = _title(spec.get("title"))
            out.append(
                f"{indent}{label}{key} of {len(children)} views"
                + (f', title "{title}"' if title else "")
            )
            if depth >= 3:
                return
            for i, child in enumerate(children[:8], 1):
                if isinstance(child, Mapping):
                    _vl_view(child, depth + 1, data, datasets, out, f"view {i}: ")
            if len(children) > 8:
                out.append(f"{indent}  … {len(children) - 8} more views")
            return
    if isinstance(spec.get("spec"), Mapping) and ("facet" in spec or "repeat" in spec):
        kind = "facet" if "facet" in spec else "repeat"
        out.append(f"{indent}{label}{kind} of the view below")
        _vl_view(spec["spec"], depth + 1, data, datasets, out, "")
        return
    mark = spec.get("mark")
    mark_type = mark.get("type") if isinstance(mark, Mapping) else mark
    rows_text, rows = _vl_rows(data, datasets)
    title = _title(spec.get("title"))
    out.append(
        f"{indent}{label}mark {mark_type or '?'}; data: {rows_text}"
        + (f'; title "{title}"' if title else "")
    )
    columns: list[str] = []
    if rows:
        first = next((r for r in rows[:MAX_ROWS] if isinstance(r, Mapping)), None)
        columns = list(first) if first else []
        if columns:
            out.append(
                f"{indent}  columns: {', '.join(short(str(c), 20) for c in columns[:15])}"
                + (f" … ({len(columns)})" if len(columns) > 15 else "")
            )
    transforms = spec.get("transform")
    made = _vl_transform_fields(transforms)
    if isinstance(transforms, list) and transforms:
        kinds = [next(iter(t), "?") for t in transforms if isinstance(t, Mapping)]
        out.append(f"{indent}  transforms: {', '.join(kinds[:8])}")
    encoding = spec.get("encoding")
    if not isinstance(encoding, Mapping) or not encoding:
        out.append(f"{indent}  no encoding")
        return
    for channel, enc in list(encoding.items())[:12]:
        if isinstance(enc, list):
            enc = enc[0] if enc and isinstance(enc[0], Mapping) else {}
        if not isinstance(enc, Mapping):
            continue
        field = enc.get("field")
        if isinstance(field, Mapping):
            field = f"repeat:{field.get('repeat', '?')}"
        parts = []
        if field is not None:
            parts.append(f'field "{short(str(field), 30)}"')
        for key in ("type", "aggregate", "timeUnit"):
            if enc.get(key):
                parts.append(f"{key} {short(str(enc[key]), 20)}")
        if enc.get("bin"):
            parts.append("binned")
        if "value" in enc or "datum" in enc:
            parts.append(f"constant {short(str(enc.get('value', enc.get('datum'))), 20)}")
        if enc.get("title"):
            parts.append(f'title "{_title(enc["title"])}"')
        text = f"{indent}  {channel}: " + (", ".join(parts) or "(empty)")
        if isinstance(field, str) and rows is not None and columns:
            base = field.split(".")[0].replace("\\", "")
            if base not in columns and base not in made and field not in columns:
                text += f" — not a column of the data ({', '.join(columns[:8])})"
            elif base in columns:
                column = [r.get(base) for r in rows[:MAX_ROWS] if isinstance(r, Mapping)]
                text += f"; values {_values_summary(column)}"
        out.append(text)


def describe_vegalite(spec: Any, *, max_chars: int = 2_000) -> str:
    """A text account of a Vega-Lite spec (what Altair charts send).

    Parameters
    ----------
    spec:
        The ``application/vnd.vegalite.v*+json`` value: a JSON object.
    max_chars:
        Hard cap on the length of the text.

    Returns
    -------
    str
        Version and title; per view the mark, data rows and columns, transforms, and each
        encoding channel with field, type, aggregate and the field's value range; fields
        missing from the data are flagged.
    """
    if not isinstance(spec, Mapping):
        return "Vega-Lite chart (the spec is not a JSON object)"
    try:
        schema = str(spec.get("$schema", ""))
        version = re.search(r"vega-lite/(v\d+(?:\.\d+)*)", schema)
        head = "Vega-Lite chart" + (f" ({version.group(1)})" if version else "")
        title = _title(spec.get("title"))
        if title:
            head += f': "{title}"'
        datasets = spec.get("datasets") if isinstance(spec.get("datasets"), Mapping) else {}
        out = [head]
        view = dict(spec)
        view.pop("title", None)
        _vl_view(view, 0, None, datasets or {}, out, "")
        return _cap(out, max_chars)
    except Exception as exc:
        return f"Vega-Lite chart (could not be described: {type(exc).__name__})"


# ------------------------------------------------------------------------------- Plotly


def _typed_array(value: Any) -> list[Any] | None:
    """Plotly's ``{"dtype": "f8", "bdata": "..."}`` encoding as a list (numpy needed)."""
    if not (isinstance(value, Mapping) and "bdata" in value and "dtype" in value):
        return None
    try:
        import numpy as np

        raw = base64.b64decode(str(value["bdata"]))
        arr = np.frombuffer(raw, dtype=np.dtype(str(value["dtype"])))
        if arr.size > MAX_VALUES:
            arr = arr[:MAX_VALUES]
        return arr.astype(float).tolist() if arr.dtype.kind in "fiub" else arr.tolist()
    except Exception:
        return None


def _column(trace: Mapping[str, Any], key: str) -> tuple[int, list[Any]] | None:
    value = trace.get(key)
    if value is None:
        return None
    decoded = _typed_array(value)
    if decoded is not None:
        return len(decoded), decoded
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], (list, tuple)):  # 2-D (heatmap z)
            flat = [
                v
                for row in value[:2_000]
                for v in (row if isinstance(row, (list, tuple)) else [row])
            ]
            return len(value) * max(1, len(value[0])), flat
        return len(value), list(value[:MAX_VALUES])
    return None


def describe_plotly(fig_json: Any, *, max_chars: int = 2_000) -> str:
    """A text account of a Plotly figure (``application/vnd.plotly.v1+json``).

    Parameters
    ----------
    fig_json:
        The figure as JSON: ``{"data": [traces], "layout": {...}}``.
    max_chars:
        Hard cap on the length of the text.

    Returns
    -------
    str
        The layout title, each axis' title, type and range, and per trace its type,
        name, mode, point count and the range of x/y (or values); empty traces are flagged.
    """
    if not isinstance(fig_json, Mapping):
        return "Plotly chart (the figure is not a JSON object)"
    try:
        return _cap(_plotly_lines(fig_json), max_chars)
    except Exception as exc:
        return f"Plotly chart (could not be described: {type(exc).__name__})"


def _plotly_lines(fig_json: Mapping[str, Any]) -> list[str]:
    raw_layout, raw_traces = fig_json.get("layout"), fig_json.get("data")
    layout: Mapping[str, Any] = raw_layout if isinstance(raw_layout, Mapping) else {}
    traces: list[Any] = raw_traces if isinstance(raw_traces, list) else []
    title = _title(layout.get("title"))
    out = [
        f"Plotly chart: {len(traces)} trace{'s' if len(traces) != 1 else ''}"
        + (f', title "{title}"' if title else "")
    ]
    axes = sorted(k for k in layout if re.fullmatch(r"[xy]axis\d*", str(k)))
    for key in axes[:8]:
        axis = layout.get(key)
        if not isinstance(axis, Mapping):
            continue
        parts = []
        axis_title = _title(axis.get("title"))
        if axis_title:
            parts.append(f'"{axis_title}"')
        if axis.get("type"):
            parts.append(str(axis["type"]))
        rng = axis.get("range")
        if isinstance(rng, list) and len(rng) == 2:
            parts.append(f"range {short(str(rng[0]), 25)} – {short(str(rng[1]), 25)}")
        if parts:
            out.append(f"  {key}: {', '.join(parts)}")
    if not traces:
        out.append("  no traces: the chart is empty")
        return out
    empty = 0
    for i, trace in enumerate(traces[:12], 1):
        if not isinstance(trace, Mapping):
            continue
        kind = str(trace.get("type") or "scatter")
        name = trace.get("name")
        head = f"  trace {i}: {kind}" + (f' "{short(str(name), 30)}"' if name else "")
        if trace.get("mode"):
            head += f", mode {short(str(trace['mode']), 20)}"
        if trace.get("visible") in (False, "legendonly"):
            head += f" (visible={trace.get('visible')!r}: not drawn)"
        counts = []
        points = None
        for key in ("x", "y", "z", "values", "labels", "lat", "lon", "r", "theta"):
            col = _column(trace, key)
            if col is None:
                continue
            n, values = col
            points = n if points is None else max(points, n)
            if key in ("x", "y", "z", "values", "lat", "lon", "r"):
                counts.append(f"{key} {_values_summary(values)}")
        if points is None:
            head += ", no data arrays"
            empty += 1
        else:
            head += f", {fmt_int(points)} points"
            if points == 0:
                empty += 1
        out.append(head + ("; " + "; ".join(counts[:4]) if counts and points else ""))
    if len(traces) > 12:
        out.append(f"  … {len(traces) - 12} more traces")
    if empty == len(traces):
        out.insert(1, "  → no trace has any data points: the chart is empty.")
    return out
