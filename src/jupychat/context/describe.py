"""``describe(obj)``: a bounded, honest text description of any notebook value.

Design note: dispatch is a ``functools.singledispatch`` on the object's type with
``(obj, Request)`` implementations. Builtins are registered here; pandas, numpy and
polars types are registered *lazily*, the first time an object whose class (or a base
class) comes from one of those packages is described, so importing this module never
imports them. Third parties add types with ``@describe.register(MyType)`` and a
``def _(obj, request) -> str``.

Every description passes through the same exit: secret-looking strings are redacted
and the text is capped at its token budget. Describing never raises: a describer that
fails falls back to the type and a guarded ``repr`` (see :mod:`.saferepr`).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import gc
import inspect
import numbers
import sys
import types
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from ._fmt import fmt_int, fmt_num, fmt_pct, short, type_name
from .budget import cap_text
from .privacy import WITHHELD, is_pii_name, looks_secret, redact_secrets, var_excluded, var_private
from .request import Request
from .saferepr import bounded_repr, guarded_repr
from .settings import ContextSettings, Values

__all__ = ["describe", "is_tabular"]

_LAZY_ROOTS = ("pandas", "numpy", "polars", "pyspark", "dask", "duckdb", "_duckdb", "ibis")
_registered_roots: set[str] = set()
ELEMENT_SCAN = 1_000


def _title(req: Request, text: str) -> str:
    who = f"`{req.name}`: " if req.name else ""
    return f"### {who}{text}"


@functools.singledispatch
def _dispatch(obj: Any, req: Request) -> str:
    roots = {(getattr(c, "__module__", "") or "").split(".")[0] for c in type(obj).__mro__}
    pending = roots.intersection(_LAZY_ROOTS) - _registered_roots
    if pending:
        for root in sorted(pending):
            _register_lazy(root)
        impl = _dispatch.dispatch(type(obj))
        if impl is not _dispatch.dispatch(object):
            return impl(obj, req)
    return _describe_other(obj, req)


def _register_lazy(root: str) -> None:
    """Register describers for a third-party package (only once it is imported)."""
    _registered_roots.add(root)
    if root not in sys.modules:
        return
    if root == "pandas":
        import pandas as pd

        _dispatch.register(pd.DataFrame, _describe_pandas)
        _dispatch.register(pd.Series, _describe_pandas)
        _dispatch.register(pd.Index, _describe_index)
    elif root == "numpy":
        import numpy as np

        from .arrays import describe_ndarray_safe

        _dispatch.register(np.ndarray, describe_ndarray_safe)
        _dispatch.register(np.generic, _describe_scalar)
    elif root == "polars":
        import polars as pl

        from .polars_frames import describe_polars
        from .polars_lazy import describe_polars_lazy_engine

        _dispatch.register(pl.DataFrame, describe_polars)
        _dispatch.register(pl.Series, describe_polars)
        _dispatch.register(pl.LazyFrame, describe_polars_lazy_engine)
    else:
        from .engines import register_engine

        register_engine(root, _dispatch.register)


def is_tabular(obj: Any) -> bool:
    """Whether ``obj`` is a DataFrame/Series-like table we summarise column by column."""
    kind: type = type(obj)
    return _tabular_type(kind)


@functools.lru_cache(maxsize=256)
def _tabular_type(kind: type) -> bool:
    """:func:`is_tabular` by type: a class's bases and modules do not change."""
    from .engines import _engine_of_type

    if _engine_of_type(kind) is not None:
        return True
    for cls in kind.__mro__:
        root = (getattr(cls, "__module__", "") or "").split(".")[0]
        if root in ("pandas", "polars") and cls.__name__ in ("DataFrame", "Series", "LazyFrame"):
            return True
    return False


