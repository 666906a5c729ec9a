"""The inventory: one line per user variable, so the assistant knows what exists.

Design note: only types we know are introspected (``len`` of builtin containers,
``shape`` of numpy/pandas/polars objects), because ``len()`` or ``shape`` on an unknown
object can compute (a dask frame counts its rows) or hang. Everything else is listed by
type name only. Scalars and short strings show their value unless privacy settings or
the name say not to. Names starting with ``_``, IPython's own (``In``, ``Out``,
``get_ipython``, ``exit``, ``quit``) and excluded variables are skipped; modules are
gathered on one ``Imports:`` line. The text is capped at ``settings.inventory_budget``.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from typing import Any

from ._fmt import fmt_int, short, type_name
from .budget import cap_text, chars_for_tokens, estimate_tokens
from .privacy import looks_secret, redact_secrets, var_excluded, var_private
from .settings import ContextSettings

__all__ = ["IPYTHON_NAMES", "inventory", "inventory_lines", "user_variables"]

IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit"})
_SIZED = (list, tuple, dict, set, frozenset, str, bytes, bytearray, range)


def user_variables(
    namespace: Mapping[str, Any], settings: ContextSettings | None = None
) -> Iterator[tuple[str, Any]]:
    """The (name, value) pairs a user defined, in definition order (modules included)."""
    settings = settings or ContextSettings()
    for name, value in list(namespace.items()):
        if not isinstance(name, str) or name.startswith("_") or name in IPYTHON_NAMES:
            continue
        if var_excluded(name, settings):
            continue
        cls = type(value)
        if cls.__module__ in ("IPython.core.autocall", "IPython.core.interactiveshell"):
            continue
        yield name, value


def shape_text(value: Any) -> str:
    """``1,000×20``, ``len 12`` or ``""`` (known types only)."""
    try:
        root = (type(value).__module__ or "").split(".")[0]
        if root in ("pandas", "numpy", "polars"):
            if type(value).__name__ == "LazyFrame":
                return "lazy"
            shape = getattr(value, "shape", None)
            if isinstance(shape, tuple):
                return "×".join(fmt_int(d) for d in shape) if shape else "scalar"
            return ""
        if isinstance(value, _SIZED):
            return f"len {fmt_int(len(value))}"
    except Exception:
        return ""
    return ""


def _line(name: str, value: Any, settings: ContextSettings) -> str:
    kind = short(type_name(value), 60)
    shape = shape_text(value)
    text = f"- {name}: {kind}" + (f" {shape}" if shape else "")
    show_value = settings.values != "schema" and not var_private(name, settings)
    builtin_number = isinstance(value, (bool, int, float, complex)) and (
        type(value).__module__ == "builtins"
    )
    if show_value and builtin_number:
        text += f" = {short(repr(value), 40)}"
    elif show_value and settings.values == "full" and isinstance(value, str) and len(value) <= 60:
        if not looks_secret(value):
            text = f"- {name}: {kind} = {short(repr(value), 64)}"
    elif isinstance(value, (types.FunctionType, type)):
        text = f"- {name}: {'class' if isinstance(value, type) else 'function'}"
    return text


def inventory_lines(
    namespace: Mapping[str, Any],
    settings: ContextSettings | None = None,
    skip: frozenset[str] = frozenset(),
) -> tuple[list[str], list[str]]:
    """(variable lines, import lines) of a namespace, uncapped."""
    settings = settings or ContextSettings()
    lines: list[str] = []
    modules: list[str] = []
    for name, value in user_variables(namespace, settings):
        if name in skip:
            continue
        if isinstance(value, types.ModuleType):
            modname = getattr(value, "__name__", name)
            version = getattr(value, "__version__", None)
            label = name if modname == name else f"{name} ({modname})"
            if isinstance(version, str) and "." not in modname:
                label += f" {version}"
            modules.append(label)
            continue
        try:
            lines.append(_line(name, value, settings))
        except Exception:
            lines.append(f"- {name}: {short(type_name(value), 60)}")
    return lines, modules


def inventory(
    namespace: Mapping[str, Any],
    settings: ContextSettings | None = None,
    *,
    budget: int | None = None,
    skip: frozenset[str] = frozenset(),
) -> str:
    """The inventory text of a namespace (empty string when nothing is defined).

    Parameters
    ----------
    namespace:
        The notebook's user namespace (``get_ipython().user_ns``) or any dict.
    settings:
        Privacy and budget settings.
    budget:
        Token cap (default ``settings.inventory_budget``).
    skip:
        Names not to list (e.g. those described in full this turn).
    """
    settings = settings or ContextSettings()
    budget = budget or settings.inventory_budget
    lines, modules = inventory_lines(namespace, settings, skip)
    if not lines and not modules:
        return ""
    out = [
        "Other notebook variables (ask with describe_variable):"
        if skip
        else "Notebook variables (ask with describe_variable):"
    ]
    limit = chars_for_tokens(budget) - 170  # room for the "… N more" line
    imports = ""
    if modules:
        imports = "Imports: " + ", ".join(modules)
        imports = short(imports, max(40, limit // 4))
    while True:  # fewer lines until the whole fits by tokens too (names, digits are dense)
        text = _listing(out[0], lines, imports, limit)
        if estimate_tokens(text) <= budget or limit <= 0:
            return cap_text(redact_secrets(text), budget)
        limit = int(limit * 0.85) if limit > 20 else 0


def _listing(title: str, lines: list[str], imports: str, limit: int) -> str:
    """The title, as many ``lines`` as fit ``limit`` characters, a "… N more" line, imports."""
    out = [title]
    used = len(title) + (len(imports) + 1 if imports else 0)
    for count, line in enumerate(lines):
        if used + len(line) + 1 > limit:
            rest = [ln.split(":", 1)[0][2:] for ln in lines[count:]]
            out.append(short(f"… {len(rest)} more: " + ", ".join(rest), 140))
            break
        out.append(line)
        used += len(line) + 1
    if imports:
        out.append(imports)
    return "\n".join(out)
