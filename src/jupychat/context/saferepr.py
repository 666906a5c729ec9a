"""Bounded previews of arbitrary Python objects.

Design note: a notebook can hold objects whose ``repr`` raises, takes minutes (a lazy
proxy that computes, a 10 GB array subclass with a naive ``__repr__``) or returns
megabytes. Two tools keep that bounded:

* :func:`bounded_repr` is a :class:`reprlib.Repr` that walks only the first few items of
  containers (in insertion order: the stock ``reprlib`` sorts dict keys and sets, which is
  O(n log n) on a 10-million-key dict), stops at a nesting depth (so recursive containers
  end with ``...``), and never calls the ``repr`` of an object whose type it does not know:
  those appear as ``<module.Class>``. Known value types (numbers, dates, ``Decimal``,
  ``Path``, enums, numpy/pandas scalars) and dataclasses/namedtuples (field by field) are
  shown.
* :func:`guarded_repr` is the single place where an unknown object's own ``repr`` runs: in
  a daemon worker thread with a timeout (default 1 s), its exceptions caught, its output
  cut. Python cannot kill a thread, so a ``repr`` that never returns keeps running in the
  background, but the turn goes on; the type is then remembered and its ``repr`` is not
  called again in this process.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import fractions
import pathlib
import reprlib
import threading
import uuid
from itertools import islice
from typing import Any

__all__ = ["bounded_repr", "guarded_repr"]

_KNOWN_VALUE_TYPES = (
    int,
    float,
    complex,
    bool,
    type(None),
    decimal.Decimal,
    fractions.Fraction,
    _dt.date,
    _dt.time,
    _dt.timedelta,
    uuid.UUID,
    pathlib.PurePath,
    enum.Enum,
    range,
    slice,
)
_timed_out_types: set[type] = set()


def _short_tag(obj: Any) -> str | None:
    """``<DataFrame 10×3>``-style tags for big library objects (shape only)."""
    cls = type(obj)
    module = (getattr(cls, "__module__", "") or "").split(".")[0]
    if module not in ("pandas", "numpy", "polars", "pyarrow", "torch", "xarray", "scipy"):
        return None
    shape = getattr(obj, "shape", None)
    if module == "numpy" and shape == ():
        return None  # numpy scalar: its repr is safe
    if module == "pandas" and shape is None:
        return None  # Timestamp, NA, Period...: safe
    if isinstance(shape, tuple):
        dims = "×".join(str(d) for d in shape)
        return f"<{cls.__name__} {dims}>"
    return f"<{cls.__name__}>"


class _SafeRepr(reprlib.Repr):
    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxdict = 8
        self.maxlist = 10
        self.maxtuple = 10
        self.maxset = 10
        self.maxfrozenset = 10
        self.maxdeque = 10
        self.maxarray = 10
        self.maxstring = 60
        self.maxlong = 40
        self.maxother = 60

    def repr_dict(self, x: dict[Any, Any], level: int) -> str:
        n = len(x)
        if n == 0:
            return "{}"
        if level <= 0:
            return "{...}"
        parts = []
        for key, value in islice(x.items(), self.maxdict):
            parts.append(f"{self.repr1(key, level - 1)}: {self.repr1(value, level - 1)}")
        if n > self.maxdict:
            parts.append("...")
        return "{" + ", ".join(parts) + "}"

    def _repr_iter(self, x: Any, level: int, left: str, right: str, maxiter: int) -> str:
        n = len(x)
        if n == 0:
            return left + right
        if level <= 0:
            return left + "..." + right
        parts = [self.repr1(item, level - 1) for item in islice(x, maxiter)]
        if n > maxiter:
            parts.append("...")
        return left + ", ".join(parts) + right

    def repr_set(self, x: set[Any], level: int) -> str:
        return "set()" if not x else self._repr_iter(x, level, "{", "}", self.maxset)

    def repr_frozenset(self, x: frozenset[Any], level: int) -> str:
        if not x:
            return "frozenset()"
        return self._repr_iter(x, level, "frozenset({", "})", self.maxfrozenset)

    def repr_instance(self, x: Any, level: int) -> str:
        if isinstance(x, str):
            return self.repr_str(x, level)
        if isinstance(x, dict):
            return type(x).__name__ + "(" + self.repr_dict(x, level) + ")"
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            fields = getattr(x, "_fields", ())
            if level <= 0:
                return f"{type(x).__name__}(...)"
            pairs = islice(zip(fields, x, strict=False), 8)
            parts = [f"{f}={self.repr1(v, level - 1)}" for f, v in pairs]
            return f"{type(x).__name__}({', '.join(parts)})"
        if isinstance(x, (list, tuple)):
            return self._repr_iter(
                x,
                level,
                "[" if isinstance(x, list) else "(",
                "]" if isinstance(x, list) else ")",
                self.maxlist,
            )
        if isinstance(x, (set, frozenset)):
            return self._repr_iter(x, level, "{", "}", self.maxset)
        if isinstance(x, _KNOWN_VALUE_TYPES):
            return _cut(self._plain_repr(x), self.maxother)
        tag = _short_tag(x)
        if tag is not None:
            return tag
        module = (getattr(type(x), "__module__", "") or "").split(".")[0]
        if module in ("numpy", "pandas"):
            return _cut(self._plain_repr(x), self.maxother)
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            if level <= 0:
                return f"{type(x).__name__}(...)"
            parts = []
            for f in islice((f for f in dataclasses.fields(x) if f.repr), 8):
                try:
                    value = getattr(x, f.name)
                except Exception:
                    continue
                parts.append(f"{f.name}={self.repr1(value, level - 1)}")
            return f"{type(x).__name__}({', '.join(parts)})"
        if isinstance(x, type):
            return f"<class {x.__module__}.{x.__qualname__}>"
        if callable(x) and hasattr(x, "__qualname__"):
            return f"<function {getattr(x, '__qualname__', '?')}>"
        cls = type(x)
        return f"<{cls.__module__}.{cls.__qualname__}>"

    @staticmethod
    def _plain_repr(x: Any) -> str:
        try:
            return repr(x)
        except Exception as exc:
            return f"<{type(x).__name__}: repr raised {type(exc).__name__}>"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "…"


_REPR = _SafeRepr()


def bounded_repr(obj: Any, maxchars: int = 200) -> str:
    """A short preview of ``obj`` that never calls an unknown type's ``repr``.

    Parameters
    ----------
    obj:
        Anything.
    maxchars:
        Hard cap on the length of the result.
    """
    try:
        text = _REPR.repr(obj)
    except Exception as exc:  # a __len__ or __iter__ that raises, etc.
        text = f"<{type(obj).__name__}: preview failed ({type(exc).__name__})>"
    return _cut(text, maxchars)


def guarded_repr(obj: Any, maxchars: int = 300, timeout: float = 1.0) -> str:
    """``repr(obj)`` run in a worker thread with a timeout, cut to ``maxchars``.

    Returns a short explanation instead when the ``repr`` raises, takes longer than
    ``timeout`` seconds, or timed out before for the same type.
    """
    cls = type(obj)
    if cls in _timed_out_types:
        return f"<{cls.__name__}: repr skipped (it timed out before)>"
    result: list[str] = []

    def run() -> None:
        try:
            text = repr(obj)
            result.append(text[: maxchars + 1] if isinstance(text, str) else "<non-str repr>")
        except BaseException as exc:
            result.append(
                f"<{cls.__name__}: repr raised {type(exc).__name__}: "
                f"{_cut(str(_safe_str(exc)), 80)}>"
            )

    worker = threading.Thread(target=run, name="jupychat-repr", daemon=True)
    worker.start()
    worker.join(timeout)
    if not result:
        _timed_out_types.add(cls)
        return f"<{cls.__name__}: repr did not finish within {timeout:g} s; skipped>"
    return _cut(result[0], maxchars)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "?"
