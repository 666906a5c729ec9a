"""Schemas for structured output: a type or a JSON Schema in, a schema and a loader out.

Design note: :func:`compile_schema` takes what a user hands to
:meth:`~jupychat.session.ChatSession.extract` — a dataclass, a ``TypedDict``, a
``NamedTuple``, a pydantic model, a typing expression (``list[Person]``,
``Literal["a", "b"]``, ``int | None``…) or a JSON Schema dict — and returns a
:class:`CompiledSchema`: the JSON Schema sent to the model and a loader that checks an
answer and builds the value asked for, failing with a :class:`Mismatch` that names the
path (``people[2].age: expected an integer, got 'forty'``).

* Types are described and loaded here, by walking them (no third-party code), so the
  result is the same whether or not pydantic is installed. Generated object schemas
  follow OpenAI's strict rules: every property listed in ``required`` (a field with a
  default becomes nullable, and ``null`` loads as the default) and no extra properties.
* A pydantic model (imported by nobody here: recognised by its ``model_json_schema`` and
  ``model_validate`` methods) describes and validates itself.
* A JSON Schema dict is checked with ``jsonschema`` when it is importable (it comes with
  nbformat) and with the small subset in :mod:`jupychat._jsonsubset` otherwise; the
  answer is returned as JSON data.

Every API wants an object at the root, so any other root is wrapped in one
(``{"items": [...]}`` for arrays, ``{"value": ...}`` otherwise) and unwrapped on load; a
bare answer is accepted too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import itertools
import json
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._jsonsubset import is_jsonable, is_strict
from .errors import ConfigError

__all__ = ["CompiledSchema", "Mismatch", "compile_schema", "json_from_text", "json_values"]

Loader = Callable[[Any, str], Any]
_MISSING = dataclasses.MISSING


class Mismatch(ValueError):
    """An answer that does not fit the schema, at ``path``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


@dataclass(frozen=True)
class _Codec:
    schema: dict[str, Any]
    load: Loader
    strict: bool = True


@dataclass(frozen=True)
class CompiledSchema:
    """A schema ready to send, and the loader of its answers.

    Attributes
    ----------
    name:
        ``[A-Za-z0-9_-]{1,64}``: the name the APIs see.
    schema:
        The JSON Schema sent (its root is an object).
    strict:
        Whether the schema meets OpenAI's strict rules.
    description:
        What the data is, for the model.
    wrap:
        The key the value sits under when the root had to be wrapped, else ``None``.
    records:
        The value is a list of objects (it can become a DataFrame).
    columns:
        For records: the property names, in order.
    """

    name: str
    schema: dict[str, Any]
    strict: bool
    description: str
    wrap: str | None
    records: bool
    columns: tuple[str, ...] | None
    _load: Loader = field(repr=False)

    def load(self, data: Any) -> Any:
        """Check ``data`` (the parsed answer) and build the value; raises :class:`Mismatch`."""
        if self.wrap is not None and isinstance(data, Mapping) and set(data) == {self.wrap}:
            data = data[self.wrap]
        return self._load(data, "")

    def parse(self, text: str) -> Any:
        """The value of an answer's text: the first JSON value in it that fits.

        Raises :class:`Mismatch` (the first JSON value's problem) when none fits.
        """
        first: Mismatch | None = None
        for value in json_values(text):
            try:
                return self.load(value)
            except Mismatch as problem:
                first = first or problem
        if first is not None:
            raise first
        return self.load(json_from_text(text))  # raises: there is no JSON at all


