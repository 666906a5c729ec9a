"""Checking JSON data against a JSON Schema dict: ``jsonschema`` when there, else a subset.

Design note: :func:`validator` returns a function that gives the first problem with a
value as ``(path, message)``, or ``None``. It uses the ``jsonschema`` package when it can
be imported (it is installed with nbformat, so nearly always), choosing the draft the
schema names (2020-12 by default), and refuses a schema that is not valid with a one-line
:class:`~jupychat.errors.ConfigError`. Without it, a small checker covers the keywords
structured-output schemas use: ``type`` (one or a list), ``enum``, ``const``,
``properties`` / ``required`` / ``additionalProperties``, ``items`` / ``prefixItems``,
``anyOf`` / ``oneOf`` / ``allOf``, local ``$ref`` (``#/$defs/…``, ``#/definitions/…``),
numeric bounds, string and array lengths and ``pattern``. Other keywords are not
checked. Paths read like ``people[2].age``.

:func:`is_jsonable` says whether ``json.dumps`` takes a value as it is.

:func:`is_strict` says whether a schema meets OpenAI's strict structured-output rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ConfigError

__all__ = ["is_jsonable", "is_strict", "subset_problem", "validator"]

Problem = tuple[str, str]
_NOT_STRICT = frozenset(
    {
        "allOf",
        "not",
        "if",
        "then",
        "else",
        "dependentRequired",
        "dependentSchemas",
        "patternProperties",
        "unevaluatedProperties",
        "unevaluatedItems",
        "prefixItems",
        "contains",
        "minLength",
        "maxLength",
        "minProperties",
        "maxProperties",
        "default",
    }
)  # keywords OpenAI's strict mode refuses (or may): such a schema is sent with strict off


def is_jsonable(value: Any) -> bool:
    """Whether ``json.dumps`` can write ``value`` as it is."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validator(
    schema: Mapping[str, Any], *, use_jsonschema: bool = True
) -> Callable[[Any], Problem | None]:
    """A checker for ``schema``: ``check(value)`` → ``(path, message)`` or ``None``.

    Raises :class:`ConfigError` when ``schema`` is not a valid JSON Schema.
    """
    try:
        if not use_jsonschema:
            raise ImportError
        import jsonschema
        from jsonschema.exceptions import SchemaError, best_match
    except ImportError:
        _check_shape(schema)
        return lambda value: subset_problem(schema, value, schema, ())
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = _path(exc.absolute_path) or "the root"
        raise ConfigError(
            f"the JSON Schema is not valid at {where}: {exc.message}; fix the schema"
        ) from None
    checker = cls(schema)

    def check(value: Any) -> Problem | None:
        error = best_match(checker.iter_errors(value))
        if error is None:
            return None
        return _path(error.absolute_path), error.message

    return check


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _check_shape(schema: Any) -> None:
    if not isinstance(schema, Mapping):
        raise ConfigError("a JSON Schema must be an object (a dict); fix the schema")
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    unknown = [k for k in kinds if k not in _TYPES]
    if unknown:
        raise ConfigError(f"the JSON Schema names unknown type(s) {unknown}; fix the schema")


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:39] + "…"


def _same(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1``."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _resolve(ref: str, root: Mapping[str, Any]) -> Any:
    if not ref.startswith("#/"):
        raise ConfigError(f"only local $ref are supported without jsonschema; got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = (
            node.get(part.replace("~1", "/").replace("~0", "~"))
            if isinstance(node, Mapping)
            else None
        )
    if not isinstance(node, Mapping):
        raise ConfigError(f"the JSON Schema's $ref {ref!r} points at nothing; fix the schema")
    return node


def subset_problem(
    schema: Any, value: Any, root: Mapping[str, Any], path: tuple[Any, ...]
) -> Problem | None:
    """The first problem of ``value`` against ``schema`` (the subset described above)."""
    if schema is False:
        return _path(path), "no value is allowed here"
    if not isinstance(schema, Mapping):
        return None

    def fail(message: str) -> Problem:
        return _path(path), message

    if "$ref" in schema:
        problem = subset_problem(_resolve(str(schema["$ref"]), root), value, root, path)
        if problem:
            return problem
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_TYPES.get(k, lambda v: False)(value) for k in kinds):
            return fail(f"{_shown(value)} is not of type {' or '.join(map(str, kinds))}")
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        return fail(f"{_shown(value)} is not one of {_shown(schema['enum'])}")
    if "const" in schema and not _same(value, schema["const"]):
        return fail(f"{_shown(schema['const'])} was expected")
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [subset_problem(s, value, root, path) for s in schema[key]]
            if all(options):
                return next(
                    (p for p in options if p and len(p[0]) > len(_path(path))), None
                ) or fail(f"{_shown(value)} matches none of the allowed shapes")
    for sub in schema.get("allOf") or ():
        problem = subset_problem(sub, value, root, path)
        if problem:
            return problem
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for key, ok in (
            ("minimum", lambda b: value >= b),
            ("maximum", lambda b: value <= b),
            ("exclusiveMinimum", lambda b: value > b),
            ("exclusiveMaximum", lambda b: value < b),
        ):
            if key in schema and not ok(schema[key]):
                return fail(f"{_shown(value)} breaks {key} {schema[key]}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            return fail(f"{_shown(value)} is shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return fail(f"{_shown(value)} is longer than {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return fail(f"{_shown(value)} does not match {schema['pattern']!r}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            return fail(f"expected at least {schema['minItems']} items, got {len(value)}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return fail(f"expected at most {schema['maxItems']} items, got {len(value)}")
        prefix = schema.get("prefixItems") or []
        for index, item in enumerate(value):
            sub = prefix[index] if index < len(prefix) else schema.get("items")
            if sub is not None:
                problem = subset_problem(sub, item, root, (*path, index))
                if problem:
                    return problem
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name in schema.get("required") or ():
            if name not in value:
                return _path((*path, name)), f"{name!r} is a required property"
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in props:
                problem = subset_problem(props[name], item, root, (*path, name))
            elif extra is False:
                return fail(f"additional property {name!r} is not allowed")
            else:
                problem = subset_problem(extra, item, root, (*path, name))
            if problem:
                return problem
    return None


def is_strict(schema: Any) -> bool:
    """Whether ``schema`` meets OpenAI's strict rules (see :data:`_NOT_STRICT`)."""
    if isinstance(schema, list):
        return all(is_strict(s) for s in schema)
    if not isinstance(schema, Mapping):
        return True
    if _NOT_STRICT & set(schema):
        return False
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False or set(
            schema.get("required") or ()
        ) != set(props):
            return False
    return all(is_strict(v) for k, v in schema.items() if k not in ("enum", "const"))