def describe(
    obj: Any,
    name: str | None = None,
    *,
    budget: int | None = None,
    values: Values | None = None,
    settings: ContextSettings | None = None,
    columns: Sequence[str] | None = None,
) -> str:
    """Describe a value for the assistant, within a hard size cap.

    Parameters
    ----------
    obj:
        Anything: DataFrames and Series (pandas, polars), numpy arrays, containers,
        strings, scalars, functions, classes, modules, other objects.
    name:
        The variable name, shown in the title and used by the privacy filters.
    budget:
        Token budget (default: ``settings.var_budget`` for tables, else
        ``settings.other_budget``). The result never exceeds it.
    values:
        ``"full"``, ``"aggregates"`` or ``"schema"``; overrides ``settings.values``.
    settings:
        Privacy, sampling and budget settings (default ``ContextSettings()``).
    columns:
        Columns to describe in full even when the frame is wide.

    Returns
    -------
    str
        Markdown text. Never raises for odd objects: failures are described.
    """
    settings = (settings or ContextSettings()).with_(values=values)
    if budget is None:
        budget = settings.var_budget if is_tabular(obj) else settings.other_budget
    budget = max(20, int(budget))
    if name and var_excluded(name, settings):
        return f"`{name}` is excluded from context by the exclude_vars setting."
    req = Request(
        name=name,
        settings=settings,
        budget=budget,
        focus=tuple(str(c) for c in (columns or ())),
        private=var_private(name, settings),
    )
    try:
        with _gc_paused():
            text = _dispatch(obj, req)
    except RecursionError:
        text = _title(req, f"{type_name(obj)} (too deeply nested to describe)")
    except Exception as exc:
        text = _describe_other(obj, req) + f"\n(its describer failed: {type(exc).__name__})"
    return cap_text(redact_secrets(text), budget)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while describing.

    A description allocates a bounded number of small objects (a few samples), but in a
    notebook holding frames of millions of Python strings those allocations can trigger
    a full collection that walks every string (~0.1-0.2 s). Reference counting still
    frees everything; the collector runs again afterwards.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


describe.register = _dispatch.register  # type: ignore[attr-defined]
describe.dispatch = _dispatch.dispatch  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# tables (lazy imports)


def _describe_pandas(obj: Any, req: Request) -> str:
    from . import frames
    from .cache import memo_for
    from .summary import render_frame

    s = req.settings
    memo = memo_for(("pandas", frames.fingerprint(obj), s.sample_size, s.seed, s.exact_cells))
    # an unchanged frame described the same way again (every later turn naming it) gets
    # the text it got before, not a fresh rendering of the same cached statistics
    key: Any = ("text", req.name, s, req.budget, req.focus, req.private)
    try:
        known = memo.get(key)  # one hash of the key (the settings hash all their fields)
    except TypeError:
        key = known = None
    if known is not None:
        return str(known)
    adapter = frames.PandasAdapter(obj, memo, s.sample_size, s.seed, s.exact_cells)
    settings = s.with_(private_columns=(*s.private_columns, "*")) if req.private else s
    text = render_frame(adapter, req.name, settings, req.budget, req.focus)
    if key is not None:
        memo[key] = text
    return text


def _describe_index(obj: Any, req: Request) -> str:
    lines = [_title(req, f"{type_name(obj)}, {fmt_int(len(obj))} entries, dtype {obj.dtype}")]
    if req.settings.values == "full" and not req.private and len(obj):
        lines.append("first: " + bounded_repr(obj[:5].tolist(), 300))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# builtins


def _describe_scalar(obj: Any, req: Request) -> str:
    kind = type_name(obj)
    if req.settings.values == "schema":
        return _title(req, kind)
    if req.private:
        return _title(req, f"{kind} (value withheld: privacy)")
    value = obj
    if type(obj).__module__ == "numpy" and hasattr(obj, "item"):
        try:
            value = obj.item()
        except Exception:
            value = obj
    return _title(req, f"{kind} = {bounded_repr(value, 120)}")


@_dispatch.register(type(None))
def _(obj: None, req: Request) -> str:
    return _title(req, "None")


for _scalar_cls in (numbers.Number, datetime.date, datetime.time, datetime.timedelta):
    _dispatch.register(_scalar_cls, _describe_scalar)


