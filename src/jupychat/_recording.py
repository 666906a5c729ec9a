"""A turn as a recording: what it was asked (its inputs) and what it answered.

Design note: a recording is keyed by what a turn *means*, not by request bytes. Its
:class:`Inputs` are the prompt after expansion, one digest per context block it carried
(``var:sales``, ``error``, ``cell:In[7]``, ``project``, ``image:1``...), the model, the
request options (temperature, max tokens, system prompt, output schema) and the tools.
The standing inventory (one line per variable, re-sent when anything changes) is not an
input: it would make every recording miss whenever any variable anywhere changed. Two
turns with the same inputs get the same :attr:`Inputs.key`, so a recording is found by
key; :meth:`Inputs.changes` says which input differs from another recording's, in words
a user can act on ("the context of `sales` changed").

:meth:`Recording.to_block` is the compact, versioned form written into a notebook cell's
output metadata (digests only, the answer as text, never a key or a context text);
:meth:`Recording.from_block` reads one back and refuses anything malformed. Everything
here is plain data: no IPython, no store.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

__all__ = ["BLOCK_KEY", "FOOTER_FIELDS", "VERSION", "Inputs", "Recording", "digest", "public_model"]

BLOCK_KEY = "jupychat"
VERSION = 1
MAX_ANSWER_CHARS = 2_000_000
FOOTER_FIELDS = (
    "model",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost",
    "latency",
    "interrupted",
    "cut",
    "window",
)
_USERINFO = re.compile(r"(://)[^/@\s]*@")


def digest(text: str) -> str:
    """16 hex digits of SHA-256 of ``text`` (the digest context blocks use)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def public_model(model: str) -> str:
    """``model`` without any ``user:password@`` in a URL it holds (never recorded)."""
    return _USERINFO.sub(r"\1", model)


def _canonical(value: Any) -> str:
    return _CANONICAL(value)


# one encoder for every call (json.dumps makes one a call when given options)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True)
class Inputs:
    """What a turn was asked: the fields that decide its answer.

    Parameters
    ----------
    prompt:
        Digest of the prompt after ``{var}``/``@var`` expansion.
    context:
        ``{block key: digest}`` of the context blocks the turn carried.
    model:
        ``provider:model`` (any URL's credentials removed).
    options:
        Request options that change an answer (JSON values).
    tools:
        Digest of the tools' names and schemas (``""``: no tools).
    prompt_text:
        The expanded prompt itself; kept in the store, never in a notebook block.
    template:
        Digest of the prompt as written, before expansion: when it is unchanged, a changed
        prompt is a changed ``{value}`` (context keys ``value:NAME``), and is named so.
    """

    prompt: str
    context: Mapping[str, str]
    model: str
    options: Mapping[str, Any]
    tools: str = ""
    prompt_text: str | None = field(default=None, compare=False)
    template: str = field(default="", compare=False)

    @functools.cached_property
    def key(self) -> str:
        """The digest of every input: equal inputs, equal keys (worked out once: inputs
        are frozen, and a turn asks for its key when it keeps, shows and stores it)."""
        return digest(_canonical(self.matched()))

    @functools.cached_property
    def loose_key(self) -> str:
        """The digest of every input but the model (for a notebook that does not choose
        its model: the recording is the answer, whatever the reader's default model)."""
        return digest(_canonical({**self.matched(), "model": None}))

    def matched(self) -> dict[str, Any]:
        """The inputs as compared (what :attr:`key` digests)."""
        return {
            "prompt": self.prompt,
            "context": dict(self.context),
            "model": self.model,
            "options": dict(self.options),
            "tools": self.tools,
        }

    def changes(self, recorded: Inputs) -> list[str]:
        """What differs from ``recorded``, one short phrase each (empty: nothing)."""
        out: list[str] = []
        values_changed = any(
            k.startswith("value:") and self.context.get(k) != recorded.context.get(k)
            for k in set(self.context) | set(recorded.context)
        )
        same_text = bool(self.template) and self.template == recorded.template
        if self.prompt != recorded.prompt and not (same_text and values_changed):
            out.append("the prompt changed")
        for key in sorted(set(self.context) | set(recorded.context)):
            name = _context_name(key)
            where = "prompt" if key.startswith("value:") else "context"
            if key not in recorded.context:
                out.append(f"{name} is new in the {where}")
            elif key not in self.context:
                out.append(f"{name} is no longer in the {where}")
            elif self.context[key] != recorded.context[key]:
                what = "value" if where == "prompt" else "context"
                out.append(f"the {what} of {name} changed")
        if self.model != recorded.model:
            out.append(f"the model changed ({recorded.model} → {self.model})")
        for name in sorted(set(self.options) | set(recorded.options)):
            old, new = recorded.options.get(name), self.options.get(name)
            if old != new:
                shown = "" if name in ("system", "schema") else f" ({old} → {new})"
                out.append(f"the options changed: {name}{shown}")
        if self.tools != recorded.tools:
            out.append("the tools changed")
        return out

    def to_dict(self, with_prompt: bool = False) -> dict[str, Any]:
        data = self.matched()
        if self.template:
            data["template"] = self.template
        if with_prompt and self.prompt_text is not None:
            data["prompt_text"] = self.prompt_text
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Inputs:
        """Read inputs back; ``ValueError`` when a field has the wrong shape."""
        context = data.get("context")
        options = data.get("options")
        if not isinstance(context, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in context.items()
        ):
            raise ValueError("context must map block keys to digests")
        if not isinstance(options, Mapping):
            raise ValueError("options must be a mapping")
        for name in ("prompt", "model", "tools"):
            if not isinstance(data.get(name), str):
                raise ValueError(f"{name} must be text")
        prompt_text = data.get("prompt_text")
        template = data.get("template")
        return cls(
            prompt=data["prompt"],
            context=dict(context),
            model=data["model"],
            options=dict(options),
            tools=data["tools"],
            prompt_text=prompt_text if isinstance(prompt_text, str) else None,
            template=template if isinstance(template, str) else "",
        )