# ------------------------------------------------------------------------ answers

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n(.*?)```", re.DOTALL)


def json_values(text: str) -> Iterator[Any]:
    """The JSON values in a model's answer, most likely first: all of it, each fenced
    block, then each value that starts at a ``{`` or ``[`` of the text."""
    stripped = (text or "").strip()
    for candidate in (stripped, *(m.group(1).strip() for m in _FENCE.finditer(stripped))):
        try:
            yield json.loads(candidate)
        except ValueError:
            continue
    decoder = json.JSONDecoder()
    for match in itertools.islice(re.finditer(r"[\[{]", stripped), 64):
        try:
            yield decoder.raw_decode(stripped, match.start())[0]
        except ValueError:
            continue


def json_from_text(text: str) -> Any:
    """The most likely JSON value in a model's answer; :class:`Mismatch` when none."""
    for value in json_values(text):
        return value
    shown = " ".join((text or "").split())[:60]
    raise Mismatch("", f"the answer holds no JSON (it reads {shown!r})" if shown else "empty")


# ------------------------------------------------------------------------ compiling


def compile_schema(schema: Any, *, as_frame: bool = False) -> CompiledSchema:
    """Describe ``schema`` for the model and build its loader.

    Parameters
    ----------
    schema:
        A dataclass, ``TypedDict``, ``NamedTuple`` or pydantic model class, a typing
        expression (``list[Person]``, ``dict[str, float]``, ``Literal[...]``...), or a
        JSON Schema dict. A :class:`CompiledSchema` is returned as it is.
    as_frame:
        Ask for a list of records (``Person`` is read as ``list[Person]``).

    Raises
    ------
    ConfigError
        A type that cannot be described, or a JSON Schema that is not valid.
    """
    if isinstance(schema, CompiledSchema):
        return schema
    defs: dict[str, dict[str, Any]] = {"$defs": {}, "definitions": {}}
    if isinstance(schema, Mapping):
        root = _dict_schema(dict(schema))
        for section in defs:  # refs are from the root: keep the definitions there
            defs[section].update(root.schema.pop(section, None) or {})
        name = str(schema.get("title") or "result")
        description = str(schema.get("description") or "")
    else:
        root = _codec(schema, defs["$defs"])
        name = _type_name(schema)
        description = _doc(schema)
    if as_frame and root.schema.get("type") != "array":
        if root.schema.get("type") != "object":
            raise ConfigError(
                f"as_frame needs records: a dataclass, TypedDict, pydantic model or an object "
                f"schema (or a list of them), not {name}"
            )
        root = _list_of(root)
    item = root.schema.get("items") if root.schema.get("type") == "array" else None
    records = isinstance(item, Mapping) and item.get("type") == "object"
    columns = tuple(item.get("properties") or ()) if records and isinstance(item, Mapping) else None
    sent, wrap = dict(root.schema), None
    if sent.get("type") != "object":
        wrap = "items" if sent.get("type") == "array" else "value"
        sent = {
            "type": "object",
            "properties": {wrap: sent},
            "required": [wrap],
            "additionalProperties": False,
        }
    for section, entries in defs.items():
        if entries:
            sent[section] = entries
    return CompiledSchema(
        name=_safe_name(name),
        schema=sent,
        strict=root.strict and is_strict(sent),
        description=description,
        wrap=wrap,
        records=records,
        columns=columns,
        _load=root.load,
    )


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "result"


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (list, tuple, set, frozenset) and args:
        return f"{_type_name(args[0])}_list"
    return str(getattr(tp, "__name__", None) or "result")


def _doc(tp: Any) -> str:
    doc = getattr(tp, "__doc__", None) if isinstance(tp, type) else None
    if not doc or doc.startswith(f"{getattr(tp, '__name__', '')}("):  # dataclass's own
        return ""
    if tp.__doc__ in (dict.__doc__, tuple.__doc__, object.__doc__):
        return ""
    return " ".join(doc.split())[:500]


# ------------------------------------------------------------------- type codecs


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if is_jsonable(value) else repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _expect(what: str) -> Callable[[Any, str], Mismatch]:
    return lambda value, path: Mismatch(path, f"expected {what}, got {_shown(value)}")


def _scalar(schema: dict[str, Any], check: Callable[[Any], Any], what: str) -> _Codec:
    fail = _expect(what)

    def load(value: Any, path: str) -> Any:
        try:
            return check(value)
        except (TypeError, ValueError):
            raise fail(value, path) from None

    return _Codec(schema, load)


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError
    return float(value)


def _typed(kind: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, kind):
            raise TypeError
        return value

    return check


def _iso(kind: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        return kind.fromisoformat(text)  # type: ignore[attr-defined]

    return check


def _none(value: Any) -> None:
    if value is not None:
        raise TypeError


_SCALARS: dict[Any, tuple[dict[str, Any], Callable[[Any], Any], str]] = {
    bool: ({"type": "boolean"}, _typed(bool), "true or false"),
    int: ({"type": "integer"}, _as_int, "an integer"),
    float: ({"type": "number"}, _as_float, "a number"),
    str: ({"type": "string"}, _typed(str), "a string"),
    type(None): ({"type": "null"}, _none, "null"),
    dt.datetime: ({"type": "string", "format": "date-time"}, _iso(dt.datetime), "a date-time"),
    dt.date: ({"type": "string", "format": "date"}, _iso(dt.date), "a date (YYYY-MM-DD)"),
    dt.time: ({"type": "string", "format": "time"}, _iso(dt.time), "a time"),
}


def _codec(tp: Any, defs: dict[str, Any]) -> _Codec:
    """The codec of one type (see the module's design note for what is understood)."""
    if tp is None:
        tp = type(None)
    if tp is Any or tp is object:
        return _Codec({}, lambda value, path: value, strict=False)
    if tp in _SCALARS:
        return _scalar(*_SCALARS[tp])
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if getattr(origin, "_name", None) in ("Required", "NotRequired", "ReadOnly"):
        return _codec(args[0], defs)  # TypedDict key markers: the key's presence is known
    if origin is typing.Annotated:
        inner = _codec(args[0], defs)
        notes = [a for a in args[1:] if isinstance(a, str)]
        if notes:
            return _Codec({**inner.schema, "description": notes[0]}, inner.load, inner.strict)
        return inner
    if origin is typing.Literal:
        return _literal(args)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        return _union([_codec(a, defs) for a in args], args)
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set, frozenset):
        return _sequence(tp, origin or tp, args, defs)
    if origin in (dict, Mapping) or tp is dict or origin is typing.get_origin(Mapping[str, int]):
        return _mapping(args, defs)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        inner = _literal(tuple(values))
        return _Codec(inner.schema, lambda value, path: tp(inner.load(value, path)))
    if _is_pydantic(tp):
        return _pydantic(tp, defs)
    if isinstance(tp, type) and (
        dataclasses.is_dataclass(tp) or typing.is_typeddict(tp) or _is_namedtuple(tp)
    ):
        return _record(tp, defs)
    raise ConfigError(
        f"cannot describe {getattr(tp, '__name__', tp)!r} as a schema; use a dataclass, "
        "TypedDict, NamedTuple, pydantic model, basic types (str, int, float, bool, list[...], "
        "dict[str, ...], Literal[...], Enum) or a JSON Schema dict"
    )


def _literal(values: tuple[Any, ...]) -> _Codec:
    allowed = list(values)
    shown = ", ".join(_shown(v) for v in allowed)

    def load(value: Any, path: str) -> Any:
        for option in allowed:  # 1 == True in Python; not in JSON
            if value == option and type(value) is type(option):
                return option
        raise Mismatch(path, f"expected one of {shown}, got {_shown(value)}")

    return _Codec({"enum": allowed}, load)


def _union(codecs: list[_Codec], args: tuple[Any, ...]) -> _Codec:
    def load(value: Any, path: str) -> Any:
        problems = []
        for codec in codecs:
            try:
                return codec.load(value, path)
            except Mismatch as exc:
                problems.append(exc)
        deepest = max(problems, key=lambda e: len(e.path))
        if deepest.path != path:
            raise deepest
        names = " or ".join(getattr(a, "__name__", str(a)) for a in args)
        raise Mismatch(path, f"expected {names}, got {_shown(value)}")

    return _Codec({"anyOf": [c.schema for c in codecs]}, load, all(c.strict for c in codecs))


def _sequence(tp: Any, origin: Any, args: tuple[Any, ...], defs: dict[str, Any]) -> _Codec:
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        parts = [_codec(a, defs) for a in args]
        schema = {
            "type": "array",
            "prefixItems": [p.schema for p in parts],
            "minItems": len(parts),
            "maxItems": len(parts),
        }

        def load_fixed(value: Any, path: str) -> Any:
            if not isinstance(value, list) or len(value) != len(parts):
                raise Mismatch(path, f"expected a list of {len(parts)} items, got {_shown(value)}")
            return tuple(
                p.load(v, f"{path}[{i}]") for i, (p, v) in enumerate(zip(parts, value, strict=True))
            )

        return _Codec(schema, load_fixed, strict=False)
    item = _codec(args[0] if args else Any, defs)
    build: Callable[[list[Any]], Any] = {tuple: tuple, set: set, frozenset: frozenset}.get(
        origin, list
    )

    def load(value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise Mismatch(path, f"expected a list, got {_shown(value)}")
        return build([item.load(v, f"{path}[{i}]") for i, v in enumerate(value)])

    return _Codec({"type": "array", "items": item.schema}, load, item.strict)


def _list_of(codec: _Codec) -> _Codec:
    def load(value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise Mismatch(path, f"expected a list, got {_shown(value)}")
        return [codec.load(v, f"{path}[{i}]") for i, v in enumerate(value)]

    return _Codec({"type": "array", "items": codec.schema}, load, codec.strict)


def _mapping(args: tuple[Any, ...], defs: dict[str, Any]) -> _Codec:
    values = _codec(args[1] if len(args) == 2 else Any, defs)

    def load(value: Any, path: str) -> Any:
        if not isinstance(value, Mapping):
            raise Mismatch(path, f"expected an object, got {_shown(value)}")
        return {str(k): values.load(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}

    return _Codec({"type": "object", "additionalProperties": values.schema}, load, strict=False)


def _is_namedtuple(tp: type) -> bool:
    return issubclass(tp, tuple) and hasattr(tp, "_fields")


def _is_pydantic(tp: Any) -> bool:
    return isinstance(tp, type) and all(
        callable(getattr(tp, name, None)) for name in ("model_json_schema", "model_validate")
    )


def _pydantic(model: Any, defs: dict[str, Any]) -> _Codec:
    schema = dict(model.model_json_schema(ref_template="#/$defs/{model}"))
    defs.update(schema.pop("$defs", {}) or {})

    def load(value: Any, path: str) -> Any:
        try:
            return model.model_validate(value)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            errors = getattr(exc, "errors", None)
            first = errors()[0] if callable(errors) and errors() else None
            if not first:
                raise Mismatch(path, str(exc).splitlines()[0]) from None
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
            where = (path + where) if path else where.lstrip(".")
            raise Mismatch(where, f"{first['msg']}, got {_shown(first.get('input'))}") from None

    return _Codec(schema, load, strict=is_strict(schema))


def _fields(tp: type) -> list[tuple[str, Any, Any, str]]:
    """``(name, type, default or MISSING, description)`` of a record type's fields."""
    try:
        hints = typing.get_type_hints(tp, include_extras=True)
    except Exception as exc:
        raise ConfigError(
            f"cannot read the field types of {tp.__name__} ({exc}); define it at module "
            "level, or pass a JSON Schema dict"
        ) from exc
    out = []
    if dataclasses.is_dataclass(tp):
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            default: Any = f.default
            factory: Any = f.default_factory
            if default is _MISSING and factory is not _MISSING:
                default = _Factory(factory)
            out.append(
                (f.name, hints.get(f.name, Any), default, str(f.metadata.get("description", "")))
            )
    elif typing.is_typeddict(tp):
        declared = getattr(tp, "__required_keys__", frozenset(hints))
        for name, hint in hints.items():
            marker = getattr(typing.get_origin(hint), "_name", None)  # string annotations
            required = marker == "Required" or (marker != "NotRequired" and name in declared)
            out.append((name, hint, _MISSING if required else _OMIT, ""))
    else:  # NamedTuple
        defaults = getattr(tp, "_field_defaults", {})
        for name in tp._fields:  # type: ignore[attr-defined]
            out.append((name, hints.get(name, Any), defaults.get(name, _MISSING), ""))
    return out


class _Omit:
    """The default of a ``TypedDict`` key that is not required: leave the key out."""


_OMIT = _Omit()


@dataclass(frozen=True)
class _Factory:
    """A dataclass field's ``default_factory``."""

    make: Callable[[], Any]


def _record(tp: type, defs: dict[str, Any]) -> _Codec:
    fields = _fields(tp)
    props: dict[str, Any] = {}
    codecs: dict[str, _Codec] = {}
    for name, hint, default, description in fields:
        codec = _codec(hint, defs)
        prop = dict(codec.schema)
        if default is not _MISSING and not _allows_null(prop):
            prop = {"anyOf": [prop, {"type": "null"}]}
        if description:
            prop["description"] = description
        props[name] = prop
        codecs[name] = codec
    schema: dict[str, Any] = {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }
    doc = _doc(tp)
    if doc:
        schema["description"] = doc
    build: Callable[[dict[str, Any]], Any] = (
        dict if typing.is_typeddict(tp) else (lambda kw: tp(**kw))
    )

    def load(value: Any, path: str) -> Any:
        if not isinstance(value, Mapping):
            raise Mismatch(path, f"expected an object with {', '.join(props)}, got {_shown(value)}")
        kwargs: dict[str, Any] = {}
        for name, _, default, _ in fields:
            where = f"{path}.{name}" if path else name
            given = value.get(name, _MISSING)
            if given is None and default is not _MISSING and not _allows_null(codecs[name].schema):
                given = _MISSING  # null stands for "the default" (the strict form's way)
            if given is _MISSING:
                if default is _MISSING:
                    raise Mismatch(where, "missing")
                if default is not _OMIT:
                    kwargs[name] = default.make() if isinstance(default, _Factory) else default
                continue
            kwargs[name] = codecs[name].load(given, where)
        try:
            return build(kwargs)
        except (TypeError, ValueError) as exc:  # a __post_init__ that refuses the values
            raise Mismatch(path, f"{tp.__name__} refused the values: {exc}") from None

    return _Codec(schema, load, all(c.strict for c in codecs.values()))


def _allows_null(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind) or not schema:
        return True
    if None in (schema.get("enum") or ()):
        return True
    return any(_allows_null(s) for s in schema.get("anyOf") or () if isinstance(s, Mapping))


# --------------------------------------------------------------- JSON Schema dicts


def _dict_schema(schema: dict[str, Any]) -> _Codec:
    from . import _jsonsubset

    check = _jsonsubset.validator(schema)

    def load(value: Any, path: str) -> Any:
        problem = check(value)
        if problem is not None:
            raise Mismatch(*problem)
        return value

    return _Codec(dict(schema), load, is_strict(schema))
