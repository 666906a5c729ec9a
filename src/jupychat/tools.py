"""Tools the model may call.

``Tool.from_function(fn)`` reads the signature's type hints and the docstring (numpy or
Google style) to build the JSON schema the model sees. ``Tool.run(arguments)`` validates
nothing beyond what Python's call does: a tool that raises is turned into error text for
the model by the session, never into a crashed turn.

Tools that can change anything (run code, write files) are declared with
``requires_approval=True``; the session asks its ``approve`` callback before each call
and refuses when there is none.
"""

from __future__ import annotations

import enum
import functools
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

from ._jsonsubset import is_jsonable
from .errors import ToolError
from .providers.base import ToolSpec

__all__ = ["Tool", "json_schema_for"]

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PRIMITIVES: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    dict: {"type": "object"},
    list: {"type": "array"},
    tuple: {"type": "array"},
    Any: {},
}


def json_schema_for(annotation: Any) -> dict[str, Any]:
    """JSON schema for a Python type annotation (the subset tools need)."""
    if annotation is inspect.Parameter.empty:
        return {}
    if annotation in _PRIMITIVES:
        return dict(_PRIMITIVES[annotation])
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"enum": [m.value for m in annotation]}
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        non_null = [a for a in args if a is not type(None)]
        if len(non_null) == 1:
            return json_schema_for(non_null[0])
        return {"anyOf": [json_schema_for(a) for a in args]}
    if origin in (list, Sequence, set, frozenset, typing.Sequence) or origin is tuple:
        schema: dict[str, Any] = {"type": "array"}
        if (args and args[-1] is not Ellipsis) or args:
            schema["items"] = json_schema_for(args[0])
        return schema
    if origin in (dict, Mapping, typing.Mapping):
        schema = {"type": "object"}
        if len(args) == 2:
            schema["additionalProperties"] = json_schema_for(args[1])
        return schema
    raise ToolError(
        f"cannot describe type {annotation!r} to the model; use str, int, float, bool, "
        "list, dict, Literal or Optional"
    )


_SECTION_RE = re.compile(r"^\s*(Parameters|Args|Arguments)\s*:?\s*$", re.IGNORECASE)
_END_RE = re.compile(
    r"^\s*(Returns?|Yields?|Raises|Examples?|Notes?|See Also|References)\s*:?\s*$", re.IGNORECASE
)


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Summary text and per-parameter descriptions from a numpy or Google docstring."""
    lines = inspect.cleandoc(doc).splitlines() if doc else []
    summary: list[str] = []
    params: dict[str, str] = {}
    i = 0
    while i < len(lines) and not _SECTION_RE.match(lines[i]) and not _END_RE.match(lines[i]):
        summary.append(lines[i])
        i += 1
    numpy_style = i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}
    current: str | None = None
    in_params = False
    for line in lines[i:]:
        if _SECTION_RE.match(line):
            in_params = True
            continue
        if _END_RE.match(line):
            in_params = False
            continue
        if not in_params or not line.strip() or set(line.strip()) <= {"-"}:
            continue
        indented = line.startswith((" ", "\t"))
        if numpy_style and not indented:
            # numpy: "name : type" on its own line, description indented below
            current = line.split(":", 1)[0].strip()
            params[current] = ""
            continue
        google = re.match(r"^\s{0,4}(\w+)\s*(\([^)]*\))?\s*:\s*(.*)$", line)
        if not numpy_style and google and len(line) - len(line.lstrip()) <= 4:
            current = google.group(1)
            params[current] = google.group(3).strip()
        elif current is not None:
            params[current] = (params[current] + " " + line.strip()).strip()
    return "\n".join(summary).strip(), params


@dataclass(frozen=True)
class Tool:
    """A function the model can call.

    Parameters
    ----------
    name:
        What the model calls it (letters, digits, ``_`` and ``-``; at most 64).
    description:
        What it does and when to use it.
    parameters:
        JSON schema of its arguments (an ``object`` schema).
    fn:
        The Python callable; called with keyword arguments.
    requires_approval:
        When True the session asks its approval callback before every call.
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    fn: Callable[..., Any] = field(repr=False, compare=False)
    requires_approval: bool = False

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ToolError(
                f"tool name {self.name!r} is invalid; use 1-64 letters, digits, '_' or '-'"
            )

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        name: str | None = None,
        description: str | None = None,
        requires_approval: bool = False,
    ) -> Tool:
        """Build a tool from a function's signature, type hints and docstring."""
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # unresolvable forward refs: fall back to raw annotations
            hints = getattr(fn, "__annotations__", {})
        summary, param_docs = _parse_docstring(inspect.getdoc(fn) or "")
        properties: dict[str, Any] = {}
        required: list[str] = []
        for pname, param in inspect.signature(fn).parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            schema = json_schema_for(hints.get(pname, param.annotation))
            if param_docs.get(pname):
                schema["description"] = param_docs[pname]
            if param.default is param.empty:
                required.append(pname)
            elif param.default is not None and is_jsonable(param.default):
                schema["default"] = param.default
            properties[pname] = schema
        parameters: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            parameters["required"] = required
        return cls(
            name=name or fn.__name__,
            description=description or summary or f"Call {fn.__name__}.",
            parameters=parameters,
            fn=fn,
            requires_approval=requires_approval,
        )

    @functools.cached_property
    def spec(self) -> ToolSpec:
        """What the model is told about this tool (made once: a tool is frozen, and a
        turn asks for every tool's spec three times)."""
        return ToolSpec(self.name, self.description, self.parameters)

    def run(self, arguments: Mapping[str, Any]) -> str:
        """Call the function and return its result as text (JSON for non-strings)."""
        result = self.fn(**dict(arguments))
        if inspect.isawaitable(result):
            raise ToolError(f"tool {self.name!r} is async; call it through ChatSession.asend")
        return to_text(result)

    async def arun(self, arguments: Mapping[str, Any]) -> str:
        result = self.fn(**dict(arguments))
        if inspect.isawaitable(result):
            result = await result
        return to_text(result)


def to_text(result: Any) -> str:
    if isinstance(result, str):
        return result
    try:
        return json.dumps(result, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(result)