def _context_name(key: str) -> str:
    kind, sep, name = key.partition(":")
    if sep and kind in ("var", "value"):
        return f"`{name}`"
    return f"`{key}`" if sep else f"the {key} block"


@dataclass(frozen=True)
class Recording:
    """One recorded turn: its inputs and its answer.

    Parameters
    ----------
    inputs:
        What was asked (:class:`Inputs`).
    answer:
        The answer text exactly as shown.
    footer:
        The footer facts shown under it (model, tokens, cost, latency, flags).
    source:
        Digest of the asking cell's source (``%%chat`` line and body), for finding a
        cell's earlier recording when its inputs no longer match.
    cell_id:
        The asking cell's id, when the front end sent one.
    """

    inputs: Inputs
    answer: str
    footer: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    cell_id: str | None = None

    @property
    def key(self) -> str:
        return self.inputs.key

    def to_block(self, shown_text: str | None = None) -> dict[str, Any]:
        """The compact block for a notebook output's metadata.

        When ``shown_text`` (the output's ``text/plain``) is the answer, the answer is not
        written twice: ``"text"`` is ``None`` and ``"sha"`` checks it on reading.
        """
        answer = None if shown_text == self.answer else self.answer
        out: dict[str, Any] = {"text": answer, "sha": digest(self.answer)}
        out["footer"] = {k: self.footer[k] for k in FOOTER_FIELDS if k in self.footer}
        return {
            "v": VERSION,
            "key": self.key,
            "in": self.inputs.to_dict(),
            "cell": {"src": self.source},
            "out": out,
        }

    @classmethod
    def from_block(cls, block: Any, shown_text: str | None = None) -> Recording:
        """Read a block back (``shown_text``: the output's ``text/plain``).

        Raises
        ------
        ValueError
            A block of another version, a wrong shape, an answer that does not match its
            digest, or a key that does not match its inputs.
        """
        if not isinstance(block, Mapping) or block.get("v") != VERSION:
            raise ValueError(f"not a version-{VERSION} jupychat recording")
        out, cell = block.get("out"), block.get("cell") or {}
        if not isinstance(out, Mapping) or not isinstance(cell, Mapping):
            raise ValueError("a recording needs 'out' and 'cell' mappings")
        answer = out.get("text")
        if answer is None:
            answer = shown_text
        if not isinstance(answer, str) or len(answer) > MAX_ANSWER_CHARS:
            raise ValueError("a recording's answer must be text")
        if digest(answer) != out.get("sha"):
            raise ValueError("the recorded answer does not match its digest")
        inputs = Inputs.from_dict(block.get("in") or {})
        if inputs.key != block.get("key"):
            raise ValueError("the recording's key does not match its inputs")
        source = cell.get("src")
        return cls(
            inputs=inputs,
            answer=answer,
            footer=_footer(out.get("footer") or {}),
            source=source if isinstance(source, str) else "",
        )

    def to_json(self) -> str:
        """The whole recording (the prompt text included) for the store."""
        return _canonical(
            {
                "inputs": self.inputs.to_dict(with_prompt=True),
                "answer": self.answer,
                "footer": dict(self.footer),
                "source": self.source,
                "cell_id": self.cell_id,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Recording:
        data = json.loads(text)
        return cls(
            inputs=Inputs.from_dict(data["inputs"]),
            answer=str(data["answer"]),
            footer=_footer(data.get("footer") or {}),
            source=str(data.get("source") or ""),
            cell_id=data.get("cell_id"),
        )


_FOOTER_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "input_tokens": (int,),
    "output_tokens": (int,),
    "cached_tokens": (int,),
    "cost": (int, float, type(None)),
    "latency": (int, float),
    "interrupted": (bool,),
    "cut": (bool,),
    "window": (dict,),  # how full the context window was: size, used, summarised
}


def _footer(footer: Any) -> dict[str, Any]:
    """The footer fields of a recording, each checked for its type (``ValueError``)."""
    if not isinstance(footer, Mapping):
        raise ValueError("a recording's footer must be a mapping")
    out: dict[str, Any] = {}
    for name in FOOTER_FIELDS:
        if name not in footer:
            continue
        value = footer[name]
        wanted = _FOOTER_TYPES[name]
        if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted):
            raise ValueError(f"a recording's footer field {name} has the wrong type")
        out[name] = _window(cast(Mapping[str, Any], value)) if name == "window" else value
    return out


def _window(value: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded context-window note: ``size``/``used`` whole numbers, ``summarised``."""
    size, used = value.get("size"), value.get("used")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (size, used)):
        raise ValueError("a recording's window needs whole-number size and used")
    return {"size": size, "used": used, **({"summarised": True} if value.get("summarised") else {})}