@_dispatch.register(str)
def _(obj: str, req: Request) -> str:
    n_lines = obj.count("\n", 0, 1_000_000) + 1
    lines = [
        _title(
            req,
            f"{type_name(obj)}, {fmt_int(len(obj))} chars"
            + (
                f", {fmt_int(n_lines)}{'+' if len(obj) > 1_000_000 else ''} lines"
                if n_lines > 1
                else ""
            ),
        )
    ]
    if req.settings.values != "full":
        return lines[0]
    if req.private or looks_secret(obj[:100_000]):
        lines.append("value withheld (privacy)")
    else:
        preview = short(obj, 80)
        lines.append(f"preview: {preview!r}")
    return "\n".join(lines)


@_dispatch.register(bytes)
@_dispatch.register(bytearray)
def _(obj: bytes, req: Request) -> str:
    lines = [_title(req, f"{type_name(obj)}, {fmt_int(len(obj))} bytes")]
    if req.settings.values == "full" and not req.private:
        lines.append("first bytes: " + repr(bytes(obj[:40])) + (" …" if len(obj) > 40 else ""))
    return "\n".join(lines)


def _type_shares(items: Iterable[Any], total: int) -> tuple[str, Counter[str]]:
    counts: Counter[str] = Counter(type_name(x) for x in items)
    scanned = sum(counts.values())
    parts = [
        f"{t} {fmt_pct(c, scanned)}" if len(counts) > 1 else t for t, c in counts.most_common(5)
    ]
    text = ", ".join(parts) + (", …" if len(counts) > 5 else "")
    if scanned < total:
        text += f" (first {fmt_int(scanned)})"
    return text, counts


def _numbers_line(items: list[Any]) -> str:
    nums = [x for x in items if isinstance(x, (int, float)) and not isinstance(x, bool)]
    if not nums or len(nums) != len(items):
        return ""
    finite = [x for x in nums if x == x]
    if not finite:
        return ""
    try:
        mean = sum(finite) / len(finite)
        return f"min {fmt_num(min(finite))}, max {fmt_num(max(finite))}, mean {fmt_num(mean)}"
    except (OverflowError, TypeError, ValueError):
        return ""


@_dispatch.register(dict)
def _(obj: dict[Any, Any], req: Request) -> str:
    n = len(obj)
    head = list(islice(obj.items(), ELEMENT_SCAN))
    key_types, _ = _type_shares((k for k, _ in head), n)
    value_types, _ = _type_shares((v for _, v in head), n)
    title = f"{type_name(obj)}, {fmt_int(n)} keys"
    if n:
        title += f"; keys: {key_types}; values: {value_types}"
    lines = [_title(req, title)]
    if req.settings.values == "schema" or not n:
        return "\n".join(lines)
    if req.settings.values == "aggregates":
        keys = [short(bounded_repr(k, 40), 40) for k, _ in head[:20]]
        lines.append("keys: " + ", ".join(keys) + (", …" if n > 20 else ""))
        return "\n".join(lines)
    parts = []
    for k, v in head[:8]:
        secret = req.private or (
            isinstance(k, str) and req.settings.pii and is_pii_name(k, req.settings.pii_words)
        )
        value = WITHHELD if secret else bounded_repr(v, 80)
        parts.append(f"{bounded_repr(k, 40)}: {value}")
    lines.append("preview: {" + ", ".join(parts) + (", …" if n > 8 else "") + "}")
    return "\n".join(lines)


def _describe_collection(obj: Any, req: Request) -> str:
    try:
        n = len(obj)
    except Exception:
        return _describe_other(obj, req)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        fields = ", ".join(str(f) for f in obj._fields[:20])
        title = f"{type_name(obj)} (namedtuple: {fields})"
    else:
        title = f"{type_name(obj)}, {fmt_int(n)} items"
    head = list(islice(obj, ELEMENT_SCAN))
    if head:
        types_text, _ = _type_shares(head, n)
        title += f"; types: {types_text}"
    lines = [_title(req, title)]
    if req.settings.values == "schema" or not head:
        return "\n".join(lines)
    if req.private:
        lines.append("values withheld (privacy)")
        return "\n".join(lines)
    numbers_text = _numbers_line(head)
    if numbers_text:
        suffix = f" (first {fmt_int(len(head))})" if len(head) < n else ""
        lines.append(numbers_text + suffix)
    if req.settings.values == "full":
        lines.append("preview: " + bounded_repr(obj, 400))
    return "\n".join(lines)


