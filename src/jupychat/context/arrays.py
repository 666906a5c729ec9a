"""numpy arrays: shape, dtype, size, statistics, NaNs and a short preview.

Design note: imported only when an object's type comes from numpy. Statistics are
exact up to 5 million elements and estimated (marked ≈) from a seeded sample of
elements beyond that, so a 10 GB array costs milliseconds. The preview is
``numpy.array2string`` with a small threshold (edge items only), never the full array.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ._lazy import LazyModule
from ._sampling import sample_positions

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use, i.e. when a numpy array is described
    np = LazyModule("numpy")

from ._fmt import fmt_bytes, fmt_int, fmt_num, fmt_pct, short
from .request import Request

__all__ = ["describe_ndarray"]

EXACT_LIMIT = 5_000_000


def describe_ndarray(arr: np.ndarray, req: Request) -> str:
    """Describe a numpy array (see the module note)."""
    who = f"`{req.name}`: " if req.name else ""
    shape = "×".join(fmt_int(d) for d in arr.shape) or "scalar"
    kind = type(arr).__module__.split(".")[0] + "." + type(arr).__qualname__
    lines = [
        f"### {who}{kind}, shape {shape} ({arr.ndim}-d), dtype {arr.dtype}, "
        f"{fmt_int(arr.size)} elements, ~{fmt_bytes(arr.nbytes)}"
    ]
    if req.settings.values == "schema" or arr.size == 0:
        return "\n".join(lines)
    contiguous = bool(arr.flags.c_contiguous)
    sampled = arr.size > (EXACT_LIMIT if contiguous else 1_000_000)
    if sampled:  # never copy a large array: pick elements by flat position
        picks = sample_positions(
            arr.size, min(arr.size, req.settings.sample_size * 10), req.settings.seed
        )
        flat = arr.reshape(-1)[picks] if contiguous else arr[np.unravel_index(picks, arr.shape)]
    else:
        flat = arr.reshape(-1)
    mark = "≈" if sampled else ""
    kind_char = arr.dtype.kind
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if kind_char in "iuf":
            stats = []
            if kind_char == "f":
                nans = int(np.isnan(flat).sum())
                if nans:
                    stats.append(f"NaN{mark} {fmt_pct(nans, flat.size)}")
                valid = flat[~np.isnan(flat)] if nans else flat
            else:
                valid = flat
            if valid.size:
                stats += [
                    f"min{mark} {fmt_num(valid.min())}",
                    f"max{mark} {fmt_num(valid.max())}",
                    f"mean{mark} {fmt_num(valid.mean(dtype=np.float64))}",
                    f"std{mark} {fmt_num(valid.std(dtype=np.float64))}",
                ]
            if stats:
                lines.append(
                    "stats: "
                    + ", ".join(stats)
                    + (" (≈ from a random sample of elements)" if sampled else "")
                )
        elif kind_char == "b":
            lines.append(f"true{mark} {fmt_pct(int(flat.sum()), flat.size)}")
        elif kind_char in "mM":
            valid = flat[~np.isnat(flat)]
            if valid.size:
                lines.append(f"range{mark}: {valid.min()} … {valid.max()}")
    if req.settings.values == "full" and not req.private:
        try:
            preview = np.array2string(
                arr, threshold=20, edgeitems=3, max_line_width=100, precision=4
            )
        except Exception:
            preview = "(preview failed)"
        if len(preview) > 600:
            preview = preview[:600] + " …"
        lines.append("preview:\n" + preview)
    elif req.private:
        lines.append("values withheld (privacy)")
    return "\n".join(lines)


def describe_ndarray_safe(arr: Any, req: Request) -> str:
    """Entry point registered with ``describe``: structured/object arrays get less."""
    if arr.dtype.kind in "OVSU" or arr.dtype.names:
        who = f"`{req.name}`: " if req.name else ""
        shape = "×".join(fmt_int(d) for d in arr.shape) or "scalar"
        lines = [
            f"### {who}numpy.ndarray, shape {shape}, dtype {short(str(arr.dtype), 80)}, "
            f"{fmt_int(arr.size)} elements"
        ]
        if req.settings.values == "full" and not req.private and arr.size:
            from .saferepr import bounded_repr

            head = arr.reshape(-1)[:5].tolist()
            lines.append("first items: " + bounded_repr(head, 400))
        return "\n".join(lines)
    return describe_ndarray(arr, req)
