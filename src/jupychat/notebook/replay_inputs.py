"""A ``%%chat`` turn's :class:`~jupychat._recording.Inputs`: what decides its answer.

Split from :mod:`.replay`, which looks them up and keeps them. Each input is a digest
(the prompt, every context block, each ``{value}`` written into the prompt, the tools),
or a plain value (the model without credentials, the options that change an answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._jsonsubset import is_jsonable
from .._recording import Inputs, digest, public_model
from .._sanitize import clean_text
from .._sessioncontext import clean_block, render_context
from .namespace import _BRACE_RE, CODE_SPAN, _inline

if TYPE_CHECKING:
    from .engine import Prepared

__all__ = ["inputs_of"]


def inputs_of(
    prepared: Prepared,
    user_ns: Mapping[str, Any] | None = None,
    inlined: Mapping[str, str] | None = None,
) -> Inputs:
    """The inputs of a prepared turn: what decides its answer (see :mod:`._recording`).

    ``user_ns``: the namespace the prompt was expanded in (names ``{value}`` changes);
    ``inlined``: :func:`_inlined` of it, taken earlier (the values as they were sent)."""
    session = prepared.session
    opts = prepared.options
    rendered = render_context(opts.get("context"))
    context = {}
    for key, text in rendered.items():
        block = clean_block(key, text)  # the block the turn sends (and its digest)
        context[block.key] = block.digest
    for number, image in enumerate(prepared.images, 1):
        context[f"image:{number}"] = digest(str(getattr(image, "data", "")))
    context.update(_inlined(prepared, user_ns or {}) if inlined is None else inlined)
    options: dict[str, Any] = {}
    for name, value in session.options.items():  # seed, top_p, stop, extra...
        if name not in _NOT_INPUTS and is_jsonable(value):
            options[name] = value
    for name in ("temperature", "max_tokens"):
        if opts.get(name) is not None:
            options[name] = opts[name]
    if session.system_prompt:
        options["system"] = digest(session.system_prompt)
    if prepared.ask.schema is not None:
        options["schema"] = _schema_digest(prepared.ask.schema, prepared.ask.as_frame)
    model = opts.get("model") or session.model_id
    prompt = clean_text(prepared.prompt)
    ask = prepared.ask
    return Inputs(
        prompt=digest(prompt),
        context=context,
        model=public_model(str(model)),
        options=options,
        tools=_tools_digest([t.spec for t in session.tools]),
        prompt_text=prompt,
        template=digest(clean_text(ask.text.strip())) if ask.expand else "",
    )


_tool_digests: dict[tuple[tuple[str, str, int], ...], tuple[list[Any], str]] = {}


def _tools_digest(specs: list[Any]) -> str:
    """The digest of the tools offered ("" for none), remembered per set of tools (their
    specs are made afresh each turn around the same parameters mappings, held here)."""
    if not specs:
        return ""
    key = tuple((s.name, s.description, id(s.parameters)) for s in specs)
    hit = _tool_digests.get(key)
    if hit is not None and all(a is s.parameters for a, s in zip(hit[0], specs, strict=True)):
        return hit[1]
    value = digest(repr(sorted((s.name, s.description, s.parameters) for s in specs)))
    if len(_tool_digests) >= 64:
        _tool_digests.clear()
    _tool_digests[key] = ([s.parameters for s in specs], value)
    return value


def _inlined(prepared: Prepared, user_ns: Mapping[str, Any]) -> dict[str, str]:
    """``{"value:NAME": digest}`` of each ``{NAME}`` whose value was written into the
    prompt (a changed value then names its variable, not just "the prompt")."""
    ask = prepared.ask
    if not ask.expand:
        return {}
    out: dict[str, str] = {}
    for i, piece in enumerate(CODE_SPAN.split(ask.text.strip())):
        if i % 2:
            continue
        for match in _BRACE_RE.finditer(piece):
            name = match.group(1)
            if name and name in user_ns:
                text = _inline(user_ns[name])
                if text is not None:
                    out[f"value:{name}"] = digest(clean_text(text))
    return out


_NOT_INPUTS = frozenset({"turn_timeout"})  # how long to wait changes no answer


def _schema_digest(schema: Any, as_frame: bool) -> str:
    import json

    from ..structured import compile_schema

    spec = compile_schema(schema, as_frame=as_frame)
    return digest(json.dumps([spec.name, spec.schema, as_frame], sort_keys=True, default=str))