for _cls in (list, tuple, set, frozenset):
    _dispatch.register(_cls, _describe_collection)
try:
    import collections

    _dispatch.register(collections.deque, _describe_collection)
except Exception:  # pragma: no cover
    pass


def _first_doc_line(obj: Any) -> str:
    try:
        doc = inspect.getdoc(obj) or ""
    except Exception:
        return ""
    for line in doc.splitlines():
        if line.strip():
            return short(line.strip(), 160)
    return ""


class _Written(str):
    """An annotation kept as the text it was written as (its repr is that text)."""

    def __repr__(self) -> str:
        return str(self)


def _signature(obj: Any) -> str:
    try:
        # never eval_str=True: evaluating string annotations runs code the data supplied;
        # they are shown as written instead (``x: int``, not ``x: 'int'``)
        sig = inspect.signature(obj)
        params = [
            p.replace(annotation=_Written(p.annotation)) if isinstance(p.annotation, str) else p
            for p in sig.parameters.values()
        ]
        ret = sig.return_annotation
        sig = sig.replace(
            parameters=params,
            return_annotation=_Written(ret) if isinstance(ret, str) else ret,
        )
        return short(str(sig), 300)
    except (TypeError, ValueError):
        return "(…)"


def _describe_function(obj: Any, req: Request) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "?")
    kind = "async function" if inspect.iscoroutinefunction(obj) else type(obj).__name__
    lines = [_title(req, f"{kind} {short(name, 80)}{_signature(obj)}")]
    module = getattr(obj, "__module__", None)
    if module and module not in ("__main__", "builtins"):
        lines.append(f"from module {module}")
    doc = _first_doc_line(obj)
    if doc:
        lines.append(doc)
    return "\n".join(lines)


for _fn_cls in (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.BuiltinMethodType,
    functools.partial,
):
    _dispatch.register(_fn_cls, _describe_function)


@_dispatch.register(type)
def _(obj: type, req: Request) -> str:
    bases = ", ".join(b.__name__ for b in obj.__bases__ if b is not object)
    title = f"class {obj.__module__}.{obj.__qualname__}" + (f"({bases})" if bases else "")
    lines = [_title(req, short(title, 200))]
    doc = _first_doc_line(obj)
    if doc:
        lines.append(doc)
    try:
        names = [k for k in vars(obj) if not k.startswith("_")]
    except TypeError:
        names = []
    if names:
        shown = ", ".join(short(k, 30) for k in names[:25])
        lines.append(f"public attributes: {shown}" + (", …" if len(names) > 25 else ""))
    return "\n".join(lines)


def _module_version(mod: types.ModuleType) -> str:
    version = getattr(mod, "__version__", None)
    return str(version) if isinstance(version, str) else ""


@_dispatch.register(types.ModuleType)
def _(obj: types.ModuleType, req: Request) -> str:
    version = _module_version(obj)
    return _title(req, f"module {obj.__name__}" + (f" {version}" if version else ""))


def _describe_other(obj: Any, req: Request) -> str:
    lines = [_title(req, short(type_name(obj), 120))]
    attrs: list[str] = []
    try:
        namespace = object.__getattribute__(obj, "__dict__")
        if isinstance(namespace, dict):
            attrs = [
                k for k in islice(namespace, 200) if isinstance(k, str) and not k.startswith("_")
            ]
    except Exception:
        attrs = []
    if attrs:
        lines.append(
            "attributes: "
            + ", ".join(short(a, 30) for a in attrs[:20])
            + (", …" if len(attrs) > 20 else "")
        )
    if callable(obj):
        lines.append(f"callable{_signature(obj)}")
    if req.settings.values == "full" and not req.private:
        lines.append("repr: " + guarded_repr(obj, maxchars=min(600, req.budget * 2)))
    return "\n".join(lines)
