"""The inventory: one line per user variable, so the assistant knows what exists.

Design note: only types we know are introspected (``len`` of builtin containers,
``shape`` of numpy/pandas/polars objects), because ``len()`` or ``shape`` on an unknown
object can compute (a dask frame counts its rows) or hang. Everything else is listed by
type name only. Scalars and short strings show their value unless privacy settings or
the name say not to. Names starting with ``_``, IPython's own (``In``, ``Out``,
``get_ipython``, ``exit``, ``quit``) and excluded variables are skipped; modules are
gathered on one ``Imports:`` line. The text is capped at ``settings.inventory_budget``.

The text is remembered: a later turn over an unchanged namespace gets it back after one
pass that reads, per variable, only what its line shows (:func:`_signature`: the name,
the type, and the shape, length or short value the line prints), never holding a value
bigger than a short string or a number, so deleting a frame still frees it.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from typing import Any

from ..secrets import known
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
    key = (id(settings), budget, skip)
    secrets = known()  # the text is redacted of them: a newly known key is a change
    try:
        signature: list[Any] | None = _signature(namespace)
        hit = _memo.get(key)
        if hit is not None and hit[0] is settings and hit[1] is secrets and hit[2] == signature:
            return str(hit[3])
    except Exception:  # an odd type (its metaclass cannot hash or compare): not remembered
        signature = None
    text = _inventory(namespace, settings, budget, skip)
    if signature is None:
        return text
    if len(_memo) >= _MEMO_LIMIT:
        _memo.clear()
    _memo[key] = (settings, secrets, signature, text)  # settings held: its id stays its own
    return text


def _inventory(
    namespace: Mapping[str, Any], settings: ContextSettings, budget: int, skip: frozenset[str]
) -> str:
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


# --- remembering the text ----------------------------------------------------------------

_MEMO_LIMIT = 16
_memo: dict[tuple[Any, ...], tuple[ContextSettings, Any, list[Any], str]] = {}
_kinds: dict[type, str] = {}  # a type -> what of its values a line shows (see _kind)


def _kind(cls: type) -> str:
    """What an inventory line shows of a value of type ``cls`` besides the type (as in
    :func:`_line` and :func:`shape_text`): ``"value"``, ``"repr"`` (a builtin number),
    ``"str"``, ``"shape"`` (pandas, numpy, polars), ``"len"`` (a builtin container),
    ``"module"`` (its name and version) or ``"type"`` (nothing else)."""
    kind = _kinds.get(cls)
    if kind is not None:
        return kind
    module = getattr(cls, "__module__", "") or ""
    if module == "builtins" and cls in (bool, int):
        kind = "value"
    elif module == "builtins" and issubclass(cls, (float, complex)):
        kind = "repr"  # -0.0 == 0.0 and nan != nan: the printed text is what counts
    elif cls is str:
        kind = "str"
    elif module.split(".")[0] in ("pandas", "numpy", "polars"):
        kind = "type" if cls.__name__ == "LazyFrame" else "shape"
    elif issubclass(cls, str):
        kind = "strsub"
    elif issubclass(cls, _SIZED):
        kind = "len"
    elif issubclass(cls, types.ModuleType):
        kind = "module"
    else:
        kind = "type"
    if len(_kinds) >= 1024:
        _kinds.clear()
    _kinds[cls] = kind
    return kind


def _state(value: Any, kind: str) -> Any:
    if kind == "value":
        return value
    if kind == "str":
        return value if len(value) <= 60 else len(value)
    try:
        if kind == "shape":
            shape = getattr(value, "shape", None)
            return shape if isinstance(shape, tuple) else type(shape)
        if kind == "len":
            return len(value)
        if kind == "repr":
            return repr(value)
        if kind == "strsub":
            return repr(value) if len(value) <= 60 else len(value)
        if kind == "module":
            version = getattr(value, "__version__", None)
            return (getattr(value, "__name__", None), version if isinstance(version, str) else None)
    except Exception as exc:
        return type(exc)
    return None


def _signature(namespace: Mapping[str, Any]) -> list[Any]:
    """What every line of the namespace's inventory depends on, in order: each listed
    name with its value's type and :func:`_state`. Equal signatures give equal texts
    (with the same settings, budget, names skipped and known secrets)."""
    out: list[Any] = []
    append = out.append
    kinds = _kinds
    for name, value in list(namespace.items()):
        if not isinstance(name, str) or name[:1] == "_":
            continue
        cls = type(value)
        kind = kinds.get(cls) or _kind(cls)
        if kind == "type":
            append((name, cls))
        elif kind == "value":
            append((name, cls, value))
        else:
            append((name, cls, _state(value, kind)))
    return out
